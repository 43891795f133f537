//! The engine: records every delivery and processes each Stripe event exactly once.
//!
//! # Guarantees
//! - **Every request that reached an endpoint leaves a trigger row**, valid or not. For a valid
//!   delivery the row is written in the same transaction as the processing, whose handlers run
//!   inside a SAVEPOINT: a handler failure rolls the savepoint back (the handlers' writes) and
//!   deletes the event row, while the trigger row commits with the error — one commit per
//!   delivery, or fewer: see group commit.
//! - **Each event is processed once.** The event row (keyed by Stripe's id) is inserted before the
//!   handlers, with "insert unless present". A second delivery of the same event finds it and is
//!   a duplicate. Two deliveries at the same moment serialize on that row:
//!   on PostgreSQL the second insert waits for the first transaction and then inserts (the first
//!   rolled back) or does nothing (it committed); on SQLite writers are serialized outright.
//! - **Handlers' writes are atomic with the event** through [`crate::HandlerContext::connection`];
//!   `on_commit` callbacks run only after the commit succeeded.
//! - A database that is down or locked is [`Error::DatabaseUnavailable`]: nothing half-written.
//! - **One delivery's fault stays its own.** Deliveries share a transaction (group commit), but
//!   an event the database refuses for its content (SQLSTATE class 22: a NUL character, a
//!   timestamp out of range; class 23: a constraint; a value diesel cannot encode) is answered
//!   400 [`Error::UnstorableEvent`] with a trigger row of its own (outcome `invalid`, the body,
//!   the refusal and the database's message in `exception`, no event fields), and every other
//!   delivery of its batch is answered as if it had been alone: the failed batch is retried item
//!   by item (`process.rs`). A handler that breaks the transaction (on PostgreSQL, a failed
//!   statement whose error it ignored aborts it) is that handler's failure: 500, `failed`, the
//!   event not stored, so Stripe retries it. An outage is 503 for the whole batch. The batch
//!   that fails pays for the retries; the batch that commits runs the same statements as ever.
//! - **What a backend cannot store is refused before it, the same on both**: event parsing
//!   rejects (400 `invalid`) a NUL character in any stored text, an `id` or `type` longer than
//!   [`crate::event::MAX_ID_LEN`], and a `created` outside [`crate::event::CREATED_RANGE`] —
//!   even on SQLite, which would store them, so that a database never holds an event that
//!   PostgreSQL would refuse or that reads back wrong in the CLI and the admin.
//! - **Hooks observe, never steer** ([`crate::hooks`]): the validation hooks run around
//!   validation in [`Engine::prepare_admitted`], on the request's thread; the processing hooks
//!   around a batch's transaction (`process.rs`, `run_batch`), on its writer, never inside a
//!   transaction. A hook's error or panic is logged and changes no answer and no row.
//!
//! # Group commit
//! Deliveries go to writer threads (`committer.rs`) that put every delivery waiting at that
//! moment into one transaction, each event's handlers in their own savepoint, and commit once:
//! the fsync of a durable commit is shared. The batch is written in as few statements as that
//! allows (`process.rs`: one claim of its events, one insert of its trigger rows). Deliveries of
//! one event always go to the same writer.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | [`Engine`], its configuration, validation of a delivery |
//! | `committer.rs` | the writer threads (group commit) |
//! | `process.rs` | the transaction: savepoints, event rows, handlers, trigger rows, `on_commit` |
//! | `pending.rs` | [`Pending`]: a receipt to await or wait for |
//! | `delivery.rs` | [`Delivery`]: what an adapter hands over |
//! | `drained.rs` | [`Engine::drain`], [`Drained`]: what a graceful shutdown waits for |
//! | `receipt.rs` | [`Receipt`]: the trigger row and what became of it |

mod committer;
mod delivery;
mod drained;
pub mod inbox;
mod pending;
mod process;
mod receipt;

use std::sync::Arc;
use std::time::Duration;

pub use delivery::{Delivery, Target, headers_json};
pub use drained::Drained;
pub use inbox::{Inbox, InboxConfig};
pub use pending::Pending;
pub use receipt::Receipt;

use crate::app::limits::{Admission, RateLimiter};
use crate::db::{Database, Outcome, Processing, ValidationMethod};
use crate::error::{Limit, NotReprocessable, Resource};
use crate::logging::escaped_display;
use crate::metrics::Metrics;
use crate::registry::HandlerSet;
use crate::stripe_api::StripeClient;
use crate::{Error, Event, HandlerError, Verifier};
use committer::Committer;
use process::{Draft, Item, Mode, Work};

/// A user function that takes over a valid delivery instead of inline processing (dj-stripe's
/// `DJSTRIPE_WEBHOOK_EVENT_CALLBACK`), e.g. to enqueue it. It gets the trigger id and the event;
/// call [`Engine::process_trigger`] later to process it exactly once. An error answers 500.
///
/// ```
/// use djstripe_core::engine::EventCallback;
/// let callback: EventCallback = std::sync::Arc::new(|trigger_id, event| {
///     println!("enqueue trigger {trigger_id} for {}", event.id);
///     Ok(())
/// });
/// # let _ = callback;
/// ```
pub type EventCallback = Arc<dyn Fn(i64, &Event) -> Result<(), HandlerError> + Send + Sync>;

/// The legacy global endpoint, `POST {prefix}/webhook/` (`DJSTRIPE_WEBHOOK_SECRET`). Not
/// recommended: its URL is guessable; prefer per-endpoint UUID URLs.
///
/// ```
/// let legacy = djstripe_core::engine::LegacyEndpoint::new(["whsec_new", "whsec_old"]);
/// assert_eq!(legacy.secrets.len(), 2);
/// ```
#[derive(Clone)]
pub struct LegacyEndpoint {
    /// Secrets that verify deliveries (several during a rotation).
    pub secrets: Vec<String>,
    /// How deliveries are validated (`DJSTRIPE_WEBHOOK_VALIDATION`).
    pub validation: ValidationMethod,
    /// Timestamp tolerance (`DJSTRIPE_WEBHOOK_TOLERANCE`); zero turns the check off.
    pub tolerance: Duration,
    /// Fetch the full v2 event of each thin notification before its transaction opens
    /// (`DJSTRIPE_WEBHOOK_FETCH_THIN_EVENTS`; see [`crate::db::WebhookEndpoint::fetch_thin_events`]).
    pub fetch_thin_events: bool,
}

/// Shows how many secrets, never one of them.
impl std::fmt::Debug for LegacyEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegacyEndpoint")
            .field("secrets", &format_args!("[{} × whsec_…]", self.secrets.len()))
            .field("validation", &self.validation)
            .field("tolerance", &self.tolerance)
            .field("fetch_thin_events", &self.fetch_thin_events)
            .finish()
    }
}

impl LegacyEndpoint {
    /// Signature validation with the given secrets and the default 300 s tolerance.
    ///
    /// ```
    /// let legacy = djstripe_core::engine::LegacyEndpoint::new(["whsec_1"]);
    /// assert_eq!(legacy.tolerance.as_secs(), 300);
    /// ```
    pub fn new(secrets: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            secrets: secrets.into_iter().map(Into::into).collect(),
            validation: ValidationMethod::VerifySignature,
            tolerance: Duration::from_secs(300),
            fetch_thin_events: false,
        }
    }
}

/// How the engine behaves beyond the database.
///
/// ```
/// let config = djstripe_core::engine::EngineConfig::default();
/// assert_eq!(config.unverified_body_limit, 4096);
/// ```
#[derive(Clone)]
pub struct EngineConfig {
    /// The legacy global endpoint; `None` = it answers 404.
    pub legacy: Option<LegacyEndpoint>,
    /// Hand valid deliveries to this function instead of processing them inline.
    pub event_callback: Option<EventCallback>,
    /// Stripe's API, for the `retrieve_event` validation method and endpoints that fetch thin
    /// events.
    pub stripe: Option<StripeClient>,
    /// At most this many bytes of a delivery that failed validation are stored (default 4 KiB):
    /// an unauthenticated sender cannot fill the disk.
    pub unverified_body_limit: usize,
    /// Writer threads doing group commit (`None`: 1 for SQLite, which has one writer anyway;
    /// for PostgreSQL one per core, at least 2; at most half the pool, as each writer keeps a
    /// connection).
    pub writers: Option<usize>,
    /// The most deliveries one commit takes (default 64).
    pub max_batch: usize,
    /// Which registered handlers and hooks run (default: all). Tests of one binary use
    /// [`HandlerSet::only`] to run just theirs; [`Engine::new`] checks every name is registered.
    pub handlers: HandlerSet,
    /// Deliveries one writer queues at most (default 1024, `DJSTRIPE_WRITER_QUEUE`); past it a
    /// delivery is answered 503 ([`crate::error::Limit::WriterQueue`]) at once, so memory stays
    /// flat under any offered load.
    pub queue_capacity: usize,
    /// A delivery that waited longer than this for its writer is answered 503 without being
    /// processed ([`crate::error::Limit::QueuedTooLong`]; default 10 s, `DJSTRIPE_DB_TIMEOUT`).
    pub queue_deadline: Duration,
    /// Rejected (unauthenticated) deliveries recorded per client address and minute (default
    /// 60; an endpoint records at most 10× that): past it they are answered the same, counted
    /// ([`Engine::rejected_not_recorded`]) but not stored, and not logged one by one.
    pub rejected_per_minute: u32,
    /// `retrieve_event` validation and fetching thin events: calls to Stripe's API per endpoint
    /// and second (default 10); past it a delivery is answered 503, so forged deliveries cannot
    /// spend the account's rate limit.
    pub retrieve_per_second: u32,
    /// When handlers run for the legacy endpoint and for endpoints without a `processing` of
    /// their own (`DJSTRIPE_WEBHOOK_PROCESSING`; default [`Processing::Inline`]).
    pub processing: Processing,
    /// The inbox's workers, retries and leases ([`Processing::Inbox`]; see [`inbox`]).
    pub inbox: InboxConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            legacy: None,
            event_callback: None,
            stripe: None,
            unverified_body_limit: 4096,
            writers: None,
            max_batch: 64,
            handlers: HandlerSet::all(),
            queue_capacity: 1024,
            queue_deadline: Duration::from_secs(10),
            rejected_per_minute: 60,
            retrieve_per_second: 10,
            processing: Processing::Inline,
            inbox: InboxConfig::default(),
        }
    }
}

impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("legacy", &self.legacy.as_ref().map(|l| (l.validation, l.tolerance, l.secrets.len())))
            .field("event_callback", &self.event_callback.is_some())
            .field("stripe", &self.stripe)
            .field("unverified_body_limit", &self.unverified_body_limit)
            .field("writers", &self.writers)
            .field("max_batch", &self.max_batch)
            .field("handlers", &self.handlers)
            .field("queue_capacity", &self.queue_capacity)
            .field("queue_deadline", &self.queue_deadline)
            .field("rejected_per_minute", &self.rejected_per_minute)
            .field("retrieve_per_second", &self.retrieve_per_second)
            .field("processing", &self.processing)
            .field("inbox", &self.inbox)
            .finish()
    }
}

/// Records deliveries and processes events exactly once. Cheap to clone; blocking (run it on a
/// blocking thread pool from async code).
///
/// ```
/// use djstripe_core::db::{Database, NewWebhookEndpoint};
/// use djstripe_core::engine::{Delivery, Engine, EngineConfig, Target};
///
/// let dir = tempfile::tempdir().unwrap();
/// let db = Database::connect(dir.path().join("app.sqlite3").to_str().unwrap()).unwrap();
/// db.migrate().unwrap();
/// let endpoint = db.insert_endpoint(&NewWebhookEndpoint::local("whsec_doc")).unwrap();
/// let engine = Engine::new(db, EngineConfig::default()).unwrap();
///
/// let signed = djstripe_core::testing::EventBuilder::new("customer.created").signed("whsec_doc");
/// let receipt = engine.receive(&Delivery {
///     target: Target::Endpoint(&endpoint.djstripe_uuid),
///     body: &signed.body,
///     signature: Some(signed.header.as_bytes()),
///     headers: "{}".into(),
///     remote_ip: "127.0.0.1".into(),
/// }).unwrap();
/// assert_eq!(receipt.outcome, djstripe_core::db::Outcome::Processed);
/// ```
#[derive(Clone)]
pub struct Engine {
    db: Database,
    config: Arc<EngineConfig>,
    committer: Arc<Committer>,
    guards: Arc<Guards>,
    /// Wakes the inbox's workers when a delivery was enqueued.
    signal: Arc<inbox::Signal>,
    /// The inbox's workers, once started ([`Engine::start_inbox`]).
    inbox: Arc<std::sync::OnceLock<Inbox>>,
    metrics: Arc<Metrics>,
}

/// The rate limits of the unauthenticated side.
struct Guards {
    /// Rejected deliveries recorded, per client address and per endpoint (one-minute windows).
    rejected: RateLimiter,
    /// Calls to Stripe for a delivery (`retrieve_event`, thin events fetched), per endpoint
    /// (one-second windows).
    retrieve: RateLimiter,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("db", &self.db).field("config", &self.config).finish_non_exhaustive()
    }
}

/// Bodies up to this size are validated on the async worker (a few microseconds of HMAC).
const INLINE_BODY: usize = 64 * 1024;

/// The endpoint a delivery addresses, found by [`Engine::admit`] before its body is read, and
/// handed to [`Engine::prepare_admitted`] (so the endpoint is looked up once per delivery).
///
/// ```no_run
/// # fn f(engine: djstripe_core::engine::Engine, delivery: djstripe_core::engine::Delivery<'_>) -> Result<(), djstripe_core::Error> {
/// let admitted = engine.admit(delivery.target)?; // 404 here reads no body
/// let prepared = engine.prepare_admitted(admitted, &delivery);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Admitted(Resolved);

impl Admitted {
    /// The endpoint's row id; `None` for the legacy endpoint (the metrics' `endpoint` label).
    ///
    /// ```no_run
    /// # fn f(engine: djstripe_core::engine::Engine) -> Result<(), djstripe_core::Error> {
    /// let admitted = engine.admit(djstripe_core::engine::Target::Legacy)?;
    /// assert_eq!(admitted.endpoint_id(), None);
    /// # Ok(()) }
    /// ```
    pub fn endpoint_id(&self) -> Option<i64> {
        self.0.endpoint_id
    }
}

/// What a delivery is validated against.
struct Resolved {
    endpoint_id: Option<i64>,
    validation: ValidationMethod,
    secrets: Vec<String>,
    tolerance: Duration,
    /// Fetch the full v2 event of a thin notification.
    fetch_thin_events: bool,
    processing: Processing,
}

/// Shows how many secrets, never one of them.
impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolved")
            .field("endpoint_id", &self.endpoint_id)
            .field("validation", &self.validation)
            .field("secrets", &format_args!("[{} × whsec_…]", self.secrets.len()))
            .field("tolerance", &self.tolerance)
            .field("fetch_thin_events", &self.fetch_thin_events)
            .field("processing", &self.processing)
            .finish()
    }
}

impl Engine {
    /// An engine over `db` (migrate it first). Warns once if a validation method is `none`.
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// let engine = djstripe_core::engine::Engine::new(db, Default::default()).unwrap();
    /// # let _ = engine;
    /// ```
    pub fn new(db: Database, config: EngineConfig) -> Result<Self, Error> {
        config.handlers.check()?;
        if let Some(legacy) = &config.legacy {
            if legacy.validation == ValidationMethod::None {
                tracing::warn!("the legacy webhook endpoint has validation `none`: anyone can post events to it");
            }
            if legacy.validation == ValidationMethod::RetrieveEvent && config.stripe.is_none() {
                return Err(Error::setting(
                    "DJSTRIPE_WEBHOOK_VALIDATION",
                    "retrieve_event needs a Stripe API client (EngineConfig::stripe) with a secret key",
                ));
            }
            if legacy.fetch_thin_events && config.stripe.is_none() {
                return Err(Error::setting(
                    "DJSTRIPE_WEBHOOK_FETCH_THIN_EVENTS",
                    "fetching thin events needs a Stripe API client (EngineConfig::stripe) with a secret key",
                ));
            }
        }
        let writers = config.writers.unwrap_or(match db.backend() {
            crate::db::Backend::Sqlite => 1,
            // Each lane is CPU (ours and the server's) plus round trips: one per core keeps the
            // cores busy while others wait on the network, and keeps batches large. Measured on
            // 2 cores: 2 lanes beat 1 (round-trip bound) and 4, 8, 16 (smaller batches, more
            // commits) — see BENCHMARKS.md.
            crate::db::Backend::Postgres => std::thread::available_parallelism().map_or(2, |n| n.get()).max(2),
        });
        // Writers keep a connection each; leave at least half the pool to everything else.
        let writers = writers.clamp(1, (db.pool_size() as usize / 2).max(1));
        let pin = db.pool_size() as usize > writers;
        let queueing = committer::Queueing { capacity: config.queue_capacity, deadline: config.queue_deadline };
        let guards = Arc::new(Guards {
            rejected: RateLimiter::new(Duration::from_secs(60)),
            retrieve: RateLimiter::new(Duration::from_secs(1)),
        });
        let counted = guards.clone();
        let metrics = Arc::new(Metrics::new(&config.handlers, move || counted.rejected.refused()));
        let signal = Arc::new(inbox::Signal::default());
        let lanes = committer::Lanes {
            writers,
            max_batch: config.max_batch,
            pin,
            queueing,
            signal: signal.clone(),
            metrics: metrics.clone(),
        };
        let committer = Arc::new(Committer::start(&db, &config.handlers, lanes));
        Ok(Self { db, config: Arc::new(config), committer, guards, signal, inbox: Default::default(), metrics })
    }

    /// Starts the inbox's workers ([`InboxConfig::workers`]; none with `Some(0)`), once: later
    /// calls return the running ones. [`crate::app::Djstripe::start`] calls it; an engine built
    /// by hand processes its inbox only after this (or [`Engine::process_inbox`]).
    ///
    /// ```
    /// # use djstripe_core::{db::Database, engine::*};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::connect(dir.path().join("i.sqlite3").to_str().unwrap()).unwrap();
    /// # db.migrate().unwrap();
    /// let engine = Engine::new(db, EngineConfig::default()).unwrap();
    /// let inbox = engine.start_inbox();
    /// assert_eq!(inbox.counts().processed, 0);
    /// engine.drain(std::time::Duration::from_secs(1)); // stops the workers too
    /// ```
    pub fn start_inbox(&self) -> &Inbox {
        self.inbox.get_or_init(|| {
            Inbox::start(&self.db, &self.config.handlers, &self.config.inbox, &self.signal, &self.metrics)
        })
    }

    /// The inbox's workers, if started.
    pub fn inbox(&self) -> Option<&Inbox> {
        self.inbox.get()
    }

    /// Processes every due inbox event in the calling thread, as a worker would, until none is
    /// due; returns what became of each (tests, and an operator's `inbox process`). Safe beside
    /// running workers: claims keep them apart.
    ///
    /// # Errors
    /// [`Error::DatabaseUnavailable`] when a claim fails.
    ///
    /// ```no_run
    /// # fn f(engine: djstripe_core::engine::Engine) -> djstripe_core::Result<()> {
    /// let settled = engine.process_inbox()?;
    /// println!("{} inbox events settled", settled.len());
    /// # Ok(()) }
    /// ```
    pub fn process_inbox(&self) -> Result<Vec<inbox::Settled>, Error> {
        inbox::process_due(&self.db, &self.config.handlers, &self.config.inbox, &self.metrics)
    }

    /// The database.
    ///
    /// ```no_run
    /// # fn f(engine: djstripe_core::engine::Engine) {
    /// let (triggers, events) = engine.database().counts().unwrap();
    /// # }
    /// ```
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The configuration.
    ///
    /// ```no_run
    /// # fn f(engine: djstripe_core::engine::Engine) {
    /// let has_legacy = engine.config().legacy.is_some();
    /// # }
    /// ```
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The scrape `{prefix}/metrics` answers: [`Metrics::encode`] after reading the inbox's
    /// gauges from the database (`djstripe_inbox_depth`, `djstripe_inbox_oldest_pending_seconds`:
    /// the inbox's state, the same for every instance sharing the database, read when asked
    /// rather than kept up on the hot path). Blocking: one short query; when the database does not
    /// answer, the gauges keep their last reading and the rest is scraped all the same.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = djstripe_core::db::Database::connect(dir.path().join("s.sqlite3").to_str().unwrap()).unwrap();
    /// # db.migrate().unwrap();
    /// let engine = djstripe_core::engine::Engine::new(db, Default::default()).unwrap();
    /// assert!(engine.scrape().contains("djstripe_inbox_depth 0\n"));
    /// ```
    pub fn scrape(&self) -> String {
        match self.db.inbox_stats() {
            Ok(stats) => {
                let inbox = self.metrics.inbox();
                inbox.set_depth(u64::try_from(stats.pending).unwrap_or(0));
                let age = stats.oldest_pending.map_or(Duration::ZERO, |oldest| {
                    (chrono::Utc::now().naive_utc() - oldest).to_std().unwrap_or_default()
                });
                inbox.set_oldest_pending(age);
            }
            Err(error) => tracing::debug!(error = %error, "metrics: the inbox's gauges not read"),
        }
        self.metrics.encode()
    }

    /// This engine's metrics (its own registry: see [`crate::metrics`]); the admin serves
    /// [`Engine::scrape`] at `{prefix}/metrics`.
    ///
    /// ```no_run
    /// # fn f(engine: djstripe_core::engine::Engine) {
    /// let scrape: String = engine.metrics().encode();
    /// # }
    /// ```
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Blocks until every `on_commit` callback of the deliveries committed so far has run.
    /// Deliveries are answered as soon as they commit; their callbacks run after, on their own
    /// thread, in commit order. Call this in tests, or before a graceful shutdown.
    ///
    /// ```no_run
    /// # fn f(engine: djstripe_core::engine::Engine) {
    /// engine.flush_on_commit();
    /// # }
    /// ```
    pub fn flush_on_commit(&self) {
        self.committer.flush_on_commit();
    }

    /// Validates, records and processes one delivery, blocking until its transaction commits.
    ///
    /// `Err` only when nothing could be recorded: [`Error::NotFound`] (unknown, disabled or
    /// malformed endpoint: 404) and [`Error::DatabaseUnavailable`] (503). Everything else is a
    /// [`Receipt`] with its trigger row and [`Outcome`].
    ///
    /// ```no_run
    /// # use djstripe_core::engine::{Delivery, Engine, Target};
    /// # fn f(engine: Engine, uuid: &str, body: &[u8], signature: &[u8]) {
    /// let delivery = Delivery { target: Target::Endpoint(uuid), body, signature: Some(signature), headers: "{}".into(), remote_ip: "203.0.113.7".into() };
    /// match engine.receive(&delivery) {
    ///     Ok(receipt) => println!("{} {}", receipt.http_status(), receipt.outcome),
    ///     Err(error) => println!("{}: {error}", error.http_status()),
    /// }
    /// # }
    /// ```
    pub fn receive(&self, delivery: &Delivery<'_>) -> Result<Receipt, Error> {
        self.submit(self.prepare(delivery)?).wait()
    }

    /// The first half of [`Engine::receive`]: finds the endpoint and validates the delivery
    /// (signature, body, or Stripe's copy for `retrieve_event`). Writes nothing.
    ///
    /// It touches the database only for an endpoint not looked up in the last second, and the
    /// network only for `retrieve_event` and for a thin event on an endpoint that fetches thin
    /// events; [`Engine::prepare_is_cheap`] says whether it will.
    ///
    /// ```no_run
    /// # fn f(engine: djstripe_core::engine::Engine, delivery: djstripe_core::engine::Delivery<'_>) -> Result<(), djstripe_core::Error> {
    /// let prepared = engine.prepare(&delivery)?;
    /// let receipt = engine.submit(prepared).wait()?;
    /// # Ok(()) }
    /// ```
    pub fn prepare(&self, delivery: &Delivery<'_>) -> Result<Prepared, Error> {
        Ok(self.prepare_admitted(self.admit(delivery.target)?, delivery))
    }

    /// [`Engine::prepare`] for a delivery whose endpoint [`Engine::admit`] found already.
    ///
    /// The `pre_validate` and `post_validate` [hooks](crate::hooks) run here, around validation,
    /// on the calling thread.
    ///
    /// ```no_run
    /// # fn f(engine: djstripe_core::engine::Engine, delivery: djstripe_core::engine::Delivery<'_>) -> Result<(), djstripe_core::Error> {
    /// let prepared = engine.prepare_admitted(engine.admit(delivery.target)?, &delivery);
    /// # Ok(()) }
    /// ```
    pub fn prepare_admitted(&self, admitted: Admitted, delivery: &Delivery<'_>) -> Prepared {
        let Admitted(resolved) = admitted;
        let mut draft = Draft {
            endpoint_id: resolved.endpoint_id,
            remote_ip: delivery.remote_ip.clone(),
            headers: delivery.headers.clone(),
            ..Default::default()
        };
        let verdict = self.validated(&resolved, delivery);
        let keep = match &verdict {
            Err(error) if !error_is_authenticated(&resolved, error) => self.config.unverified_body_limit,
            _ => delivery.body.len(),
        };
        draft.body = delivery.body[..delivery.body.len().min(keep)].to_vec();
        draft.body_truncated = delivery.body.len() > keep;
        Prepared { draft, verdict, processing: resolved.processing }
    }

    /// Whether [`Engine::prepare`] is pure CPU work of a few microseconds for this delivery
    /// (endpoint cached, signature validation, small body, no event callback), so an async
    /// adapter may run it on its worker instead of a blocking thread.
    ///
    /// ```no_run
    /// # use djstripe_core::engine::{Engine, Target};
    /// # fn f(engine: Engine, uuid: &str, body: &[u8]) {
    /// if engine.prepare_is_cheap(Target::Endpoint(uuid), body.len()) {
    ///     // run engine.prepare(...) right here
    /// } else {
    ///     // hand it to a blocking thread pool
    /// }
    /// # }
    /// ```
    pub fn prepare_is_cheap(&self, target: Target<'_>, body_len: usize) -> bool {
        if body_len > INLINE_BODY || self.config.event_callback.is_some() {
            return false;
        }
        match target {
            Target::Legacy => self
                .config
                .legacy
                .as_ref()
                .is_none_or(|l| l.validation != ValidationMethod::RetrieveEvent && !l.fetch_thin_events),
            Target::Endpoint(uuid) => match self.db.endpoint_cache.get(uuid) {
                Some(Some(endpoint)) => {
                    endpoint.validation() != ValidationMethod::RetrieveEvent && !endpoint.fetch_thin_events
                }
                Some(None) => true,
                None => false,
            },
        }
    }

    /// The second half of [`Engine::receive`]: hands the prepared delivery to the writers
    /// (never blocks, except with an event callback, which runs here) and returns its
    /// [`Pending`] receipt.
    ///
    /// ```no_run
    /// # async fn f(engine: djstripe_core::engine::Engine, prepared: djstripe_core::engine::Prepared) -> Result<(), djstripe_core::Error> {
    /// let receipt = engine.submit(prepared).await?; // no thread waits meanwhile
    /// println!("{}", receipt.outcome);
    /// # Ok(()) }
    /// ```
    pub fn submit(&self, prepared: Prepared) -> Pending {
        let Prepared { draft, verdict, processing } = prepared;
        let record = |outcome, exception| Work::Record { outcome, exception };
        match verdict {
            // A bound of ours (Stripe calls past their rate): nothing recorded, Stripe retries.
            Err(error @ Error::Busy { .. }) => Pending::ready(Err(error)),
            Err(error) if !self.record_rejected(&draft, &error) => Pending::ready(Err(error)),
            Err(error) => {
                let item = Item { draft, event: None, work: record(Outcome::Invalid, error.to_string()) };
                let key = item.draft.remote_ip.clone();
                Pending::waiting(self.committer.submit(&key, item), Some(error))
            }
            Ok(event) if event.is_dashboard_test() => {
                let key = event.id.clone();
                let item = Item { draft, event: Some(event), work: record(Outcome::TestEvent, String::new()) };
                Pending::waiting(self.committer.submit(&key, item), None)
            }
            Ok(event) if processing == Processing::Inbox => {
                let key = event.id.clone();
                let item = Item { draft, event: Some(event), work: Work::Enqueue };
                Pending::waiting(self.committer.submit(&key, item), None)
            }
            Ok(event) if self.config.event_callback.is_some() => Pending::ready(self.queue(draft, event)),
            Ok(event) => {
                let key = event.id.clone();
                let item = Item { draft, event: Some(event), work: Work::Process(Mode::Deliver) };
                Pending::waiting(self.committer.submit(&key, item), None)
            }
        }
    }

    /// Records a delivery the adapter refused before validation (e.g. a body over the size
    /// limit) as an invalid trigger row with a bounded body. Unknown endpoints are still
    /// [`Error::NotFound`], with nothing recorded.
    ///
    /// ```
    /// # use djstripe_core::{db::Database, engine::*, Error};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::connect(dir.path().join("r.sqlite3").to_str().unwrap()).unwrap();
    /// # db.migrate().unwrap();
    /// let engine = Engine::new(db, EngineConfig { legacy: Some(LegacyEndpoint::new(["whsec_1"])), ..Default::default() }).unwrap();
    /// let delivery = Delivery { target: Target::Legacy, body: b"...", signature: None, headers: "{}".into(), remote_ip: "::1".into() };
    /// let receipt = engine.reject(&delivery, Error::BodyTooLarge { limit: 2_621_440 }).unwrap();
    /// assert_eq!((receipt.outcome.as_str(), receipt.http_status()), ("invalid", 413));
    /// ```
    pub fn reject(&self, delivery: &Delivery<'_>, error: Error) -> Result<Receipt, Error> {
        let resolved = self.resolve(delivery.target)?;
        let limit = self.config.unverified_body_limit;
        let draft = Draft {
            endpoint_id: resolved.endpoint_id,
            remote_ip: delivery.remote_ip.clone(),
            headers: delivery.headers.clone(),
            body: delivery.body[..delivery.body.len().min(limit)].to_vec(),
            body_truncated: delivery.body.len() > limit,
            reprocess_of: None,
        };
        self.submit(Prepared { draft, verdict: Err(error), processing: Processing::Inline }).wait()
    }

    /// Whether a rejected delivery is recorded (and logged): within
    /// [`EngineConfig::rejected_per_minute`] for its client address, and 10× that for its
    /// endpoint. Errors of our own (Stripe unreachable, ...) are always recorded.
    fn record_rejected(&self, draft: &Draft, error: &Error) -> bool {
        if !error.is_client_error() {
            return true;
        }
        let per_address = self.config.rejected_per_minute;
        let endpoint = draft.endpoint_id.map_or_else(|| "legacy".to_owned(), |id| id.to_string());
        let by_address = self.guards.rejected.admit(&draft.remote_ip, per_address);
        let by_endpoint = match by_address {
            Admission::Admitted => self.guards.rejected.admit(&format!("endpoint {endpoint}"), per_address * 10),
            refused => refused,
        };
        match (by_address, by_endpoint) {
            (Admission::Admitted, Admission::Admitted) => {
                tracing::info!(error = %escaped_display(error), remote_ip = %draft.remote_ip, "webhook delivery rejected");
                true
            }
            (Admission::FirstRefused, _) | (_, Admission::FirstRefused) => {
                tracing::warn!(
                    remote_ip = %draft.remote_ip,
                    endpoint = %endpoint,
                    per_minute = per_address,
                    "rejected deliveries past the rate limit: counted, not stored or logged, until the minute ends"
                );
                false
            }
            _ => false,
        }
    }

    /// Rejected deliveries answered but not recorded since the start (past
    /// [`EngineConfig::rejected_per_minute`]); the admin shows it.
    ///
    /// ```no_run
    /// # fn f(engine: djstripe_core::engine::Engine) {
    /// println!("{} junk deliveries not stored", engine.rejected_not_recorded());
    /// # }
    /// ```
    pub fn rejected_not_recorded(&self) -> u64 {
        self.guards.rejected.refused()
    }

    /// Finds the endpoint a delivery addresses, before its body is read: [`Error::NotFound`] for
    /// an unknown, disabled or malformed one (nothing is read or recorded then).
    ///
    /// ```no_run
    /// # fn f(engine: djstripe_core::engine::Engine) {
    /// let known = engine.admit(djstripe_core::engine::Target::Legacy).is_ok();
    /// # }
    /// ```
    pub fn admit(&self, target: Target<'_>) -> Result<Admitted, Error> {
        self.resolve(target).map(Admitted)
    }

    /// Whether [`Engine::admit`] answers from memory (the legacy endpoint, or an endpoint looked
    /// up in the last second), so an async adapter may call it on its worker.
    ///
    /// ```no_run
    /// # fn f(engine: djstripe_core::engine::Engine) {
    /// assert!(engine.admit_is_cheap(djstripe_core::engine::Target::Legacy));
    /// # }
    /// ```
    pub fn admit_is_cheap(&self, target: Target<'_>) -> bool {
        match target {
            Target::Legacy => true,
            Target::Endpoint(uuid) => self.db.endpoint_cache.contains(uuid),
        }
    }

    /// [`Engine::prepare_is_cheap`] for an admitted delivery: no second endpoint lookup.
    ///
    /// ```no_run
    /// # fn f(engine: djstripe_core::engine::Engine, admitted: djstripe_core::engine::Admitted) {
    /// let inline = engine.prepare_admitted_is_cheap(&admitted, 2_000);
    /// # }
    /// ```
    pub fn prepare_admitted_is_cheap(&self, admitted: &Admitted, body_len: usize) -> bool {
        body_len <= INLINE_BODY
            && self.config.event_callback.is_none()
            && admitted.0.validation != ValidationMethod::RetrieveEvent
            && !admitted.0.fetch_thin_events
    }

    /// Event-callback mode: record the trigger as queued, then hand it to the callback.
    fn queue(&self, draft: Draft, event: Event) -> Result<Receipt, Error> {
        let callback = self.config.event_callback.as_ref().expect("checked by the caller");
        let item = Item {
            draft,
            event: Some(event.clone()),
            work: Work::Record { outcome: Outcome::Queued, exception: String::new() },
        };
        let mut receipt = committer::wait(self.committer.submit(&event.id, item))?;
        if receipt.outcome != Outcome::Queued {
            // The database refused the event (its trigger row says why): nothing to hand over.
            return Ok(receipt);
        }
        if let Err(err) = callback(receipt.trigger_id, &event) {
            let error = Error::Handler { handler: "event callback", message: err.to_string(), trace: err.trace() };
            process::fail_trigger(&self.db, receipt.trigger_id, &error)?;
            receipt.outcome = Outcome::Failed;
            receipt.error = Some(error);
        }
        Ok(receipt)
    }

    fn resolve(&self, target: Target<'_>) -> Result<Resolved, Error> {
        match target {
            Target::Legacy => {
                let legacy =
                    self.config.legacy.as_ref().ok_or_else(|| Error::not_found(Resource::WebhookEndpoint, "legacy"))?;
                Ok(Resolved {
                    endpoint_id: None,
                    validation: legacy.validation,
                    secrets: legacy.secrets.clone(),
                    tolerance: legacy.tolerance,
                    fetch_thin_events: legacy.fetch_thin_events,
                    processing: self.config.processing,
                })
            }
            Target::Endpoint(uuid) => {
                // A malformed uuid is the same 404 as an unknown one: reveal nothing.
                let unknown = || Error::not_found(Resource::WebhookEndpoint, uuid);
                let uuid = uuid::Uuid::parse_str(uuid).map_err(|_| unknown())?;
                let endpoint = self
                    .db
                    .endpoint_by_uuid_cached(&uuid.hyphenated().to_string())?
                    .filter(|e| e.is_enabled())
                    .ok_or_else(unknown)?;
                let validation = endpoint.validation();
                if validation == ValidationMethod::None {
                    tracing::warn!(
                        endpoint = endpoint.id,
                        "webhook endpoint with validation `none` accepted a delivery unverified"
                    );
                }
                Ok(Resolved {
                    endpoint_id: Some(endpoint.id),
                    validation,
                    secrets: endpoint.valid_secrets(chrono::Utc::now().timestamp()),
                    tolerance: Duration::from_secs(endpoint.tolerance.max(0) as u64),
                    fetch_thin_events: endpoint.fetch_thin_events,
                    processing: endpoint.processing().unwrap_or(self.config.processing),
                })
            }
        }
    }

    /// [`Engine::validate`] between the `pre_validate` and `post_validate` hooks (on this thread:
    /// the request's).
    fn validated(&self, resolved: &Resolved, delivery: &Delivery<'_>) -> Result<Event, Error> {
        use crate::hooks::{self, HookCall, PostValidate, PreValidate, Stage};
        if !hooks::registered(Stage::PreValidate) && !hooks::registered(Stage::PostValidate) {
            return self.validate(resolved, delivery);
        }
        let trigger = hooks::Trigger {
            endpoint_id: resolved.endpoint_id,
            remote_ip: &delivery.remote_ip,
            headers: &delivery.headers,
            body: delivery.body,
            reprocess_of: None,
        };
        let selected = &self.config.handlers;
        hooks::run(selected, &HookCall::PreValidate(PreValidate { trigger }));
        let verdict = self.validate(resolved, delivery);
        hooks::run(selected, &HookCall::PostValidate(PostValidate { trigger, verdict: verdict.as_ref() }));
        verdict
    }

    /// The delivery's event, validated; a thin one completed from Stripe when its endpoint
    /// fetches thin events (see [`Engine::complete_thin`]).
    fn validate(&self, resolved: &Resolved, delivery: &Delivery<'_>) -> Result<Event, Error> {
        let event = self.verify(resolved, delivery)?;
        // `retrieve_event` fetched Stripe's copy already, the full event for a thin one.
        let fetched = resolved.validation == ValidationMethod::RetrieveEvent;
        if resolved.fetch_thin_events && event.is_thin() && !event.is_dashboard_test() && !fetched {
            return self.complete_thin(resolved.endpoint_id, event, true);
        }
        Ok(event)
    }

    /// Stripe's copy of `claimed` ([`StripeClient::fetch_event`]: v1 or v2 by its kind), outside
    /// any transaction: the network call must not hold database locks. `limited`: within
    /// [`EngineConfig::retrieve_per_second`] for the endpoint (a delivery; an operator's
    /// reprocessing is not limited).
    ///
    /// Stripe has no such event: the delivery is forged (or of another mode or account), a
    /// client error (400). The rest is ours, by cause: a refused key is a configuration fault
    /// (500, the key's setting named in the log); Stripe rate limiting, failing or unreachable
    /// is a 503, so Stripe delivers again. Stripe's text is never shown to the sender.
    fn fetch(&self, endpoint_id: Option<i64>, claimed: &Event, limited: bool) -> Result<serde_json::Value, Error> {
        let stripe = self.config.stripe.as_ref().ok_or(Error::MissingApiKey { livemode: claimed.livemode })?;
        if limited {
            let endpoint = endpoint_id.map_or_else(|| "legacy".to_owned(), |id| id.to_string());
            let per_second = self.config.retrieve_per_second;
            if self.guards.retrieve.admit(&endpoint, per_second) != Admission::Admitted {
                return Err(Error::Busy { limit: Limit::RetrieveRate { per_second } });
            }
        }
        match stripe.fetch_event(claimed) {
            Err(Error::StripeNotFound { .. }) => {
                Err(Error::invalid_event(format!("Stripe has no event `{}`", claimed.id)))
            }
            other => other,
        }
    }

    /// A thin notification completed with the full v2 event (`GET /v2/core/events/{id}`): what
    /// handlers see and the event row stores is the notification as delivered plus every field
    /// only the full event has (its `data`, ...); where both have a field, the delivered value
    /// stays (it is what was signed). The trigger row keeps the delivered body as it came.
    fn complete_thin(&self, endpoint_id: Option<i64>, delivered: Event, limited: bool) -> Result<Event, Error> {
        let fetched = self.fetch(endpoint_id, &delivered, limited)?;
        let request = format!("GET /v2/core/events/{}", delivered.id);
        let serde_json::Value::Object(fetched) = fetched else {
            return Err(Error::StripeUnexpectedAnswer { request, reason: "the event is not a JSON object".into() });
        };
        let returned = fetched.get("id").and_then(serde_json::Value::as_str).unwrap_or_default();
        if returned != delivered.id {
            return Err(Error::EventMismatch { requested: delivered.id, returned: returned.to_owned() });
        }
        let mut fields = match serde_json::to_value(&delivered).expect("an Event serializes") {
            serde_json::Value::Object(fields) => fields,
            _ => unreachable!("an Event serializes to a JSON object"),
        };
        for (name, value) in fetched {
            fields.entry(name).or_insert(value);
        }
        Event::from_value(serde_json::Value::Object(fields))
    }

    /// Whether the endpoint of a trigger (`None`: the legacy one) fetches thin events now.
    fn fetches_thin_events(&self, endpoint_id: Option<i64>) -> Result<bool, Error> {
        match endpoint_id {
            Some(id) => Ok(self.db.endpoint(id)?.fetch_thin_events),
            None => Ok(self.config.legacy.as_ref().is_some_and(|l| l.fetch_thin_events)),
        }
    }

    fn verify(&self, resolved: &Resolved, delivery: &Delivery<'_>) -> Result<Event, Error> {
        match resolved.validation {
            ValidationMethod::VerifySignature => {
                if resolved.secrets.is_empty() {
                    return Err(Error::NoSecret);
                }
                Verifier::new(resolved.secrets.iter().cloned())
                    .tolerance(resolved.tolerance)
                    .verify_bytes(delivery.signature, delivery.body)?;
                Event::from_slice(delivery.body)
            }
            ValidationMethod::RetrieveEvent => {
                let claimed = Event::from_slice(delivery.body)?;
                if claimed.is_dashboard_test() {
                    return Ok(claimed);
                }
                let fetched = self.fetch(resolved.endpoint_id, &claimed, true)?;
                let mut event = Event::from_value(fetched)?;
                if event.id != claimed.id {
                    return Err(Error::EventMismatch { requested: claimed.id, returned: event.id });
                }
                if event.account.is_none() {
                    event.account = claimed.account;
                }
                Ok(event)
            }
            ValidationMethod::None => Event::from_slice(delivery.body),
        }
    }

    /// Processes a recorded, valid trigger: one queued by the event callback (processed in place)
    /// or one whose processing failed (a new attempt row with `reprocess_of` pointing at it; the
    /// original's outcome becomes `reprocessed` once an attempt succeeds).
    ///
    /// An event already processed is an [`Outcome::Duplicate`]: handlers never run twice this way.
    /// A trigger that cannot be processed is [`Error::NotReprocessable`] (the rule:
    /// [`crate::db::WebhookEventTrigger::reprocessable`]).
    ///
    /// ```no_run
    /// # fn f(engine: djstripe_core::engine::Engine) -> Result<(), djstripe_core::Error> {
    /// let receipt = engine.process_trigger(42)?;
    /// println!("trigger {} {}", receipt.trigger_id, receipt.outcome);
    /// # Ok(()) }
    /// ```
    pub fn process_trigger(&self, trigger_id: i64) -> Result<Receipt, Error> {
        let trigger = self.db.trigger(trigger_id)?;
        trigger.reprocessable().map_err(|reason| Error::NotReprocessable { id: trigger.id, reason })?;
        // Inbox mode: a waiting event is the workers' to run; a dead-lettered one gets another
        // round of attempts there (its row and trigger stay the ones to follow).
        if let Some(entry) = self.inbox_entry_of(&trigger)? {
            if !entry.is_dead() {
                return Err(Error::NotReprocessable { id: trigger.id, reason: NotReprocessable::QueuedInInbox });
            }
            self.db.retry_inbox(Some(&entry.event_id))?;
            self.signal.notify();
            return Ok(Receipt {
                trigger_id: entry.trigger_id,
                outcome: Outcome::Queued,
                event_id: Some(entry.event_id),
                handlers: 0,
                error: None,
            });
        }
        let mut event = Event::from_slice(&trigger.body)?;
        // The trigger keeps the notification as delivered: complete it again, as its delivery was.
        if event.is_thin() && !event.is_dashboard_test() && self.fetches_thin_events(trigger.webhook_endpoint_id)? {
            event = self.complete_thin(trigger.webhook_endpoint_id, event, false)?;
        }
        let draft = Draft {
            endpoint_id: trigger.webhook_endpoint_id,
            remote_ip: trigger.remote_ip.clone(),
            headers: trigger.headers.clone(),
            body: trigger.body.clone(),
            body_truncated: false,
            reprocess_of: Some(trigger.id),
        };
        let mode =
            if trigger.outcome == Outcome::Queued { Mode::Queued(trigger.id) } else { Mode::Reprocess(trigger.id) };
        self.run(draft, event, mode)
    }

    /// The inbox row of the trigger's event, if it is the one that queued it.
    fn inbox_entry_of(&self, trigger: &crate::db::WebhookEventTrigger) -> Result<Option<crate::db::InboxEntry>, Error> {
        let Some(event_id) = &trigger.event_id else { return Ok(None) };
        match self.db.inbox_entry(event_id) {
            Ok(entry) if entry.trigger_id == trigger.id => Ok(Some(entry)),
            Ok(_) | Err(Error::NotFound { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    fn run(&self, draft: Draft, event: Event, mode: Mode) -> Result<Receipt, Error> {
        process::run_single(
            &self.db,
            &self.config.handlers,
            &self.metrics,
            Item { draft, event: Some(event), work: Work::Process(mode) },
        )
    }

    /// Reprocesses every failed trigger, oldest first (see [`Engine::process_trigger`]). A failed
    /// trigger whose reprocessing attempt failed too is retried through that latest attempt only:
    /// one new attempt per failed delivery and run, not one per earlier attempt.
    ///
    /// A delivery whose retries also failed is retried once per call (its latest attempt).
    ///
    /// ```no_run
    /// # fn f(engine: djstripe_core::engine::Engine) -> Result<(), djstripe_core::Error> {
    /// for receipt in engine.reprocess_failed()? {
    ///     println!("{} {}", receipt.event_id.as_deref().unwrap_or("-"), receipt.outcome);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn reprocess_failed(&self) -> Result<Vec<Receipt>, Error> {
        let filter = crate::db::TriggerFilter { failed: true, ..Default::default() };
        let mut failed = self.db.triggers(&filter, 0, i64::MAX)?;
        let superseded: std::collections::HashSet<i64> = failed.iter().filter_map(|t| t.reprocess_of).collect();
        failed.retain(|t| !superseded.contains(&t.id));
        failed.reverse();
        failed.iter().map(|t| self.process_trigger(t.id)).collect()
    }

    /// Runs the handlers of an already stored event again, on purpose (dj-stripe cannot: its
    /// reprocess skips stored events). Recorded as a trigger row with outcome `replayed`.
    ///
    /// ```no_run
    /// # fn f(engine: djstripe_core::engine::Engine) -> Result<(), djstripe_core::Error> {
    /// let receipt = engine.replay_event("evt_1PgaMmB7WZ01zgkW")?;
    /// assert_eq!(receipt.outcome, djstripe_core::db::Outcome::Replayed);
    /// # Ok(()) }
    /// ```
    pub fn replay_event(&self, event_id: &str) -> Result<Receipt, Error> {
        let stored = self.db.event(event_id)?;
        let event = stored.to_event()?;
        let body = serde_json::to_vec(&event).expect("an Event serializes");
        let draft = Draft { remote_ip: "replay".into(), headers: "{}".into(), body, ..Default::default() };
        self.run(draft, event, Mode::Replay)
    }
}

/// A delivery after [`Engine::prepare`]: its trigger-row fields and the validation verdict.
///
/// ```no_run
/// # fn f(engine: djstripe_core::engine::Engine, delivery: djstripe_core::engine::Delivery<'_>) -> Result<(), djstripe_core::Error> {
/// let prepared = engine.prepare(&delivery)?;
/// println!("valid: {}", prepared.event().is_some());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Prepared {
    draft: Draft,
    verdict: Result<Event, Error>,
    processing: Processing,
}

impl Prepared {
    /// The event, if the delivery passed validation.
    ///
    /// ```no_run
    /// # fn f(p: djstripe_core::engine::Prepared) {
    /// if let Some(event) = p.event() { println!("{} {}", event.id, event.event_type()); }
    /// # }
    /// ```
    pub fn event(&self) -> Option<&Event> {
        self.verdict.as_ref().ok()
    }
}

/// A failed verification means the body is unauthenticated; a body that failed to parse after a
/// good signature (or retrieval) came from Stripe and is kept whole.
fn error_is_authenticated(resolved: &Resolved, error: &Error) -> bool {
    matches!(error, Error::InvalidEvent { .. }) && resolved.validation == ValidationMethod::VerifySignature
}
