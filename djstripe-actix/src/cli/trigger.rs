//! `trigger`: sign and POST Stripe-shaped events — the local `stripe trigger` and the project's
//! load generator (counts by answer, latency percentiles, events/s).
//!
//! The generator shares the machine with the server it measures, so its own CPU per delivery
//! must stay small: bodies are built before the clock starts, and the deliveries run as
//! `--concurrency` tasks on one thread, each over its own keep-alive connection ([`client`]).

mod client;

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::rc::Rc;
use std::time::{Duration, Instant};

use djstripe_core::testing::{self, EventBuilder};
use futures_util::future;

use super::Cli;
use crate::Error;
use client::{Connection, Endpoint};

/// Arguments of `trigger`.
#[derive(clap::Args, Debug)]
pub(super) struct TriggerArgs {
    /// The event type to send, e.g. customer.created (its object comes from Stripe's fixtures).
    event_type: String,
    /// The full webhook URL. Default: {base-url}{prefix}/webhook/{endpoint}/ (or /webhook/ for legacy).
    #[arg(long)]
    url: Option<String>,
    /// A local endpoint's uuid: its URL and its secret (read from DATABASE_URL) are used.
    #[arg(long)]
    endpoint: Option<String>,
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
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
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

fn target(cli: &Cli, args: &TriggerArgs) -> Result<Target, Error> {
    let base = args.base_url.trim_end_matches('/');
    if let Some(uuid) = &args.endpoint {
        let secret = match &args.secret {
            Some(secret) => secret.clone(),
            None => {
                let djstripe = cli.start()?;
                let endpoint = djstripe
                    .engine()
                    .database()
                    .endpoint_by_uuid(uuid)
                    .map_err(|e| Error::Cli(format!("cannot read the endpoint's secret from the database: {e}")))?
                    .ok_or_else(|| Error::Cli(format!("no webhook endpoint with uuid {uuid} in the database")))?;
                if endpoint.secret.is_empty() {
                    return Err(Error::Cli(format!("endpoint {uuid} has no secret stored: pass --secret")));
                }
                endpoint.secret
            }
        };
        let url = args.url.clone().unwrap_or_else(|| format!("{base}{}/webhook/{uuid}/", cli.prefix));
        return Ok(Target { url, secret });
    }
    let secret = match &args.secret {
        Some(secret) => secret.clone(),
        None => cli.load_config()?.webhook_secrets.first().cloned().ok_or_else(|| {
            Error::Cli("no secret: pass --secret, --endpoint UUID, or set DJSTRIPE_WEBHOOK_SECRET".into())
        })?,
    };
    let url = args.url.clone().unwrap_or_else(|| format!("{base}{}/webhook/", cli.prefix));
    Ok(Target { url, secret })
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

pub(super) fn run(cli: &Cli, args: TriggerArgs) -> Result<(), Error> {
    if !testing::event_types().contains(&args.event_type.as_str()) {
        return Err(Error::Cli(format!(
            "unknown Stripe event type `{}` (see `shop handlers` or Stripe's docs)",
            args.event_type
        )));
    }
    if args.count == 0 || args.concurrency == 0 {
        return Err(Error::Cli("--count and --concurrency must be at least 1".into()));
    }
    for (name, ratio) in [("--duplicate-ratio", args.duplicate_ratio), ("--fail-ratio", args.fail_ratio)] {
        if !(0.0..=1.0).contains(&ratio) {
            return Err(Error::Cli(format!("{name} must be between 0 and 1")));
        }
    }
    let target = target(cli, &args)?;
    let endpoint = Endpoint::parse(&target.url)?;
    let bodies = bodies(&args);
    // One thread is plenty: the tasks only wait on sockets, and a second thread would take CPU
    // from the server being measured.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| Error::Cli(format!("cannot start the load generator's runtime: {e}")))?;
    let started = Instant::now();
    let mut tally = runtime.block_on(send_all(&args, &target.secret, &endpoint, &bodies));
    let elapsed = started.elapsed().as_secs_f64();
    tally.latencies_us.sort_unstable();
    report(&args, &target, &tally, elapsed);
    if let Some(error) = &tally.first_error {
        return Err(Error::Cli(format!("{} deliveries got no answer; first error: {error}", tally.network_errors)));
    }
    let unexpected: u64 = tally
        .statuses
        .iter()
        .filter(|(status, _)| !(**status == 200 || (**status == 500 && args.fail_ratio > 0.0)))
        .map(|(_, n)| n)
        .sum();
    if unexpected > 0 {
        return Err(Error::Cli(format!("{unexpected} deliveries got an unexpected answer (see above)")));
    }
    Ok(())
}

/// Every body, built before the clock starts: the generator's own CPU is not what we measure.
/// Delivery i re-sends the previous event when it is a duplicate, as Stripe's retries do.
fn bodies(args: &TriggerArgs) -> Vec<Rc<Vec<u8>>> {
    let mut bodies: Vec<Rc<Vec<u8>>> = Vec::with_capacity(args.count as usize);
    for i in 0..args.count {
        let body = match bodies.last() {
            Some(previous) if every(i, args.duplicate_ratio) => previous.clone(),
            _ => {
                let mut builder = EventBuilder::new(&args.event_type);
                if every(i, args.fail_ratio) {
                    builder = builder.metadata("fail", "yes");
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
    bodies
}

/// Sends every body, `--concurrency` deliveries in flight, each connection taking the next
/// undelivered body as soon as it is free; shows progress on a terminal.
async fn send_all(args: &TriggerArgs, secret: &str, endpoint: &Endpoint, bodies: &[Rc<Vec<u8>>]) -> Tally {
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

fn report(args: &TriggerArgs, target: &Target, tally: &Tally, elapsed: f64) {
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
}
