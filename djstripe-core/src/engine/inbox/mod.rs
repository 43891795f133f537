//! Inbox mode: answer Stripe at once, run the handlers afterwards — durably, exactly once, one
//! event per object at a time.
//!
//! Stripe asks receivers to answer 2xx quickly and do slow work later; a handler that runs
//! before the answer (inline mode, dj-stripe's way) holds the delivery open, and Stripe counts
//! its timeouts as failures. With [`Processing::Inbox`](crate::db::Processing::Inbox) (the
//! setting `DJSTRIPE_WEBHOOK_PROCESSING=inbox`, or an endpoint's own `processing`):
//!
//! 1. A verified delivery's batch commits its trigger row (outcome `queued`) and an inbox row
//!    (`djstripe_inbox`) holding the verified event, then answers 200. A delivery of an event
//!    already waiting or already processed is a `duplicate`, as inline.
//! 2. Workers (threads of the app's process; [`InboxConfig::workers`]) claim due rows with a
//!    lease, oldest first and at most one per object (`data.object.id`): the events of one
//!    object run one at a time in Stripe's `created` order, ties by event id, across every
//!    instance sharing the database. PostgreSQL claims with `FOR UPDATE SKIP LOCKED`; SQLite
//!    has one worker per process.
//! 3. Each event runs in a transaction of its own, with inline mode's guarantees: the event row
//!    (`djstripe_event`, the exactly-once claim) and the handlers' writes commit together with
//!    the removal of the inbox row and the trigger's final outcome; `on_commit` callbacks run
//!    after the commit. A worker that lost its lease (it outlived [`InboxConfig::lease`] and
//!    another worker took the row) rolls back.
//! 4. A handler's failure rolls its writes back and counts an attempt: the row is due again
//!    after an exponential backoff with jitter ([`InboxConfig::backoff`]), until
//!    [`InboxConfig::max_attempts`] or [`InboxConfig::max_age`]; then it is dead-lettered (state
//!    `dead`, its trigger `failed` with the error), kept until replayed
//!    ([`crate::db::Database::retry_inbox`], the CLI's `inbox retry`).
//! 5. A worker that dies mid-event (a crash, `kill -9`) leaves its transaction uncommitted: the
//!    row is still there, claimable again once the lease has passed. Graceful shutdown
//!    ([`crate::engine::Engine::drain`]) lets each worker finish the event it is running and
//!    releases the claims it had not begun.
//!
//! On SQLite the handlers' transaction takes the database's write lock at its first write, not
//! before: a handler that does its slow work (a mail, an API call) before writing does not hold
//! up the deliveries being answered meanwhile. A handler that reads, then writes while another
//! connection committed in between, gets SQLite's "database is locked" and is retried (an
//! attempt); on a busy SQLite database keep a handler's reads after its first write, or use
//! PostgreSQL.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | [`InboxConfig`], [`Inbox`] (the running workers), the wake-up signal |
//! | `worker.rs` | a worker's loop: claim, process one event, settle it (processed, retry, dead) |

mod worker;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::backoff::Backoff;
use crate::db::{Backend, Database};
use crate::metrics::Metrics;
use crate::registry::HandlerSet;

pub use worker::Settled;

/// How the inbox's workers claim, retry and give up.
///
/// ```
/// use std::time::Duration;
/// use djstripe_core::engine::InboxConfig;
/// let config = InboxConfig { max_attempts: 5, lease: Duration::from_secs(30), ..Default::default() };
/// assert_eq!(config.max_age, Duration::from_secs(3 * 24 * 3600), "Stripe's own retry window");
/// ```
#[derive(Debug, Clone)]
pub struct InboxConfig {
    /// Worker threads per process (`DJSTRIPE_INBOX_WORKERS`). `None`: 4 on PostgreSQL, 1 on
    /// SQLite (always 1 there: one writer at a time); `Some(0)`: none (a process that only
    /// receives, or a command-line tool). Each holds a pooled connection while it processes.
    pub workers: Option<usize>,
    /// Rows a worker claims at once (default 1: the workers share waiting events evenly, and a
    /// lease covers the one event its worker runs; more saves a claim per event for fast
    /// handlers, but a worker then runs its claimed events one after another while the other
    /// workers may find nothing due, and the lease must cover them all).
    pub batch: usize,
    /// How long a claim holds (default 60 s, `DJSTRIPE_INBOX_LEASE`): a worker that died is
    /// taken over after it. An event whose handlers run longer may be taken over while they
    /// run; only one of the two commits (the other rolls back), so keep handlers shorter, or
    /// raise it.
    pub lease: Duration,
    /// Failed attempts before an event is dead-lettered (default 12,
    /// `DJSTRIPE_INBOX_MAX_ATTEMPTS`; with the default backoff about 70 minutes of retries).
    pub max_attempts: u32,
    /// An event older than this (since it was enqueued) is dead-lettered at its next failure
    /// (default 3 days, Stripe's own retry window; `DJSTRIPE_INBOX_MAX_AGE` in seconds).
    pub max_age: Duration,
    /// The wait after a failed attempt (default 1 s doubling up to 1 hour, jittered).
    pub backoff: Backoff,
    /// How often an idle worker looks for due rows when nothing wakes it (default 1 s): new
    /// deliveries of this process wake it at once; other instances' and retries due are
    /// found by this poll.
    pub poll: Duration,
}

impl Default for InboxConfig {
    fn default() -> Self {
        Self {
            workers: None,
            batch: 1,
            lease: Duration::from_secs(60),
            max_attempts: 12,
            max_age: Duration::from_secs(3 * 24 * 3600),
            backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(3600)),
            poll: Duration::from_secs(1),
        }
    }
}

impl InboxConfig {
    /// The worker threads to start on `backend`.
    ///
    /// ```
    /// use djstripe_core::{db::Backend, engine::InboxConfig};
    /// assert_eq!(InboxConfig::default().worker_count(Backend::Sqlite), 1);
    /// assert_eq!(InboxConfig { workers: Some(8), ..Default::default() }.worker_count(Backend::Sqlite), 1);
    /// assert_eq!(InboxConfig { workers: Some(0), ..Default::default() }.worker_count(Backend::Postgres), 0);
    /// ```
    pub fn worker_count(&self, backend: Backend) -> usize {
        match (backend, self.workers) {
            (_, Some(0)) => 0,
            (Backend::Sqlite, _) => 1,
            (Backend::Postgres, Some(n)) => n,
            (Backend::Postgres, None) => 4,
        }
    }
}

/// Wakes idle workers when a delivery of this process was enqueued.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    generation: Mutex<u64>,
    changed: Condvar,
}

impl Signal {
    /// Something was enqueued.
    pub(crate) fn notify(&self) {
        *self.generation.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.changed.notify_all();
    }

    fn generation(&self) -> u64 {
        *self.generation.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until a notification after `seen`, or `timeout`; returns the generation now.
    fn wait(&self, seen: u64, timeout: Duration) -> u64 {
        let guard = self.generation.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) =
            self.changed.wait_timeout_while(guard, timeout, |now| *now == seen).unwrap_or_else(|e| e.into_inner());
        *guard
    }
}

/// What the workers did since they started (for logs, tests and metrics).
///
/// ```no_run
/// # fn f(inbox: &djstripe_core::engine::Inbox) {
/// let counts = inbox.counts();
/// println!("{} processed, {} retried, {} dead-lettered", counts.processed, counts.retried, counts.dead);
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InboxCounts {
    /// Events whose handlers committed.
    pub processed: u64,
    /// Events found processed already (by a replay, a reprocess or another instance).
    pub duplicates: u64,
    /// Failed attempts that will be retried.
    pub retried: u64,
    /// Events given up on.
    pub dead: u64,
    /// Claims lost to another worker after the lease ran out.
    pub lost: u64,
}

#[derive(Debug, Default)]
struct Counters {
    processed: AtomicU64,
    duplicates: AtomicU64,
    retried: AtomicU64,
    dead: AtomicU64,
    lost: AtomicU64,
}

impl Counters {
    fn count(&self, settled: Settled) {
        let counter = match settled {
            Settled::Processed => &self.processed,
            Settled::Duplicate => &self.duplicates,
            Settled::Retried => &self.retried,
            Settled::Dead => &self.dead,
            Settled::Lost => &self.lost,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn now(&self) -> InboxCounts {
        InboxCounts {
            processed: self.processed.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            dead: self.dead.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
        }
    }
}

struct Shared {
    db: Database,
    handlers: HandlerSet,
    config: InboxConfig,
    signal: Arc<Signal>,
    /// The engine's metrics: handler runs, retries, dead letters.
    metrics: Arc<Metrics>,
    stop: AtomicBool,
    /// Events being processed right now (a shutdown waits for them).
    busy: AtomicUsize,
    counters: Counters,
}

/// The inbox's running workers. Started by [`crate::engine::Engine::start_inbox`] (which
/// [`crate::app::Djstripe::start`] calls); stopped by the engine's drain.
pub struct Inbox {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox")
            .field("config", &self.shared.config)
            .field("counts", &self.shared.counters.now())
            .finish_non_exhaustive()
    }
}

impl Inbox {
    pub(crate) fn start(
        db: &Database,
        handlers: &HandlerSet,
        config: &InboxConfig,
        signal: &Arc<Signal>,
        metrics: &Arc<Metrics>,
    ) -> Self {
        let shared = Arc::new(Shared {
            db: db.clone(),
            handlers: handlers.clone(),
            config: config.clone(),
            signal: signal.clone(),
            metrics: metrics.clone(),
            stop: AtomicBool::new(false),
            busy: AtomicUsize::new(0),
            counters: Counters::default(),
        });
        let threads = (0..config.worker_count(db.backend()))
            .map(|n| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name(format!("djstripe-inbox-{n}"))
                    .spawn(move || worker::run(&shared))
                    .expect("spawning an inbox worker")
            })
            .collect();
        Self { shared, threads: Mutex::new(threads) }
    }

    /// What the workers did so far.
    pub fn counts(&self) -> InboxCounts {
        self.shared.counters.now()
    }

    /// Stops the workers: each finishes the event it is processing (commit and `on_commit`
    /// callbacks), releases the claims it had not begun, and exits; waits for that until
    /// `deadline`. Returns whether every worker exited in time.
    pub(crate) fn stop(&self, deadline: Instant) -> bool {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.signal.notify();
        let threads: Vec<JoinHandle<()>> = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        let mut all = true;
        for thread in threads {
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if thread.is_finished() {
                let _ = thread.join();
            } else {
                all = false;
            }
        }
        all
    }

    /// Events being processed at this moment.
    pub(crate) fn busy(&self) -> usize {
        self.shared.busy.load(Ordering::SeqCst)
    }
}

/// Processes every due inbox row in the calling thread until none is left due (for tests and
/// operators; the workers do the same in the background). Returns what became of each.
pub(crate) fn process_due(
    db: &Database,
    handlers: &HandlerSet,
    config: &InboxConfig,
    metrics: &Arc<Metrics>,
) -> crate::Result<Vec<Settled>> {
    let shared = Shared {
        db: db.clone(),
        handlers: handlers.clone(),
        config: config.clone(),
        signal: Arc::new(Signal::default()),
        metrics: metrics.clone(),
        stop: AtomicBool::new(false),
        busy: AtomicUsize::new(0),
        counters: Counters::default(),
    };
    let mut settled = Vec::new();
    loop {
        let pass = worker::pass(&shared)?;
        if pass.is_empty() {
            return Ok(settled);
        }
        settled.extend(pass);
    }
}
