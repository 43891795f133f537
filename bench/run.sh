#!/usr/bin/env bash
# The djstripe-rs benchmark suite: one command. See BENCHMARKS.md ("How to run") and bench/suite.py.
#   bench/run.sh [--quick] [--sqlite-only|--postgres-only] [--flat [N]] [--soak MINUTES] [--count N] [--reps R]
# Exits non-zero if any run lost or doubled an event (CI runs `bench/run.sh --quick`).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v python3 >/dev/null || { echo "bench/run.sh: python3 is required" >&2; exit 2; }
for arg in "$@"; do
  if [[ "$arg" != "--sqlite-only" ]] && ! command -v psql >/dev/null; then
    echo "bench/run.sh: psql is required for the PostgreSQL runs (or pass --sqlite-only)" >&2; exit 2
  fi
  break
done
echo "[bench] building shop, djstripe-bench and djstripe-loadgen (release)..." >&2
cargo build --release --quiet -p shop -p djstripe-bench
# A build of its own: built together, cargo would unify the loadgen's dependency features into the server's.
cargo build --release --quiet -p djstripe-loadgen
exec python3 bench/suite.py "$@"
