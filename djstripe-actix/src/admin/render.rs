//! Page rendering: the minijinja environment (templates compiled into the binary, HTML
//! auto-escaped), the context every page shares, HTML error pages and the blocking-call helper.

use std::sync::OnceLock;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use minijinja::{Environment, Value, context};

use super::{Admin, csrf};

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/admin/base.html")),
    ("login.html", include_str!("../../templates/admin/login.html")),
    ("endpoints.html", include_str!("../../templates/admin/endpoints.html")),
    ("endpoint_new.html", include_str!("../../templates/admin/endpoint_new.html")),
    ("deliveries.html", include_str!("../../templates/admin/deliveries.html")),
    ("delivery.html", include_str!("../../templates/admin/delivery.html")),
    ("events.html", include_str!("../../templates/admin/events.html")),
    ("event.html", include_str!("../../templates/admin/event.html")),
    ("handlers.html", include_str!("../../templates/admin/handlers.html")),
    ("error.html", include_str!("../../templates/admin/error.html")),
];

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_formatter(escape_html);
        for (name, source) in TEMPLATES {
            env.add_template(name, source).unwrap_or_else(|e| panic!("admin template {name}: {e}"));
        }
        env
    })
}

/// minijinja's HTML escaping, but leaving `/` alone (readable URLs in the page source); `&`, `<`,
/// `>`, `"` and `'` are escaped as before.
fn escape_html(
    out: &mut minijinja::Output<'_>,
    state: &minijinja::State<'_, '_>,
    value: &Value,
) -> Result<(), minijinja::Error> {
    if let (minijinja::AutoEscape::Html, Some(text)) = (state.auto_escape(), value.as_str())
        && !value.is_safe()
    {
        let mut escaped = String::with_capacity(text.len());
        for c in text.chars() {
            match c {
                '&' => escaped.push_str("&amp;"),
                '<' => escaped.push_str("&lt;"),
                '>' => escaped.push_str("&gt;"),
                '"' => escaped.push_str("&quot;"),
                '\'' => escaped.push_str("&#x27;"),
                c => escaped.push(c),
            }
        }
        return std::fmt::Write::write_str(out, &escaped)
            .map_err(|_| minijinja::Error::from(minijinja::ErrorKind::WriteFailure));
    }
    minijinja::escape_formatter(out, state, value)
}

/// Renders `template` with `page` plus the shared context (`prefix`, `csrf_token`, `section`).
pub(crate) fn render(
    req: &HttpRequest,
    admin: &Admin,
    status: StatusCode,
    template: &str,
    page: Value,
) -> HttpResponse {
    let ctx = context! {
        prefix => &admin.prefix,
        csrf_token => csrf::token(req),
        ..page
    };
    match environment().get_template(template).and_then(|t| t.render(ctx)) {
        Ok(html) => HttpResponse::build(status).content_type("text/html; charset=utf-8").body(html),
        Err(e) => {
            tracing::error!(template, error = %e, "admin template failed");
            HttpResponse::InternalServerError().content_type("text/plain; charset=utf-8").body("internal error")
        }
    }
}

/// [`render`] with 200.
pub(crate) fn page(req: &HttpRequest, admin: &Admin, template: &str, page: Value) -> HttpResponse {
    render(req, admin, StatusCode::OK, template, page)
}

/// A 303 to `path` under the admin's prefix.
pub(crate) fn see_other(admin: &Admin, path: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header(("Location", format!("{}{path}", admin.prefix))).finish()
}

/// An error of an admin page, answered as a small HTML page (internal details are logged only).
#[derive(Debug)]
pub(crate) struct PageError {
    status: StatusCode,
    message: String,
}

impl PageError {
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, message: message.into() }
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<crate::Error> for PageError {
    fn from(error: crate::Error) -> Self {
        let status = error.status_code();
        let message = match status {
            StatusCode::NOT_FOUND => "Not found.".to_owned(),
            StatusCode::SERVICE_UNAVAILABLE => "The database is unavailable; try again in a moment.".to_owned(),
            StatusCode::BAD_REQUEST => error.to_string(),
            _ => {
                tracing::error!(error = %error, "admin page failed");
                "Internal error (logged).".to_owned()
            }
        };
        Self { status, message }
    }
}

impl From<djstripe_core::Error> for PageError {
    fn from(error: djstripe_core::Error) -> Self {
        crate::Error::Core(error).into()
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let html = environment()
            .get_template("error.html")
            .and_then(|t| t.render(context! { status => self.status.as_u16(), message => &self.message }))
            .unwrap_or_else(|_| self.message.clone());
        HttpResponse::build(self.status).content_type("text/html; charset=utf-8").body(html)
    }
}

/// Runs a blocking database or Stripe call on actix's blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::Error> + Send + 'static,
) -> Result<T, PageError> {
    match web::block(f).await {
        Ok(result) => result.map_err(PageError::from),
        Err(e) => {
            Err(crate::Error::Core(djstripe_core::Error::DatabaseUnavailable { reason: format!("blocking pool: {e}") })
                .into())
        }
    }
}

/// `2026-01-31 12:00:00` (UTC).
pub(crate) fn time(t: chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Pretty-printed JSON when `text` is JSON, else `text` itself.
pub(crate) fn pretty_json(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_html_but_not_slashes() {
        let mut env = minijinja::Environment::new();
        env.set_formatter(super::escape_html);
        env.add_template("t.html", "{{ v }}|{{ n }}|{{ none }}").unwrap();
        let out = env
            .get_template("t.html")
            .unwrap()
            .render(minijinja::context! { v => "<a href='/x'>&\"", n => 3, none => () })
            .unwrap();
        assert_eq!(out, "&lt;a href=&#x27;/x&#x27;&gt;&amp;&quot;|3|None");
    }

    #[test]
    fn every_template_compiles() {
        let env = super::environment();
        for (name, _) in super::TEMPLATES {
            env.get_template(name).unwrap();
        }
    }
}
