//! The webhook routes: path, raw body and peer address in, [`WebhookAnswer`] out. Everything
//! between is djstripe-core's ([`djstripe_core::app::receive`]).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use djstripe_core::app::{Djstripe, SpawnBlocking, WebhookAnswer, WebhookPath, WebhookRequest, webhook_path};
use djstripe_core::engine::headers_json;

pub(crate) fn routes(cfg: &mut web::ServiceConfig, djstripe: Djstripe) {
    cfg.service(scope("/webhook", djstripe));
}

/// The webhook scope at `path` (`{prefix}/webhook`); the engine is the scope's own app data.
pub(crate) fn scope(path: &str, djstripe: Djstripe) -> actix_web::Scope {
    web::scope(path).app_data(web::Data::new(djstripe)).default_service(web::to(route))
}

/// actix-web's blocking thread pool (`web::block` starts the job at once; dropping its future
/// does not cancel it).
pub(crate) const ACTIX_BLOCKING: SpawnBlocking = SpawnBlocking(|job| drop(web::block(job)));

/// `POST /webhook/` (legacy) and `POST /webhook/{uuid}/`, told apart by
/// [`webhook_path`] under a static scope (no regex segment on the hot path).
async fn route(req: HttpRequest, payload: web::Payload, djstripe: web::Data<Djstripe>) -> HttpResponse {
    let path = webhook_path(req.match_info().unprocessed());
    if path == WebhookPath::NotFound {
        return respond(WebhookAnswer::not_found());
    }
    if req.method() != actix_web::http::Method::POST {
        return respond(WebhookAnswer::method_not_allowed());
    }
    let settings = djstripe.settings();
    let headers = req.headers();
    let peer = req.peer_addr().map(|a| a.ip());
    let forwarded = headers.get_all("x-forwarded-for").filter_map(|v| v.to_str().ok());
    let request = WebhookRequest {
        path,
        signature: headers.get("stripe-signature").map(|v| v.as_bytes().to_vec()),
        headers: headers_json(headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes()))),
        remote_ip: djstripe_core::app::client_ip(peer, forwarded, &settings.trusted_proxies),
        content_length: headers.get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()),
    };
    respond(djstripe_core::app::receive(&djstripe, request, payload, &ACTIX_BLOCKING).await)
}

/// The answer as an actix response (`Allow: POST` with a 405, `Retry-After` with a 503).
pub(crate) fn respond(answer: WebhookAnswer) -> HttpResponse {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    if status == StatusCode::METHOD_NOT_ALLOWED {
        response.insert_header(("Allow", "POST"));
    }
    if let Some(seconds) = answer.retry_after {
        response.insert_header(("Retry-After", seconds.to_string()));
    }
    response.json(answer.body)
}
