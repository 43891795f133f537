//! # djstripe-axum
//!
//! Stripe webhooks in an axum app: one router that receives, verifies, records and dispatches
//! deliveries to your `#[webhook_handler]` functions, the admin pages (feature `admin`), and the
//! [`Server`] that the command line `djstripe-cli` runs as `serve`. Everything that is not HTTP
//! is [`djstripe_core::app`]'s (and the admin's, [`djstripe_admin`]'s).
//!
//! ```no_run
//! use djstripe_axum::{Djstripe, Settings};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let djstripe = Djstripe::start(Settings::from_env("sqlite://app.sqlite3")?)?; // connects, migrates
//!     let app = axum::Router::new().nest("/stripe", djstripe_axum::router(djstripe));
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//!     // The client's address comes from ConnectInfo (else it is recorded empty).
//!     axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
//!     Ok(())
//! }
//! ```
//!
//! Routes under the prefix: `POST /webhook/{uuid}/` (an endpoint) and `POST /webhook/` (the
//! legacy endpoint), answered as [`djstripe_core::app::WebhookAnswer`] says, the same as
//! `djstripe-actix` answers.
//!
//! | file | what it holds |
//! |---|---|
//! | `lib.rs` | [`router`]: path, body stream, peer address in; the answer out |
//! | `admin.rs` | the admin pages: [`djstripe_admin`] as an axum router |
//! | `server.rs` | [`Server`]: `axum::serve` with the router, the admin and the app's routes, for `serve` |
//!
//! ## Feature flags
//! | feature | default | what it enables |
//! |---|---|---|
//! | `sqlite` | yes | djstripe-core's embedded SQLite |
//! | `postgres` | yes | djstripe-core's PostgreSQL |
//! | `admin` | yes | [`admin`]: the admin pages (djstripe-admin) |

#[cfg(feature = "admin")]
pub mod admin;
mod server;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use djstripe_core::app::{SpawnBlocking, WebhookAnswer, WebhookPath, WebhookRequest, client_ip, receive, webhook_path};
use djstripe_core::engine::headers_json;

pub use djstripe_core::app::{Djstripe, Settings};
pub use server::Server;

/// The webhook routes, relative to where the router is nested (`Router::nest("/stripe", ...)`).
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let djstripe = djstripe_axum::Djstripe::start(djstripe_axum::Settings::new(dir.path().join("a.sqlite3").to_str().unwrap())).unwrap();
/// let app: axum::Router = axum::Router::new().nest("/stripe", djstripe_axum::router(djstripe));
/// # let _ = app;
/// ```
pub fn router(djstripe: Djstripe) -> Router {
    Router::new()
        .route("/webhook", any(route))
        .route("/webhook/", any(route))
        .route("/webhook/{*rest}", any(route))
        .with_state(djstripe)
}

/// tokio's blocking thread pool.
pub(crate) const TOKIO_BLOCKING: SpawnBlocking = SpawnBlocking(|job| drop(tokio::task::spawn_blocking(job)));

async fn route(State(djstripe): State<Djstripe>, request: Request) -> Response {
    let rest = request.uri().path().strip_prefix("/webhook").unwrap_or_default();
    let path = webhook_path(rest);
    if path == WebhookPath::NotFound {
        return respond(WebhookAnswer::not_found());
    }
    if request.method() != Method::POST {
        return respond(WebhookAnswer::method_not_allowed());
    }
    let settings = djstripe.settings();
    let headers = request.headers();
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let forwarded = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
    let webhook = WebhookRequest {
        path,
        signature: headers.get("stripe-signature").map(|v| v.as_bytes().to_vec()),
        headers: headers_json(headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes()))),
        remote_ip: client_ip(peer, forwarded, &settings.trusted_proxies),
        content_length: headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()),
    };
    let stream = request.into_body().into_data_stream();
    respond(receive(&djstripe, webhook, stream, &TOKIO_BLOCKING).await)
}

/// The answer as an axum response (`Allow: POST` with a 405, `Retry-After` with a 503).
fn respond(answer: WebhookAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, axum::Json(answer.body)).into_response();
    if status == StatusCode::METHOD_NOT_ALLOWED {
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    if let Some(seconds) = answer.retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}
