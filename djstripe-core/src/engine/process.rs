//! The transaction of a batch of deliveries: for each, in a savepoint, the event row and the
//! handlers; then its trigger row with the outcome; one commit for the whole batch.

use diesel::Connection;

use super::Outcome;
use crate::db::queries::{finish_trigger, insert_event_if_new, insert_trigger, mark_replayed, mark_reprocessed};
use crate::db::{Database, DbConnection, NewTrigger, PooledConnection, StoredEvent, classify_error};
use crate::handler::{Callback, run_on_commit};
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
    /// Process the event (it must be `Some`).
    Process(Mode),
    /// Only record a trigger row (invalid delivery, test event, queued one).
    Record { valid: bool, processed: bool, outcome: &'static str, exception: String },
}

/// One item of a batch.
#[derive(Debug)]
pub(super) struct Item {
    pub draft: Draft,
    pub event: Option<Event>,
    pub work: Work,
}

/// What an item came to.
#[derive(Debug)]
pub(super) enum Done {
    /// An event was processed (or found a duplicate, or failed in its handlers).
    Outcome(Outcome),
    /// A trigger row was recorded; its id.
    Recorded(i64),
}

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn describe(error: Option<&Error>) -> (String, String) {
    match error {
        Some(error @ Error::Handler { trace, .. }) => (error.to_string(), trace.clone()),
        Some(other) => (other.to_string(), String::new()),
        None => (String::new(), String::new()),
    }
}

/// Inserts a trigger row in its final state.
fn insert_final(
    conn: &mut DbConnection,
    draft: &Draft,
    event: Option<&Event>,
    (valid, processed, outcome): (bool, bool, &str),
    (exception, traceback): (&str, &str),
) -> Result<i64, Error> {
    let now = chrono::Utc::now().naive_utc();
    let trigger = NewTrigger {
        created: now,
        updated: now,
        remote_ip: &draft.remote_ip,
        headers: &draft.headers,
        body: &draft.body,
        body_truncated: draft.body_truncated,
        valid,
        processed,
        outcome,
        exception,
        traceback,
        event_id: event.map(|e| e.id.as_str()),
        event_type: event.map(|e| e.type_.as_str()),
        webhook_endpoint_id: draft.endpoint_id,
        account: event.and_then(|e| e.account.as_deref()),
        reprocess_of: draft.reprocess_of,
        djstripe_version: VERSION,
    };
    insert_trigger(conn, &trigger)
}

/// Processes one event inside the batch's transaction: a savepoint around the event row and the
/// handlers (a failure rolls back just those), then the trigger row with the outcome.
fn process_one(
    conn: &mut DbConnection,
    item: &Item,
    event: &Event,
    mode: Mode,
    callbacks: &mut Vec<Callback>,
) -> Result<Outcome, Error> {
    let now = chrono::Utc::now().naive_utc();
    let stored = StoredEvent::from_event(event, now)?;
    let attempt = conn.transaction::<Option<(usize, Vec<Callback>)>, Error, _>(|conn| {
        let fresh = match mode {
            Mode::Replay => mark_replayed(conn, &event.id, now)?
                .then_some(true)
                .ok_or_else(|| Error::NotFound(format!("event {}", event.id)))?,
            _ => insert_event_if_new(conn, &stored)?,
        };
        if !fresh {
            return Ok(None);
        }
        let mut ctx = HandlerContext::new(conn);
        let ran = dispatch::dispatch(event, &mut ctx)?;
        Ok(Some((ran, ctx.take_on_commit())))
    });
    let (handlers, error) = match attempt {
        Ok(Some((ran, mut on_commit))) => {
            callbacks.append(&mut on_commit);
            (Some(ran), None)
        }
        Ok(None) => (None, None),
        Err(error @ Error::Handler { .. }) => (None, Some(error)),
        Err(other) => return Err(other),
    };
    let label = match (&handlers, &error, mode) {
        (_, Some(_), _) => "failed",
        (Some(_), None, Mode::Replay) => "replayed",
        (Some(_), None, _) => "processed",
        (None, None, _) => "duplicate",
    };
    let success = error.is_none();
    let (exception, traceback) = describe(error.as_ref());
    let trigger_id = match mode {
        Mode::Queued(id) => {
            finish_trigger(conn, id, success, label, &exception, &traceback)?;
            id
        }
        _ => insert_final(conn, &item.draft, Some(event), (true, success, label), (&exception, &traceback))?,
    };
    if let (Mode::Reprocess(original), true) = (mode, success) {
        mark_reprocessed(conn, original)?;
    }
    let event_id = event.id.clone();
    Ok(match (handlers, error) {
        (_, Some(error)) => Outcome::Failed { trigger_id, event_id, error },
        (Some(handlers), None) if mode == Mode::Replay => Outcome::Replayed { trigger_id, event_id, handlers },
        (Some(handlers), None) => Outcome::Processed { trigger_id, event_id, handlers },
        (None, None) => Outcome::Duplicate { trigger_id, event_id },
    })
}

fn run_item(conn: &mut DbConnection, item: &Item, callbacks: &mut Vec<Callback>) -> Result<Done, Error> {
    match (&item.work, &item.event) {
        (Work::Record { valid, processed, outcome, exception }, event) => {
            insert_final(conn, &item.draft, event.as_ref(), (*valid, *processed, outcome), (exception, ""))
                .map(Done::Recorded)
        }
        (Work::Process(mode), Some(event)) => process_one(conn, item, event, *mode, callbacks).map(Done::Outcome),
        (Work::Process(_), None) => Err(Error::InvalidEvent("nothing to process".into())),
    }
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
    pinned: &mut Option<PooledConnection>,
    items: &[Item],
) -> (Vec<Result<Done, Error>>, Vec<Callback>) {
    let started = std::time::Instant::now();
    let mut callbacks = Vec::new();
    let result = {
        let _writer = db.writer_lock();
        let conn = match pinned.take() {
            Some(conn) => Ok(conn),
            None => db.get(),
        };
        conn.and_then(|mut conn| {
            let result = conn.transaction::<Vec<Done>, Error, _>(|conn| {
                items.iter().map(|item| run_item(conn, item, &mut callbacks)).collect()
            });
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
                        valid: i.event.is_some(),
                        processed: false,
                        outcome: if i.event.is_some() { "failed" } else { "invalid" },
                        exception: format!("database unavailable: {message}"),
                    },
                })
                .collect();
            if !audit.is_empty() && matches!(error, Error::DatabaseUnavailable(_) | Error::Database(_)) {
                let _writer = db.writer_lock();
                let recorded = db.get().and_then(|mut conn| {
                    conn.transaction::<(), Error, _>(|conn| {
                        audit.iter().try_for_each(|item| run_item(conn, item, &mut Vec::new()).map(drop))
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
        Error::NotFound(m) => Error::NotFound(m.clone()),
        Error::InvalidEvent(m) => Error::InvalidEvent(m.clone()),
        Error::DatabaseUnavailable(m) => Error::DatabaseUnavailable(m.clone()),
        other => Error::DatabaseUnavailable(other.to_string()),
    }
}

/// Marks a trigger failed with `error` (the event callback refused it).
pub(super) fn fail_trigger(db: &Database, id: i64, error: &Error) -> Result<(), Error> {
    let (message, trace) = describe(Some(error));
    let _writer = db.writer_lock();
    let mut conn = db.get()?;
    finish_trigger(&mut conn, id, false, "failed", &message, &trace)
}

/// Runs one item on its own (operator actions: reprocess, replay, queued triggers).
pub(super) fn run_single(db: &Database, item: Item) -> Result<Done, Error> {
    let (mut results, callbacks) = run_batch(db, &mut None, std::slice::from_ref(&item));
    run_on_commit(callbacks);
    results.pop().expect("one result per item")
}
