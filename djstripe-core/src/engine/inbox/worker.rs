//! One inbox worker: claim due rows, process each event in a transaction of its own, settle it.

use std::sync::atomic::Ordering;
use std::time::Duration;

use diesel::Connection;

use super::Shared;
use crate::db::inbox::{self as rows, Failure};
use crate::db::queries::{finish_trigger, insert_event_if_new};
use crate::db::{DbConnection, InboxEntry, Outcome, StoredEvent, WebhookEventTrigger, classify_error};
use crate::engine::Receipt;
use crate::engine::process::{Savepoint, describe, run_watched};
use crate::handler::{Callback, run_on_commit};
use crate::hooks::{self, Cause, HookCall, PostProcess, PreProcess, ProcessingError, Stage};
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
                match done {
                    Settled::Retried => shared.metrics.inbox().retried(),
                    Settled::Dead => shared.metrics.inbox().dead_lettered(),
                    _ => {}
                }
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
    let hooked = Hooked::before(shared, entry, &event);
    // For the hooks after the transaction: how many handlers committed, why the attempt failed.
    let (mut committed_handlers, mut failure) = (0, None);
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
            let ran = run_watched(&handlers, &event, &mut ctx, &shared.metrics)?;
            callbacks = ctx.take_on_commit();
            Ok(ran)
        })?;
        match ran {
            Ok(ran) => {
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
                if outcome == Outcome::Processed {
                    committed_handlers = ran;
                }
                Ok(if outcome == Outcome::Processed { Settled::Processed } else { Settled::Duplicate })
            }
            Err(failed) => {
                let settled = settle_failure(conn, shared, entry, token, &failed, now);
                failure = Some(failed);
                settled
            }
        }
    });
    if let Some(hooked) = hooked {
        hooked.after(&settled, committed_handlers, failure.as_ref());
    }
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

/// The processing hooks of one inbox event ([`crate::hooks`]), as inline: `pre_process` before
/// its transaction, `post_process` (processed, duplicate) or `processing_error` (a handler
/// failed: retried or dead-lettered; the database failed) after it, outside it. A worker that lost
/// its lease runs neither after: the worker that took the event over reports it.
struct Hooked<'a> {
    shared: &'a Shared,
    entry: &'a InboxEntry,
    event: &'a Event,
    /// The trigger row, for the request side of the hooks' argument.
    trigger: Option<WebhookEventTrigger>,
}

impl<'a> Hooked<'a> {
    /// Runs the `pre_process` hooks; `None` (and no query) when no processing hook is registered.
    fn before(shared: &'a Shared, entry: &'a InboxEntry, event: &'a Event) -> Option<Self> {
        if !hooks::registered(Stage::PreProcess)
            && !hooks::registered(Stage::PostProcess)
            && !hooks::registered(Stage::ProcessingError)
        {
            return None;
        }
        let trigger = shared.db.trigger(entry.trigger_id).ok();
        let hooked = Hooked { shared, entry, event, trigger };
        let call = PreProcess { trigger: hooked.trigger(), event, cause: hooked.cause() };
        hooks::run(&shared.handlers, &HookCall::PreProcess(call));
        Some(hooked)
    }

    fn after(&self, settled: &Result<Settled, Abort>, handlers: usize, failure: Option<&Error>) {
        let (trigger, event, cause, trigger_id) = (self.trigger(), self.event, self.cause(), self.entry.trigger_id);
        let call = match (settled, failure) {
            (Ok(done @ (Settled::Processed | Settled::Duplicate)), _) => {
                let outcome = if *done == Settled::Processed { Outcome::Processed } else { Outcome::Duplicate };
                let receipt = Receipt { trigger_id, outcome, event_id: Some(event.id.clone()), handlers, error: None };
                return hooks::run(
                    &self.shared.handlers,
                    &HookCall::PostProcess(PostProcess { trigger, event, cause, receipt: &receipt }),
                );
            }
            (Ok(settled @ (Settled::Retried | Settled::Dead)), Some(error)) => ProcessingError {
                trigger,
                event,
                cause,
                error,
                trigger_id: Some(trigger_id),
                will_retry: *settled == Settled::Retried,
            },
            // Not the handlers' doing (the database failed): the event stays queued.
            (Err(Abort::Failed(error)), _) => {
                ProcessingError { trigger, event, cause, error, trigger_id: Some(trigger_id), will_retry: true }
            }
            _ => return,
        };
        hooks::run(&self.shared.handlers, &HookCall::ProcessingError(call));
    }

    fn trigger(&self) -> hooks::Trigger<'_> {
        match &self.trigger {
            Some(row) => hooks::Trigger {
                endpoint_id: row.webhook_endpoint_id,
                remote_ip: &row.remote_ip,
                headers: &row.headers,
                body: &row.body,
                reprocess_of: row.reprocess_of,
            },
            // The row could not be read (the database failed meanwhile): the event's fields only.
            None => hooks::Trigger { endpoint_id: None, remote_ip: "", headers: "{}", body: &[], reprocess_of: None },
        }
    }

    fn cause(&self) -> Cause {
        Cause::Inbox { trigger_id: self.entry.trigger_id, attempt: self.entry.attempts.saturating_add(1).max(1) as u32 }
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
