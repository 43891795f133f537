//! `djstripe-loadgen`: the benchmark suite's load generator. It signs Stripe-shaped events with
//! a webhook endpoint's secret and POSTs them to a djstripe-rs server, then prints the answers
//! counted by status and outcome, latency percentiles and events/s (`--json`: one JSON line, which
//! `bench/suite.py` parses).
//!
//! ```text
//! djstripe-loadgen customer.created --endpoint UUID --base-url http://127.0.0.1:8000 \
//!     --count 20000 --concurrency 16 --duplicate-ratio 0.1 --json
//! ```
//!
//! It is a crate of its own under `bench/`, not part of the library: it is a measuring tool, and
//! an app built on djstripe-rs should not carry it (nor a runtime and an HTTP client for it).
//!
//! Why it is built the way it is: the generator shares the cores with the server it measures, so
//! whatever CPU it spends per delivery is taken from the server and lowers the figures. Its own
//! cost per delivery must stay small: bodies are built before the clock starts, and the
//! deliveries run as `--concurrency` tasks on one thread, each over its own keep-alive connection
//! with a minimal HTTP/1.1 client ([`client`]).
//!
//! Errors are one line on stderr and exit code 1 (usage errors: clap's message, exit code 2).

mod client;

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::Parser;
use djstripe_core::db::Database;
use djstripe_core::testing::{self, EventBuilder};
use futures_util::future;

use client::{Connection, Endpoint};

/// Why the generator stopped: shown as one line on stderr, exit code 1.
#[derive(Debug)]
struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The command line.
#[derive(Parser, Debug)]
#[command(
    name = "djstripe-loadgen",
    version,
    about = "Sign and POST Stripe-shaped events to a djstripe-rs webhook endpoint: the benchmark suite's load generator"
)]
struct Args {
    /// The event type to send, e.g. customer.created (its object comes from Stripe's fixtures).
    event_type: String,
    /// The full webhook URL. Default: {base-url}{prefix}/webhook/{endpoint}/ (or /webhook/ for legacy).
    #[arg(long)]
    url: Option<String>,
    /// A local endpoint's uuid: its URL and its secret (read from --database-url) are used.
    #[arg(long)]
    endpoint: Option<String>,
    /// The database holding --endpoint's secret (a SQLite path / sqlite://path, or postgres://...).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// The server's base URL, used with --endpoint or for the legacy endpoint.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    base_url: String,
    /// The signing secret (default: the endpoint's, or DJSTRIPE_WEBHOOK_SECRET's first).
    #[arg(long)]
    secret: Option<String>,
    /// How many deliveries to send.
    #[arg(long, default_value_t = 1)]
    count: u64,
    /// How many deliveries in flight at once.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Fraction of deliveries that re-send an event already sent (0..1), as Stripe's retries do.
    #[arg(long, default_value_t = 0.0)]
    duplicate_ratio: f64,
    /// Fraction of events marked `metadata.fail = "yes"` (the example's handler then fails: 500).
    #[arg(long, default_value_t = 0.0)]
    fail_ratio: f64,
    /// Milliseconds the example's `customer` handler sleeps for each event (its
    /// `metadata.sleep_ms`): a slow handler, e.g. to compare inline and inbox processing.
    #[arg(long, value_name = "MS")]
    sleep_ms: Option<u64>,
    /// Give every event an object of its own (`data.object.id`), as deliveries about many
    /// customers are; by default all are about the fixture's one customer, which inbox mode
    /// processes one at a time (per-object order).
    #[arg(long)]
    distinct_objects: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// Where the server mounts its webhook scope.
    #[arg(long, default_value = "/stripe")]
    prefix: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("djstripe-loadgen: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `true` for the deliveries where a ratio's running total crosses an integer: exactly
/// `round(count * ratio)` of them, spread evenly, no randomness (runs are comparable).
fn every(i: u64, ratio: f64) -> bool {
    ratio > 0.0 && ((i + 1) as f64 * ratio).floor() > (i as f64 * ratio).floor()
}

struct Target {
    url: String,
    secret: String,
}

fn target(args: &Args) -> Result<Target, Error> {
    let base = args.base_url.trim_end_matches('/');
    let prefix = prefix(&args.prefix);
    if let Some(secret) = &args.secret
        && secret.trim().is_empty()
    {
        return Err(Error("--secret is empty".into()));
    }
    if let Some(uuid) = &args.endpoint {
        let secret = match &args.secret {
            Some(secret) => secret.clone(),
            None => endpoint_secret(args.database_url.as_deref(), uuid)?,
        };
        let url = args.url.clone().unwrap_or_else(|| format!("{base}{prefix}/webhook/{uuid}/"));
        return Ok(Target { url, secret });
    }
    let secret = match &args.secret {
        Some(secret) => secret.clone(),
        None => legacy_secret(std::env::var_os("DJSTRIPE_WEBHOOK_SECRET").as_deref())?,
    };
    let url = args.url.clone().unwrap_or_else(|| format!("{base}{prefix}/webhook/"));
    Ok(Target { url, secret })
}

/// `--prefix` as the server mounts it: a leading `/`, no trailing one (`""` for the root).
fn prefix(prefix: &str) -> String {
    let prefix = prefix.trim().trim_matches('/');
    if prefix.is_empty() { String::new() } else { format!("/{prefix}") }
}

/// The current secret of the local endpoint `uuid`, read from the database (whose migrations
/// the server has applied; nothing is written).
fn endpoint_secret(database_url: Option<&str>, uuid: &str) -> Result<String, Error> {
    let Some(url) = database_url.map(str::trim).filter(|url| !url.is_empty()) else {
        return Err(Error(format!(
            "--endpoint {uuid} needs its secret: pass --database-url (or set DATABASE_URL), or pass --secret"
        )));
    };
    // Opening a SQLite file that is not there would create an empty database: refuse instead.
    if let Some(path) = sqlite_file(url)
        && !Path::new(path).exists()
    {
        return Err(Error(format!("no SQLite database at `{path}` (--database-url / DATABASE_URL)")));
    }
    let database = Database::connect(url).map_err(|e| Error(format!("cannot use the database: {e}")))?;
    let endpoint = database
        .endpoint_by_uuid(uuid)
        .map_err(|e| Error(format!("cannot read the endpoint's secret from the database: {e}")))?
        .ok_or_else(|| Error(format!("no webhook endpoint with uuid {uuid} in the database")))?;
    if endpoint.secret.is_empty() {
        return Err(Error(format!("endpoint {uuid} has no secret stored: pass --secret")));
    }
    Ok(endpoint.secret)
}

/// The file a SQLite database URL names (a path, `sqlite://path` or `sqlite:path`); `None` for
/// PostgreSQL, SQLite `file:` URIs and anything else, which are left to [`Database::connect`].
fn sqlite_file(url: &str) -> Option<&str> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return None;
    }
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    let plain = !path.is_empty() && path != ":memory:" && !path.contains("://") && !path.starts_with("file:");
    plain.then_some(path)
}

/// The legacy endpoint's secret: the first of `DJSTRIPE_WEBHOOK_SECRET`'s comma-separated
/// secrets, each of which must look like one (`whsec_...`), as the server requires.
fn legacy_secret(value: Option<&std::ffi::OsStr>) -> Result<String, Error> {
    let value = value.map(|v| v.to_str().ok_or_else(|| Error("DJSTRIPE_WEBHOOK_SECRET is not valid UTF-8".into())));
    let value = value.transpose()?.unwrap_or_default();
    let secrets: Vec<&str> = value.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    if let Some(bad) = secrets.iter().find(|s| !s.starts_with("whsec_")) {
        let start: String = bad.chars().take(6).collect();
        return Err(Error(format!("DJSTRIPE_WEBHOOK_SECRET: `{start}…` is not a webhook signing secret (whsec_...)")));
    }
    secrets
        .first()
        .map(|s| (*s).to_owned())
        .ok_or_else(|| Error("no secret: pass --secret, --endpoint UUID, or set DJSTRIPE_WEBHOOK_SECRET".into()))
}

#[derive(Default)]
struct Tally {
    statuses: BTreeMap<u16, u64>,
    outcomes: BTreeMap<String, u64>,
    latencies_us: Vec<u64>,
    network_errors: u64,
    first_error: Option<String>,
}

/// The one field of the server's JSON answer that is counted (`"?"` when absent or not JSON).
#[derive(serde::Deserialize)]
struct AnswerJson<'a> {
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
}

impl Tally {
    fn answered(&mut self, status: u16, body: &[u8], latency: Duration) {
        self.latencies_us.push(latency.as_micros() as u64);
        *self.statuses.entry(status).or_default() += 1;
        let answer = serde_json::from_slice::<AnswerJson<'_>>(body).ok();
        let label = answer.as_ref().and_then(|a| a.status.as_deref()).unwrap_or("?");
        if let Some(n) = self.outcomes.get_mut(label) {
            *n += 1;
        } else {
            self.outcomes.insert(label.to_owned(), 1);
        }
    }

    fn unanswered(&mut self, error: std::io::Error) {
        self.network_errors += 1;
        self.first_error.get_or_insert_with(|| error.to_string());
    }

    /// Adds a connection's tally to this one (the first error seen stays first).
    fn merge(&mut self, other: Tally) {
        for (k, v) in other.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        for (k, v) in other.outcomes {
            *self.outcomes.entry(k).or_default() += v;
        }
        self.latencies_us.extend(other.latencies_us);
        self.network_errors += other.network_errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

fn run(args: Args) -> Result<(), Error> {
    if !testing::event_types().contains(&args.event_type.as_str()) {
        return Err(Error(format!(
            "unknown Stripe event type `{}` (one of Stripe's event types, e.g. customer.created)",
            args.event_type
        )));
    }
    if args.count == 0 || args.concurrency == 0 {
        return Err(Error("--count and --concurrency must be at least 1".into()));
    }
    for (name, ratio) in [("--duplicate-ratio", args.duplicate_ratio), ("--fail-ratio", args.fail_ratio)] {
        if !(0.0..=1.0).contains(&ratio) {
            return Err(Error(format!("{name} must be between 0 and 1")));
        }
    }
    let target = target(&args)?;
    let endpoint = Endpoint::parse(&target.url)?;
    let bodies = bodies(&args)?;
    // One thread is plenty: the tasks only wait on sockets, and a second thread would take CPU
    // from the server being measured.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| Error(format!("cannot start the load generator's runtime: {e}")))?;
    let started = Instant::now();
    let mut tally = runtime.block_on(send_all(&args, &target.secret, &endpoint, &bodies));
    let elapsed = started.elapsed().as_secs_f64();
    tally.latencies_us.sort_unstable();
    report(&args, &target, &tally, elapsed);
    if let Some(error) = &tally.first_error {
        return Err(Error(format!("{} deliveries got no answer; first error: {error}", tally.network_errors)));
    }
    let unexpected: u64 = tally
        .statuses
        .iter()
        .filter(|(status, _)| !(**status == 200 || (**status == 500 && args.fail_ratio > 0.0)))
        .map(|(_, n)| n)
        .sum();
    if unexpected > 0 {
        return Err(Error(format!("{unexpected} deliveries got an unexpected answer (see above)")));
    }
    Ok(())
}

/// Every body, built before the clock starts: the generator's own CPU is not what we measure.
/// Delivery i re-sends the previous event when it is a duplicate, as Stripe's retries do.
/// A `--count` too large to hold is an error, not an abort.
fn bodies(args: &Args) -> Result<Vec<Rc<Vec<u8>>>, Error> {
    let too_many = || Error(format!("--count {} is more deliveries than this machine can hold in memory", args.count));
    let mut bodies: Vec<Rc<Vec<u8>>> = Vec::new();
    bodies.try_reserve_exact(usize::try_from(args.count).map_err(|_| too_many())?).map_err(|_| too_many())?;
    for i in 0..args.count {
        let body = match bodies.last() {
            Some(previous) if every(i, args.duplicate_ratio) => previous.clone(),
            _ => {
                let mut builder = EventBuilder::new(&args.event_type);
                if every(i, args.fail_ratio) {
                    builder = builder.metadata("fail", "yes");
                }
                if let Some(ms) = args.sleep_ms {
                    builder = builder.metadata("sleep_ms", ms.to_string());
                }
                if args.distinct_objects {
                    builder = builder.merge_object(serde_json::json!({ "id": format!("cus_load{i}") }));
                }
                // Sized from the previous body (events of one type are about the same size): no
                // regrowing, and half the fresh memory a doubling Vec would touch.
                let mut body = Vec::with_capacity(bodies.last().map_or(0, |b| b.len() + 256));
                serde_json::to_writer(&mut body, &builder.build()).expect("an Event always serializes");
                Rc::new(body)
            }
        };
        bodies.push(body);
    }
    Ok(bodies)
}

/// Sends every body, `--concurrency` deliveries in flight, each connection taking the next
/// undelivered body as soon as it is free; shows progress on a terminal.
async fn send_all(args: &Args, secret: &str, endpoint: &Endpoint, bodies: &[Rc<Vec<u8>>]) -> Tally {
    let (next, done) = (Cell::new(0), Cell::new(0));
    let connection = || async {
        let mut connection = Connection::new(endpoint);
        let mut tally = Tally::default();
        while let Some(body) = bodies.get(next.get()) {
            next.set(next.get() + 1);
            let signature = testing::header_now(secret, body);
            let sent = Instant::now();
            match connection.post(&signature, body).await {
                Ok(answer) => tally.answered(answer.status, answer.body, sent.elapsed()),
                Err(error) => tally.unanswered(error),
            }
            done.set(done.get() + 1);
        }
        tally
    };
    let connections = future::join_all((0..args.concurrency.min(bodies.len())).map(|_| connection()));
    let show_progress = std::io::stderr().is_terminal() && args.count >= 50;
    let tallies = if show_progress {
        let progress = async {
            loop {
                eprint!("\r{}/{} sent", done.get(), args.count);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        };
        let tallies = future::select(std::pin::pin!(connections), std::pin::pin!(progress)).await.factor_first().0;
        eprint!("\r");
        tallies
    } else {
        connections.await
    };
    let mut tally = Tally::default();
    for one in tallies {
        tally.merge(one);
    }
    tally
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

fn report(args: &Args, target: &Target, tally: &Tally, elapsed: f64) {
    let sent = tally.latencies_us.len() as u64 + tally.network_errors;
    let rate = if elapsed > 0.0 { sent as f64 / elapsed } else { 0.0 };
    let l = &tally.latencies_us;
    let (p50, p90, p99, max) = (percentile(l, 50.0), percentile(l, 90.0), percentile(l, 99.0), percentile(l, 100.0));
    if args.json {
        let summary = serde_json::json!({
            "url": target.url, "event_type": args.event_type, "sent": sent, "concurrency": args.concurrency,
            "elapsed_s": elapsed, "events_per_s": rate,
            "statuses": tally.statuses.iter().map(|(k, v)| (k.to_string(), *v)).collect::<BTreeMap<_, _>>(),
            "outcomes": tally.outcomes, "network_errors": tally.network_errors,
            "latency_ms": { "p50": p50, "p90": p90, "p99": p99, "max": max },
        });
        println!("{summary}");
        return;
    }
    println!(
        "sent {sent} {} deliveries to {} in {elapsed:.2} s ({rate:.0} events/s, concurrency {})",
        args.event_type, target.url, args.concurrency
    );
    for (status, n) in &tally.statuses {
        println!("  HTTP {status}: {n}");
    }
    for (outcome, n) in &tally.outcomes {
        println!("  {outcome}: {n}");
    }
    if tally.network_errors > 0 {
        println!("  no answer: {}", tally.network_errors);
    }
    println!("latency ms: p50 {p50:.2}  p90 {p90:.2}  p99 {p99:.2}  max {max:.2}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_are_exact_and_spread() {
        let hits = (0..1000).filter(|i| every(*i, 0.1)).count();
        assert_eq!(hits, 100);
        assert_eq!((0..1000).filter(|i| every(*i, 0.0)).count(), 0);
        assert_eq!((0..10).filter(|i| every(*i, 1.0)).count(), 10);
    }

    #[test]
    fn percentiles() {
        let v: Vec<u64> = (1..=100).map(|x| x * 1000).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    /// The arguments `args` parse to (the program name is added).
    fn parse(args: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("djstripe-loadgen").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn command_line_is_well_formed() {
        use clap::CommandFactory;
        Args::command().debug_assert();
        let args = parse(&["customer.created", "--endpoint", "u", "--json"]);
        assert_eq!((args.count, args.concurrency, args.prefix.as_str(), args.json), (1, 1, "/stripe", true));
    }

    #[test]
    fn urls_from_base_prefix_and_endpoint() {
        assert_eq!(prefix("/stripe"), "/stripe");
        assert_eq!(prefix("payments/stripe/"), "/payments/stripe");
        assert_eq!(prefix("/"), "");
        let args = parse(&[
            "customer.created",
            "--endpoint",
            "6c0e",
            "--secret",
            "whsec_x",
            "--base-url",
            "http://127.0.0.1:9/",
        ]);
        let found = target(&args).unwrap();
        assert_eq!((found.url.as_str(), found.secret.as_str()), ("http://127.0.0.1:9/stripe/webhook/6c0e/", "whsec_x"));
        let legacy = parse(&["customer.created", "--secret", "whsec_x", "--prefix", ""]);
        assert_eq!(target(&legacy).unwrap().url, "http://127.0.0.1:8000/webhook/");
        let empty = parse(&["customer.created", "--secret", " "]);
        assert!(target(&empty).err().unwrap().to_string().contains("--secret is empty"));
    }

    #[test]
    fn legacy_secret_is_the_first_valid_one() {
        use std::ffi::OsStr;
        assert_eq!(legacy_secret(Some(OsStr::new(" whsec_a , whsec_b"))).unwrap(), "whsec_a");
        assert!(legacy_secret(None).err().unwrap().to_string().contains("no secret"));
        assert!(legacy_secret(Some(OsStr::new(" , "))).err().unwrap().to_string().contains("no secret"));
        // A bad one anywhere is refused, as the server refuses it; a multi-byte start is no panic.
        let e = legacy_secret(Some(OsStr::new("whsec_a,ééééééééé"))).err().unwrap().to_string();
        assert!(e.contains("`éééééé…` is not a webhook signing secret"), "{e}");
    }

    #[test]
    fn endpoint_secret_needs_an_existing_database() {
        let e = endpoint_secret(None, "u").err().unwrap().to_string();
        assert!(e.contains("--database-url"), "{e}");
        let dir = std::env::temp_dir().join(format!("djstripe-loadgen-test-{}", std::process::id()));
        let missing = dir.join("missing.sqlite3");
        let e = endpoint_secret(Some(&format!("sqlite://{}", missing.display())), "u").err().unwrap().to_string();
        assert!(e.contains("no SQLite database at"), "{e}");
        assert!(!missing.exists(), "a missing database is not created");
        let e = endpoint_secret(Some("mysql://localhost/db"), "u").err().unwrap().to_string();
        assert!(e.contains("cannot use the database"), "{e}");
        assert_eq!(sqlite_file("sqlite://a/b.db"), Some("a/b.db"));
        assert_eq!(sqlite_file("b.db"), Some("b.db"));
        assert_eq!(sqlite_file("postgres://x/y"), None);
        assert_eq!(sqlite_file("file:b.db?mode=ro"), None);
    }

    #[test]
    fn an_impossible_count_is_an_error_not_an_abort() {
        let args = parse(&["customer.created", "--count", &u64::MAX.to_string()]);
        assert!(bodies(&args).err().unwrap().to_string().contains("more deliveries than"));
        let few = parse(&["customer.created", "--count", "10", "--duplicate-ratio", "0.5"]);
        let bodies = bodies(&few).unwrap();
        assert_eq!(bodies.len(), 10);
        assert_eq!(bodies.iter().filter(|b| b.starts_with(b"{")).count(), 10);
        let distinct: std::collections::HashSet<_> = bodies.iter().map(Rc::as_ptr).collect();
        assert_eq!(distinct.len(), 5, "every other delivery re-sends the previous event");
    }
}
