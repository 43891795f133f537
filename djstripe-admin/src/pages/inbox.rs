//! Inbox mode's queue (`djstripe_inbox`): the events waiting for a worker and the dead-lettered
//! ones, and replaying a dead letter (the CLI's `inbox retry`).

use djstripe_core::app::Blocking;
use djstripe_core::db::{InboxEntry, InboxFilter};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::{Page, first_line, non_empty, notice};
use crate::render::time;
use crate::{AdminResponse, Error, Result};

/// Rows shown at most (the oldest first: what waits longest matters most).
const SHOWN: i64 = 200;

#[derive(Deserialize, Default)]
struct ListQuery {
    state: Option<String>,
    done: Option<String>,
}

#[derive(Serialize)]
struct Row {
    event_id: String,
    event_type: String,
    object_id: Option<String>,
    dead: bool,
    attempts: i32,
    next_attempt: Option<String>,
    claimed: bool,
    received: String,
    trigger_id: i64,
    error: String,
}

fn row(e: &InboxEntry) -> Row {
    let error = first_line(&e.last_error, 120);
    Row {
        event_id: e.event_id.clone(),
        event_type: e.event_type.clone(),
        object_id: e.object_id.clone(),
        dead: e.is_dead(),
        attempts: e.attempts,
        next_attempt: (!e.is_dead()).then(|| time(e.next_attempt)),
        claimed: e.lease_token.is_some(),
        received: time(e.received),
        trigger_id: e.trigger_id,
        error,
    }
}

pub(crate) async fn list<B: Blocking>(p: &Page<'_, B>) -> Result<AdminResponse> {
    let query: ListQuery = p.query()?;
    let dead = match non_empty(&query.state) {
        None => None,
        Some("dead") => Some(true),
        Some("pending") => Some(false),
        Some(other) => return Err(Error::Query(serde::de::Error::custom(format!("state `{other}`: pending or dead")))),
    };
    let db = p.db();
    let (entries, stats) = p
        .run(move || Ok((db.inbox_entries(&InboxFilter { dead, ..Default::default() }, SHOWN)?, db.inbox_stats()?)))
        .await?;
    let ctx = context! {
        section => "inbox",
        rows => entries.iter().map(row).collect::<Vec<_>>(),
        state => non_empty(&query.state),
        pending => stats.pending,
        dead => stats.dead,
        oldest => stats.oldest_pending.map(time),
        shown => SHOWN,
        notice => notice(&query.done),
    };
    p.page("inbox.html", ctx)
}

pub(crate) async fn retry<B: Blocking>(p: &Page<'_, B>, event_id: &str) -> Result<AdminResponse> {
    p.form::<serde::de::IgnoredAny>()?;
    let db = p.db();
    let id = event_id.to_owned();
    let revived = p.run(move || db.retry_inbox(Some(&id))).await?;
    tracing::info!(event = %djstripe_core::logging::escaped_display(&event_id), revived = revived.len(), "inbox event queued again from the admin");
    Ok(p.see_other("/inbox/?done=inbox_retried"))
}
