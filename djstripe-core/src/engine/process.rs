//! The transaction of a batch of deliveries, in as few statements as the guarantees allow.
//!
//! On PostgreSQL every statement is a loopback round trip that puts the writer to sleep, so a
//! batch is written in stages rather than event by event:
//!
//! 1. one `INSERT … ON CONFLICT DO NOTHING RETURNING id` claims every new event of the batch:
//!    what it returns is fresh, the rest are duplicates;
//! 2. each fresh event's handlers run in a savepoint (only when the event has handlers), so a
//!    failure rolls back that event alone — its handlers' writes, and its claimed row is deleted
//!    so that Stripe's retry finds it unprocessed. The savepoint is released lazily, in the same
//!    round trip as the next one is taken (or by the commit);
//! 3. one `INSERT` writes every trigger row, in its final state.
//!
//! A second delivery of the same event within one batch, replays and queued triggers take the
//! plain path: savepoint, insert-if-new (or mark replayed), handlers.

use std::collections::HashSet;

use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::connection::TransactionManager;

use super::Receipt;
use crate::db::queries::{
    claim_events, finish_trigger, forget_event, insert_event_if_new, insert_triggers, mark_replayed, mark_reprocessed,
};
use crate::db::{Database, DbConnection, NewTrigger, Outcome, PooledConnection, StoredEvent, classify, classify_error};
use crate::error::Resource;
use crate::handler::{Callback, run_on_commit};
use crate::registry::{HandlerRegistration, HandlerSet};
use crate::{Error, Event, HandlerContext, dispatch};

/// The request-side fields of a trigger row.
#[derive(Debug, Clone, Default)]
pub(super) struct Draft {
    pub endpoint_id: Option<i64>,
    pub remote_ip: String,
    pub headers: String,
    pub body: Vec<u8>,
    pub body_truncated: bool,
    pub reprocess_of: Option<i64>,
}

/// Why the event is being processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// A fresh delivery.
    Deliver,
    /// A trigger queued by the event callback: process it in place.
    Queued(i64),
    /// A new attempt at a failed trigger.
    Reprocess(i64),
    /// The handlers of a stored event, again on purpose.
    Replay,
}

/// What one item of a batch asks for.
#[derive(Debug)]
pub(super) enum Work {
    /// Process the event (the item's event is `Some`).
    Process(Mode),
    /// Only record a trigger row with this outcome (invalid delivery, test event, queued one,
    /// the audit row of a failed batch) and the error text to store with it.
    Record { outcome: Outcome, exception: String },
}

/// One item of a batch.
#[derive(Debug)]
pub(super) struct Item {
    pub draft: Draft,
    pub event: Option<Event>,
    pub work: Work,
}

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The one savepoint name of a batch: events run one after the other, never nested.
const SAVEPOINT: &str = "SAVEPOINT djstripe_event";
const RELEASE_AND_SAVEPOINT: &str = "RELEASE SAVEPOINT djstripe_event; SAVEPOINT djstripe_event";
const ROLLBACK_AND_RELEASE: &str = "ROLLBACK TO SAVEPOINT djstripe_event; RELEASE SAVEPOINT djstripe_event";

/// The batch's per-event savepoint. A successful event's savepoint is not released at once:
/// the release travels with the next event's `SAVEPOINT` (one round trip, not two), and the
/// commit releases the last one.
#[derive(Default)]
struct Savepoint {
    open: bool,
}

impl Savepoint {
    fn take(&mut self, conn: &mut DbConnection) -> Result<(), Error> {
        conn.batch_execute(if self.open { RELEASE_AND_SAVEPOINT } else { SAVEPOINT }).map_err(classify)?;
        self.open = true;
        Ok(())
    }

    fn roll_back(&mut self, conn: &mut DbConnection) -> Result<(), Error> {
        self.open = false;
        conn.batch_execute(ROLLBACK_AND_RELEASE).map_err(classify)
    }

    /// Runs `work` in the savepoint; a handler failure rolls back to it and is returned as
    /// `Err(Some(error))`. Any other error fails the batch (`Err(None)` never happens).
    fn run<T>(
        &mut self,
        conn: &mut DbConnection,
        work: impl FnOnce(&mut DbConnection) -> Result<T, Error>,
    ) -> Result<Result<T, Error>, Error> {
        self.take(conn)?;
        let depth = diesel_depth(conn);
        match work(conn) {
            Ok(value) => Ok(Ok(value)),
            Err(error @ Error::Handler { .. }) => {
                // A handler that panicked inside a `conn.transaction(…)` of its own left diesel
                // believing that transaction is still open: close it first, or the batch's
                // commit would release a savepoint that no longer exists.
                while diesel_depth(conn) > depth {
                    Manager::rollback_transaction(conn).map_err(classify)?;
                }
                self.roll_back(conn)?;
                Ok(Err(error))
            }
            Err(other) => Err(other),
        }
    }
}

type Manager = <DbConnection as Connection>::TransactionManager;

/// How many transactions and savepoints diesel has open on `conn`.
fn diesel_depth(conn: &mut DbConnection) -> u32 {
    Manager::transaction_manager_status_mut(conn).transaction_depth().ok().flatten().map_or(0, |d| d.get())
}

/// A trigger row waiting for the batch's one insert (or, for a queued trigger, already updated),
/// with the receipt it will answer (its `trigger_id` set once the row has one).
struct Row<'a> {
    item: &'a Item,
    event: Option<&'a Event>,
    exception: String,
    traceback: String,
    existing: Option<i64>,
    receipt: Receipt,
}

impl Row<'_> {
    fn new_trigger(&self, now: chrono::NaiveDateTime) -> NewTrigger<'_> {
        let (draft, event, outcome) = (&self.item.draft, self.event, self.receipt.outcome);
        NewTrigger {
            created: now,
            updated: now,
            remote_ip: &draft.remote_ip,
            headers: &draft.headers,
            body: &draft.body,
            body_truncated: draft.body_truncated,
            valid: outcome != Outcome::Invalid,
            processed: outcome.is_processed(),
            outcome,
            exception: &self.exception,
            traceback: &self.traceback,
            event_id: event.map(|e| e.id.as_str()),
            event_type: event.map(|e| e.type_.as_str()),
            webhook_endpoint_id: draft.endpoint_id,
            account: event.and_then(|e| e.account.as_deref()),
            reprocess_of: draft.reprocess_of,
            djstripe_version: VERSION,
        }
    }
}

/// A receipt whose trigger id is not known yet.
fn receipt(outcome: Outcome, event: Option<&Event>, handlers: usize, error: Option<Error>) -> Receipt {
    Receipt { trigger_id: 0, outcome, event_id: event.map(|e| e.id.clone()), handlers, error }
}

fn describe(error: Option<&Error>) -> (String, String) {
    match error {
        Some(error @ Error::Handler { trace, .. }) => (error.to_string(), trace.clone()),
        Some(other) => (other.to_string(), String::new()),
        None => (String::new(), String::new()),
    }
}

/// Stage 1: claims the batch's new events in one statement. Returns the ids it inserted and,
/// per item, whether the item owns its event's claim (the first delivery of that event in the
/// batch, not a replay).
fn claim(
    conn: &mut DbConnection,
    items: &[Item],
    now: chrono::NaiveDateTime,
) -> Result<(HashSet<String>, Vec<bool>), Error> {
    let mut seen = HashSet::new();
    let mut rows = Vec::new();
    let mut owners = Vec::with_capacity(items.len());
    for item in items {
        let owner = match (&item.work, &item.event) {
            (Work::Process(mode), Some(event)) if *mode != Mode::Replay => seen.insert(event.id.as_str()),
            _ => false,
        };
        if owner {
            rows.push(StoredEvent::from_event(item.event.as_ref().expect("checked above"), now)?);
        }
        owners.push(owner);
    }
    Ok((claim_events(conn, &rows)?.into_iter().collect(), owners))
}

/// What every event of one batch shares: which handlers run, the batch's timestamp, and the
/// `on_commit` callbacks collected so far.
struct Batch<'a> {
    handlers: &'a HandlerSet,
    now: chrono::NaiveDateTime,
    callbacks: &'a mut Vec<Callback>,
}

/// Stage 2 for one event: its handlers, in a savepoint; what it came to.
fn process_one(
    conn: &mut DbConnection,
    batch: &mut Batch<'_>,
    savepoint: &mut Savepoint,
    event: &Event,
    mode: Mode,
    claimed: Option<bool>,
) -> Result<Receipt, Error> {
    let done = |outcome, handlers, error| Ok(receipt(outcome, Some(event), handlers, error));
    if claimed == Some(false) {
        return done(Outcome::Duplicate, 0, None);
    }
    let (now, callbacks) = (batch.now, &mut *batch.callbacks);
    let handlers: Vec<&'static HandlerRegistration> = batch.handlers.handlers_for(event.event_type());
    let mut run_handlers = |conn: &mut DbConnection| -> Result<usize, Error> {
        let mut ctx = HandlerContext::new(conn);
        let ran = dispatch::run_all(&handlers, event, &mut ctx)?;
        callbacks.append(&mut ctx.take_on_commit());
        Ok(ran)
    };
    match (mode, claimed) {
        // Claimed in stage 1 (a duplicate was answered above) and nothing to run: no savepoint.
        (_, Some(_)) if handlers.is_empty() => done(Outcome::Processed, 0, None),
        (_, Some(_)) => match savepoint.run(conn, &mut run_handlers)? {
            Ok(ran) => done(Outcome::Processed, ran, None),
            Err(error) => {
                forget_event(conn, &event.id)?;
                done(Outcome::Failed, 0, Some(error))
            }
        },
        (Mode::Replay, None) => {
            let replayed = savepoint.run(conn, |conn| {
                if !mark_replayed(conn, &event.id, now)? {
                    return Err(Error::not_found(Resource::Event, &event.id));
                }
                run_handlers(conn)
            })?;
            match replayed {
                Ok(ran) => done(Outcome::Replayed, ran, None),
                Err(error) => done(Outcome::Failed, 0, Some(error)),
            }
        }
        (_, None) => {
            // Another delivery of an event already seen in this batch: it is processed only if
            // the first one failed (and so deleted its row).
            let stored = StoredEvent::from_event(event, now)?;
            let attempt = savepoint.run(conn, |conn| {
                if insert_event_if_new(conn, &stored)? { run_handlers(conn).map(Some) } else { Ok(None) }
            })?;
            match attempt {
                Ok(Some(ran)) => done(Outcome::Processed, ran, None),
                Ok(None) => done(Outcome::Duplicate, 0, None),
                Err(error) => done(Outcome::Failed, 0, Some(error)),
            }
        }
    }
}

/// The whole batch inside its transaction: the three stages, then the receipts in item order.
fn run_items(
    conn: &mut DbConnection,
    handlers: &HandlerSet,
    items: &[Item],
    callbacks: &mut Vec<Callback>,
) -> Result<Vec<Receipt>, Error> {
    let now = chrono::Utc::now().naive_utc();
    let (claimed, owners) = claim(conn, items, now)?;
    let mut batch = Batch { handlers, now, callbacks };
    let mut savepoint = Savepoint::default();
    let mut rows = Vec::with_capacity(items.len());
    for (item, owner) in items.iter().zip(owners) {
        let row = match (&item.work, &item.event) {
            (Work::Record { outcome, exception }, event) => Row {
                item,
                event: event.as_ref(),
                exception: exception.clone(),
                traceback: String::new(),
                existing: None,
                receipt: receipt(*outcome, event.as_ref(), 0, None),
            },
            (Work::Process(mode), Some(event)) => {
                let claim = owner.then(|| claimed.contains(&event.id));
                let receipt = process_one(conn, &mut batch, &mut savepoint, event, *mode, claim)?;
                let (exception, traceback) = describe(receipt.error.as_ref());
                let existing = match *mode {
                    Mode::Queued(id) => {
                        finish_trigger(conn, id, receipt.outcome, &exception, &traceback)?;
                        Some(id)
                    }
                    _ => None,
                };
                if let (Mode::Reprocess(original), true) = (*mode, receipt.is_success()) {
                    mark_reprocessed(conn, original)?;
                }
                Row { item, event: Some(event), exception, traceback, existing, receipt }
            }
            (Work::Process(_), None) => unreachable!("an item to process is built with its event"),
        };
        rows.push(row);
    }
    let fresh: Vec<NewTrigger<'_>> = rows.iter().filter(|r| r.existing.is_none()).map(|r| r.new_trigger(now)).collect();
    let mut ids = insert_triggers(conn, &fresh)?.into_iter();
    rows.into_iter()
        .map(|row| {
            let trigger_id = match row.existing {
                Some(id) => id,
                None => {
                    ids.next().ok_or_else(|| Error::unavailable("the trigger insert returned fewer ids than rows"))?
                }
            };
            Ok(Receipt { trigger_id, ..row.receipt })
        })
        .collect()
}

/// Runs a batch in one transaction and one commit. A handler failure affects only its own item
/// (savepoint); a database failure fails the whole batch, which then committed nothing.
///
/// Returns the results and the `on_commit` callbacks of the committed items, for the caller to
/// run once it has answered (they must not delay the answers or the next batch).
///
/// `pinned` is the writer's own connection, kept across batches (no pool checkout, no liveness
/// query per batch); it is dropped after a failed batch and taken afresh from the pool next time.
pub(super) fn run_batch(
    db: &Database,
    handlers: &HandlerSet,
    pinned: &mut Option<PooledConnection>,
    items: &[Item],
) -> (Vec<Result<Receipt, Error>>, Vec<Callback>) {
    let started = std::time::Instant::now();
    let mut callbacks = Vec::new();
    let result = {
        let _writer = db.writer_lock();
        let conn = match pinned.take() {
            Some(conn) => Ok(conn),
            None => db.get(),
        };
        conn.and_then(|mut conn| {
            let result =
                conn.transaction::<Vec<Receipt>, Error, _>(|conn| run_items(conn, handlers, items, &mut callbacks));
            if result.is_ok() {
                *pinned = Some(conn);
            }
            result
        })
    };
    match result {
        Ok(done) => {
            tracing::debug!(items = items.len(), elapsed_us = started.elapsed().as_micros() as u64, "batch committed");
            (done.into_iter().map(Ok).collect(), callbacks)
        }
        Err(error) => {
            let error = classify_error(error);
            let message = error.to_string();
            tracing::warn!(items = items.len(), error = %message, "batch rolled back");
            // Nothing committed; keep at least the audit rows of fresh deliveries if we can.
            let audit: Vec<Item> = items
                .iter()
                .filter(|i| matches!(i.work, Work::Process(Mode::Deliver) | Work::Record { .. }))
                .map(|i| Item {
                    draft: i.draft.clone(),
                    event: i.event.clone(),
                    work: Work::Record {
                        outcome: if i.event.is_some() { Outcome::Failed } else { Outcome::Invalid },
                        exception: format!("database unavailable: {message}"),
                    },
                })
                .collect();
            if !audit.is_empty() && matches!(error, Error::DatabaseUnavailable { .. } | Error::Database(_)) {
                let _writer = db.writer_lock();
                let recorded = db.get().and_then(|mut conn| {
                    conn.transaction::<(), Error, _>(|conn| {
                        run_items(conn, handlers, &audit, &mut Vec::new()).map(drop)
                    })
                });
                if let Err(again) = recorded {
                    tracing::error!(error = %again, "could not record the failed deliveries either");
                }
            }
            (items.iter().map(|_| Err(same_error(&error))).collect(), Vec::new())
        }
    }
}

/// Rebuilds an error for each item of a failed batch ([`Error`] is not `Clone`).
fn same_error(error: &Error) -> Error {
    match error {
        Error::NotFound { resource, id } => Error::NotFound { resource: *resource, id: id.clone() },
        Error::DatabaseUnavailable { reason, cause } => {
            Error::DatabaseUnavailable { reason: reason.clone(), cause: cause.clone() }
        }
        other => Error::unavailable(other),
    }
}

/// Marks a queued trigger failed with `error` (the event callback refused it).
pub(super) fn fail_trigger(db: &Database, id: i64, error: &Error) -> Result<(), Error> {
    let (message, trace) = describe(Some(error));
    let _writer = db.writer_lock();
    let mut conn = db.get()?;
    finish_trigger(&mut conn, id, Outcome::Failed, &message, &trace)
}

/// Runs one item on its own (operator actions: reprocess, replay, queued triggers).
pub(super) fn run_single(db: &Database, handlers: &HandlerSet, item: Item) -> Result<Receipt, Error> {
    let (mut results, callbacks) = run_batch(db, handlers, &mut None, std::slice::from_ref(&item));
    run_on_commit(callbacks);
    results.pop().expect("one result per item")
}
