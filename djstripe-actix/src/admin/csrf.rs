//! CSRF protection for every state-changing form: a random token in an `HttpOnly`,
//! `SameSite=Strict` cookie, repeated in a hidden `csrf_token` field (double submit), compared in
//! constant time by the [`CsrfForm`] extractor before the form is even parsed.

use actix_web::dev::Payload;
use actix_web::error::InternalError;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use super::auth::{hex, random_bytes};

/// The CSRF cookie's name.
pub(crate) const CSRF_COOKIE: &str = "djstripe_admin_csrf";
/// The hidden field's name.
pub(crate) const CSRF_FIELD: &str = "csrf_token";

/// A token handed out with this response (the request had no cookie yet).
#[derive(Clone)]
pub(crate) struct FreshToken(pub(crate) String);

pub(crate) fn new_token() -> String {
    hex(&random_bytes())
}

/// The CSRF token pages put into their forms: the request's cookie, or the one being set now.
pub(crate) fn token(req: &HttpRequest) -> String {
    if let Some(fresh) = req.extensions().get::<FreshToken>() {
        return fresh.0.clone();
    }
    cookie(req, CSRF_COOKIE).unwrap_or_default()
}

/// A cookie's value, read from the `Cookie` header(s).
pub(crate) fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(actix_web::http::header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
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

/// A urlencoded form whose `csrf_token` field matched the CSRF cookie; otherwise the request is
/// refused with 403 before `T` is parsed.
pub(crate) struct CsrfForm<T>(pub(crate) T);

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let body = body.await?;
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
            let sent = pairs.iter().find(|(k, _)| k == CSRF_FIELD).map(|(_, v)| v.as_str()).unwrap_or("");
            let expected = cookie(&req, CSRF_COOKIE).unwrap_or_default();
            let matches: bool = sent.as_bytes().ct_eq(expected.as_bytes()).into();
            if expected.is_empty() || !matches {
                let message = "This form has expired or was not sent by this admin (CSRF check failed): \
                               reload the page and try again.";
                let response = HttpResponse::Forbidden().content_type("text/plain; charset=utf-8").body(message);
                return Err(InternalError::from_response("CSRF check failed", response).into());
            }
            let form = serde_urlencoded::from_bytes::<T>(&body).map_err(|e| {
                let response = HttpResponse::BadRequest()
                    .content_type("text/plain; charset=utf-8")
                    .body(format!("unreadable form: {e}"));
                InternalError::from_response("bad form", response)
            })?;
            Ok(CsrfForm(form))
        })
    }
}
