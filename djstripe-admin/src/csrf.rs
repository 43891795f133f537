//! CSRF protection for every state-changing request, the way Django's `CsrfViewMiddleware`
//! does it: the request must come from this site (`Sec-Fetch-Site`, else `Origin`), and its form
//! must carry a token bound to who is logged in — an HMAC keyed by the session's random key, or
//! by the stored password hash for HTTP basic — compared in constant time by [`form`] before the
//! form is even parsed. A cookie planted from a sibling subdomain or over plain HTTP matches no
//! session. Only the login form, before there is a session, checks a random cookie against its
//! field (double submit); the origin check is what keeps other sites from posting it.
//!
//! Also here: the cookies themselves (`HttpOnly`, `SameSite=Strict`, `Secure` and `__Host-`
//! unless plain HTTP on a loopback address or [`crate::AdminConfig::secure_cookies`] is off).

use djstripe_core::app::Body;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use crate::auth::{hex, random_bytes};
use crate::{AdminConfig, AdminRequest, Error, MAX_FORM_BODY};

/// The login form's CSRF cookie (before there is a session).
pub(crate) const CSRF_COOKIE: &str = "djstripe_admin_csrf";
/// The hidden field's name.
pub(crate) const CSRF_FIELD: &str = "csrf_token";

/// What a request's `csrf_token` field must be.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Expected {
    /// This token, bound to the session or the HTTP basic credential.
    Token(String),
    /// The request's CSRF cookie (the login form: no session yet).
    Cookie,
    /// Nothing: a bearer token, which a browser never sends by itself.
    Exempt,
}

/// Shows the kind, never the token.
impl std::fmt::Debug for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Expected::Token(_) => "Token(…)",
            Expected::Cookie => "Cookie",
            Expected::Exempt => "Exempt",
        })
    }
}

pub(crate) fn new_token() -> String {
    hex(&random_bytes())
}

/// Whether cookies get `Secure` (and the `__Host-` name): over https always; otherwise when
/// [`AdminConfig::secure_cookies`] is on, unless the host is a loopback address (local
/// development over plain HTTP keeps working).
pub(crate) fn secure_cookies(config: &AdminConfig, req: &AdminRequest) -> bool {
    req.secure() || (config.secure_cookies && !is_loopback(req.origin().1))
}

/// `localhost`, `*.localhost`, `127.x.x.x`, `[::1]`, with or without a port.
fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A cookie's name: `__Host-{name}` when it is `Secure` (browsers then refuse it from a
/// sibling subdomain or plain HTTP, and insist on `Path=/` without `Domain`).
pub(crate) fn cookie_name(name: &str, secure: bool) -> String {
    if secure { format!("__Host-{name}") } else { name.to_owned() }
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`; when `secure`, named `__Host-…` with
/// `Path=/` and `Secure`, else limited to `path`. `max_age` `None` = a session cookie,
/// `Some(0)` = delete.
pub(crate) fn set_cookie(name: &str, value: &str, path: &str, max_age: Option<i64>, secure: bool) -> String {
    let path = if path.is_empty() || secure { "/" } else { path };
    let mut cookie = format!("{}={value}; Path={path}; HttpOnly; SameSite=Strict", cookie_name(name, secure));
    if let Some(seconds) = max_age {
        cookie.push_str(&format!("; Max-Age={seconds}"));
    }
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

/// Refuses a request another site made a browser send (issue 15, 2): `Sec-Fetch-Site` other
/// than `same-origin` or `none` (typed by the user), else an `Origin` whose host is not the
/// request's (or `null`). A request with neither header is no browser's: its token decides.
pub(crate) fn same_origin(req: &AdminRequest) -> Result<(), Error> {
    if let Some(site) = req.fetch_site.as_deref() {
        let site = site.trim();
        return if site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none") {
            Ok(())
        } else {
            Err(Error::CrossSite)
        };
    }
    let Some(origin) = req.sent_origin.as_deref().map(str::trim) else { return Ok(()) };
    let (scheme, host) = req.origin();
    let sent = url::Url::parse(origin).ok().filter(|url| !url.cannot_be_a_base() && url.host().is_some());
    let Some(sent) = sent else { return Err(Error::CrossSite) };
    let sent_host = match sent.port() {
        Some(port) => format!("{}:{port}", sent.host_str().unwrap_or_default()),
        None => sent.host_str().unwrap_or_default().to_owned(),
    };
    // Behind a TLS proxy that is not trusted the request looks like http while the browser says
    // https: the host decides then; an https request never accepts an http origin.
    let scheme_ok = sent.scheme() == "https" || !scheme.eq_ignore_ascii_case("https");
    if scheme_ok && sent_host.eq_ignore_ascii_case(host) { Ok(()) } else { Err(Error::CrossSite) }
}

/// The urlencoded form of `req`, once its `csrf_token` field matched what `expected` says: a
/// body over the limit is [`Error::FormTooLarge`], a wrong token [`Error::Csrf`] (before `T` is
/// parsed), a form that is not `T` [`Error::Form`].
pub(crate) fn form<T: DeserializeOwned>(req: &AdminRequest, expected: &Expected, secure: bool) -> Result<T, Error> {
    let body = match &req.body {
        Body::Complete(body) => body.as_slice(),
        Body::TooLarge(_) => return Err(Error::FormTooLarge { limit: MAX_FORM_BODY }),
        Body::TimedOut(_) => return Err(Error::FormTimedOut),
    };
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let sent = pairs.iter().find(|(k, _)| k == CSRF_FIELD).map_or("", |(_, v)| v.as_str());
    let expected = match expected {
        Expected::Exempt => None,
        Expected::Token(token) => Some(token.as_str()),
        Expected::Cookie => Some(req.cookie(&cookie_name(CSRF_COOKIE, secure)).unwrap_or_default()),
    };
    if let Some(expected) = expected {
        let matches: bool = sent.as_bytes().ct_eq(expected.as_bytes()).into();
        if expected.is_empty() || !matches {
            return Err(Error::Csrf);
        }
    }
    serde_urlencoded::from_bytes(body).map_err(Error::Form)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Method;

    fn post(cookie: &str, body: &str) -> AdminRequest {
        AdminRequest::new(Method::Post, "/a", "/x", "")
            .headers([("cookie", cookie.as_bytes())])
            .body(Body::Complete(body.as_bytes().to_vec()))
    }

    #[test]
    fn the_login_form_token_must_match_the_cookie() {
        let ok: Vec<(String, String)> =
            form(&post("djstripe_admin_csrf=abc", "csrf_token=abc&x=1"), &Expected::Cookie, false).unwrap();
        assert_eq!(ok[1], ("x".to_owned(), "1".to_owned()));
        for (cookie, body) in [("djstripe_admin_csrf=abc", "csrf_token=abd"), ("", "csrf_token="), ("x=1", "")] {
            let refused = form::<serde::de::IgnoredAny>(&post(cookie, body), &Expected::Cookie, false).unwrap_err();
            assert!(matches!(refused, Error::Csrf), "{cookie} {body}");
        }
        let plain =
            form::<serde::de::IgnoredAny>(&post("djstripe_admin_csrf=abc", "csrf_token=abc"), &Expected::Cookie, true);
        assert!(matches!(plain, Err(Error::Csrf)), "over https only the __Host- cookie counts");
        let large = post("djstripe_admin_csrf=abc", "").body(Body::TooLarge(Vec::new()));
        assert!(matches!(
            form::<serde::de::IgnoredAny>(&large, &Expected::Cookie, false),
            Err(Error::FormTooLarge { .. })
        ));
    }

    /// Issue 15, 2: a planted cookie and the same value in the form were accepted.
    #[test]
    fn a_planted_cookie_matches_no_session_token() {
        let expected = Expected::Token("the-session-s-own-hmac".into());
        let planted = post("djstripe_admin_csrf=attacker", "csrf_token=attacker&status=disabled");
        assert!(matches!(form::<serde::de::IgnoredAny>(&planted, &expected, false), Err(Error::Csrf)));
        let right = post("", "csrf_token=the-session-s-own-hmac");
        assert!(form::<serde::de::IgnoredAny>(&right, &expected, false).is_ok());
        assert!(form::<serde::de::IgnoredAny>(&post("", ""), &Expected::Exempt, false).is_ok());
    }

    #[test]
    fn only_this_site_may_post() {
        let request = |headers: &[(&str, &str)]| {
            let req = AdminRequest::new(Method::Post, "/a", "/x", "").headers([("host", &b"shop.example:8000"[..])]);
            req.headers(headers.iter().map(|(k, v)| (*k, v.as_bytes())))
        };
        for ok in [
            &[][..],
            &[("origin", "http://shop.example:8000")],
            &[("origin", "https://SHOP.example:8000")],
            &[("sec-fetch-site", "same-origin"), ("origin", "http://shop.example:8000")],
            &[("sec-fetch-site", "none")],
        ] {
            assert!(same_origin(&request(ok)).is_ok(), "{ok:?}");
        }
        for refused in [
            &[("origin", "https://evil.example")][..],
            &[("origin", "null")],
            &[("origin", "http://shop.example")],
            &[("origin", "http://shop.example:8000.evil.example")],
            &[("sec-fetch-site", "cross-site")],
            &[("sec-fetch-site", "same-site"), ("origin", "http://shop.example:8000")],
        ] {
            assert!(matches!(same_origin(&request(refused)), Err(Error::CrossSite)), "{refused:?}");
        }
        let tls = request(&[("origin", "http://shop.example:8000")]).tls(true);
        assert!(same_origin(&tls).is_err(), "an https page takes no http origin");
    }

    #[test]
    fn cookies_are_secure_and_host_prefixed_unless_plain_http_on_loopback() {
        let config = AdminConfig::database_users();
        let on = |host: &str, tls: bool| {
            let req = AdminRequest::new(Method::Get, "/a", "/", "").headers([("host", host.as_bytes())]).tls(tls);
            secure_cookies(&config, &req)
        };
        assert!(on("shop.example", false) && on("shop.example", true) && on("127.0.0.1:8000", true));
        assert!(!on("127.0.0.1:8000", false) && !on("localhost:8000", false) && !on("[::1]:8000", false));
        let off = config.secure_cookies(false);
        let req = AdminRequest::new(Method::Get, "/a", "/", "").headers([("host", &b"shop.example"[..])]);
        assert!(!secure_cookies(&off, &req) && secure_cookies(&off, &req.clone().tls(true)));
        let cookie = set_cookie("s", "v", "/stripe/admin", Some(60), true);
        assert_eq!(cookie, "__Host-s=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure");
        assert_eq!(
            set_cookie("s", "v", "/stripe/admin", None, false),
            "s=v; Path=/stripe/admin; HttpOnly; SameSite=Strict"
        );
    }
}
