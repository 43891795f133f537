//! The transaction of one delivery: trigger row, then — in a savepoint — event row and handlers.

use diesel::Connection;

use super::Outcome;
use crate::db::queries::{finish_trigger, insert_event_if_new, insert_trigger, mark_reprocessed, mark_replayed};
use crate::db::{Database, NewTrigger, StoredEvent, classify_error};
use crate::handler::run_on_commit;
use crate::{Error, Event, HandlerContext, dispatch};

/// The request-side fields of a trigger row.
pub(super) struct Draft<'a> {
    pub endpoint_id: Option<i64>,
    pub remote_ip: &'a str,
    pub headers: &'a str,
    pub body: &'a [u8],
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

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn row<'a>(
    draft: &'a Draft<'a>,
    event: Option<&'a Event>,
    valid: bool,
    processed: bool,
    outcome: &'a str,
    error: Option<&'a Error>,
) -> (NewTrigger<'a>, String, String) {
    let now = chrono::Utc::now().naive_utc();
    let (exception, traceback) = match error {
        Some(Error::Handler { message, trace, handler }) => (format!("handler `{handler}` failed: {message}"), trace.clone()),
        Some(e) => (e.to_string(), String::new()),
        None => (String::new(), String::new()),
    };
    let trigger = NewTrigger {
        created: now,
        updated: now,
        remote_ip: draft.remote_ip,
        headers: draft.headers,
        body: draft.body,
        body_truncated: draft.body_truncated,
        valid,
        processed,
        outcome,
        exception: "",
        traceback: "",
        event_id: event.map(|e| e.id.as_str()),
        event_type: event.map(|e| e.type_.as_str()),
        webhook_endpoint_id: draft.endpoint_id,
        account: event.and_then(|e| e.account.as_deref()),
        reprocess_of: draft.reprocess_of,
        djstripe_version: VERSION,
    };
    (trigger, exception, traceback)
}

/// Writes one trigger row in its own transaction (invalid deliveries, test events, queued ones).
fn write(db: &Database, draft: &Draft<'_>, event: Option<&Event>, valid: bool, processed: bool, outcome: &str, error: Option<&Error>) -> Result<i64, Error> {
    let (mut trigger, exception, traceback) = row(draft, event, valid, processed, outcome, error);
    trigger.exception = &exception;
    trigger.traceback = &traceback;
    let _writer = db.writer_lock();
    let mut conn = db.get()?;
    insert_trigger(&mut conn, &trigger)
}

/// Records a delivery that failed validation.
pub(super) fn record(db: &Database, draft: &Draft<'_>, event: Option<&Event>, outcome: &str, error: &Error) -> Result<i64, Error> {
    write(db, draft, event, false, false, outcome, Some(error))
}

/// Records a valid delivery that is not processed inline (test event, queued).
pub(super) fn record_valid(db: &Database, draft: &Draft<'_>, event: &Event, processed: bool, outcome: &str) -> Result<i64, Error> {
    write(db, draft, Some(event), true, processed, outcome, None)
}

/// Marks a trigger failed with `error`.
pub(super) fn fail_trigger(db: &Database, id: i64, error: &Error) -> Result<(), Error> {
    let (message, trace) = describe(error);
    let _writer = db.writer_lock();
    let mut conn = db.get()?;
    finish_trigger(&mut conn, id, false, "failed", &message, &trace)
}

fn describe(error: &Error) -> (String, String) {
    match error {
        Error::Handler { trace, .. } => (error.to_string(), trace.clone()),
        other => (other.to_string(), String::new()),
    }
}

/// Processes a valid event exactly once; see the module docs of [`super`] for the guarantees.
pub(super) fn process(db: &Database, draft: &Draft<'_>, event: &Event, mode: Mode) -> Result<Outcome, Error> {
    let started = std::time::Instant::now();
    let now = chrono::Utc::now().naive_utc();
    let stored = StoredEvent::from_event(event, now)?;
    let mut callbacks = Vec::new();
    let writer = db.writer_lock();
    let mut conn = db.get()?;
    let result = conn.transaction::<Outcome, Error, _>(|conn| {
        let trigger_id = match mode {
            Mode::Queued(id) => id,
            _ => {
                let (trigger, _, _) = row(draft, Some(event), true, false, "processing", None);
                insert_trigger(conn, &trigger)?
            }
        };
        // The savepoint: a failure here rolls back the event row and the handlers' writes only.
        let attempt = conn.transaction::<Option<usize>, Error, _>(|conn| {
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
            callbacks = ctx.take_on_commit();
            Ok(Some(ran))
        });
        let event_id = event.id.clone();
        let outcome = match attempt {
            Ok(Some(handlers)) if mode == Mode::Replay => Outcome::Replayed { trigger_id, event_id, handlers },
            Ok(Some(handlers)) => Outcome::Processed { trigger_id, event_id, handlers },
            Ok(None) => Outcome::Duplicate { trigger_id, event_id },
            Err(error @ Error::Handler { .. }) => Outcome::Failed { trigger_id, event_id, error },
            Err(other) => return Err(other),
        };
        let (exception, traceback) = match &outcome {
            Outcome::Failed { error, .. } => describe(error),
            _ => Default::default(),
        };
        finish_trigger(conn, trigger_id, outcome.is_success(), outcome.label(), &exception, &traceback)?;
        if let (Mode::Reprocess(original), true) = (mode, outcome.is_success()) {
            mark_reprocessed(conn, original)?;
        }
        Ok(outcome)
    });
    drop(conn);
    drop(writer);
    match result {
        Ok(outcome) => {
            if matches!(outcome, Outcome::Processed { .. } | Outcome::Replayed { .. }) {
                run_on_commit(callbacks);
            }
            tracing::debug!(event_id = %event.id, outcome = outcome.label(), elapsed_us = started.elapsed().as_micros() as u64, "event processed");
            Ok(outcome)
        }
        Err(error) => {
            let error = classify_error(error);
            // Nothing of the transaction committed; keep at least the audit row if we can.
            if mode == Mode::Deliver
                && let Err(again) = write(db, draft, Some(event), true, false, "failed", Some(&error))
            {
                tracing::error!(error = %again, "could not record the failed delivery either");
            }
            Err(error)
        }
    }
}
