//! The admin pages ([`djstripe_admin`]) as one more actix scope: this file only reads the
//! request into an [`AdminRequest`] and writes the [`AdminResponse`](djstripe_admin::AdminResponse)
//! back; login, CSRF and every page are djstripe-admin's, the same for every adapter.
//!
//! The engine's Prometheus metrics are one more route beside them, `{prefix}/metrics`
//! ([`metrics`]), behind the same login: build one [`Admin`] and hand clones of it to
//! [`scope_for`] and [`metrics`], so that both share one failure limiter.
//!
//! Off unless configured: build an [`AdminConfig`] (the database's users, made by the command
//! line's `admin set-password`; an argon2 password hash for HTTP basic auth and the login form;
//! a token for `Authorization: Bearer`) and mount [`scope`] beside the webhook scope: each claims
//! only its own paths (`{prefix}/admin/...`, `{prefix}/webhook/...`), in any order.
//!
//! ```no_run
//! use actix_web::{App, HttpServer};
//! use djstripe_actix::admin::{self, AdminConfig};
//! use djstripe_actix::{Djstripe, Settings};
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), djstripe_actix::Error> {
//!     let djstripe = Djstripe::start(Settings::from_env("sqlite://app.sqlite3")?)?;
//!     // Users from `app admin set-password`, DJSTRIPE_ADMIN_PASSWORD_HASH=$argon2id$... (and
//!     // DJSTRIPE_ADMIN_USER) or DJSTRIPE_ADMIN_TOKEN; None when there is none of them.
//!     let admin = AdminConfig::load(&djstripe)?;
//!     HttpServer::new(move || {
//!         let mut app = App::new();
//!         if let Some(admin) = &admin {
//!             app = app.service(admin::scope("/stripe/admin", djstripe.clone(), admin.clone()));
//!         }
//!         app.service(djstripe_actix::scope("/stripe", djstripe.clone()))
//!     })
//!     .bind("127.0.0.1:8000")?
//!     .run()
//!     .await?;
//!     Ok(())
//! }
//! ```

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use djstripe_admin::{AdminRequest, FORM_BODY_TIMEOUT, MAX_FORM_BODY, Method};
use djstripe_core::app::read_body;

use crate::Djstripe;
use crate::webhook::ACTIX_BLOCKING;

pub use djstripe_admin::{Admin, AdminConfig, hash_password, validate_base_url};

/// The admin and where it is mounted.
struct Mounted {
    admin: Admin,
    prefix: String,
}

/// The admin pages, mounted at `prefix` (no trailing slash, e.g. `"/stripe/admin"`). Mount it
/// before [`crate::scope`] when that one's prefix is a prefix of this one.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let djstripe = djstripe_actix::Djstripe::start(djstripe_actix::Settings::new(dir.path().join("a.sqlite3").to_str().unwrap())).unwrap();
/// use djstripe_actix::admin::{self, AdminConfig};
/// let app = actix_web::App::new()
///     .service(admin::scope("/stripe/admin", djstripe.clone(), AdminConfig::token("a-long-random-token")))
///     .service(djstripe_actix::scope("/stripe", djstripe));
/// # let _ = app;
/// ```
pub fn scope(prefix: &str, djstripe: Djstripe, config: AdminConfig) -> actix_web::Scope {
    scope_for(prefix, Admin::new(djstripe, config))
}

/// [`scope`] for an [`Admin`] built once: its clones share one failure limiter, across the
/// server's workers and with [`metrics`]. Build it outside `HttpServer::new`'s factory (which
/// runs once per worker) and clone it in.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let djstripe = djstripe_actix::Djstripe::start(djstripe_actix::Settings::new(dir.path().join("a.sqlite3").to_str().unwrap())).unwrap();
/// use djstripe_actix::admin::{self, Admin, AdminConfig};
/// let admin = Admin::new(djstripe.clone(), AdminConfig::token("a-long-random-token"));
/// let app = actix_web::App::new()
///     .service(admin::scope_for("/stripe/admin", admin.clone()))
///     .service(admin::metrics("/stripe/metrics", admin))
///     .service(djstripe_actix::scope("/stripe", djstripe));
/// # let _ = app;
/// ```
pub fn scope_for(prefix: &str, admin: Admin) -> actix_web::Scope {
    let prefix = prefix.trim_end_matches('/').to_owned();
    let mounted = web::Data::new(Mounted { admin, prefix: prefix.clone() });
    web::scope(&prefix).app_data(mounted).default_service(web::to(route))
}

/// The engine's metrics at `path` (`/stripe/metrics`): Prometheus' text format behind the
/// admin's login ([`Admin::metrics`]: bearer token, HTTP basic or session; 401 without, 405 for
/// a method other than `GET`/`HEAD`). Mount it only when the admin is configured: without an
/// admin there is no route, and the path is a 404.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let djstripe = djstripe_actix::Djstripe::start(djstripe_actix::Settings::new(dir.path().join("a.sqlite3").to_str().unwrap())).unwrap();
/// use djstripe_actix::admin::{self, Admin, AdminConfig};
/// let admin = Admin::new(djstripe, AdminConfig::token("a-long-random-token"));
/// let app = actix_web::App::new().service(admin::metrics("/stripe/metrics", admin));
/// # let _ = app;
/// ```
pub fn metrics(path: &str, admin: Admin) -> actix_web::Resource {
    web::resource(path).app_data(web::Data::new(Scraped(admin))).default_service(web::to(scrape))
}

/// The admin that [`metrics`] answers with.
struct Scraped(Admin);

async fn scrape(req: HttpRequest, admin: web::Data<Scraped>) -> HttpResponse {
    let request = AdminRequest::new(Method::parse(req.method().as_str()), "", req.path(), req.query_string())
        .headers(req.headers().iter().map(|(k, v)| (k.as_str(), v.as_bytes())))
        .tls(req.app_config().secure())
        .peer(req.peer_addr().map(|a| a.ip()));
    respond(admin.0.metrics(request, &ACTIX_BLOCKING).await)
}

async fn route(req: HttpRequest, payload: web::Payload, mounted: web::Data<Mounted>) -> HttpResponse {
    let declared = req.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let body = read_body(payload, declared, MAX_FORM_BODY, 0, Some(FORM_BODY_TIMEOUT)).await;
    let path = req.match_info().unprocessed();
    let request = AdminRequest::new(Method::parse(req.method().as_str()), &mounted.prefix, path, req.query_string())
        .headers(req.headers().iter().map(|(k, v)| (k.as_str(), v.as_bytes())))
        .tls(req.app_config().secure())
        .peer(req.peer_addr().map(|a| a.ip()))
        .body(body);
    respond(mounted.admin.handle(request, &ACTIX_BLOCKING).await)
}

fn respond(answer: djstripe_admin::AdminResponse) -> HttpResponse {
    let mut response =
        HttpResponse::build(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    for header in answer.headers {
        response.append_header(header);
    }
    response.body(answer.body)
}
