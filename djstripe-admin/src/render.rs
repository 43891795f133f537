//! Page rendering: the minijinja environment (templates compiled into the binary, HTML
//! auto-escaped), HTML error pages, and the formats pages share.

use std::sync::OnceLock;

use minijinja::{Environment, Value, context};

use crate::{AdminResponse, Error};

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("endpoints.html", include_str!("../templates/endpoints.html")),
    ("endpoint_new.html", include_str!("../templates/endpoint_new.html")),
    ("triggers.html", include_str!("../templates/triggers.html")),
    ("trigger.html", include_str!("../templates/trigger.html")),
    ("events.html", include_str!("../templates/events.html")),
    ("event.html", include_str!("../templates/event.html")),
    ("handlers.html", include_str!("../templates/handlers.html")),
    ("inbox.html", include_str!("../templates/inbox.html")),
    ("error.html", include_str!("../templates/error.html")),
];

/// The admin's stylesheet, inlined into every page's one `<style>` element (`{{ css }}`). The
/// `Content-Security-Policy` allows exactly this text by its hash ([`style_hash`]): no other
/// style, and no `style` attribute, applies.
pub(crate) const STYLESHEET: &str = include_str!("../templates/admin.css");

/// `'sha256-<base64>'` of [`STYLESHEET`], the CSP source that allows it (CSP Level 2 hashes).
pub(crate) fn style_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        use base64::Engine as _;
        let digest = crate::auth::sha256(STYLESHEET.as_bytes());
        format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(digest))
    })
}

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_formatter(escape_html);
        env.add_filter("segment", segment);
        env.add_global("css", Value::from_safe_string(STYLESHEET.to_owned()));
        for (name, source) in TEMPLATES {
            env.add_template(name, source).unwrap_or_else(|e| panic!("admin template {name}: {e}"));
        }
        env
    })
}

/// What a path segment keeps as is: RFC 3986's unreserved characters.
const SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The `segment` filter: `value` percent-encoded as one path segment (an id in a link: a `/`,
/// `?`, `#` or `..` in it cannot change where the link goes).
pub(crate) fn segment(value: &str) -> String {
    let encoded = percent_encoding::utf8_percent_encode(value, SEGMENT).to_string();
    match encoded.as_str() {
        "." => "%2E".to_owned(),
        ".." => "%2E%2E".to_owned(),
        _ => encoded,
    }
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

/// Renders `template` with `ctx`.
pub(crate) fn render(template: &'static str, ctx: Value) -> Result<String, Error> {
    environment()
        .get_template(template)
        .and_then(|t| t.render(ctx))
        .map_err(|source| Error::Template { template, source })
}

/// The answer to an error: a small HTML page, or plain text for the refusals of a form (CSRF,
/// unreadable, too large), as a script would want them. Internal details are logged only.
pub(crate) fn error_response(error: &Error) -> AdminResponse {
    let status = error.status();
    let message = error.public_message();
    let response = match error {
        Error::Csrf | Error::CrossSite | Error::Form(_) | Error::FormTooLarge { .. } => {
            AdminResponse::text(status, message)
        }
        _ => {
            let html = render("error.html", context! { status, message => &message }).unwrap_or(message);
            AdminResponse::html(status, html)
        }
    };
    match error {
        Error::MethodNotAllowed { allow, .. } => response.header("Allow", *allow),
        Error::TooManyLogins => response.header("Retry-After", "1"),
        Error::LoginsLocked { seconds } | Error::LoginsPaused { seconds } => {
            response.header("Retry-After", seconds.to_string())
        }
        _ => response,
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

    /// Issue 15, 5: event ids went into links as they were.
    #[test]
    fn ids_in_links_are_percent_encoded() {
        assert_eq!(super::segment("evt_1PgaMmB7WZ01zgkW"), "evt_1PgaMmB7WZ01zgkW");
        assert_eq!(super::segment("../../x?y#z"), "..%2F..%2Fx%3Fy%23z");
        assert_eq!(super::segment(".."), "%2E%2E");
        assert_eq!(super::segment("a b/é"), "a%20b%2F%C3%A9");
        let env = super::environment();
        let html = env
            .get_template("events.html")
            .unwrap()
            .render(minijinja::context! { prefix => "/a", rows => vec![minijinja::context! { id => "evt_x/../y" }] })
            .unwrap();
        assert!(html.contains(r#"href="/a/events/evt_x%2F..%2Fy/""#), "{html}");
    }

    #[test]
    fn every_template_compiles() {
        let env = super::environment();
        for (name, _) in super::TEMPLATES {
            env.get_template(name).unwrap();
        }
    }
}
