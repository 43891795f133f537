#!/usr/bin/env python3
"""The djstripe-rs benchmark suite (started by bench/run.sh, which builds the binaries first).

For each backend: the raw one-transaction-per-event limit (bench/rawdb), then the example app
(`shop serve`, release) on a fresh database driven by the project's load generator
(`djstripe-loadgen`, bench/loadgen) over loopback, with an exact correctness check after every
run. Writes bench/results/<date>.json and regenerates BENCHMARKS.md (unless --quick or --no-report).

Standard library only (python3 >= 3.8).
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")
EVENT_TYPE = "customer.created"

# Targets of issue 8.
TARGET_C64_RATIO = 1.5
TARGET_C16_RATIO = 1.0
TARGET_P99_MS = 20.0
TARGET_RSS_MIB = 40.0
TARGET_FLAT = 0.15


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- process helpers

def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime = field 14, stime = field 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def reset_peak_rss(pid):
    """Resets VmHWM to the current RSS (Linux >= 4.0, our own process). False if not possible."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def children_cpu_s():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# ---------------------------------------------------------------- databases

class Sqlite:
    name = "sqlite"

    def __init__(self, workdir, tag):
        self.path = os.path.join(workdir, f"{tag}.sqlite3")
        self.url = f"sqlite://{self.path}"

    def create(self):
        self.drop()

    def drop(self):
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.remove(self.path + suffix)
            except FileNotFoundError:
                pass


class Postgres:
    name = "postgres"

    def __init__(self, admin_url, tag):
        self.admin_url = admin_url
        self.db = f"djstripe_bench_{os.getpid()}_{tag}"
        base = admin_url.rsplit("/", 1)[0]
        self.url = f"{base}/{self.db}"

    def psql(self, sql):
        subprocess.run(["psql", self.admin_url, "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def create(self):
        self.drop()
        self.psql(f'CREATE DATABASE "{self.db}"')

    def drop(self):
        self.psql(f'DROP DATABASE IF EXISTS "{self.db}"')


# ---------------------------------------------------------------- the server

class Server:
    def __init__(self, shop, db_url, workers=None, extra_env=None):
        env = dict(os.environ, DATABASE_URL=db_url, RUST_LOG=os.environ.get("BENCH_RUST_LOG", "warn"))
        env.update(extra_env or {})
        # A failing handler captures a backtrace when RUST_BACKTRACE asks for one: the first capture
        # symbolizes the debug info (~200 ms, ~130 MiB RSS). Off unless BENCH_RUST_BACKTRACE says so.
        env.pop("RUST_BACKTRACE", None)
        env.pop("RUST_LIB_BACKTRACE", None)
        if os.environ.get("BENCH_RUST_BACKTRACE"):
            env["RUST_BACKTRACE"] = os.environ["BENCH_RUST_BACKTRACE"]
        cmd = [shop, "serve", "--bind", "127.0.0.1:0"]
        if workers:
            cmd += ["--workers", str(workers)]
        self.env = env
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.base_url = self.uuid = None
        deadline = time.time() + 60
        lines = []
        while time.time() < deadline and (self.base_url is None or self.uuid is None):
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                self.base_url = m.group(1)
            m = re.search(r"/webhook/([0-9a-f-]{36})/", line)
            if m:
                self.uuid = m.group(1)
        if self.base_url is None or self.uuid is None:
            self.stop()
            raise RuntimeError("shop serve did not start: " + "".join(lines) + self.proc.stderr.read())
        # Keep draining the pipes so the server never blocks on a full pipe.
        self.stderr_tail = []
        threading.Thread(target=self._drain, args=(self.proc.stdout,), daemon=True).start()
        threading.Thread(target=self._drain, args=(self.proc.stderr,), daemon=True).start()
        self.pid = self.proc.pid

    def _drain(self, pipe):
        for line in pipe:
            self.stderr_tail = (self.stderr_tail + [line])[-20:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---------------------------------------------------------------- one run + correctness

def counts(bench, db_url, since):
    out = subprocess.run([bench, "count", "--database-url", db_url, "--since-trigger", str(since)],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out)


def trigger(loadgen, server, count, concurrency, dup=0.0, fail=0.0, sleep_ms=None, distinct_objects=False):
    """One batch of deliveries by the load generator; it reads the endpoint's secret from the
    server's database (DATABASE_URL in the server's environment)."""
    cmd = [loadgen, EVENT_TYPE, "--endpoint", server.uuid, "--base-url", server.base_url,
           "--count", str(count), "--concurrency", str(concurrency), "--duplicate-ratio", str(dup),
           "--fail-ratio", str(fail), "--json"]
    if sleep_ms is not None:
        cmd += ["--sleep-ms", str(sleep_ms)]
    if distinct_objects:
        cmd += ["--distinct-objects"]
    p = subprocess.run(cmd, env=server.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        summary = json.loads(p.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        summary = None
    return p.returncode, summary, p.stderr.strip()


def check(before, after, gen, dup, fail):
    """Exact accounting of one run from row-count deltas and the trigger rows of the run."""
    problems = []
    sent = gen["sent"]
    out = gen.get("outcomes", {})
    processed, duplicate, failed = out.get("processed", 0), out.get("duplicate", 0), out.get("failed", 0)
    st = gen.get("statuses", {})
    d_events = after["events"] - before["events"]
    d_shop = after["shop_rows"] - before["shop_rows"]

    def need(cond, msg):
        if not cond:
            problems.append(msg)

    need(gen.get("network_errors", 0) == 0, f"{gen.get('network_errors')} deliveries got no answer")
    need(processed + duplicate + failed == sent, f"answers {out} do not add up to {sent} sent")
    need(st.get("200", 0) == processed + duplicate, f"HTTP 200 = {st.get('200', 0)} != processed + duplicate")
    need(st.get("500", 0) == failed, f"HTTP 500 = {st.get('500', 0)} != failed {failed}")
    need(after["run_triggers"] == sent, f"trigger rows {after['run_triggers']} != deliveries sent {sent}")
    need(after["run_outcomes"] == {k: v for k, v in out.items() if v},
         f"trigger outcomes {after['run_outcomes']} != answers {out}")
    need(d_events == processed, f"new events {d_events} != processed answers {processed}")
    need(d_events == after["run_event_ids"] - after["run_event_ids_only_failed"],
         f"new events {d_events} != unique events sent {after['run_event_ids']} - failed-only {after['run_event_ids_only_failed']}")
    need(after["run_event_ids_not_stored"] == after["run_event_ids_only_failed"],
         f"{after['run_event_ids_not_stored']} events not stored but only {after['run_event_ids_only_failed']} failed")
    need(sent - after["run_event_ids"] == duplicate + (failed - after["run_event_ids_only_failed"]),
         f"re-deliveries {sent - after['run_event_ids']} != duplicate answers {duplicate}")
    need(d_shop == d_events, f"new handler rows {d_shop} != new events {d_events}")
    need(after["shop_rows"] == after["shop_distinct_events"], "an event's handler row was written twice")
    need(after["events_processed_more_than_once"] == 0, "an event was processed more than once")
    need(after["shop_rows_without_event"] == 0, "handler rows of an event not stored (rollback broken)")
    need(after["customer_events_without_shop_row"] == 0, "a stored event has no handler row")
    if fail == 0:
        need(failed == 0, f"{failed} failed without --fail-ratio")
    if dup == 0:
        need(duplicate == 0, f"{duplicate} duplicates without --duplicate-ratio")
    return {"ok": not problems, "problems": problems, "sent": sent, "new_triggers": after["run_triggers"],
            "unique_events": after["run_event_ids"], "new_events": d_events, "new_handler_rows": d_shop,
            "duplicate_answers": duplicate, "failed_answers": failed,
            "expected_duplicates_about": int(sent * dup), "expected_failed_about": int(sent * fail)}


def one_run(ctx, server, db_url, count, concurrency, dup=0.0, fail=0.0):
    before = counts(ctx.bench, db_url, 0)
    since = before["max_trigger_id"]
    peak_reset = reset_peak_rss(server.pid)
    cpu0, gen0 = proc_cpu_s(server.pid), children_cpu_s()
    rc, gen, err = trigger(ctx.loadgen, server, count, concurrency, dup, fail)
    cpu1, gen1 = proc_cpu_s(server.pid), children_cpu_s()
    peak_kib = proc_status_kib(server.pid, "VmHWM")
    run = {"concurrency": concurrency, "duplicate_ratio": dup, "fail_ratio": fail, "count": count,
           "trigger_exit": rc, "generator": gen, "server_peak_rss_mib": peak_kib / 1024,
           "peak_rss_is_per_run": peak_reset, "server_cpu_s": cpu1 - cpu0, "generator_cpu_s": gen1 - gen0}
    if gen is None:
        run["correctness"] = {"ok": False, "problems": [f"load generator failed (exit {rc}): {err[-500:]}"]}
        return run
    after = counts(ctx.bench, db_url, since)
    run["correctness"] = check(before, after, gen, dup, fail)
    if rc != 0:
        run["correctness"]["ok"] = False
        run["correctness"]["problems"].append(f"load generator exit {rc}: {err[-300:]}")
    sent = max(gen["sent"], 1)
    run["events_per_s"] = gen["events_per_s"]
    run["latency_ms"] = gen["latency_ms"]
    run["server_cpu_us_per_event"] = run["server_cpu_s"] * 1e6 / sent
    run["generator_cpu_us_per_event"] = run["generator_cpu_s"] * 1e6 / sent
    return run


def summarize(runs):
    """Median of each metric over the repetitions; correctness: all runs OK."""
    ok = [r for r in runs if "events_per_s" in r]
    med = lambda xs: statistics.median(xs) if xs else None
    cell = {"repetitions": len(runs), "correct": all(r["correctness"]["ok"] for r in runs)}
    if ok:
        cell.update({
            "events_per_s": med([r["events_per_s"] for r in ok]),
            "events_per_s_all": [round(r["events_per_s"]) for r in ok],
            "latency_ms": {k: med([r["latency_ms"][k] for r in ok]) for k in ("p50", "p90", "p99", "max")},
            "server_peak_rss_mib": max(r["server_peak_rss_mib"] for r in ok),
            "server_cpu_us_per_event": med([r["server_cpu_us_per_event"] for r in ok]),
            "generator_cpu_us_per_event": med([r["generator_cpu_us_per_event"] for r in ok]),
        })
    return cell


# ---------------------------------------------------------------- inbox mode

def inbox_experiment(ctx, make_db, count, concurrency, sleep_ms, reps, workers=None):
    """Inbox mode with a slow handler (`sleep_ms` per event) at `concurrency`: how fast and how
    quickly deliveries are answered (the answer waits only for the inbox's commit), then how long
    the workers take to drain the inbox, and whether each event was handled exactly once.
    Beside it, inline mode with an instant handler at the same concurrency, in the same minutes,
    on the same kind of fresh database: the acceptance rate inbox mode must keep up with."""
    result = {"count": count, "concurrency": concurrency, "sleep_ms": sleep_ms, "inbox": [], "inline_instant": []}
    for rep in range(reps):
        db = make_db(f"inline{rep}")
        db.create()
        server = Server(ctx.shop, db.url, workers)
        try:
            result["inline_instant"].append(one_run(ctx, server, db.url, count, concurrency))
        finally:
            server.stop()
            db.drop()
        db = make_db(f"inbox{rep}")
        db.create()
        server = Server(ctx.shop, db.url, workers, extra_env={"DJSTRIPE_WEBHOOK_PROCESSING": "inbox"})
        try:
            result["inbox"].append(inbox_run(ctx, server, db.url, count, concurrency, sleep_ms))
        finally:
            server.stop()
            db.drop()
        i, n = result["inbox"][-1], result["inline_instant"][-1]
        log(f"inbox rep {rep + 1}: accepted {i.get('events_per_s', 0):.0f}/s p99 {i.get('latency_ms', {}).get('p99', 0):.2f} ms, "
            f"drained in {i.get('drain_s', 0):.1f} s ({i.get('processed_per_s', 0):.1f}/s); inline instant "
            f"{n.get('events_per_s', 0):.0f}/s; " + ("OK" if i["correctness"]["ok"] else "FAILED: " + "; ".join(i["correctness"]["problems"])))
    med = lambda xs: statistics.median(xs) if xs else None
    ok = [r for r in result["inbox"] if "events_per_s" in r]
    result["summary"] = {
        "accepted_per_s": med([r["events_per_s"] for r in ok]),
        "p50_ms": med([r["latency_ms"]["p50"] for r in ok]),
        "p99_ms": med([r["latency_ms"]["p99"] for r in ok]),
        "drain_s": med([r["drain_s"] for r in ok if r.get("drain_s") is not None]),
        "processed_per_s": med([r["processed_per_s"] for r in ok if r.get("processed_per_s")]),
        "inline_instant_per_s": med([r["events_per_s"] for r in result["inline_instant"] if "events_per_s" in r]),
    }
    result["correct"] = all(r["correctness"]["ok"] for r in result["inbox"] + result["inline_instant"])
    return result


def inbox_run(ctx, server, db_url, count, concurrency, sleep_ms, drain_timeout=1800):
    before = counts(ctx.bench, db_url, 0)
    since = before["max_trigger_id"]
    t0 = time.time()
    # Each event about an object of its own (many customers): events of one object are
    # processed one at a time, which would measure one object's order, not the workers.
    rc, gen, err = trigger(ctx.loadgen, server, count, concurrency, sleep_ms=sleep_ms, distinct_objects=True)
    answered = time.time()
    run = {"concurrency": concurrency, "count": count, "sleep_ms": sleep_ms, "trigger_exit": rc, "generator": gen}
    problems = []
    if gen is None:
        run["correctness"] = {"ok": False, "problems": [f"load generator failed (exit {rc}): {err[-500:]}"]}
        return run
    sent = gen["sent"]
    queued = gen.get("outcomes", {}).get("queued", 0)
    if queued != sent:
        problems.append(f"answers {gen.get('outcomes')}: every delivery should be queued")
    while True:
        after = counts(ctx.bench, db_url, since)
        if after["events"] - before["events"] >= queued or time.time() - answered > drain_timeout:
            break
        time.sleep(0.2)
    drained = time.time()
    d_events, d_shop = after["events"] - before["events"], after["shop_rows"] - before["shop_rows"]
    if d_events != queued:
        problems.append(f"{d_events} events processed of {queued} queued within {drain_timeout} s")
    if d_shop != d_events:
        problems.append(f"handler rows {d_shop} != events {d_events}")
    if after["events_processed_more_than_once"] or after["shop_rows"] != after["shop_distinct_events"]:
        problems.append("an event was handled more than once")
    if after["run_triggers"] != sent:
        problems.append(f"trigger rows {after['run_triggers']} != deliveries {sent}")
    if after["run_outcomes"] != {"processed": queued}:
        problems.append(f"trigger outcomes after the drain {after['run_outcomes']} != processed {queued}")
    run.update({"events_per_s": gen["events_per_s"], "latency_ms": gen["latency_ms"],
                "drain_s": drained - answered, "processed_per_s": d_events / max(drained - t0, 1e-9),
                "correctness": {"ok": not problems and rc == 0, "problems": problems}})
    return run


# ---------------------------------------------------------------- raw limit, flatness, soak

def raw_limit(ctx, make_db, events, reps):
    values = []
    for i in range(reps):
        db = make_db(f"raw{i}")
        db.create()
        try:
            out = subprocess.run([ctx.bench, "limit", "--database-url", db.url, "--events", str(events)],
                                 check=True, stdout=subprocess.PIPE, text=True).stdout
            values.append(json.loads(out))
        finally:
            db.drop()
    tx = [v["tx_per_s"] for v in values]
    return {"tx_per_s": statistics.median(tx), "tx_per_s_all": [round(t) for t in tx],
            "events": events, "clients": values[0]["clients"], "durability": values[0]["durability"]}


def flatness(ctx, make_db, stored, count, reps):
    """c=16 throughput on an empty database vs one holding `stored` processed events."""
    result = {"stored_events": stored, "count": count}
    for label, fill in (("empty", 0), ("filled", stored)):
        db = make_db(f"flat{label}")
        db.create()
        try:
            if fill:
                t = time.time()
                subprocess.run([ctx.bench, "fill", "--database-url", db.url, "--events", str(fill)],
                               check=True, stdout=subprocess.PIPE)
                result["fill_s"] = time.time() - t
            server = Server(ctx.shop, db.url)
            try:
                runs = [one_run(ctx, server, db.url, count, 16) for _ in range(reps)]
            finally:
                server.stop()
            result[label] = summarize(runs)
        finally:
            db.drop()
    e, f = result["empty"].get("events_per_s"), result["filled"].get("events_per_s")
    result["ratio"] = f / e if e and f else None
    result["flat"] = bool(result["ratio"] and result["ratio"] >= 1 - TARGET_FLAT)
    result["correct"] = result["empty"]["correct"] and result["filled"]["correct"]
    return result


def soak(ctx, make_db, minutes, rate, concurrency=4):
    """Fixed-rate load approximated from outside the generator (it has no --rate): one bounded
    batch of `rate` deliveries per second, then sleep for the rest of the second. RSS sampled
    every 10 s."""
    db = make_db("soak")
    db.create()
    server = Server(ctx.shop, db.url)
    samples, stop = [], threading.Event()
    t0 = time.time()

    def sampler():
        while not stop.is_set():
            samples.append((round(time.time() - t0, 1), proc_status_kib(server.pid, "VmRSS") / 1024))
            stop.wait(10)

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    before = counts(ctx.bench, db.url, 0)
    sent = processed = behind = 0
    problems = []
    try:
        end = t0 + minutes * 60
        while time.time() < end:
            tick = time.time()
            rc, gen, err = trigger(ctx.loadgen, server, rate, concurrency)
            if gen is None or rc != 0:
                problems.append(f"batch failed: {err[-200:]}")
                break
            sent += gen["sent"]
            processed += gen["outcomes"].get("processed", 0)
            spare = 1.0 - (time.time() - tick)
            if spare > 0:
                time.sleep(spare)
            else:
                behind += 1
    finally:
        stop.set()
        th.join()
        after = counts(ctx.bench, db.url, before["max_trigger_id"])
        server.stop()
        db.drop()
    d_events = after["events"] - before["events"]
    if d_events != sent or after["run_triggers"] != sent or after["shop_rows"] != after["events"]:
        problems.append(f"sent {sent}, triggers {after['run_triggers']}, events {d_events}, handler rows {after['shop_rows']}")
    rss = [m for _, m in samples]
    warm = [m for t, m in samples if t >= 60] or rss
    first, last = warm[0], statistics.mean(warm[-max(1, len(warm) // 4):])
    growth = last - first
    return {"minutes": minutes, "target_rate_per_s": rate, "sent": sent, "achieved_rate_per_s": sent / (minutes * 60),
            "seconds_behind_schedule": behind, "rss_samples_mib": samples, "rss_after_warmup_mib": first,
            "rss_last_quarter_mib": last, "rss_growth_mib": growth,
            "flat": growth <= max(2.0, 0.05 * first), "correct": not problems, "problems": problems}


# ---------------------------------------------------------------- environment + report

def environment():
    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True).stdout.strip()
        except OSError:
            return ""
    cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
    mem = sh("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
    return {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "nproc": os.cpu_count(),
            "cpu": cpu, "memory": mem, "kernel": platform.release(), "loadavg_at_start": os.getloadavg(),
            "rustc": sh("rustc --version"), "postgres": sh("psql --version"),
            "git": sh(f"git -C {ROOT} rev-parse --short HEAD") + (" (dirty)" if sh(f"git -C {ROOT} status --porcelain -- djstripe-core djstripe-actix djstripe-axum djstripe-cli examples") else "")}


def fmt(x, digits=0):
    if x is None:
        return "–"
    return f"{x:,.{digits}f}"


def yes(b):
    return "**met**" if b else "**missed**"


def targets(backend):
    lim = backend["raw_limit"]["tx_per_s"]
    cells = {(c["concurrency"], c["duplicate_ratio"]): c for c in backend["grid"]}
    c16, c64 = cells.get((16, 0.0)), cells.get((64, 0.0))
    out = []
    if c64 and c64.get("events_per_s"):
        out.append(("throughput at c=64 ≥ 1.5 × raw limit", f"{fmt(c64['events_per_s'])}/s = {c64['events_per_s'] / lim:.2f} × {fmt(lim)}/s",
                    c64["events_per_s"] >= TARGET_C64_RATIO * lim))
    if c16 and c16.get("events_per_s"):
        out.append(("throughput at c=16 ≥ raw limit", f"{fmt(c16['events_per_s'])}/s = {c16['events_per_s'] / lim:.2f} × {fmt(lim)}/s",
                    c16["events_per_s"] >= TARGET_C16_RATIO * lim))
        out.append(("p99 < 20 ms at c=16", f"{c16['latency_ms']['p99']:.1f} ms", c16["latency_ms"]["p99"] < TARGET_P99_MS))
    rss = max((c.get("server_peak_rss_mib", 0) for c in backend["grid"]), default=0)
    out.append(("server RSS < 40 MiB under load", f"{rss:.1f} MiB peak", rss < TARGET_RSS_MIB))
    if backend.get("flatness"):
        f = backend["flatness"]
        out.append((f"throughput after {f['stored_events']:,} stored events within 15% of empty",
                    f"{fmt(f['filled'].get('events_per_s'))}/s vs {fmt(f['empty'].get('events_per_s'))}/s = {f['ratio']:.2f}" if f["ratio"] else "–",
                    f["flat"]))
    if backend.get("soak"):
        s = backend["soak"]
        out.append((f"RSS flat over a {s['minutes']}-minute soak", f"{s['rss_after_warmup_mib']:.1f} → {s['rss_last_quarter_mib']:.1f} MiB", s["flat"]))
    out.append(("every run correct (nothing lost or doubled)", "", all(c["correct"] for c in backend["grid"] + backend["fail_runs"])))
    return out


def report_md(results):
    env = results["environment"]
    L = []
    A = L.append
    A("# Benchmarks\n")
    A("<!-- Generated by bench/run.sh from bench/results/" + results["file"] + "; edit bench/profile.md, bench/storage.md or bench/suite.py, not this file. -->\n")
    A("What one webhook delivery costs in djstripe-rs with the guarantees intact: signature checked, trigger "
      "and event durably stored, the handler run in the event's transaction, the answer sent. The example app "
      "(`examples/shop`, release build) is driven by the project's own load generator (`djstripe-loadgen`, "
      "`bench/loadgen`) over "
      "loopback; its `customer` handler writes one row in the event's transaction. Commits are durable: SQLite "
      "WAL + `synchronous=FULL`, PostgreSQL `synchronous_commit=on`.\n")
    A("## How to run\n")
    A("```sh\nbench/run.sh                  # the full grid on SQLite and PostgreSQL (~15-25 min), writes BENCHMARKS.md + bench/results/<date>.json\n"
      "bench/run.sh --quick          # CI smoke: 500 events, c=1 and 16, both backends, correctness checks (< 1 min); exits 1 on a failed check\n"
      "bench/run.sh --sqlite-only    # or --postgres-only\n"
      "bench/run.sh --flat 1000000   # also: c=16 throughput after 1,000,000 stored events vs an empty database\n"
      "bench/run.sh --soak 10        # also: 10 minutes at a fixed rate below capacity, RSS sampled every 10 s\n"
      "bench/run.sh --postgres-only --concurrency 16,64 --dups 0 --no-fail-run --reps 1 --shop BINARY\n"
      "                              # an A/B probe of one binary (no report; bench/results/probe-latest.json)\n```\n")
    A("Requirements: a Rust toolchain, `python3` (standard library only), `psql` and a PostgreSQL server reachable as "
      "`BENCH_PG_ADMIN_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`; the suite creates and drops its "
      "own databases). The suite builds `shop`, `djstripe-bench` (`bench/rawdb`) and the load generator "
      "`djstripe-loadgen` (`bench/loadgen`) in release mode, and for each "
      "backend: measures the raw one-transaction-per-event limit with `djstripe-bench limit` (each event one durable "
      "transaction inserting a trigger row, an event row and a handler row — same tables and payloads; SQLite one "
      "writer, PostgreSQL 16 clients), starts `shop serve` on a fresh database, runs the grid (concurrency × "
      "duplicate ratio, repeated, median reported) plus a run where 10% of the handlers fail, and checks every run "
      "exactly (below). Numbers move from run to run and machine to machine: **compare only within one run**.\n")
    A("## Environment\n")
    A(f"- date: {env['date']}; git: {env['git']}")
    A(f"- {env['nproc']} cores ({env['cpu']}), {env['memory']}, Linux {env['kernel']}; load average at start: "
      + ", ".join(f"{x:.2f}" for x in env["loadavg_at_start"]))
    A(f"- {env['rustc']}; {env['postgres']}")
    A(f"- events per run: {results['config']['count']:,}; repetitions: {results['config']['reps']}; "
      f"server workers: {results['config']['workers'] or 'default (one per core)'}")
    A("- the load generator runs on the same cores as the server (and the machine is shared): its CPU is shown "
      "beside the server's.")
    A(f"- server environment: `RUST_LOG={os.environ.get('BENCH_RUST_LOG', 'warn')}`, `RUST_BACKTRACE` "
      f"{'= ' + os.environ['BENCH_RUST_BACKTRACE'] if os.environ.get('BENCH_RUST_BACKTRACE') else 'unset'} "
      "(set `BENCH_RUST_BACKTRACE=1` to measure failing handlers with backtraces).\n")
    for name, b in results["backends"].items():
        lim = b["raw_limit"]
        A(f"## {'SQLite' if name == 'sqlite' else 'PostgreSQL'}\n")
        A(f"Raw one-transaction-per-event limit (`djstripe-bench limit`, {lim['durability']}, {lim['clients']} "
          f"client{'s' if lim['clients'] > 1 else ''}, {lim['events']:,} events): **{fmt(lim['tx_per_s'])} tx/s** "
          f"(runs: {', '.join(fmt(x) for x in lim['tx_per_s_all'])}).\n")
        A("| concurrency | duplicates | events/s (median) | runs | p50 ms | p90 ms | p99 ms | max ms | server peak RSS MiB | server CPU µs/event | generator CPU µs/event | × raw limit | correctness |")
        A("|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for c in b["grid"] + b["fail_runs"]:
            lat = c.get("latency_ms", {})
            dup = f"{c['duplicate_ratio']:.0%}" + (f", {c['fail_ratio']:.0%} failing" if c.get("fail_ratio") else "")
            ratio = c["events_per_s"] / lim["tx_per_s"] if c.get("events_per_s") else None
            A(f"| {c['concurrency']} | {dup} | {fmt(c.get('events_per_s'))} | {', '.join(fmt(x) for x in c.get('events_per_s_all', []))} | "
              f"{fmt(lat.get('p50'), 2)} | {fmt(lat.get('p90'), 2)} | {fmt(lat.get('p99'), 2)} | {fmt(lat.get('max'), 1)} | "
              f"{fmt(c.get('server_peak_rss_mib'), 1)} | {fmt(c.get('server_cpu_us_per_event'))} | {fmt(c.get('generator_cpu_us_per_event'))} | "
              f"{fmt(ratio, 2)} | {'OK' if c['correct'] else '**FAILED**'} |")
        A("")
        A("Targets (issue 8):\n")
        A("| target | measured | |")
        A("|---|---|---|")
        for t, m, ok in targets(b):
            A(f"| {t} | {m} | {yes(ok)} |")
        A("")
        if b.get("flatness"):
            f = b["flatness"]
            A(f"Flatness: {f['stored_events']:,} processed events pre-filled with `djstripe-bench fill` "
              f"({f.get('fill_s', 0):.0f} s), then c=16 × {f['count']:,} events: {fmt(f['filled'].get('events_per_s'))}/s "
              f"(p99 {fmt(f['filled'].get('latency_ms', {}).get('p99'), 1)} ms) vs {fmt(f['empty'].get('events_per_s'))}/s "
              f"on an empty database (p99 {fmt(f['empty'].get('latency_ms', {}).get('p99'), 1)} ms): ratio {fmt(f['ratio'], 2)}, "
              f"{'OK' if f['correct'] else '**FAILED**'} correctness.\n")
        if b.get("soak"):
            s = b["soak"]
            A(f"Soak: {s['minutes']} min at a target {s['target_rate_per_s']}/s (achieved {s['achieved_rate_per_s']:.0f}/s, "
              f"{s['sent']:,} events; {s['seconds_behind_schedule']} seconds behind schedule). The generator has no `--rate`: "
              f"the suite sends one bounded batch (concurrency 4) per second and sleeps the rest. RSS after warm-up "
              f"{s['rss_after_warmup_mib']:.1f} MiB, last quarter {s['rss_last_quarter_mib']:.1f} MiB "
              f"({'flat' if s['flat'] else '**growing**'}); samples: "
              + ", ".join(f"{m:.1f}" for _, m in s["rss_samples_mib"]) + f" MiB. Correctness: {'OK' if s['correct'] else '**FAILED** ' + '; '.join(s['problems'])}.\n")
        if b.get("inbox"):
            i, m = b["inbox"], b["inbox"]["summary"]
            A(f"Inbox mode (`DJSTRIPE_WEBHOOK_PROCESSING=inbox`): {i['count']:,} deliveries at c={i['concurrency']} whose "
              f"handler sleeps {i['sleep_ms']} ms before writing (`--sleep-ms`), each rep on a fresh database; beside each, "
              "inline mode with the instant handler at the same concurrency.\n")
            A("| | events/s answered (median) | p50 ms | p99 ms | inbox drained in | processed/s | correctness |")
            A("|---|---:|---:|---:|---:|---:|---|")
            inl = [r for r in i["inline_instant"] if "events_per_s" in r]
            A(f"| inbox, {i['sleep_ms']} ms handler | {fmt(m['accepted_per_s'])} | {fmt(m['p50_ms'], 2)} | {fmt(m['p99_ms'], 2)} | "
              f"{fmt(m['drain_s'], 1)} s | {fmt(m['processed_per_s'], 1)} | {'OK' if i['correct'] else '**FAILED**'} |")
            A(f"| inline, instant handler | {fmt(m['inline_instant_per_s'])} | "
              f"{fmt(statistics.median([r['latency_ms']['p50'] for r in inl]) if inl else None, 2)} | "
              f"{fmt(statistics.median([r['latency_ms']['p99'] for r in inl]) if inl else None, 2)} | – | – | "
              f"{'OK' if all(r['correctness']['ok'] for r in i['inline_instant']) else '**FAILED**'} |")
            A("")
            A(f"Targets (issue 17): p99 < 5 ms answered in inbox mode: {yes((m['p99_ms'] or 99) < 5)}; "
              f"inbox acceptance ≥ inline's with an instant handler: {yes((m['accepted_per_s'] or 0) >= (m['inline_instant_per_s'] or 1e12))}.\n")
        bad = [(c, p) for c in b["grid"] + b["fail_runs"] for p in c.get("problems", [])]
        if bad:
            A("Failed checks:\n")
            for c, p in bad:
                A(f"- c={c['concurrency']} dup={c['duplicate_ratio']} fail={c.get('fail_ratio', 0)}: {p}")
            A("")
    A("## How a run is checked\n")
    A("One server per backend serves every run of the grid; before each run the suite records the highest trigger "
      "id and the row counts, after it counts again (`djstripe-bench count --since-trigger ID`). A run is **FAILED** "
      "unless: every delivery got an answer; trigger rows of the run = deliveries sent; the triggers' recorded "
      "outcomes = the answers (processed / duplicate / failed); new `djstripe_event` rows = `processed` answers = "
      "unique event ids sent minus events whose every delivery failed; re-deliveries = `duplicate` answers; new "
      "`shop_customer_event` rows = new events; no event has two handler rows or `times_processed > 1`; no handler "
      "row survives without its event (failed handlers rolled back) and no stored customer event lacks its row. "
      "(At high concurrency the generator sometimes sends a fresh event where a duplicate was scheduled — no body "
      "sent yet — so the duplicate count is taken from the data, not from the ratio.)\n")
    A("Server peak RSS is VmHWM, reset before each run through `/proc/PID/clear_refs`; server CPU is the delta of "
      "utime + stime in `/proc/PID/stat` over the run, divided by the deliveries; the generator's CPU comes from "
      "`getrusage(RUSAGE_CHILDREN)`. The server is reused for all the runs of a backend, and `clear_refs` resets the "
      "peak to the *current* RSS, so memory the server keeps from earlier runs (allocator arenas, caches) is carried "
      "into later cells: read the RSS column top to bottom as the server's life, and the soak (`--soak`) for growth.\n")
    # Hand-written sections, measured by other means: the profile, the bytes stored per delivery
    # (`djstripe-bench storage`).
    for part in ("profile.md", "storage.md"):
        path = os.path.join(ROOT, "bench", part)
        if os.path.exists(path):
            with open(path) as f:
                A(f.read().rstrip() + "\n")
    return "\n".join(L)


# ---------------------------------------------------------------- main

def main():
    # SIGTERM / SIGHUP: unwind normally, so servers are stopped and databases dropped.
    import signal
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(130))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="CI smoke: 500 events, c=1 and 16, one repetition")
    ap.add_argument("--sqlite-only", action="store_true")
    ap.add_argument("--postgres-only", action="store_true")
    ap.add_argument("--soak", type=float, metavar="MINUTES", help="also a fixed-rate soak of MINUTES per backend")
    ap.add_argument("--soak-rate", type=int, help="soak deliveries per second (default: 25%% of the c=16 figure)")
    ap.add_argument("--flat", type=int, nargs="?", const=1_000_000, metavar="N",
                    help="also c=16 throughput after N stored events (default N 1,000,000) vs empty")
    ap.add_argument("--count", type=int, help="events per run (default 20000; --quick 500)")
    ap.add_argument("--reps", type=int, help="repetitions per cell (default 3; --quick 1)")
    ap.add_argument("--workers", type=int, help="shop serve --workers (default: its own)")
    ap.add_argument("--no-report", action="store_true", help="do not regenerate BENCHMARKS.md")
    ap.add_argument("--concurrency", help="probe: only these concurrencies, e.g. 16,64 (no report; "
                    "results in bench/results/probe-latest.json)")
    ap.add_argument("--dups", help="probe: only these duplicate ratios, e.g. 0")
    ap.add_argument("--no-fail-run", action="store_true", help="probe: skip the run with failing handlers")
    ap.add_argument("--report-from", metavar="JSON", help="only regenerate BENCHMARKS.md from a results file")
    ap.add_argument("--inbox", action="store_true",
                    help="also inbox mode with a slow handler vs inline with an instant one (see --inbox-*)")
    ap.add_argument("--inbox-only", action="store_true", help="probe: only the inbox experiment")
    ap.add_argument("--inbox-count", type=int, default=2000, help="deliveries per inbox run (default 2000)")
    ap.add_argument("--inbox-sleep-ms", type=int, default=50, help="the slow handler's sleep (default 50 ms)")
    ap.add_argument("--shop", default=os.environ.get("BENCH_SHOP"))
    ap.add_argument("--bench", default=os.environ.get("BENCH_RAWDB"))
    ap.add_argument("--loadgen", default=os.environ.get("BENCH_LOADGEN"),
                    help="the load generator binary (default: target/release/djstripe-loadgen)")
    a = ap.parse_args()

    if a.report_from:
        with open(a.report_from) as f:
            results = json.load(f)
        with open(os.path.join(ROOT, "BENCHMARKS.md"), "w") as f:
            f.write(report_md(results))
        log("BENCHMARKS.md regenerated from " + a.report_from)
        return 0

    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ctx = argparse.Namespace(shop=a.shop or os.path.join(target, "release", "shop"),
                             bench=a.bench or os.path.join(target, "release", "djstripe-bench"),
                             loadgen=a.loadgen or os.path.join(target, "release", "djstripe-loadgen"))
    count = a.count or (500 if a.quick else 20_000)
    reps = a.reps or (1 if a.quick else 3)
    concurrencies = [1, 16] if a.quick else [1, 16, 64]
    dups = [0.0, 0.1]
    probe = bool(a.concurrency or a.dups or a.no_fail_run or a.inbox_only)
    if a.concurrency:
        concurrencies = [int(c) for c in a.concurrency.split(",")]
    if a.dups:
        dups = [float(d) for d in a.dups.split(",")]
    admin = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    # libpq (with TLS since issue 13) encrypts by default (sslmode=prefer) when the server offers
    # TLS, as Debian's does: 30-50 us of server CPU per event over loopback (bench/profile.md).
    # The suite measures the engine, so it pins plain connections unless told otherwise.
    os.environ.setdefault("PGSSLMODE", "disable")
    log(f"postgres: PGSSLMODE={os.environ['PGSSLMODE']}")
    backends = ["sqlite", "postgres"]
    if a.sqlite_only:
        backends = ["sqlite"]
    if a.postgres_only:
        backends = ["postgres"]

    workdir = tempfile.mkdtemp(prefix="djstripe-bench-")
    results = {"environment": environment(),
               "config": {"count": count, "reps": reps, "concurrency": concurrencies, "duplicate_ratios": dups,
                          "quick": a.quick, "workers": a.workers, "event_type": EVENT_TYPE},
               "backends": {}}
    all_ok = True
    try:
        for name in backends:
            make_db = (lambda tag: Sqlite(workdir, tag)) if name == "sqlite" else (lambda tag: Postgres(admin, tag))
            b = results["backends"][name] = {}
            if a.inbox or a.inbox_only:
                log(f"{name}: inbox mode, {a.inbox_sleep_ms} ms handler, c=64, {a.inbox_count} deliveries")
                b["inbox"] = inbox_experiment(ctx, make_db, a.inbox_count, 64, a.inbox_sleep_ms, reps, a.workers)
                all_ok &= b["inbox"]["correct"]
                if a.inbox_only:
                    b["grid"], b["fail_runs"] = [], []
                    continue
            log(f"{name}: raw one-transaction-per-event limit")
            b["raw_limit"] = raw_limit(ctx, make_db, count, reps)
            log(f"{name}: raw limit {b['raw_limit']['tx_per_s']:.0f} tx/s")
            db = make_db("grid")
            db.create()
            server = Server(ctx.shop, db.url, a.workers)
            b["grid"], b["fail_runs"] = [], []
            try:
                plan = [(c, d, 0.0, b["grid"]) for c in concurrencies for d in dups]
                if not a.no_fail_run:
                    plan.append((16, 0.0, 0.1, b["fail_runs"]))
                for c, d, f, dest in plan:
                    runs = []
                    for i in range(reps):
                        r = one_run(ctx, server, db.url, count, c, d, f)
                        runs.append(r)
                        log(f"{name} c={c} dup={d} fail={f} rep {i + 1}: {r.get('events_per_s', 0):.0f}/s "
                            f"p99 {r.get('latency_ms', {}).get('p99', 0):.1f} ms rss {r['server_peak_rss_mib']:.1f} MiB "
                            f"cpu {r.get('server_cpu_us_per_event', 0):.0f} µs/ev "
                            + ("OK" if r["correctness"]["ok"] else "FAILED: " + "; ".join(r["correctness"]["problems"])))
                    cell = summarize(runs)
                    cell.update({"concurrency": c, "duplicate_ratio": d, "fail_ratio": f, "runs": runs,
                                 "problems": [p for r in runs for p in r["correctness"]["problems"]]})
                    dest.append(cell)
                    all_ok &= cell["correct"]
            finally:
                server.stop()
                db.drop()
            if a.flat:
                log(f"{name}: flatness with {a.flat:,} stored events")
                b["flatness"] = flatness(ctx, make_db, a.flat, count, reps)
                all_ok &= b["flatness"]["correct"]
                log(f"{name}: flatness ratio {b['flatness']['ratio']}")
            if a.soak:
                c16 = next((c for c in b["grid"] if c["concurrency"] == 16 and c["duplicate_ratio"] == 0), None)
                rate = a.soak_rate or max(50, int(0.25 * (c16 or {}).get("events_per_s", 1000)))
                log(f"{name}: soak {a.soak} min at {rate}/s")
                b["soak"] = soak(ctx, make_db, a.soak, rate)
                all_ok &= b["soak"]["correct"]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    stamp = datetime.datetime.now().strftime("%Y-%m-%d-%H%M")
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    fname = "quick-latest.json" if a.quick else "probe-latest.json" if probe else f"{stamp}.json"
    results["file"] = fname
    results["all_correct"] = all_ok
    path = os.path.join(ROOT, "bench", "results", fname)
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
    log(f"raw results: {path}")
    if not a.quick and not probe and not a.no_report:
        with open(os.path.join(ROOT, "BENCHMARKS.md"), "w") as f:
            f.write(report_md(results))
        log("BENCHMARKS.md regenerated")
    for name, b in results["backends"].items():
        for c in b["grid"] + b["fail_runs"]:
            print(f"{name:8} c={c['concurrency']:<3} dup={c['duplicate_ratio']:<4} fail={c['fail_ratio']:<4} "
                  f"{fmt(c.get('events_per_s')):>7}/s p99 {fmt(c.get('latency_ms', {}).get('p99'), 1):>6} ms "
                  f"{'OK' if c['correct'] else 'FAILED'}")
    if not all_ok:
        log("CORRECTNESS FAILURE: see the problems above / in the JSON")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
