//! [`Metrics`]: what the engine counts and times, for Prometheus (`{prefix}/metrics`, served
//! by the admin behind its login: see `djstripe_admin::Admin::metrics`).
//!
//! Why `prometheus-client` (the Prometheus project's own Rust crate) rather than the `metrics`
//! facade: its registry is a value, not a process-wide recorder. Each [`Engine`](crate::engine::Engine)
//! owns its registry (an `Arc` in the engine, no global), so two apps in one process — several
//! `TestApp`s in one test binary — never mix their counts, and a test can assert exact numbers.
//! A counter is an atomic and a histogram a short uncontended lock; the label sets of the hot
//! path are built from integers and `&'static str` (no allocation per delivery), and each
//! handler's histogram is looked up once when the engine starts.
//!
//! | metric | type | labels | what it counts |
//! |---|---|---|---|
//! | `djstripe_deliveries_total` | counter | `endpoint` (id, `legacy`, `unknown`), `outcome`, `status` | webhook requests answered by [`crate::app::receive`] |
//! | `djstripe_handler_duration_seconds` | histogram | `handler` (its path) | every run of a handler, failed ones too |
//! | `djstripe_batch_size` | histogram | | deliveries per committed batch (group commit) |
//! | `djstripe_commit_duration_seconds` | histogram | | a committed batch's transaction, begin to commit |
//! | `djstripe_database_unavailable_total` | counter | | deliveries answered 503 because the database was unavailable |
//! | `djstripe_rejected_not_recorded_total` | counter | | rejected deliveries answered but not stored (rate limit) |
//! | `djstripe_inbox_depth` | gauge | | inbox mode: events pending, read from the database at each scrape ([`Engine::scrape`](crate::engine::Engine::scrape)) |
//! | `djstripe_inbox_oldest_pending_seconds` | gauge | | inbox mode: age of the oldest pending event, read the same way |
//! | `djstripe_inbox_retries_total` | counter | | inbox mode: failed attempts this process's workers scheduled again |
//! | `djstripe_inbox_dead_letters_total` | counter | | inbox mode: events this process's workers gave up on |
//!
//! `outcome` is the trigger row's outcome (`processed`, `duplicate`, `failed`, `invalid`,
//! `test_event`, `queued` — inbox mode and the event callback —, ...) or `not_recorded` when the answer left no trigger row (404, a
//! 503, a rejected delivery past the rate limit); `status` is the HTTP status sent.
//! `djstripe_deliveries_total` appears in the scrape with its first delivery (a labelled family
//! has no sample before); every other metric is there from the start, at 0.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, EncodeMetric, LabelValueEncoder, MetricEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::{Registry, Unit};

use crate::db::Outcome;
use crate::registry::{self, HandlerRegistration, HandlerSet};

/// The `Content-Type` of [`Metrics::encode`]'s text: Prometheus' text format 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upper bounds (seconds) of the duration histograms: 0.5 ms to 10 s.
const SECONDS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Upper bounds of the batch size histogram (the default batch holds at most 64).
const BATCH: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// The `endpoint` label of a delivery: the endpoint's row id, the legacy endpoint, or none
/// known (a 404: the path's uuid is the sender's text, never a label — one series per guess
/// would let anyone grow the scrape without bound).
///
/// ```
/// use djstripe_core::metrics::EndpointLabel;
/// assert_eq!(EndpointLabel::from(Some(7)), EndpointLabel::Id(7));
/// assert_eq!(EndpointLabel::from(None), EndpointLabel::Legacy);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndpointLabel {
    /// `djstripe_webhookendpoint.id`.
    Id(i64),
    /// `POST {prefix}/webhook/` (`DJSTRIPE_WEBHOOK_SECRET`).
    Legacy,
    /// No endpoint was found (unknown, disabled or malformed uuid).
    Unknown,
}

/// `Some(id)`: that endpoint; `None`: the legacy one (as [`crate::engine::Admitted::endpoint_id`]).
impl From<Option<i64>> for EndpointLabel {
    fn from(id: Option<i64>) -> Self {
        id.map_or(EndpointLabel::Legacy, EndpointLabel::Id)
    }
}

impl EncodeLabelValue for EndpointLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        match self {
            EndpointLabel::Id(id) => EncodeLabelValue::encode(id, encoder),
            EndpointLabel::Legacy => EncodeLabelValue::encode(&"legacy", encoder),
            EndpointLabel::Unknown => EncodeLabelValue::encode(&"unknown", encoder),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DeliveryLabels {
    endpoint: EndpointLabel,
    outcome: &'static str,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct HandlerLabels {
    handler: &'static str,
}

/// A counter whose value is read when scraped (one the engine keeps already: no second count).
struct ReadCounter(Box<dyn Fn() -> u64 + Send + Sync>);

impl std::fmt::Debug for ReadCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ReadCounter").field(&(self.0)()).finish()
    }
}

impl TypedMetric for ReadCounter {
    const TYPE: MetricType = MetricType::Counter;
}

impl EncodeMetric for ReadCounter {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(&(self.0)(), None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// The inbox mode's metrics: registered (and scraped, at 0) from the start; the workers count
/// retries and dead letters, [`Engine::scrape`](crate::engine::Engine::scrape) sets the gauges
/// from the database. Cheap atomics, callable from any thread.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = djstripe_core::db::Database::connect(dir.path().join("i.sqlite3").to_str().unwrap()).unwrap();
/// # db.migrate().unwrap();
/// let engine = djstripe_core::engine::Engine::new(db, Default::default()).unwrap();
/// let inbox = engine.metrics().inbox();
/// inbox.set_depth(3);
/// inbox.set_oldest_pending(std::time::Duration::from_millis(1500));
/// inbox.retried();
/// inbox.dead_lettered();
/// let text = engine.metrics().encode();
/// assert!(text.contains("djstripe_inbox_depth 3\n"), "{text}");
/// assert!(text.contains("djstripe_inbox_oldest_pending_seconds 1.5\n"), "{text}");
/// assert!(text.contains("djstripe_inbox_dead_letters_total 1\n"), "{text}");
/// ```
#[derive(Debug, Default)]
pub struct InboxMetrics {
    depth: Gauge,
    oldest_pending: Gauge<f64, AtomicU64>,
    retries: Counter,
    dead_letters: Counter,
}

impl InboxMetrics {
    /// How many events are pending now (`djstripe_inbox_depth`).
    pub fn set_depth(&self, pending: u64) {
        self.depth.set(i64::try_from(pending).unwrap_or(i64::MAX));
    }

    /// How long the oldest pending event has waited (`djstripe_inbox_oldest_pending_seconds`);
    /// [`Duration::ZERO`] when none is pending.
    pub fn set_oldest_pending(&self, age: Duration) {
        self.oldest_pending.set(age.as_secs_f64());
    }

    /// A failed attempt was scheduled again (`djstripe_inbox_retries_total`).
    pub fn retried(&self) {
        self.retries.inc();
    }

    /// An event was given up on after its last attempt (`djstripe_inbox_dead_letters_total`).
    pub fn dead_lettered(&self) {
        self.dead_letters.inc();
    }
}

/// The metrics of one engine: its own registry (see the [module](self) for the list and why
/// `prometheus-client`). Get it with [`Engine::metrics`](crate::engine::Engine::metrics);
/// [`Metrics::encode`] is the scrape.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = djstripe_core::db::Database::connect(dir.path().join("m.sqlite3").to_str().unwrap()).unwrap();
/// # db.migrate().unwrap();
/// let engine = djstripe_core::engine::Engine::new(db, Default::default()).unwrap();
/// let text = engine.metrics().encode();
/// assert!(text.contains("# TYPE djstripe_database_unavailable_total counter"), "{text}");
/// assert!(!text.contains("djstripe_deliveries_total"), "a family shows once it has a sample");
/// assert!(text.contains("djstripe_batch_size_count 0"), "{text}");
/// ```
pub struct Metrics {
    registry: Registry,
    deliveries: Family<DeliveryLabels, Counter>,
    /// Each handler's histogram, by the address of its (static) registration: found without
    /// hashing its path or building a label set.
    handlers: HashMap<usize, Histogram>,
    handler_family: Family<HandlerLabels, Histogram, fn() -> Histogram>,
    batch_size: Histogram,
    commit_seconds: Histogram,
    database_unavailable: Counter,
    inbox: InboxMetrics,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("handlers", &self.handlers.len()).finish_non_exhaustive()
    }
}

fn seconds_histogram() -> Histogram {
    Histogram::new(SECONDS)
}

impl Metrics {
    /// The metrics of an engine that runs `handlers` (each gets its histogram now, so a
    /// handler that never ran shows a count of 0); `rejected_not_recorded` reads the engine's
    /// own count of rejected deliveries not stored.
    pub(crate) fn new(handlers: &HandlerSet, rejected_not_recorded: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        let mut registry = Registry::with_prefix("djstripe");
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "deliveries",
            "Webhook deliveries answered, by endpoint (id, legacy, unknown), outcome (the trigger row's, or \
             not_recorded) and HTTP status",
            deliveries.clone(),
        );
        let handler_family = Family::<HandlerLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            seconds_histogram as fn() -> Histogram,
        );
        registry.register_with_unit(
            "handler_duration",
            "How long each run of a webhook handler took (failed runs too), by handler path",
            Unit::Seconds,
            handler_family.clone(),
        );
        let handlers = registry::all()
            .iter()
            .filter(|h| handlers.contains(h))
            .map(|h| (key(h), handler_family.get_or_create_owned(&HandlerLabels { handler: h.path() })))
            .collect();
        let batch_size = Histogram::new(BATCH);
        registry.register(
            "batch_size",
            "Deliveries committed together in one transaction (group commit)",
            batch_size.clone(),
        );
        let commit_seconds = seconds_histogram();
        registry.register_with_unit(
            "commit_duration",
            "How long a committed batch's transaction took, from its begin to its commit (handlers included)",
            Unit::Seconds,
            commit_seconds.clone(),
        );
        let database_unavailable = Counter::default();
        registry.register(
            "database_unavailable",
            "Webhook deliveries answered 503 because the database was unavailable (down, locked, no connection in time)",
            database_unavailable.clone(),
        );
        registry.register(
            "rejected_not_recorded",
            "Rejected deliveries answered but not stored, past DJSTRIPE_WEBHOOK_REJECTED_PER_MINUTE",
            ReadCounter(Box::new(rejected_not_recorded)),
        );
        // Registered as clones: a clone of a gauge or counter shares its value.
        let inbox = InboxMetrics::default();
        registry.register("inbox_depth", "Inbox mode: events pending now", inbox.depth.clone());
        registry.register_with_unit(
            "inbox_oldest_pending",
            "Inbox mode: how long the oldest pending event has waited",
            Unit::Seconds,
            inbox.oldest_pending.clone(),
        );
        registry.register("inbox_retries", "Inbox mode: failed attempts scheduled again", inbox.retries.clone());
        registry.register(
            "inbox_dead_letters",
            "Inbox mode: events given up on after their last attempt",
            inbox.dead_letters.clone(),
        );
        Self { registry, deliveries, handlers, handler_family, batch_size, commit_seconds, database_unavailable, inbox }
    }

    /// The scrape: every metric in Prometheus' text format ([`CONTENT_TYPE`]).
    ///
    /// ```no_run
    /// # fn f(engine: djstripe_core::engine::Engine) {
    /// print!("{}", engine.metrics().encode());
    /// # }
    /// ```
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }

    /// Counts one answered webhook request: `outcome` `None` when it left no trigger row.
    ///
    /// ```no_run
    /// # fn f(engine: djstripe_core::engine::Engine) {
    /// use djstripe_core::{db::Outcome, metrics::EndpointLabel};
    /// engine.metrics().delivery(EndpointLabel::Id(1), Some(Outcome::Processed), 200);
    /// # }
    /// ```
    pub fn delivery(&self, endpoint: EndpointLabel, outcome: Option<Outcome>, status: u16) {
        let outcome = outcome.map_or("not_recorded", Outcome::as_str);
        self.deliveries.get_or_create(&DeliveryLabels { endpoint, outcome, status }).inc();
    }

    /// Counts a delivery answered 503 because the database was unavailable.
    pub fn database_unavailable(&self) {
        self.database_unavailable.inc();
    }

    /// Times one run of `handler`.
    pub(crate) fn handler_ran(&self, handler: &'static HandlerRegistration, took: Duration) {
        match self.handlers.get(&key(handler)) {
            Some(histogram) => histogram.observe(took.as_secs_f64()),
            // Not in the engine's set when it started (cannot happen through the engine).
            None => self
                .handler_family
                .get_or_create(&HandlerLabels { handler: handler.path() })
                .observe(took.as_secs_f64()),
        }
    }

    /// Records one committed batch: how many deliveries, how long its transaction took.
    pub(crate) fn batch_committed(&self, items: usize, took: Duration) {
        self.batch_size.observe(items as f64);
        self.commit_seconds.observe(took.as_secs_f64());
    }

    /// The inbox mode's metrics, for its workers to set.
    pub fn inbox(&self) -> &InboxMetrics {
        &self.inbox
    }
}

/// A registration's address: registrations are `'static`, so it names the handler for the
/// life of the process.
fn key(handler: &'static HandlerRegistration) -> usize {
    std::ptr::from_ref(handler) as usize
}
