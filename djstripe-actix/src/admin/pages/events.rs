//! Stored events: the list (filter by type) and one event with its JSON and matching handlers.

use actix_web::{HttpRequest, HttpResponse, web};
use djstripe_core::registry;
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::{non_empty, page_window};
use crate::admin::Admin;
use crate::admin::pages::handlers::Handler;
use crate::admin::render::{PageError, blocking, page, time};

#[derive(Deserialize)]
pub(crate) struct ListQuery {
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
}

pub(crate) async fn list(
    req: HttpRequest,
    admin: web::Data<Admin>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let size = admin.config.page_size;
    let (offset, page_number) = page_window(query.page, size);
    let event_type = non_empty(&query.event_type).map(str::to_owned);
    let db = admin.djstripe.engine().database().clone();
    let filter = event_type.clone();
    let mut events = blocking(move || Ok(db.events(filter.as_deref(), offset, size + 1)?)).await?;
    let has_next = events.len() as i64 > size;
    events.truncate(size as usize);
    let rows: Vec<Row> = events
        .iter()
        .map(|e| Row {
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
    Ok(page(&req, &admin, "events.html", ctx))
}

pub(crate) async fn detail(
    req: HttpRequest,
    admin: web::Data<Admin>,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let id = id.into_inner();
    let db = admin.djstripe.engine().database().clone();
    let stored = blocking(move || Ok(db.event(&id)?)).await?;
    let json = stored
        .to_event()
        .ok()
        .and_then(|event| serde_json::to_string_pretty(&event).ok())
        .unwrap_or_else(|| crate::admin::render::pretty_json(&stored.data));
    let handlers: Vec<Handler> = registry::handlers_for(&stored.type_).into_iter().map(Handler::from).collect();
    let ctx = context! {
        section => "events",
        e => context! {
            id => &stored.id, type => &stored.type_, api_version => &stored.api_version,
            created => time(stored.created), received => time(stored.received), processed => time(stored.processed),
            livemode => stored.livemode, account => &stored.account, request_id => &stored.request_id,
            times_processed => stored.times_processed,
        },
        json,
        handlers,
    };
    Ok(page(&req, &admin, "event.html", ctx))
}
