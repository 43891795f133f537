//! Webhook event triggers (dj-stripe's `WebhookEventTrigger`: one stored request to an
//! endpoint): the filtered, paginated list, one trigger in full, and reprocessing a failed one.

use djstripe_core::app::Blocking;
use djstripe_core::db::{TriggerFilter, WebhookEndpoint, WebhookEventTrigger};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::{Page, first_line, non_empty, notice, page_window, yes_no};
use crate::render::{pretty_json, time};
use crate::{AdminResponse, Error, Result};

#[derive(Deserialize, Serialize, Default)]
struct ListQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    valid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    processed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    event_type: Option<String>,
    #[serde(skip_serializing)]
    page: Option<u32>,
}

impl ListQuery {
    fn filter(&self) -> Result<TriggerFilter> {
        let endpoint = match non_empty(&self.endpoint) {
            None => None,
            Some(id) => Some(id.parse::<i64>().map_err(|_| Error::EndpointId { value: id.to_owned() })?),
        };
        Ok(TriggerFilter {
            valid: yes_no("valid", &self.valid)?,
            processed: yes_no("processed", &self.processed)?,
            failed: yes_no("failed", &self.failed)?.unwrap_or(false),
            endpoint,
            event_type: non_empty(&self.event_type).map(str::to_owned),
        })
    }

    /// The query string of these filters (without the page), for pagination links.
    fn filters_query(&self) -> String {
        let cleaned = ListQuery {
            valid: non_empty(&self.valid).map(str::to_owned),
            processed: non_empty(&self.processed).map(str::to_owned),
            failed: non_empty(&self.failed).map(str::to_owned),
            endpoint: non_empty(&self.endpoint).map(str::to_owned),
            event_type: non_empty(&self.event_type).map(str::to_owned),
            page: None,
        };
        serde_urlencoded::to_string(&cleaned).unwrap_or_default()
    }
}

/// One row of the list.
#[derive(Serialize)]
struct Row {
    id: i64,
    created: String,
    event_type: Option<String>,
    event_id: Option<String>,
    valid: bool,
    processed: bool,
    outcome: &'static str,
    error: String,
    endpoint: Option<i64>,
    reprocess_of: Option<i64>,
}

fn row(t: &WebhookEventTrigger) -> Row {
    let error = first_line(&t.exception, 120);
    Row {
        id: t.id,
        created: time(t.created),
        event_type: t.event_type.clone(),
        event_id: t.event_id.clone(),
        valid: t.valid,
        processed: t.processed,
        outcome: t.outcome.as_str(),
        error,
        endpoint: t.webhook_endpoint_id,
        reprocess_of: t.reprocess_of,
    }
}

/// An endpoint as a filter choice: id and a label (never its secret).
#[derive(Serialize)]
struct EndpointChoice {
    id: i64,
    label: String,
}

fn choice(e: &WebhookEndpoint) -> EndpointChoice {
    let label =
        if e.description.is_empty() { format!("#{} {}", e.id, e.url) } else { format!("#{} {}", e.id, e.description) };
    EndpointChoice { id: e.id, label }
}

pub(crate) async fn list<B: Blocking>(p: &Page<'_, B>) -> Result<AdminResponse> {
    let query: ListQuery = p.query()?;
    let filter = query.filter()?;
    let size = p.admin.config.page_size;
    let (offset, page_number) = page_window(query.page, size);
    let db = p.db();
    let (mut triggers, endpoints) =
        p.run(move || Ok((db.triggers(&filter, offset, size + 1)?, db.endpoints()?))).await?;
    let has_next = triggers.len() as i64 > size;
    triggers.truncate(size as usize);
    let filters = query.filters_query();
    let ctx = context! {
        section => "triggers",
        rows => triggers.iter().map(row).collect::<Vec<_>>(),
        endpoints => endpoints.iter().map(choice).collect::<Vec<_>>(),
        q => context! {
            valid => non_empty(&query.valid), processed => non_empty(&query.processed),
            failed => non_empty(&query.failed), endpoint => non_empty(&query.endpoint),
            type => non_empty(&query.event_type),
        },
        page => page_number,
        prev_page => (page_number > 1).then(|| page_number - 1),
        next_page => has_next.then(|| page_number + 1),
        filters,
        not_recorded => p.admin.djstripe.engine().rejected_not_recorded(),
    };
    p.page("triggers.html", ctx)
}

#[derive(Deserialize)]
struct DetailQuery {
    done: Option<String>,
}

pub(crate) async fn detail<B: Blocking>(p: &Page<'_, B>, id: i64) -> Result<AdminResponse> {
    let query: DetailQuery = p.query()?;
    let db = p.db();
    let (t, attempts) = p
        .run(move || {
            let t = db.trigger(id)?;
            // Reprocessing attempts carry the same event type; look among the newest of that type.
            let filter = TriggerFilter { event_type: t.event_type.clone(), ..Default::default() };
            let attempts = match &t.event_type {
                Some(_) => db.triggers(&filter, 0, 500)?.into_iter().filter(|a| a.reprocess_of == Some(id)).collect(),
                None => Vec::new(),
            };
            Ok((t, attempts))
        })
        .await?;
    let reprocessable = t.reprocessable().is_ok();
    let body = String::from_utf8_lossy(&t.body);
    let ctx = context! {
        section => "triggers",
        t => row(&t),
        updated => time(t.updated),
        remote_ip => &t.remote_ip,
        account => &t.account,
        headers => pretty_json(&t.headers),
        body => pretty_json(&body),
        body_truncated => t.body_truncated,
        exception => &t.exception,
        traceback => &t.traceback,
        version => &t.djstripe_version,
        reprocessable,
        attempts => attempts.iter().map(row).collect::<Vec<_>>(),
        notice => notice(&query.done),
    };
    p.page("trigger.html", ctx)
}

pub(crate) async fn reprocess<B: Blocking>(p: &Page<'_, B>, id: i64) -> Result<AdminResponse> {
    p.form::<serde::de::IgnoredAny>()?;
    let engine = p.admin.djstripe.engine().clone();
    let receipt = p.run(move || engine.process_trigger(id)).await?;
    tracing::info!(
        trigger = id,
        attempt = receipt.trigger_id,
        outcome = receipt.outcome.as_str(),
        "reprocessed from the admin"
    );
    // Inbox mode: a dead letter is queued again, not processed here.
    let done = if receipt.outcome == djstripe_core::db::Outcome::Queued { "requeued" } else { "reprocessed" };
    Ok(p.see_other(&format!("/triggers/{}/?done={done}", receipt.trigger_id)))
}
