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
//!
//! A failed statement fails the whole batch (one row of a multi-row insert takes the statement
//! down with it, and PostgreSQL then refuses the rest of the transaction). An outage fails every
//! item; anything else is retried item by item, each alone in its own transaction, with the
//! handlers watched ([`run_watched`]): so a row refused for its content, or a handler that broke
//! the transaction, is found and answered on its own, and the others commit.

use std::collections::HashSet;

use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::connection::TransactionManager;

use super::Receipt;
use crate::db::inbox;
use crate::db::queries::{
    claim_events, finish_trigger, forget_event, insert_event_if_new, insert_triggers, mark_replayed, mark_reprocessed,
};
use crate::db::{
    Database, DbConnection, InboxEntry, NewTrigger, Outcome, PooledConnection, StoredEvent, classify, classify_error,
    refusal,
};
use crate::error::Resource;
use crate::handler::{Callback, run_on_commit};
use crate::hooks::{self, Cause, HookCall, PostProcess, PreProcess, ProcessingError, Stage};
use crate::metrics::Metrics;
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
    /// Inbox mode: store the verified event in `djstripe_inbox` with its trigger row (`queued`),
    /// for a worker to process; an event already waiting or processed makes it a duplicate.
    Enqueue,
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
pub(super) struct Savepoint {
    open: bool,
}

impl Savepoint {
    fn take(&mut self, conn: &mut DbConnection) -> Result<(), Error> {
        conn.batch_execute(if self.open { RELEASE_AND_SAVEPOINT } else { SAVEPOINT }).map_err(classify)?;
        self.open = true;
        Ok(())
    }

    pub(super) fn roll_back(&mut self, conn: &mut DbConnection) -> Result<(), Error> {
        self.open = false;
        conn.batch_execute(ROLLBACK_AND_RELEASE).map_err(classify)
    }

    /// Runs `work` in the savepoint; a handler failure rolls back to it and is returned as
    /// `Err(Some(error))`. Any other error fails the batch (`Err(None)` never happens).
    pub(super) fn run<T>(
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

pub(super) fn describe(error: Option<&Error>) -> (String, String) {
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

/// What every event of one batch shares: which handlers run, the batch's timestamp, the
/// `on_commit` callbacks collected so far, and whether this is a delivery retried alone (see
/// [`run_watched`]).
struct Batch<'a> {
    handlers: &'a HandlerSet,
    metrics: &'a Metrics,
    now: chrono::NaiveDateTime,
    callbacks: &'a mut Vec<Callback>,
    alone: bool,
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
    let (now, callbacks, alone, metrics) = (batch.now, &mut *batch.callbacks, batch.alone, batch.metrics);
    let handlers: Vec<&'static HandlerRegistration> = batch.handlers.handlers_for(event.event_type());
    let mut run_handlers = |conn: &mut DbConnection| -> Result<usize, Error> {
        let mut ctx = HandlerContext::new(conn);
        let ran = if alone {
            run_watched(&handlers, event, &mut ctx, metrics)?
        } else {
            for handler in &handlers {
                run_timed(handler, event, &mut ctx, metrics)?;
            }
            handlers.len()
        };
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

/// The handlers of one event, one at a time, each followed by a statement that fails if the
/// handler left the transaction broken: PostgreSQL aborts a transaction at its first failed
/// statement, even one whose error the handler ignored, and then refuses every later one (the
/// next savepoint, the trigger rows). That is the handler's failure, named, like an error it
/// returned: 500 and `failed`, not a fault of the event's content. Only for a delivery retried
/// alone after its batch failed: the batch's own path pays no round trip for this.
pub(super) fn run_watched(
    handlers: &[&'static HandlerRegistration],
    event: &Event,
    ctx: &mut HandlerContext<'_>,
    metrics: &Metrics,
) -> Result<usize, Error> {
    for handler in handlers {
        run_timed(handler, event, ctx, metrics)?;
        let probe = match ctx.connection() {
            Ok(conn) => conn.batch_execute("SELECT 1").map_err(classify),
            Err(detached) => Err(Error::unavailable(detached)),
        };
        match probe {
            Ok(()) => {}
            Err(outage @ Error::DatabaseUnavailable { .. }) => return Err(outage),
            Err(broken) => {
                let message = format!("it left the event's transaction broken ({broken})");
                let trace = format!("{message}\n  at {} ({}:{})", handler.path(), handler.file(), handler.line());
                return Err(Error::Handler { handler: handler.path(), message, trace });
            }
        }
    }
    Ok(handlers.len())
}

/// One handler ([`dispatch::run_one`]: its span, its error or panic caught), timed into its
/// histogram whatever it came to.
fn run_timed(
    handler: &'static HandlerRegistration,
    event: &Event,
    ctx: &mut HandlerContext<'_>,
    metrics: &Metrics,
) -> Result<(), Error> {
    let started = std::time::Instant::now();
    let result = dispatch::run_one(handler, event, ctx);
    metrics.handler_ran(handler, started.elapsed());
    result
}

/// The whole batch inside its transaction: the three stages, then the receipts in item order.
/// `alone`: a delivery retried on its own after its batch failed (handlers are watched).
fn run_items(
    conn: &mut DbConnection,
    handlers: &HandlerSet,
    metrics: &Metrics,
    items: &[Item],
    callbacks: &mut Vec<Callback>,
    alone: bool,
) -> Result<Vec<Receipt>, Error> {
    let now = chrono::Utc::now().naive_utc();
    let (claimed, owners) = claim(conn, items, now)?;
    let mut batch = Batch { handlers, metrics, now, callbacks, alone };
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
            (Work::Enqueue, Some(event)) => Row {
                item,
                event: Some(event),
                exception: String::new(),
                traceback: String::new(),
                existing: None,
                receipt: receipt(Outcome::Queued, Some(event), 0, None),
            },
            (Work::Process(_) | Work::Enqueue, None) => unreachable!("an item to process is built with its event"),
        };
        rows.push(row);
    }
    let fresh: Vec<NewTrigger<'_>> = rows.iter().filter(|r| r.existing.is_none()).map(|r| r.new_trigger(now)).collect();
    let mut ids = insert_triggers(conn, &fresh)?.into_iter();
    let mut receipts = rows
        .into_iter()
        .map(|row| {
            let trigger_id = match row.existing {
                Some(id) => id,
                None => {
                    ids.next().ok_or_else(|| Error::unavailable("the trigger insert returned fewer ids than rows"))?
                }
            };
            Ok(Receipt { trigger_id, ..row.receipt })
        })
        .collect::<Result<Vec<Receipt>, Error>>()?;
    enqueue_items(conn, items, &mut receipts, now)?;
    Ok(receipts)
}

/// Stores the batch's inbox items (their trigger rows have ids now); one whose event is already
/// waiting or processed becomes a duplicate, trigger row included.
fn enqueue_items(
    conn: &mut DbConnection,
    items: &[Item],
    receipts: &mut [Receipt],
    now: chrono::NaiveDateTime,
) -> Result<(), Error> {
    let queued: Vec<usize> = (0..items.len()).filter(|&n| matches!(items[n].work, Work::Enqueue)).collect();
    if queued.is_empty() {
        return Ok(());
    }
    let mut entries = Vec::with_capacity(queued.len());
    for &n in &queued {
        let event = items[n].event.as_ref().expect("an inbox item has its event");
        entries.push(inbox_entry(event, receipts[n].trigger_id, now)?);
    }
    for (n, stored) in queued.into_iter().zip(inbox::enqueue(conn, &entries)?) {
        if !stored {
            finish_trigger(conn, receipts[n].trigger_id, Outcome::Duplicate, "", "")?;
            receipts[n].outcome = Outcome::Duplicate;
        }
    }
    Ok(())
}

/// The inbox row of a verified event.
fn inbox_entry(event: &Event, trigger_id: i64, now: chrono::NaiveDateTime) -> Result<InboxEntry, Error> {
    let created = StoredEvent::created_column(event)?;
    Ok(InboxEntry {
        event_id: event.id.clone(),
        trigger_id,
        event_type: event.type_.clone(),
        object_id: event.object_id().map(str::to_owned),
        event_created: created,
        event: serde_json::to_string(event).expect("an Event serializes"),
        state: inbox::PENDING.to_owned(),
        attempts: 0,
        next_attempt: now,
        lease_token: None,
        lease_until: None,
        last_error: String::new(),
        received: now,
        updated: now,
    })
}

/// Runs a batch in one transaction and one commit, between the hooks of its events: their
/// `pre_process` hooks before the transaction opens, their `post_process` or `processing_error`
/// hooks once each event's result is final (committed, or failed for good — after the retries
/// of a failed batch below), so that no hook runs inside a transaction, and each runs once per
/// event of the batch. A handler failure affects only its own item
/// (savepoint). Any other failure rolls the whole batch back; then:
///
/// - an outage (connection lost, server down, locked: [`Error::DatabaseUnavailable`]) fails
///   every item of the batch, which keeps at least its audit rows if the database lets it;
/// - anything else may be one item's fault (a row the database refuses for its content, a
///   handler that broke the transaction): each item is retried alone, in its own transaction
///   ([`isolate`]), so that the others commit as if they had been alone all along. Only a failed
///   batch pays for this.
///
/// Returns the results and the `on_commit` callbacks of the committed items, for the caller to
/// run once it has answered (they must not delay the answers or the next batch).
///
/// `pinned` is the writer's own connection, kept across batches (no pool checkout, no liveness
/// query per batch); it is dropped after a failed transaction and taken afresh from the pool.
pub(super) fn run_batch(
    db: &Database,
    handlers: &HandlerSet,
    metrics: &Metrics,
    pinned: &mut Option<PooledConnection>,
    items: &[Item],
) -> (Vec<Result<Receipt, Error>>, Vec<Callback>) {
    hooks_before(handlers, items);
    let (results, callbacks) = commit_batch(db, handlers, metrics, pinned, items);
    hooks_after(handlers, items, &results);
    (results, callbacks)
}

/// The `pre_process` hooks of the batch's events, before its transaction opens.
fn hooks_before(handlers: &HandlerSet, items: &[Item]) {
    if !hooks::registered(Stage::PreProcess) {
        return;
    }
    for (item, (event, cause)) in items.iter().filter_map(|item| processing(item).map(|p| (item, p))) {
        let trigger = hook_trigger(&item.draft);
        hooks::run(handlers, &HookCall::PreProcess(PreProcess { trigger, event, cause }));
    }
}

/// The `post_process` or `processing_error` hooks of the batch's events, once its transaction
/// committed (or failed for good): each event's final result.
fn hooks_after(handlers: &HandlerSet, items: &[Item], results: &[Result<Receipt, Error>]) {
    if !hooks::registered(Stage::PostProcess) && !hooks::registered(Stage::ProcessingError) {
        return;
    }
    for (item, result) in items.iter().zip(results) {
        let Some((event, cause)) = processing(item) else { continue };
        let trigger = hook_trigger(&item.draft);
        let call = match result {
            Ok(Receipt { error: Some(error), trigger_id, outcome, .. }) if !outcome.is_success() => {
                HookCall::ProcessingError(ProcessingError {
                    trigger,
                    event,
                    cause,
                    error,
                    trigger_id: Some(*trigger_id),
                    will_retry: false,
                })
            }
            Ok(receipt) => HookCall::PostProcess(PostProcess { trigger, event, cause, receipt }),
            Err(error) => HookCall::ProcessingError(ProcessingError {
                trigger,
                event,
                cause,
                error,
                trigger_id: None,
                will_retry: false,
            }),
        };
        hooks::run(handlers, &call);
    }
}

/// The event an item processes and why; `None` for an item that only records a trigger row.
fn processing(item: &Item) -> Option<(&Event, Cause)> {
    match (&item.work, &item.event) {
        (Work::Process(mode), Some(event)) => {
            let cause = match *mode {
                Mode::Deliver => Cause::Delivery,
                Mode::Queued(trigger_id) => Cause::Queued { trigger_id },
                Mode::Reprocess(trigger_id) => Cause::Reprocess { trigger_id },
                Mode::Replay => Cause::Replay,
            };
            Some((event, cause))
        }
        _ => None,
    }
}

fn hook_trigger(draft: &Draft) -> hooks::Trigger<'_> {
    hooks::Trigger {
        endpoint_id: draft.endpoint_id,
        remote_ip: &draft.remote_ip,
        headers: &draft.headers,
        body: &draft.body,
        reprocess_of: draft.reprocess_of,
    }
}

/// [`run_batch`] without the hooks.
fn commit_batch(
    db: &Database,
    handlers: &HandlerSet,
    metrics: &Metrics,
    pinned: &mut Option<PooledConnection>,
    items: &[Item],
) -> (Vec<Result<Receipt, Error>>, Vec<Callback>) {
    let started = std::time::Instant::now();
    let mut callbacks = Vec::new();
    match transact(db, pinned, |conn| run_items(conn, handlers, metrics, items, &mut callbacks, false)) {
        Ok(done) => {
            let took = started.elapsed();
            metrics.batch_committed(items.len(), took);
            tracing::debug!(items = items.len(), elapsed_us = took.as_micros() as u64, "batch committed");
            (done.into_iter().map(Ok).collect(), callbacks)
        }
        Err(error @ Error::DatabaseUnavailable { .. }) => {
            tracing::warn!(items = items.len(), error = %error, "batch rolled back");
            let failed: Vec<(&Item, Error)> = items.iter().map(|i| (i, same_error(&error))).collect();
            (fail(db, handlers, metrics, failed), Vec::new())
        }
        Err(error) => {
            tracing::warn!(items = items.len(), error = %error, "batch rolled back; retrying its deliveries one by one");
            isolate(db, handlers, metrics, pinned, items)
        }
    }
}

/// Runs `work` in one transaction on the writer's connection (or a pooled one), under the
/// SQLite writer lock; the connection is kept for the next transaction only if this one
/// committed. Errors come back through [`classify_error`].
fn transact<T>(
    db: &Database,
    pinned: &mut Option<PooledConnection>,
    work: impl FnOnce(&mut DbConnection) -> Result<T, Error>,
) -> Result<T, Error> {
    let _writer = db.writer_lock();
    let mut conn = match pinned.take() {
        Some(conn) => conn,
        None => db.get()?,
    };
    let result = conn.transaction::<T, Error, _>(work).map_err(classify_error);
    if result.is_ok() {
        *pinned = Some(conn);
    }
    result
}

/// A failed batch, item by item, each in a transaction of its own: what commits alone is
/// answered as usual; an item the database refuses for its content gets its trigger row and a
/// 400 ([`record_refused`]); an outage ends the retries (every item not done yet fails with it).
/// Anything else fails that item alone, as a whole batch used to: 503, with its audit row.
fn isolate(
    db: &Database,
    handlers: &HandlerSet,
    metrics: &Metrics,
    pinned: &mut Option<PooledConnection>,
    items: &[Item],
) -> (Vec<Result<Receipt, Error>>, Vec<Callback>) {
    let mut results: Vec<Option<Result<Receipt, Error>>> = items.iter().map(|_| None).collect();
    let mut callbacks = Vec::new();
    let mut failed: Vec<(usize, Error)> = Vec::new();
    let mut outage: Option<Error> = None;
    for (n, item) in items.iter().enumerate() {
        if let Some(outage) = &outage {
            failed.push((n, same_error(outage)));
            continue;
        }
        let mut own = Vec::new();
        match transact(db, pinned, |conn| {
            run_items(conn, handlers, metrics, std::slice::from_ref(item), &mut own, true)
        }) {
            Ok(mut done) => {
                callbacks.append(&mut own);
                results[n] = done.pop().map(Ok);
            }
            Err(error @ Error::DatabaseUnavailable { .. }) => {
                outage = Some(same_error(&error));
                failed.push((n, error));
            }
            Err(error) => match refusal(error) {
                Ok(refused) => match record_refused(db, handlers, metrics, pinned, item, refused) {
                    Err(error @ Error::DatabaseUnavailable { .. }) => {
                        outage = Some(same_error(&error));
                        failed.push((n, error));
                    }
                    answer => results[n] = Some(answer),
                },
                Err(other) => {
                    tracing::warn!(error = %other, "a delivery failed on its own too");
                    failed.push((n, same_error(&other)));
                }
            },
        }
    }
    let (indices, failed): (Vec<usize>, Vec<(&Item, Error)>) =
        failed.into_iter().map(|(n, error)| (n, (&items[n], error))).unzip();
    for (n, answer) in indices.into_iter().zip(fail(db, handlers, metrics, failed)) {
        results[n] = Some(answer);
    }
    (results.into_iter().map(|r| r.expect("every item is answered")).collect(), callbacks)
}

/// Records the trigger row of a delivery whose event the database refused, in a transaction of
/// its own: outcome `invalid`, the body kept, the refusal and the database's message in
/// `exception`, no event fields (they may be what was refused). Should the row still be
/// refused, once more without the request's other texts and its endpoint (headers, address: they
/// could be what the database refuses, and the endpoint may be gone). The answer is 400 with
/// the refusal; only an outage while recording it is 503.
///
/// Deliveries only (and recorded invalid ones): an operator's reprocess, replay or queued
/// trigger has its row already and just gets the error.
fn record_refused(
    db: &Database,
    handlers: &HandlerSet,
    metrics: &Metrics,
    pinned: &mut Option<PooledConnection>,
    item: &Item,
    refused: Error,
) -> Result<Receipt, Error> {
    if !matches!(item.work, Work::Process(Mode::Deliver) | Work::Record { .. } | Work::Enqueue) {
        return Err(refused);
    }
    let detail = match &refused {
        Error::UnstorableEvent { detail, .. } => detail.as_str(),
        _ => "",
    };
    tracing::warn!(event = ?item.event.as_ref().map(|e| &e.id), error = %refused, detail, "the database refused a delivery's event");
    let exception = format!("{refused} (the database said: {detail})");
    let record = |draft: Draft| Item {
        draft,
        event: None,
        work: Work::Record { outcome: Outcome::Invalid, exception: exception.clone() },
    };
    let bare = Draft { endpoint_id: None, remote_ip: String::new(), headers: "{}".into(), ..item.draft.clone() };
    for attempt in [record(item.draft.clone()), record(bare)] {
        match transact(db, pinned, |conn| {
            run_items(conn, handlers, metrics, std::slice::from_ref(&attempt), &mut Vec::new(), true)
        }) {
            Ok(mut done) => {
                let mut receipt = done.pop().expect("one receipt per item");
                // A delivery that failed validation keeps the error that rejected it (attached
                // by its `Pending`); one with an event is answered with the refusal.
                if item.event.is_some() {
                    receipt.error = Some(refused);
                }
                return Ok(receipt);
            }
            Err(error @ Error::DatabaseUnavailable { .. }) => return Err(error),
            Err(again) => tracing::warn!(error = %again, "the trigger row of a refused delivery was refused too"),
        }
    }
    tracing::error!(error = %refused, "could not record a refused delivery at all");
    Err(refused)
}

/// Answers failed items with their errors; first keeps at least the audit rows of fresh
/// deliveries, in one transaction, if the database lets it (outcome `failed` for a valid one,
/// so that it can be reprocessed, `invalid` for the rest).
fn fail(
    db: &Database,
    handlers: &HandlerSet,
    metrics: &Metrics,
    failed: Vec<(&Item, Error)>,
) -> Vec<Result<Receipt, Error>> {
    let audit: Vec<Item> = failed
        .iter()
        .filter(|(i, _)| matches!(i.work, Work::Process(Mode::Deliver) | Work::Record { .. } | Work::Enqueue))
        .map(|(i, error)| Item {
            draft: i.draft.clone(),
            event: i.event.clone(),
            work: Work::Record {
                outcome: if i.event.is_some() { Outcome::Failed } else { Outcome::Invalid },
                // A `DatabaseUnavailable` (or the `NotFound` of a replay, never audited).
                exception: error.to_string(),
            },
        })
        .collect();
    if !audit.is_empty() {
        let recorded =
            transact(db, &mut None, |conn| run_items(conn, handlers, metrics, &audit, &mut Vec::new(), false));
        if let Err(again) = recorded {
            tracing::error!(error = %again, "could not record the failed deliveries either");
        }
    }
    failed.into_iter().map(|(_, error)| Err(same_error(&error))).collect()
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
pub(super) fn run_single(
    db: &Database,
    handlers: &HandlerSet,
    metrics: &Metrics,
    item: Item,
) -> Result<Receipt, Error> {
    let (mut results, callbacks) = run_batch(db, handlers, metrics, &mut None, std::slice::from_ref(&item));
    run_on_commit(callbacks);
    results.pop().expect("one result per item")
}
