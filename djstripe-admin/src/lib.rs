//! # djstripe-admin
//!
//! The admin pages of djstripe-rs (dj-stripe's Django admin) without a web framework: webhook
//! endpoints (list, add at Stripe, delete, enable / disable, add and drop signing secrets),
//! webhook event triggers (filtered, paginated, one in full, reprocess), stored events and the
//! registered handlers, server-rendered with minijinja templates (no JavaScript).
//!
//! Everything — login (form with a session in the database, HTTP basic, bearer token), CSRF, every
//! page — is one call, [`Admin::handle`]: an [`AdminRequest`] (plain data) in, an
//! [`AdminResponse`] (plain data) out. A web adapter (`djstripe_actix::admin::scope`,
//! `djstripe_axum::admin::router`) only reads its framework's request into it and writes the
//! answer back.
//!
//! ```
//! use djstripe_admin::{Admin, AdminConfig, AdminRequest, Method};
//! use djstripe_core::app::{Blocking, Djstripe, Settings};
//!
//! /// Runs blocking work right here (an adapter uses its framework's blocking pool).
//! struct Inline;
//! impl Blocking for Inline {
//!     async fn run<T, F>(&self, work: F) -> Result<T, djstripe_core::Error>
//!     where F: FnOnce() -> T + Send + 'static, T: Send + 'static {
//!         Ok(work())
//!     }
//! }
//!
//! let dir = tempfile::tempdir().unwrap();
//! let djstripe = Djstripe::start(Settings::new(dir.path().join("a.sqlite3").to_str().unwrap())).unwrap();
//! let admin = Admin::new(djstripe, AdminConfig::token("a-long-random-token"));
//! let request = AdminRequest::new(Method::Get, "/stripe/admin", "/triggers/", "")
//!     .headers([("authorization", &b"Bearer a-long-random-token"[..])]);
//! let response = futures_executor::block_on(admin.handle(request, &Inline));
//! assert_eq!(response.status, 200);
//! assert_eq!(response.header_value("content-type"), Some("text/html; charset=utf-8"));
//! ```
//!
//! | file | what it holds |
//! |---|---|
//! | `lib.rs` | [`Admin`], [`Admin::handle`]: the login check, the page, the headers every answer gets; [`Admin::metrics`]: the Prometheus scrape behind the same check |
//! | `http.rs` | [`AdminRequest`], [`AdminResponse`], [`Method`] |
//! | `config.rs` | [`AdminConfig`] |
//! | `auth.rs` | argon2 password hashes (environment and database users), the bounded verification and the failure limiter, sessions (`djstripe_admin_session`) |
//! | `csrf.rs` | the origin check, CSRF tokens bound to the session or credential, the form check, the cookies |
//! | `render.rs` | the minijinja environment, HTML error pages |
//! | `stripe.rs` | base-URL validation, creating and deleting endpoints at Stripe |
//! | `error.rs` | [`Error`] and the status each error is answered with |
//! | `pages/` | the routes, one file per section: login, endpoints, triggers, events, handlers |
//! | `testing.rs` | feature `testing`: the HTTP suite every adapter runs against its server |
//!
//! Security notes (Django's admin and its security middleware are the bar): passwords are
//! argon2id hashes (the environment's `DJSTRIPE_ADMIN_PASSWORD_HASH` and the database's
//! `djstripe_admin_user` rows that the command line's `admin set-password` writes), verified on
//! the blocking pool, at most [`AdminConfig::max_concurrent_logins`] at once (beyond that: 429 at
//! once); one failure limiter counts form, HTTP basic and bearer logins and logs each failure: a
//! client address that failed [`AdminConfig::failed_logins_per_minute`] times, or all clients
//! together [`AdminConfig::failed_logins_per_minute_total`] times, waits for the rest of the
//! minute (429 with `Retry-After`). The token is accepted only as a bearer token. A session is a
//! random key in the cookie and a row (its SHA-256) in `djstripe_admin_session`: logout, a new
//! password and a removed user end it on every instance sharing the database. Every
//! state-changing request is a POST from this site (`Sec-Fetch-Site` / `Origin`) whose
//! `csrf_token` is bound to the session (an HMAC keyed by its key) or the basic credential.
//! Cookies are `HttpOnly`, `SameSite=Strict`, and `Secure` with the `__Host-` prefix
//! ([`AdminConfig::secure_cookies`]); forwarding headers count only from trusted proxies
//! (`DJSTRIPE_TRUSTED_PROXIES`). Secrets are never rendered (only whether one is set and when
//! previous ones expire), ids are percent-encoded in links, `next` stays inside the admin; every
//! answer is `Cache-Control: no-store` with a `Content-Security-Policy` that allows no script
//! and no style but the admin's own stylesheet (by its hash: no `'unsafe-inline'`),
//! `X-Frame-Options: DENY`, `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin`,
//! and HSTS over https.

mod auth;
mod config;
mod csrf;
mod error;
mod http;
mod pages;
mod render;
mod stripe;
#[cfg(feature = "testing")]
pub mod testing;

use std::net::IpAddr;
use std::sync::Arc;

use djstripe_core::app::{Blocking, Djstripe};

pub use auth::hash_password;
pub use config::AdminConfig;
pub use error::{Error, Result};
pub use http::{AdminRequest, AdminResponse, FORM_BODY_TIMEOUT, MAX_FORM_BODY, Method};
pub use stripe::validate_base_url;

use auth::Access;

/// The admin: the receiver and who may log in. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Admin {
    djstripe: Djstripe,
    config: AdminConfig,
    guard: Arc<auth::Guard>,
}

impl Admin {
    /// The admin of `djstripe`, for the logins `config` allows.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let djstripe = djstripe_core::app::Djstripe::start(djstripe_core::app::Settings::new(dir.path().join("a.sqlite3").to_str().unwrap())).unwrap();
    /// let admin = djstripe_admin::Admin::new(djstripe, djstripe_admin::AdminConfig::database_users());
    /// # let _ = admin;
    /// ```
    pub fn new(djstripe: Djstripe, config: AdminConfig) -> Self {
        Self { djstripe, config, guard: Arc::default() }
    }

    /// Answers one request: the login check (a valid session, HTTP basic or bearer token; an
    /// anonymous `GET` is sent to the login form, anything else without a good credential is a
    /// 401; a password check beyond [`AdminConfig::max_concurrent_logins`] is a 429), then the
    /// page. Database and Stripe calls, and password verification, run on `blocking`. A client
    /// without a CSRF cookie gets one with the page.
    ///
    /// ```
    /// # use djstripe_admin::{Admin, AdminConfig, AdminRequest, Method};
    /// # struct Inline;
    /// # impl djstripe_core::app::Blocking for Inline {
    /// #     async fn run<T, F>(&self, work: F) -> Result<T, djstripe_core::Error>
    /// #     where F: FnOnce() -> T + Send + 'static, T: Send + 'static { Ok(work()) }
    /// # }
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let djstripe = djstripe_core::app::Djstripe::start(djstripe_core::app::Settings::new(dir.path().join("a.sqlite3").to_str().unwrap())).unwrap();
    /// let admin = Admin::new(djstripe, AdminConfig::token("a-long-random-token"));
    /// let anonymous = AdminRequest::new(Method::Get, "/stripe/admin", "/events/", "");
    /// let response = futures_executor::block_on(admin.handle(anonymous, &Inline));
    /// assert_eq!((response.status, response.header_value("location")), (303, Some("/stripe/admin/login?next=/stripe/admin/events/")));
    /// ```
    pub async fn handle(&self, request: AdminRequest, blocking: &impl Blocking) -> AdminResponse {
        let trusted = &self.djstripe.settings().trusted_proxies;
        let client = auth::client_of(&request, trusted);
        let request = request.trusting(trusted);
        let response = self.answer(&request, client, blocking).await;
        security_headers(response, &request)
    }

    /// Answers `GET {prefix}/metrics`, the engine's metrics in Prometheus' text format
    /// ([`djstripe_core::metrics`]), to whoever the admin lets in, checked exactly as
    /// [`Admin::handle`] checks a page — the bearer token, HTTP basic (environment or database
    /// user), or a session cookie the browser sends here (with secure cookies, the default, the
    /// session cookie's path is `/`; without them it is the admin's path and a browser keeps it
    /// to the admin) — through the same failure limiter: a wrong credential counts as a failed
    /// login, a locked client address is answered 429 with `Retry-After`.
    ///
    /// Without a good credential the answer is 401 with `WWW-Authenticate` and no metric (no
    /// redirect to the login form: a scraper cannot follow one); a method other than `GET` or
    /// `HEAD` is 405. The request's `prefix` and `path` are not read (the adapter routes here);
    /// when the admin is off (no [`AdminConfig`]) the adapters mount no such route: 404, as for
    /// the admin's pages, since nobody could be let in.
    ///
    /// ```
    /// # use djstripe_admin::{Admin, AdminConfig, AdminRequest, Method};
    /// # struct Inline;
    /// # impl djstripe_core::app::Blocking for Inline {
    /// #     async fn run<T, F>(&self, work: F) -> Result<T, djstripe_core::Error>
    /// #     where F: FnOnce() -> T + Send + 'static, T: Send + 'static { Ok(work()) }
    /// # }
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let djstripe = djstripe_core::app::Djstripe::start(djstripe_core::app::Settings::new(dir.path().join("a.sqlite3").to_str().unwrap())).unwrap();
    /// let admin = Admin::new(djstripe, AdminConfig::token("a-long-random-token"));
    /// let scrape = |request| futures_executor::block_on(admin.metrics(request, &Inline));
    /// let anonymous = AdminRequest::new(Method::Get, "", "/stripe/metrics", "");
    /// assert_eq!(scrape(anonymous).status, 401);
    /// let bearer = AdminRequest::new(Method::Get, "", "/stripe/metrics", "")
    ///     .headers([("authorization", &b"Bearer a-long-random-token"[..])]);
    /// let response = scrape(bearer);
    /// assert_eq!((response.status, response.header_value("content-type")), (200, Some(djstripe_core::metrics::CONTENT_TYPE)));
    /// assert!(String::from_utf8(response.body).unwrap().contains("djstripe_batch_size_count 0"));
    /// ```
    pub async fn metrics(&self, request: AdminRequest, blocking: &impl Blocking) -> AdminResponse {
        let trusted = &self.djstripe.settings().trusted_proxies;
        let client = auth::client_of(&request, trusted);
        let request = request.trusting(trusted);
        let response = if request.method.is_read() {
            let db = self.djstripe.engine().database();
            match auth::access(&self.config, &self.guard, db, &request, client, blocking).await {
                Ok(Access::Granted(_)) => {
                    // One short query (the inbox's gauges): on the blocking pool.
                    let engine = self.djstripe.engine().clone();
                    match blocking.run(move || engine.scrape()).await {
                        Ok(text) => {
                            AdminResponse::text(200, text).with_content_type(djstripe_core::metrics::CONTENT_TYPE)
                        }
                        Err(e) => render::error_response(&Error::Core(e)),
                    }
                }
                Ok(Access::Anonymous | Access::Denied) => unauthorized(),
                Err(e) => render::error_response(&e),
            }
        } else {
            let method = request.method.name().to_owned();
            render::error_response(&Error::MethodNotAllowed { method, allow: "GET, HEAD" })
        };
        security_headers(response, &request)
    }

    /// [`Admin::handle`] without the headers every answer gets.
    async fn answer(&self, request: &AdminRequest, client: Option<IpAddr>, blocking: &impl Blocking) -> AdminResponse {
        let secure = csrf::secure_cookies(&self.config, request);
        let cookie = request.cookie(&csrf::cookie_name(csrf::CSRF_COOKIE, secure)).map(str::to_owned);
        let fresh = cookie.is_none().then(csrf::new_token);
        if !request.method.is_read() {
            if let Err(e) = csrf::same_origin(request) {
                tracing::warn!(client = ?client, path = %djstripe_core::logging::escaped(&request.path), "admin: cross-site request refused");
                return render::error_response(&e);
            }
        }
        let public = matches!(request.path.as_str(), "/login" | "/login/");
        let mut grant = None;
        if !public {
            let db = self.djstripe.engine().database();
            match auth::access(&self.config, &self.guard, db, request, client, blocking).await {
                Ok(Access::Granted(granted)) => grant = Some(granted),
                Ok(Access::Anonymous) if request.method.is_read() => {
                    let next = auth::percent_encode(&request.full_path());
                    return AdminResponse::redirect(303, format!("{}/login?next={next}", request.prefix));
                }
                Ok(Access::Anonymous | Access::Denied) => return unauthorized(),
                Err(e) => return render::error_response(&e),
            }
        }
        let (csrf, csrf_token, session) = match grant {
            Some(auth::Grant { csrf: csrf::Expected::Token(token), session }) => {
                (csrf::Expected::Token(token.clone()), token, session)
            }
            Some(auth::Grant { csrf: csrf::Expected::Exempt, .. }) => (csrf::Expected::Exempt, String::new(), None),
            _ => (csrf::Expected::Cookie, fresh.clone().or(cookie).unwrap_or_default(), None),
        };
        let page = pages::Page { admin: self, req: request, blocking, csrf, csrf_token, session, secure, client };
        let mut response = pages::respond(&page).await.unwrap_or_else(|e| render::error_response(&e));
        if let Some(token) = fresh {
            let cookie = csrf::set_cookie(csrf::CSRF_COOKIE, &token, &request.prefix, None, secure);
            response = response.header("Set-Cookie", cookie);
        }
        response
    }
}

/// The 401 of a request without a good credential (HTTP basic is offered: a browser asks for it).
fn unauthorized() -> AdminResponse {
    AdminResponse::text(401, "authentication required: log in, or send the configured credential")
        .header("WWW-Authenticate", r#"Basic realm="djstripe admin", charset="UTF-8""#)
}

/// What a page may load: its own stylesheet (the one `<style>` element, allowed by its hash, so
/// no injected style or `style` attribute applies), nothing else — no script at all, no frame,
/// forms only to this site (Django's `SecurityMiddleware` and the CSP a script-free admin can
/// have).
fn content_security_policy() -> &'static str {
    static POLICY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    POLICY.get_or_init(|| {
        format!(
            "default-src 'none'; style-src {}; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; \
             base-uri 'none'",
            render::style_hash()
        )
    })
}

/// The headers every answer gets: no caching, no framing, no sniffing, no referrer to other
/// sites, the CSP, and HSTS when the request came over https (a plain-HTTP answer cannot set it).
fn security_headers(response: AdminResponse, request: &AdminRequest) -> AdminResponse {
    let response = response
        .header("Cache-Control", "no-store")
        .header("X-Frame-Options", "DENY")
        .header("Content-Security-Policy", content_security_policy())
        .header("X-Content-Type-Options", "nosniff")
        .header("Referrer-Policy", "same-origin")
        .header("Cross-Origin-Opener-Policy", "same-origin");
    if request.secure() { response.header("Strict-Transport-Security", "max-age=31536000") } else { response }
}

#[cfg(test)]
mod tests {
    use djstripe_core::app::{Blocking, Djstripe, Settings};

    use super::*;

    /// Runs blocking work right here.
    struct Inline;
    impl Blocking for Inline {
        async fn run<T, F>(&self, work: F) -> std::result::Result<T, djstripe_core::Error>
        where
            F: FnOnce() -> T + Send + 'static,
            T: Send + 'static,
        {
            Ok(work())
        }
    }

    fn basic(user: &str, password: &str) -> AdminRequest {
        use base64::Engine as _;
        let value = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")));
        AdminRequest::new(Method::Get, "/stripe/admin", "/triggers/", "").headers([("authorization", value.as_bytes())])
    }

    /// Every verification slot taken: a password login is answered 429 at once (no hashing, no
    /// login), a token still works; the slot given back, the password is checked again.
    #[test]
    fn logins_beyond_the_verification_limit_are_429() {
        let dir = tempfile::tempdir().unwrap();
        let djstripe = Djstripe::start(Settings::new(dir.path().join("a.sqlite3").to_str().unwrap())).unwrap();
        djstripe.engine().database().set_admin_password("clerk", &hash_password("a passphrase")).unwrap();
        let config = AdminConfig::token("a-long-random-token").max_concurrent_logins(2);
        let admin = Admin::new(djstripe, config);
        let run = |request| futures_executor::block_on(admin.handle(request, &Inline));
        assert_eq!(run(basic("clerk", "a passphrase")).status, 200);

        let busy = (admin.guard.take_for_test(2), admin.guard.take_for_test(2));
        assert!(busy.0.is_some() && busy.1.is_some());
        let refused = run(basic("clerk", "another passphrase"));
        assert_eq!((refused.status, refused.header_value("retry-after")), (429, Some("1")));
        assert!(String::from_utf8_lossy(&refused.body).contains("Too many logins"));
        let form = AdminRequest::new(Method::Post, "/stripe/admin", "/login", "")
            .headers([
                ("cookie", &b"djstripe_admin_csrf=t"[..]),
                ("content-type", b"application/x-www-form-urlencoded"),
            ])
            .body(djstripe_core::app::Body::Complete(b"csrf_token=t&user=clerk&password=x".to_vec()));
        assert_eq!(run(form).status, 429, "the login form too");
        let bearer = AdminRequest::new(Method::Get, "/stripe/admin", "/triggers/", "")
            .headers([("authorization", &b"Bearer a-long-random-token"[..])]);
        assert_eq!(run(bearer).status, 200, "a token needs no verification slot");
        // A remembered good credential needs no slot either.
        assert_eq!(run(basic("clerk", "a passphrase")).status, 200);

        drop(busy);
        assert_eq!(run(basic("clerk", "another passphrase")).status, 401);
    }
}
