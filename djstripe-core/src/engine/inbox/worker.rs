//! One inbox worker: claim due rows, process each event in a transaction of its own, settle it.

use std::sync::atomic::Ordering;
use std::time::Duration;

use diesel::Connection;

use super::Shared;
use crate::db::inbox::{self as rows, Failure};
use crate::db::queries::{finish_trigger, insert_event_if_new};
use crate::db::{DbConnection, InboxEntry, Outcome, StoredEvent, classify_error};
use crate::engine::process::{Savepoint, describe, run_watched};
use crate::handler::{Callback, run_on_commit};
use crate::logging::escaped_display;
use crate::registry::HandlerRegistration;
use crate::{Error, Event, HandlerContext};

/// What became of one claimed inbox event.
///
/// ```
/// use djstripe_core::engine::inbox::Settled;
/// assert_ne!(Settled::Processed, Settled::Dead);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Its handlers committed; the row is gone, the trigger `processed`.
    Processed,
    /// It was processed already (a replay, a reprocess, another instance): nothing ran again.
    Duplicate,
    /// A handler failed; due again after the backoff.
    Retried,
    /// A handler failed for the last time (attempts or age): dead-lettered, trigger `failed`.
    Dead,
    /// Another worker took the row over after this one's lease ran out: rolled back.
    Lost,
}

/// Why a processing transaction was rolled back instead of settling the row.
enum Abort {
    /// The lease was lost: another worker holds the row.
    Lost,
    Failed(Error),
}

impl From<diesel::result::Error> for Abort {
    fn from(error: diesel::result::Error) -> Self {
        Abort::Failed(classify_error(error.into()))
    }
}

impl From<Error> for Abort {
    fn from(error: Error) -> Self {
        Abort::Failed(error)
    }
}

/// The worker's loop, until the inbox stops.
pub(super) fn run(shared: &Shared) {
    let mut seen = shared.signal.generation();
    let mut failing = false;
    while !shared.stop.load(Ordering::SeqCst) {
        match pass(shared) {
            Ok(settled) if !settled.is_empty() => {
                failing = false;
                continue;
            }
            Ok(_) => failing = false,
            Err(error) => {
                // One line when the database starts failing, not one per poll.
                if !failing {
                    tracing::warn!(error = %error, "inbox: cannot claim events; retrying");
                }
                failing = true;
            }
        }
        let wait = idle_wait(shared).unwrap_or(shared.config.poll);
        seen = shared.signal.wait(seen, wait);
    }
}

/// How long an idle worker may sleep: until the next row falls due, at most the poll interval.
fn idle_wait(shared: &Shared) -> Result<Duration, Error> {
    let mut conn = shared.db.get()?;
    let now = chrono::Utc::now().naive_utc();
    Ok(match rows::next_due(&mut conn)? {
        // Due but held back (an older event of its object waits, or a lease): poll.
        Some(due) if due > now => (due - now).to_std().unwrap_or_default().min(shared.config.poll),
        _ => shared.config.poll,
    })
}

/// One claim and the processing of what it got; an empty result means nothing was due.
pub(super) fn pass(shared: &Shared) -> Result<Vec<Settled>, Error> {
    let token = uuid::Uuid::new_v4().simple().to_string();
    let now = chrono::Utc::now().naive_utc();
    let until = now + chrono::Duration::from_std(shared.config.lease).unwrap_or(chrono::Duration::minutes(1));
    let claimed = {
        let _writer = shared.db.writer_lock();
        let mut conn = shared.db.get()?;
        let limit = shared.config.batch.max(1) as i64;
        conn.transaction(|c| rows::claim(c, &token, now, until, limit).map_err(Abort::Failed)).map_err(|abort| {
            match abort {
                Abort::Failed(error) => error,
                Abort::Lost => unreachable!("a claim loses no lease"),
            }
        })?
    };
    let mut settled = Vec::with_capacity(claimed.len());
    for entry in &claimed {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        shared.busy.fetch_add(1, Ordering::SeqCst);
        let outcome = process(shared, entry, &token);
        shared.busy.fetch_sub(1, Ordering::SeqCst);
        match outcome {
            Ok(done) => {
                shared.counters.count(done);
                settled.push(done);
            }
            Err(error) => {
                // Not the handlers' doing (the database failed): no attempt counted; the row is
                // released for the next claim, or, if even that fails, waits for the lease.
                tracing::warn!(event = %entry.event_id, error = %error, "inbox: processing interrupted; the event stays queued");
                break;
            }
        }
    }
    if settled.len() < claimed.len() {
        let _writer = shared.db.writer_lock();
        if let Err(error) = shared.db.get().and_then(|mut conn| rows::release(&mut conn, &token)) {
            tracing::warn!(error = %error, "inbox: could not release claims; they pass when the lease does");
        }
    }
    Ok(settled)
}

/// Processes one claimed event in its own transaction and settles its row.
fn process(shared: &Shared, entry: &InboxEntry, token: &str) -> Result<Settled, Error> {
    let event = match Event::from_slice(entry.event.as_bytes()) {
        Ok(event) => event,
        // Stored by this program, so only a changed parser or a hand-edited row gets here.
        Err(error) => return give_up(shared, entry, token, &error),
    };
    let mut handlers = shared.handlers.handlers_for(event.event_type());
    let mut conn = shared.db.get()?;
    // The stale guard reads before the transaction begins (on SQLite a read would pin the
    // transaction's snapshot ahead of its first write); the object's events run one at a time,
    // so the watermark cannot move meanwhile.
    let note = skip_stale(&mut conn, entry, &mut handlers)?;
    let mut callbacks: Vec<Callback> = Vec::new();
    let now = chrono::Utc::now().naive_utc();
    let settled = conn.transaction::<Settled, Abort, _>(|conn| {
        if !rows::hold(conn, &entry.event_id, token)? {
            return Err(Abort::Lost);
        }
        // The handlers come first: on SQLite this transaction takes the write lock at their
        // first write (see the module's documentation), not before they begin.
        let mut savepoint = Savepoint::default();
        let ran = savepoint.run(conn, |conn| {
            let mut ctx = HandlerContext::new(conn);
            let ran = run_watched(&handlers, &event, &mut ctx)?;
            callbacks = ctx.take_on_commit();
            Ok(ran)
        })?;
        match ran {
            Ok(_) => {
                let mut stored = StoredEvent::from_event(&event, now)?;
                stored.received = entry.received;
                let outcome = if insert_event_if_new(conn, &stored)? {
                    Outcome::Processed
                } else {
                    savepoint.roll_back(conn)?;
                    callbacks.clear();
                    Outcome::Duplicate
                };
                if !rows::settle_processed(conn, &entry.event_id, token)? {
                    return Err(Abort::Lost);
                }
                finish_trigger(conn, entry.trigger_id, outcome, &note, "")?;
                if outcome == Outcome::Processed
                    && let Some(object) = &entry.object_id
                {
                    rows::raise_watermark(conn, object, entry.event_created, &entry.event_id, now)?;
                }
                Ok(if outcome == Outcome::Processed { Settled::Processed } else { Settled::Duplicate })
            }
            Err(failed) => settle_failure(conn, shared, entry, token, &failed, now),
        }
    });
    match settled {
        Ok(done) => {
            if done == Settled::Processed {
                run_on_commit(std::mem::take(&mut callbacks));
            }
            Ok(done)
        }
        Err(Abort::Lost) => {
            tracing::warn!(event = %entry.event_id, "inbox: the lease ran out and another worker took the event; rolled back");
            Ok(Settled::Lost)
        }
        Err(Abort::Failed(error)) => Err(error),
    }
}

/// Leaves out the `skip_stale` handlers when a newer event of the same object was processed
/// already; returns the note for the trigger row (empty when none was skipped).
fn skip_stale(
    conn: &mut DbConnection,
    entry: &InboxEntry,
    handlers: &mut Vec<&'static HandlerRegistration>,
) -> Result<String, Error> {
    let Some(object) = entry.object_id.as_deref().filter(|_| handlers.iter().any(|h| h.skips_stale())) else {
        return Ok(String::new());
    };
    let Some((created, newest)) = rows::watermark(conn, object)? else { return Ok(String::new()) };
    if (created, newest.as_str()) <= (entry.event_created, entry.event_id.as_str()) {
        return Ok(String::new());
    }
    let skipped: Vec<&str> = handlers.iter().filter(|h| h.skips_stale()).map(|h| h.path()).collect();
    handlers.retain(|h| !h.skips_stale());
    tracing::info!(event = %entry.event_id, object, newer = %newest, "inbox: stale event: skip_stale handlers skipped");
    Ok(format!(
        "stale: skipped {} (skip_stale): {newest} of {} about {object} was processed already",
        skipped.join(", "),
        created.format("%Y-%m-%d %H:%M:%S UTC")
    ))
}

/// Counts a failed attempt in the row (due again after the backoff, or dead) and in the trigger.
fn settle_failure(
    conn: &mut DbConnection,
    shared: &Shared,
    entry: &InboxEntry,
    token: &str,
    error: &Error,
    now: chrono::NaiveDateTime,
) -> Result<Settled, Abort> {
    let config = &shared.config;
    let attempts = entry.attempts.saturating_add(1);
    let age = (now - entry.received).to_std().unwrap_or_default();
    let dead = attempts as u32 >= config.max_attempts || age >= config.max_age;
    let wait = config.backoff.wait(attempts.saturating_sub(1) as u32);
    let next_attempt = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
    let (exception, traceback) = describe(Some(error));
    let failure = Failure { attempts, dead, next_attempt, error: &exception, now };
    if !rows::settle_failed(conn, &entry.event_id, token, &failure)? {
        return Err(Abort::Lost);
    }
    // Between retries the trigger stays `queued`, with the last error to read.
    let outcome = if dead { Outcome::Failed } else { Outcome::Queued };
    finish_trigger(conn, entry.trigger_id, outcome, &exception, &traceback)?;
    if dead {
        tracing::error!(event = %entry.event_id, attempts, error = %escaped_display(error), "inbox: event dead-lettered");
        Ok(Settled::Dead)
    } else {
        tracing::warn!(
            event = %entry.event_id,
            attempts,
            retry_in_ms = wait.as_millis() as u64,
            error = %escaped_display(error),
            "inbox: handler failed; will retry"
        );
        Ok(Settled::Retried)
    }
}

/// Dead-letters a row whose event cannot be read back.
fn give_up(shared: &Shared, entry: &InboxEntry, token: &str, error: &Error) -> Result<Settled, Error> {
    let now = chrono::Utc::now().naive_utc();
    let mut conn = shared.db.get()?;
    let (exception, traceback) = describe(Some(error));
    let failure =
        Failure { attempts: entry.attempts.saturating_add(1), dead: true, next_attempt: now, error: &exception, now };
    let settled = conn.transaction::<Settled, Abort, _>(|conn| {
        if !rows::settle_failed(conn, &entry.event_id, token, &failure)? {
            return Err(Abort::Lost);
        }
        finish_trigger(conn, entry.trigger_id, Outcome::Failed, &exception, &traceback)?;
        Ok(Settled::Dead)
    });
    match settled {
        Ok(done) => Ok(done),
        Err(Abort::Lost) => Ok(Settled::Lost),
        Err(Abort::Failed(error)) => Err(error),
    }
}
