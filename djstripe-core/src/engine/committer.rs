//! Group commit: writer threads that take every waiting delivery into one transaction.
//!
//! A durable commit costs an fsync (SQLite `synchronous=FULL`, PostgreSQL
//! `synchronous_commit=on`), and with one transaction per event that fsync is the limit. Here a
//! writer takes the first waiting item and every other item already queued (up to a maximum),
//! processes them (each event's handlers in a savepoint of their own, see `process.rs`), and
//! commits once. Nothing waits on purpose: under low load a batch is one event; under load
//! batches grow and the fsync is shared.
//!
//! Items are routed to a writer by event id, so two deliveries of one event always meet in the
//! same writer: they never wait on each other's row locks across writers, and within a batch the
//! second simply sees the first's row. Within a batch, items run in event-id order, so batches of
//! several app instances on one PostgreSQL lock event rows in the same order (no deadlock cycle).

use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, TrySendError, channel, sync_channel};
use std::time::{Duration, Instant};

use futures_channel::oneshot;

use super::Receipt;
use super::inbox::Signal;
use super::process::{Item, run_batch};
use crate::Error;
use crate::db::Database;
use crate::error::Limit;
use crate::handler::{Callback, run_on_commit};
use crate::registry::HandlerSet;

struct Job {
    item: Item,
    reply: oneshot::Sender<Result<Receipt, Error>>,
    queued: Instant,
}

/// How the writers queue: each lane holds at most `capacity` deliveries (past it a delivery is
/// answered [`Limit::WriterQueue`] at once), and one that waited longer than `deadline` for its
/// batch is answered [`Limit::QueuedTooLong`] without being processed, so that no answer comes
/// later than about the database timeout, whatever the queue depth.
#[derive(Debug, Clone, Copy)]
pub(super) struct Queueing {
    pub capacity: usize,
    pub deadline: Duration,
}

/// The answer to a submitted item: await it, or block on it with [`Ticket::wait`].
pub(super) type Ticket = oneshot::Receiver<Result<Receipt, Error>>;

/// Blocks the calling thread until a ticket is answered.
pub(super) fn wait(ticket: Ticket) -> Result<Receipt, Error> {
    futures_executor::block_on(ticket).unwrap_or_else(|_| Err(stopped()))
}

fn stopped() -> Error {
    Error::unavailable("the writer thread has stopped")
}

/// The writer threads of one engine; they stop when it is dropped.
/// The writer lanes to start: how many, their batches and queues, and whom to wake.
pub(super) struct Lanes {
    pub writers: usize,
    pub max_batch: usize,
    pub pin: bool,
    pub queueing: Queueing,
    pub signal: Arc<Signal>,
}

pub(super) struct Committer {
    lanes: Vec<SyncSender<Job>>,
    capacity: usize,
    callbacks: Sender<Vec<Callback>>,
    hasher: std::collections::hash_map::RandomState,
    /// What is not finished yet, for [`Committer::drain`].
    unfinished: Arc<Unfinished>,
}

/// Deliveries handed to a writer and not answered yet, and `on_commit` callbacks queued and not
/// run yet: what a graceful shutdown waits for.
#[derive(Debug, Default)]
pub(super) struct Unfinished {
    deliveries: AtomicUsize,
    callbacks: AtomicUsize,
    /// Totals since the start: deliveries answered by a writer, callbacks run (with the
    /// drain's own markers).
    answered: AtomicUsize,
    ran: AtomicUsize,
}

/// A reading of [`Unfinished`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Counts {
    /// Deliveries handed to a writer and not answered.
    pub deliveries: usize,
    /// Callbacks queued and not run.
    pub callbacks: usize,
    /// Deliveries answered since the start.
    pub answered: usize,
    /// Callbacks run since the start.
    pub ran: usize,
}

impl Unfinished {
    fn now(&self) -> Counts {
        Counts {
            deliveries: self.deliveries.load(Ordering::SeqCst),
            callbacks: self.callbacks.load(Ordering::SeqCst),
            answered: self.answered.load(Ordering::SeqCst),
            ran: self.ran.load(Ordering::SeqCst),
        }
    }

    fn answered(&self, n: usize) {
        self.answered.fetch_add(n, Ordering::SeqCst);
        self.deliveries.fetch_sub(n, Ordering::SeqCst);
    }
}

impl Committer {
    /// Starts `writers` threads (at least one) that commit batches of at most `max_batch`.
    /// With `pin`, each writer keeps its connection across batches (the pool must have room).
    pub(super) fn start(db: &Database, handlers: &HandlerSet, lanes: Lanes) -> Self {
        let Lanes { writers, max_batch, pin, queueing, signal } = lanes;
        // on_commit callbacks (mail, cache, enqueue) run on their own thread, in commit order,
        // so a slow one delays neither the answers nor the next batch.
        let (callbacks, pending) = channel::<Vec<Callback>>();
        let unfinished = Arc::new(Unfinished::default());
        let ran = unfinished.clone();
        std::thread::Builder::new()
            .name("djstripe-on-commit".into())
            .spawn(move || {
                for batch in pending.iter() {
                    let n = batch.len();
                    run_on_commit(batch);
                    ran.ran.fetch_add(n, Ordering::SeqCst);
                    ran.callbacks.fetch_sub(n, Ordering::SeqCst);
                }
            })
            .expect("spawning the on_commit thread");
        let lanes = (0..writers.max(1))
            .map(|n| {
                let (tx, rx) = sync_channel::<Job>(queueing.capacity.max(1));
                let (db, handlers, callbacks) = (db.clone(), handlers.clone(), callbacks.clone());
                let lane =
                    Lane { max_batch: max_batch.max(1), pin, deadline: queueing.deadline, signal: signal.clone() };
                let unfinished = unfinished.clone();
                std::thread::Builder::new()
                    .name(format!("djstripe-writer-{n}"))
                    .spawn(move || writer(&db, &handlers, &rx, lane, &callbacks, &unfinished))
                    .expect("spawning a writer thread");
                tx
            })
            .collect();
        Self { lanes, capacity: queueing.capacity.max(1), callbacks, hasher: Default::default(), unfinished }
    }

    /// What is not finished now: deliveries handed to a writer and not answered, `on_commit`
    /// callbacks queued and not run.
    pub(super) fn unfinished(&self) -> Counts {
        self.unfinished.now()
    }

    /// Waits until every delivery handed to a writer so far is answered (committed or failed)
    /// and every `on_commit` callback queued by then has run, or until `deadline`; returns
    /// whether it got there in time. Deliveries submitted meanwhile are waited for too (the
    /// HTTP server has stopped accepting before a shutdown drains).
    pub(super) fn drain(&self, deadline: Instant) -> bool {
        // A writer counts a batch's callbacks before it answers: once no delivery is left,
        // every callback to wait for is counted.
        for pending in [&self.unfinished.deliveries, &self.unfinished.callbacks] {
            while pending.load(Ordering::SeqCst) > 0 {
                if Instant::now() >= deadline {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        true
    }

    /// Blocks until every `on_commit` callback queued before this call has run.
    pub(super) fn flush_on_commit(&self) {
        let (done, wait) = std::sync::mpsc::sync_channel::<()>(1);
        let marker: Callback = Box::new(move || {
            let _ = done.send(());
        });
        // Counted like any callback: the on_commit thread uncounts every batch it runs.
        self.unfinished.callbacks.fetch_add(1, Ordering::SeqCst);
        if self.callbacks.send(vec![marker]).is_ok() {
            let _ = wait.recv();
        } else {
            self.unfinished.callbacks.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Hands `item` to the writer of `key` (the event id); never blocks: a full queue answers
    /// [`Limit::WriterQueue`] at once.
    pub(super) fn submit(&self, key: &str, item: Item) -> Ticket {
        let lane = if self.lanes.len() == 1 {
            0
        } else {
            let mut h = self.hasher.build_hasher();
            key.hash(&mut h);
            (std::hash::Hasher::finish(&h) % self.lanes.len() as u64) as usize
        };
        let (reply, ticket) = oneshot::channel();
        // Counted before the send: a writer may answer (and uncount) it at once.
        self.unfinished.deliveries.fetch_add(1, Ordering::SeqCst);
        match self.lanes[lane].try_send(Job { item, reply, queued: Instant::now() }) {
            Ok(()) => {}
            Err(TrySendError::Full(job)) => {
                self.unfinished.deliveries.fetch_sub(1, Ordering::SeqCst);
                let _ = job.reply.send(Err(Error::Busy { limit: Limit::WriterQueue { capacity: self.capacity } }));
            }
            Err(TrySendError::Disconnected(job)) => {
                self.unfinished.deliveries.fetch_sub(1, Ordering::SeqCst);
                let _ = job.reply.send(Err(stopped()));
            }
        }
        ticket
    }
}

/// One writer's settings.
#[derive(Clone)]
struct Lane {
    max_batch: usize,
    pin: bool,
    deadline: Duration,
    /// Notified after a batch that enqueued inbox events.
    signal: Arc<Signal>,
}

fn writer(
    db: &Database,
    handlers: &HandlerSet,
    jobs: &Receiver<Job>,
    lane: Lane,
    on_commit: &Sender<Vec<Callback>>,
    unfinished: &Unfinished,
) {
    let Lane { max_batch, pin, deadline, signal } = lane;
    let mut batch: Vec<Job> = Vec::with_capacity(max_batch);
    let mut pinned = None;
    // A job that waited past the deadline is answered at once, not processed.
    let take = |batch: &mut Vec<Job>, job: Job| {
        let waited = job.queued.elapsed();
        if waited > deadline {
            let _ = job.reply.send(Err(Error::Busy { limit: Limit::QueuedTooLong { waited } }));
            unfinished.answered(1);
        } else {
            batch.push(job);
        }
    };
    while let Ok(first) = jobs.recv() {
        take(&mut batch, first);
        while batch.len() < max_batch {
            match jobs.try_recv() {
                Ok(job) => take(&mut batch, job),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        // Event rows are locked in id order: batches of two app instances sharing one
        // PostgreSQL then never wait on each other in a cycle (no deadlock between batches).
        batch.sort_by(|a, b| a.item.event.as_ref().map(|e| &e.id).cmp(&b.item.event.as_ref().map(|e| &e.id)));
        let (items, replies): (Vec<Item>, Vec<_>) = batch.drain(..).map(|j| (j.item, j.reply)).unzip();
        // A panic escaping here (not from a handler: those are caught) must not kill the lane.
        let (results, callbacks) =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_batch(db, handlers, &mut pinned, &items)))
                .unwrap_or_else(|_| {
                    (items.iter().map(|_| Err(Error::unavailable("the writer panicked"))).collect(), Vec::new())
                });
        if !pin {
            pinned = None;
        }
        // Queue the batch's on_commit callbacks before answering (a send, not a run): whoever
        // waits for them (`flush_on_commit`) after an answer then sees every one of them.
        if !callbacks.is_empty() {
            let n = callbacks.len();
            unfinished.callbacks.fetch_add(n, Ordering::SeqCst);
            if on_commit.send(callbacks).is_err() {
                unfinished.callbacks.fetch_sub(n, Ordering::SeqCst);
            }
        }
        let answered = replies.len();
        if results.iter().any(|r| matches!(r, Ok(receipt) if receipt.outcome == crate::db::Outcome::Queued)) {
            signal.notify();
        }
        for (reply, result) in replies.into_iter().zip(results) {
            let _ = reply.send(result);
        }
        unfinished.answered(answered);
    }
}
