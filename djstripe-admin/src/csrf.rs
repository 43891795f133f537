//! CSRF protection for every state-changing form: a random token in an `HttpOnly`,
//! `SameSite=Strict` cookie, repeated in a hidden `csrf_token` field (double submit), compared in
//! constant time by [`form`] before the form is even parsed.

use djstripe_core::app::Body;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use crate::auth::{hex, random_bytes};
use crate::{AdminRequest, Error, MAX_FORM_BODY};

/// The CSRF cookie's name.
pub(crate) const CSRF_COOKIE: &str = "djstripe_admin_csrf";
/// The hidden field's name.
pub(crate) const CSRF_FIELD: &str = "csrf_token";

pub(crate) fn new_token() -> String {
    hex(&random_bytes())
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, limited to `path`; `max_age` `None` = a
/// session cookie, `Some(0)` = delete.
pub(crate) fn set_cookie(name: &str, value: &str, path: &str, max_age: Option<i64>, secure: bool) -> String {
    let path = if path.is_empty() { "/" } else { path };
    let mut cookie = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Strict");
    if let Some(seconds) = max_age {
        cookie.push_str(&format!("; Max-Age={seconds}"));
    }
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

/// The urlencoded form of `req`, once its `csrf_token` field matched the CSRF cookie: a body over
/// the limit is [`Error::FormTooLarge`], a wrong token [`Error::Csrf`] (before `T` is parsed), a
/// form that is not `T` [`Error::Form`].
pub(crate) fn form<T: DeserializeOwned>(req: &AdminRequest) -> Result<T, Error> {
    let body = match &req.body {
        Body::Complete(body) => body.as_slice(),
        Body::TooLarge(_) => return Err(Error::FormTooLarge { limit: MAX_FORM_BODY }),
        Body::TimedOut(_) => return Err(Error::FormTimedOut),
    };
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let sent = pairs.iter().find(|(k, _)| k == CSRF_FIELD).map_or("", |(_, v)| v.as_str());
    let expected = req.cookie(CSRF_COOKIE).unwrap_or_default();
    let matches: bool = sent.as_bytes().ct_eq(expected.as_bytes()).into();
    if expected.is_empty() || !matches {
        return Err(Error::Csrf);
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
    fn the_token_must_match_the_cookie() {
        let ok: Vec<(String, String)> = form(&post("djstripe_admin_csrf=abc", "csrf_token=abc&x=1")).unwrap();
        assert_eq!(ok[1], ("x".to_owned(), "1".to_owned()));
        for (cookie, body) in [("djstripe_admin_csrf=abc", "csrf_token=abd"), ("", "csrf_token="), ("x=1", "")] {
            let refused = form::<serde::de::IgnoredAny>(&post(cookie, body)).unwrap_err();
            assert!(matches!(refused, Error::Csrf), "{cookie} {body}");
        }
        let large = post("djstripe_admin_csrf=abc", "").body(Body::TooLarge(Vec::new()));
        assert!(matches!(form::<serde::de::IgnoredAny>(&large), Err(Error::FormTooLarge { .. })));
    }
}
