//! The admin pages ([`djstripe_admin`]) as an axum router: this file only reads the request into
//! an [`AdminRequest`] and writes the [`AdminResponse`](djstripe_admin::AdminResponse) back;
//! login, CSRF and every page are djstripe-admin's, the same as `djstripe-actix` serves them.
//!
//! The engine's Prometheus metrics are one more route, `{prefix}/metrics` ([`metrics`]), behind
//! the same login: build one [`Admin`] and hand clones of it to [`router_for`] and [`metrics`],
//! so that both share one failure limiter.
//!
//! ```no_run
//! use djstripe_axum::admin::{self, AdminConfig};
//! use djstripe_axum::{Djstripe, Settings};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let djstripe = Djstripe::start(Settings::from_env("sqlite://app.sqlite3")?)?;
//!     let mut app = axum::Router::new().nest("/stripe", djstripe_axum::router(djstripe.clone()));
//!     // Users from `app admin set-password`, DJSTRIPE_ADMIN_PASSWORD_HASH=$argon2id$... (and
//!     // DJSTRIPE_ADMIN_USER) or DJSTRIPE_ADMIN_TOKEN; None when there is none of them.
//!     if let Some(config) = AdminConfig::load(&djstripe)? {
//!         app = app.nest_service("/stripe/admin", admin::router(djstripe, config));
//!     }
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//!     axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
//!     Ok(())
//! }
//! ```

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use djstripe_admin::{AdminRequest, FORM_BODY_TIMEOUT, MAX_FORM_BODY, Method};
use djstripe_core::app::read_body;

use crate::{Djstripe, TOKIO_BLOCKING};

pub use djstripe_admin::{Admin, AdminConfig, hash_password, validate_base_url};

/// The admin pages, relative to where the router is nested: links and cookies follow that
/// prefix. Nest it with `Router::nest_service("/stripe/admin", ...)`: axum's `Router::nest` does
/// not route `/stripe/admin/` itself (the admin's home) to a nested router, `nest_service` does.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let djstripe = djstripe_axum::Djstripe::start(djstripe_axum::Settings::new(dir.path().join("a.sqlite3").to_str().unwrap())).unwrap();
/// use djstripe_axum::admin::{self, AdminConfig};
/// let app: axum::Router = axum::Router::new()
///     .nest_service("/stripe/admin", admin::router(djstripe.clone(), AdminConfig::token("a-long-random-token")))
///     .nest("/stripe", djstripe_axum::router(djstripe));
/// # let _ = app;
/// ```
pub fn router(djstripe: Djstripe, config: AdminConfig) -> Router {
    router_for(Admin::new(djstripe, config))
}

/// [`router`] for an [`Admin`] built once: its clones share one failure limiter with
/// [`metrics`].
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let djstripe = djstripe_axum::Djstripe::start(djstripe_axum::Settings::new(dir.path().join("a.sqlite3").to_str().unwrap())).unwrap();
/// use djstripe_axum::admin::{self, Admin, AdminConfig};
/// let admin = Admin::new(djstripe.clone(), AdminConfig::token("a-long-random-token"));
/// let app: axum::Router = axum::Router::new()
///     .nest_service("/stripe/admin", admin::router_for(admin.clone()))
///     .merge(admin::metrics("/stripe/metrics", admin))
///     .nest("/stripe", djstripe_axum::router(djstripe));
/// # let _ = app;
/// ```
pub fn router_for(admin: Admin) -> Router {
    Router::new().fallback(route).with_state(Arc::new(admin))
}

/// The engine's metrics at `path` (`/stripe/metrics`, the full path: merge this router into the
/// app's): Prometheus' text format behind the admin's login ([`Admin::metrics`]: bearer token,
/// HTTP basic or session; 401 without, 405 for a method other than `GET`/`HEAD`). Mount it only
/// when the admin is configured: without an admin there is no route, and the path is a 404.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let djstripe = djstripe_axum::Djstripe::start(djstripe_axum::Settings::new(dir.path().join("a.sqlite3").to_str().unwrap())).unwrap();
/// use djstripe_axum::admin::{self, Admin, AdminConfig};
/// let admin = Admin::new(djstripe, AdminConfig::token("a-long-random-token"));
/// let app: axum::Router = axum::Router::new().merge(admin::metrics("/stripe/metrics", admin));
/// # let _ = app;
/// ```
pub fn metrics(path: &str, admin: Admin) -> Router {
    Router::new().route(path, axum::routing::any(scrape)).with_state(Arc::new(admin))
}

async fn scrape(State(admin): State<Arc<Admin>>, request: Request) -> Response {
    let (parts, _body) = request.into_parts();
    let request =
        AdminRequest::new(Method::parse(parts.method.as_str()), "", parts.uri.path(), parts.uri.query().unwrap_or(""))
            .headers(parts.headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes())))
            .tls(parts.uri.scheme_str() == Some("https"))
            .peer(parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip()));
    respond(admin.metrics(request, &TOKIO_BLOCKING).await)
}

async fn route(State(admin): State<Arc<Admin>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let inner = parts.uri.path();
    let original = parts.extensions.get::<OriginalUri>().map_or(inner, |uri| uri.path());
    // Nested at `/stripe/admin`, `/stripe/admin` is seen here as `/`: the prefix is all of it.
    let (prefix, path) = match original.strip_suffix(inner) {
        Some(prefix) => (prefix, inner),
        None => (original, ""),
    };
    let declared = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let body = read_body(body.into_data_stream(), declared, MAX_FORM_BODY, 0, Some(FORM_BODY_TIMEOUT)).await;
    let request =
        AdminRequest::new(Method::parse(parts.method.as_str()), prefix, path, parts.uri.query().unwrap_or(""))
            .headers(parts.headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes())))
            .tls(parts.uri.scheme_str() == Some("https"))
            .peer(parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip()))
            .body(body);
    respond(admin.handle(request, &TOKIO_BLOCKING).await)
}

fn respond(answer: djstripe_admin::AdminResponse) -> Response {
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::try_from(value)) {
            response.headers_mut().append(name, value);
        }
    }
    response
}
