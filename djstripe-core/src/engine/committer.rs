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
use std::sync::mpsc::{Receiver, Sender, channel};

use futures_channel::oneshot;

use super::Receipt;
use super::process::{Item, run_batch};
use crate::Error;
use crate::db::Database;
use crate::handler::{Callback, run_on_commit};
use crate::registry::HandlerSet;

struct Job {
    item: Item,
    reply: oneshot::Sender<Result<Receipt, Error>>,
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
pub(super) struct Committer {
    lanes: Vec<Sender<Job>>,
    callbacks: Sender<Vec<Callback>>,
    hasher: std::collections::hash_map::RandomState,
}

impl Committer {
    /// Starts `writers` threads (at least one) that commit batches of at most `max_batch`.
    /// With `pin`, each writer keeps its connection across batches (the pool must have room).
    pub(super) fn start(db: &Database, handlers: &HandlerSet, writers: usize, max_batch: usize, pin: bool) -> Self {
        // on_commit callbacks (mail, cache, enqueue) run on their own thread, in commit order,
        // so a slow one delays neither the answers nor the next batch.
        let (callbacks, pending) = channel::<Vec<Callback>>();
        std::thread::Builder::new()
            .name("djstripe-on-commit".into())
            .spawn(move || pending.iter().for_each(run_on_commit))
            .expect("spawning the on_commit thread");
        let lanes = (0..writers.max(1))
            .map(|n| {
                let (tx, rx) = channel::<Job>();
                let (db, handlers, callbacks) = (db.clone(), handlers.clone(), callbacks.clone());
                std::thread::Builder::new()
                    .name(format!("djstripe-writer-{n}"))
                    .spawn(move || writer(&db, &handlers, &rx, max_batch.max(1), &callbacks, pin))
                    .expect("spawning a writer thread");
                tx
            })
            .collect();
        Self { lanes, callbacks, hasher: Default::default() }
    }

    /// Blocks until every `on_commit` callback queued before this call has run.
    pub(super) fn flush_on_commit(&self) {
        let (done, wait) = std::sync::mpsc::sync_channel::<()>(1);
        let marker: Callback = Box::new(move || {
            let _ = done.send(());
        });
        if self.callbacks.send(vec![marker]).is_ok() {
            let _ = wait.recv();
        }
    }

    /// Hands `item` to the writer of `key` (the event id); never blocks.
    pub(super) fn submit(&self, key: &str, item: Item) -> Ticket {
        let lane = if self.lanes.len() == 1 {
            0
        } else {
            let mut h = self.hasher.build_hasher();
            key.hash(&mut h);
            (std::hash::Hasher::finish(&h) % self.lanes.len() as u64) as usize
        };
        let (reply, ticket) = oneshot::channel();
        if let Err(failed) = self.lanes[lane].send(Job { item, reply }) {
            let _ = failed.0.reply.send(Err(stopped()));
        }
        ticket
    }
}

fn writer(
    db: &Database,
    handlers: &HandlerSet,
    jobs: &Receiver<Job>,
    max_batch: usize,
    on_commit: &Sender<Vec<Callback>>,
    pin: bool,
) {
    let mut batch: Vec<Job> = Vec::with_capacity(max_batch);
    let mut pinned = None;
    while let Ok(first) = jobs.recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
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
            let _ = on_commit.send(callbacks);
        }
        for (reply, result) in replies.into_iter().zip(results) {
            let _ = reply.send(result);
        }
    }
}
