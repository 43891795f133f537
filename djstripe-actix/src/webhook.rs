//! The webhook routes: raw body in, verified-recorded-dispatched, short JSON answer out.

use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use djstripe_core::engine::{Delivery, Outcome, Target, headers_json};
use futures_util::StreamExt;
use serde_json::json;
use tracing::Instrument;

use crate::client_ip::client_ip;
use crate::{Djstripe, Error};

pub(crate) fn routes(cfg: &mut web::ServiceConfig, djstripe: Djstripe) {
    cfg.app_data(web::Data::new(djstripe)).service(web::scope("/webhook").default_service(web::to(route)));
}

/// `POST /webhook/` (legacy) and `POST /webhook/{uuid}/` (trailing slash optional), told apart
/// here rather than by actix's router: its `{uuid}` segments are regular expressions, run on
/// every delivery, and were 3% of the server's CPU in the profile. The scope's prefix is static.
async fn route(req: HttpRequest, payload: web::Payload, dj: web::Data<Djstripe>) -> HttpResponse {
    let rest = req.match_info().unprocessed();
    let target = match rest.strip_prefix('/').map(|r| r.strip_suffix('/').unwrap_or(r)) {
        None | Some("") => None,
        Some(uuid) if !uuid.contains('/') => Some(uuid.to_owned()),
        Some(_) => return not_found(),
    };
    if req.method() != actix_web::http::Method::POST {
        return method_not_allowed();
    }
    receive(req, target, payload, dj).await
}

fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header(("Allow", "POST"))
        .json(json!({ "status": "error", "error": "only POST is allowed" }))
}

/// The same answer as an unknown endpoint's: it reveals nothing about which paths exist.
fn not_found() -> HttpResponse {
    let error = Error::Core(djstripe_core::Error::NotFound("no such webhook path".into()));
    actix_web::ResponseError::error_response(&error)
}

/// Reads at most `limit` bytes; `Err(partial)` when the body is larger (we keep the first part
/// for the trigger row and stop reading). When `Content-Length` already announces too much, only
/// a prefix a little over `keep` bytes is read: enough for the trigger row (which stores `keep`
/// bytes and marks the body truncated), without taking in the rest.
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
    keep: usize,
) -> Result<web::Bytes, web::Bytes> {
    let declared =
        req.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        let mut prefix = web::BytesMut::new();
        while prefix.len() <= keep {
            match payload.next().await {
                Some(Ok(chunk)) => prefix.extend_from_slice(&chunk),
                _ => break,
            }
        }
        return Err(prefix.freeze());
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(4096).min(limit));
    while let Some(chunk) = payload.next().await {
        let Ok(chunk) = chunk else { return Err(body.freeze()) };
        if body.len() + chunk.len() > limit {
            return Err(body.freeze());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

async fn receive(
    req: HttpRequest,
    uuid: Option<String>,
    payload: web::Payload,
    dj: web::Data<Djstripe>,
) -> HttpResponse {
    let started = Instant::now();
    let span = tracing::info_span!(
        "stripe_webhook",
        endpoint = uuid.as_deref().unwrap_or("legacy"),
        event_id = tracing::field::Empty,
        event_type = tracing::field::Empty,
        outcome = tracing::field::Empty,
        status = tracing::field::Empty,
        duration_ms = tracing::field::Empty,
    );
    async move {
        let limit = dj.config().max_body;
        let keep = dj.engine().config().unverified_body_limit;
        let body = read_body(&req, payload, limit, keep).await;
        let headers = headers_json(req.headers().iter().map(|(k, v)| (k.as_str(), v.as_bytes())));
        let remote_ip = client_ip(&req, &dj.config().trusted_proxies);
        let signature = req.headers().get("stripe-signature").map(|v| v.as_bytes().to_vec());
        let engine = dj.engine().clone();
        let result = match body {
            Ok(body) => receive_valid_size(engine, uuid, body, signature, headers, remote_ip).await.map(|o| (o, false)),
            Err(partial) => web::block(move || {
                let target = uuid.as_deref().map_or(Target::Legacy, Target::Endpoint);
                let delivery = Delivery { target, body: &partial, signature: signature.as_deref(), headers, remote_ip };
                let error = djstripe_core::Error::InvalidEvent(format!("the body exceeds the limit of {limit} bytes"));
                engine.reject(&delivery, error)
            })
            .await
            .map_err(|e| djstripe_core::Error::DatabaseUnavailable(format!("blocking pool: {e}")))
            .and_then(|r| r)
            .map(|o| (o, true)),
        };
        let response = match result {
            Ok((outcome, too_large)) => answer(&outcome, too_large, limit),
            Err(error) => actix_web::ResponseError::error_response(&Error::Core(error)),
        };
        let span = tracing::Span::current();
        span.record("status", response.status().as_u16());
        span.record("duration_ms", started.elapsed().as_secs_f64() * 1000.0);
        tracing::info!("webhook delivery answered");
        response
    }
    .instrument(span)
    .await
}

/// Validates on this async worker when that is a few microseconds of CPU (cached endpoint,
/// signature check, body under 64 KiB), else on the blocking pool (database lookup, a call to
/// Stripe's API, a large body); then awaits the writers' commit without holding any thread.
async fn receive_valid_size(
    engine: djstripe_core::engine::Engine,
    uuid: Option<String>,
    body: web::Bytes,
    signature: Option<Vec<u8>>,
    headers: String,
    remote_ip: String,
) -> Result<Outcome, djstripe_core::Error> {
    let cheap = engine.prepare_is_cheap(uuid.as_deref().map_or(Target::Legacy, Target::Endpoint), body.len());
    let prepare = {
        let engine = engine.clone();
        move || {
            let target = uuid.as_deref().map_or(Target::Legacy, Target::Endpoint);
            engine.prepare(&Delivery { target, body: &body, signature: signature.as_deref(), headers, remote_ip })
        }
    };
    let prepared = if cheap {
        prepare()?
    } else {
        web::block(prepare)
            .await
            .map_err(|e| djstripe_core::Error::DatabaseUnavailable(format!("blocking pool: {e}")))??
    };
    if let Some(event) = prepared.event() {
        let span = tracing::Span::current();
        span.record("event_type", event.event_type());
    }
    if engine.config().event_callback.is_some() {
        // The user's callback runs inside submit: keep it off the async worker.
        return web::block(move || engine.submit(prepared).wait())
            .await
            .map_err(|e| djstripe_core::Error::DatabaseUnavailable(format!("blocking pool: {e}")))?;
    }
    engine.submit(prepared).await
}

fn answer(outcome: &Outcome, too_large: bool, limit: usize) -> HttpResponse {
    let span = tracing::Span::current();
    span.record("outcome", outcome.label());
    if let Some(id) = outcome.event_id() {
        span.record("event_id", id);
    }
    let trigger_id = outcome.trigger_id();
    match outcome {
        _ if too_large => HttpResponse::PayloadTooLarge().json(json!({
            "status": "invalid", "error": format!("the body exceeds the limit of {limit} bytes"), "trigger_id": trigger_id,
        })),
        Outcome::Rejected { error, .. } => {
            let status = match error.status_class() {
                djstripe_core::StatusClass::BadRequest => StatusCode::BAD_REQUEST,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            HttpResponse::build(status).json(json!({ "status": "invalid", "error": error.to_string(), "trigger_id": trigger_id }))
        }
        Outcome::Failed { error, .. } => {
            tracing::warn!(error = %error, "webhook handler failed; rolled back");
            HttpResponse::InternalServerError().json(json!({
                "status": "failed", "error": "a handler failed; the event was rolled back and will be processed on retry",
                "trigger_id": trigger_id, "event_id": outcome.event_id(),
            }))
        }
        _ => HttpResponse::Ok().json(json!({ "status": outcome.label(), "trigger_id": trigger_id, "event_id": outcome.event_id() })),
    }
}
