//! Stored events: the list (filter by type) and one event with its JSON and matching handlers.

use djstripe_core::app::Blocking;
use djstripe_core::registry;
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::handlers::Handler;
use super::{Page, non_empty, page_window};
use crate::render::{pretty_json, time};
use crate::{AdminResponse, Result};

#[derive(Deserialize)]
struct ListQuery {
    #[serde(rename = "type")]
    event_type: Option<String>,
    page: Option<u32>,
}

#[derive(Serialize)]
struct Row {
    id: String,
    event_type: String,
    created: String,
    received: String,
    livemode: bool,
    account: Option<String>,
    times_processed: i32,
    /// A v2 event notification ("thin" event).
    v2: bool,
    /// The event's `context` (v2 events; newer v1 ones too).
    context: Option<String>,
    /// A v2 event's related object: `type id`.
    related: Option<String>,
}

/// A v2 event's related object, as the pages show it: `type id`.
fn related(event: &djstripe_core::Event) -> Option<String> {
    event.related_object.as_ref().map(|r| format!("{} {}", r.type_, r.id))
}

pub(crate) async fn list<B: Blocking>(p: &Page<'_, B>) -> Result<AdminResponse> {
    let query: ListQuery = p.query()?;
    let size = p.admin.config.page_size;
    let (offset, page_number) = page_window(query.page, size);
    let event_type = non_empty(&query.event_type).map(str::to_owned);
    let djstripe = p.admin.djstripe.clone();
    let filter = event_type.clone();
    // The handlers' matching rule: `customer` lists every customer.* event.
    let mut events = p.run(move || djstripe.events(filter.as_deref(), offset, size + 1)).await?;
    let has_next = events.len() as i64 > size;
    events.truncate(size as usize);
    let rows: Vec<Row> = events
        .iter()
        .map(|e| {
            // A row that does not read back still lists, by its columns.
            let event = e.to_event().ok();
            (e, event)
        })
        .map(|(e, event)| Row {
            v2: event.as_ref().is_some_and(djstripe_core::Event::is_thin),
            context: event.as_ref().and_then(|event| event.context.clone()),
            related: event.as_ref().and_then(related),
            id: e.id.clone(),
            event_type: e.type_.clone(),
            created: time(e.created),
            received: time(e.received),
            livemode: e.livemode,
            account: e.account.clone(),
            times_processed: e.times_processed,
        })
        .collect();
    let filters = event_type
        .as_deref()
        .map(|t| serde_urlencoded::to_string([("type", t)]).unwrap_or_default())
        .unwrap_or_default();
    let ctx = context! {
        section => "events",
        rows,
        type => event_type,
        page => page_number,
        prev_page => (page_number > 1).then(|| page_number - 1),
        next_page => has_next.then(|| page_number + 1),
        filters,
    };
    p.page("events.html", ctx)
}

pub(crate) async fn detail<B: Blocking>(p: &Page<'_, B>, id: &str) -> Result<AdminResponse> {
    // The path is as sent: links percent-encode the id (`{{ id | segment }}`).
    let id = percent_encoding::percent_decode_str(id).decode_utf8_lossy().into_owned();
    let db = p.db();
    let stored = p.run(move || db.event(&id)).await?;
    let event = stored.to_event().ok();
    let json = event
        .as_ref()
        .and_then(|event| serde_json::to_string_pretty(event).ok())
        .unwrap_or_else(|| pretty_json(&stored.data));
    let related_object = event.as_ref().and_then(|event| event.related_object.as_ref()).map(|r| {
        context! { id => &r.id, type => &r.type_, url => &r.url }
    });
    let handlers: Vec<Handler> = registry::handlers_for(&stored.type_).into_iter().map(Handler::from).collect();
    let ctx = context! {
        section => "events",
        e => context! {
            id => &stored.id, type => &stored.type_, api_version => &stored.api_version,
            created => time(stored.created), received => time(stored.received), processed => time(stored.processed),
            livemode => stored.livemode, account => &stored.account, request_id => &stored.request_id,
            times_processed => stored.times_processed,
            v2 => event.as_ref().is_some_and(djstripe_core::Event::is_thin),
            context => event.as_ref().and_then(|event| event.context.clone()),
            data_fetched => event.as_ref().is_some_and(|event| event.v2_data().is_some()),
            related_object,
        },
        json,
        handlers,
    };
    p.page("event.html", ctx)
}
