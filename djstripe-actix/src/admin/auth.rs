//! Who may use the admin: the configured credential checked in constant time, the signed session
//! cookie a login sets, and the guard in front of every page but the login form.

use std::sync::{Arc, OnceLock};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use base64::Engine as _;
use futures_util::future::LocalBoxFuture;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Admin, AdminConfig, csrf};
use crate::Error;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "djstripe_admin_session";
/// How long a login lasts.
pub(crate) const SESSION_SECONDS: i64 = 12 * 3600;

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// The value `DJSTRIPE_ADMIN_PASSWORD_HASH` expects for `password`: `sha256:<64 hex digits>`.
///
/// ```
/// let hash = djstripe_actix::admin::hash_password("pw");
/// assert_eq!(hash, "sha256:30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4");
/// ```
pub fn hash_password(password: &str) -> String {
    format!("sha256:{}", hex(&sha256(password.as_bytes())))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses `sha256:<hex>` (or bare hex) into a digest.
pub(crate) fn parse_hash(var: &'static str, value: &str) -> Result<[u8; 32], Error> {
    let hex_digits = value.trim();
    let hex_digits = hex_digits.strip_prefix("sha256:").unwrap_or(hex_digits);
    let bad = || {
        Error::Core(djstripe_core::Error::InvalidSetting {
            setting: var,
            message: "expected `sha256:` and 64 hex digits (the SHA-256 of the password, e.g. from \
                      `printf %s 'password' | sha256sum`)"
                .into(),
        })
    };
    if hex_digits.len() != 64 || !hex_digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mut digest = [0u8; 32];
    for (i, byte) in digest.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex_digits[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(digest)
}

pub(crate) fn check_password(config: &AdminConfig, user: &str, password: &str) -> bool {
    let Some(expected) = &config.password else { return false };
    // Hash both sides first so that neither comparison leaks a length.
    let user_ok = sha256(user.as_bytes()).ct_eq(&sha256(config.user.as_bytes()));
    let password_ok = sha256(password.as_bytes()).ct_eq(expected);
    (user_ok & password_ok).into()
}

pub(crate) fn check_token(config: &AdminConfig, token: &str) -> bool {
    let Some(expected) = &config.token else { return false };
    sha256(token.as_bytes()).ct_eq(expected).into()
}

/// A random key drawn once per process: signs sessions.
fn process_key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(random_bytes)
}

pub(crate) fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    bytes
}

/// The session MAC binds the expiry to the configured credential: changing it logs everyone out.
fn session_mac(config: &AdminConfig, expires: i64) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(process_key()).expect("HMAC takes any key length");
    mac.update(b"djstripe-admin-session\0");
    mac.update(config.user.as_bytes());
    mac.update(&[0]);
    mac.update(config.password.as_ref().map_or(&[][..], |d| &d[..]));
    mac.update(config.token.as_ref().map_or(&[][..], |d| &d[..]));
    mac.update(expires.to_string().as_bytes());
    mac.finalize().into_bytes().into()
}

/// A fresh session cookie value: `{expires}.{mac}`.
pub(crate) fn new_session(config: &AdminConfig) -> String {
    let expires = chrono::Utc::now().timestamp() + SESSION_SECONDS;
    format!("{expires}.{}", hex(&session_mac(config, expires)))
}

fn session_is_valid(config: &AdminConfig, value: &str) -> bool {
    let Some((expires, mac)) = value.split_once('.') else { return false };
    let Ok(expires) = expires.parse::<i64>() else { return false };
    if expires <= chrono::Utc::now().timestamp() {
        return false;
    }
    hex(&session_mac(config, expires)).as_bytes().ct_eq(mac.as_bytes()).into()
}

/// What the request proves.
enum Access {
    Granted,
    /// No credential at all: a browser is sent to the login form.
    Anonymous,
    /// A credential that is wrong.
    Denied,
}

fn access(admin: &Admin, req: &HttpRequest) -> Access {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let value = value.to_str().unwrap_or("");
        let ok = if let Some(token) = value.strip_prefix("Bearer ") {
            check_token(&admin.config, token.trim())
        } else if let Some(encoded) = value.strip_prefix("Basic ") {
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|raw| String::from_utf8(raw).ok())
                .and_then(|pair| pair.split_once(':').map(|(u, p)| check_password(&admin.config, u, p)))
                .unwrap_or(false)
        } else {
            false
        };
        return if ok { Access::Granted } else { Access::Denied };
    }
    match csrf::cookie(req, SESSION_COOKIE) {
        Some(session) if session_is_valid(&admin.config, &session) => Access::Granted,
        Some(_) => Access::Anonymous, // expired or signed before a restart: log in again
        None => Access::Anonymous,
    }
}

/// Paths that need no login: the login form itself.
fn is_public(admin: &Admin, path: &str) -> bool {
    path.strip_prefix(admin.prefix.as_str()).is_some_and(|rest| rest == "/login" || rest == "/login/")
}

/// The guard in front of every admin route: lets through a valid session, basic auth or bearer
/// token; sends an anonymous browser to the login form; answers a wrong credential with 401.
/// It also hands out the CSRF cookie to a client that has none.
pub(crate) fn guard<S, B>(
    admin: Arc<Admin>,
    req: ServiceRequest,
    srv: &S,
) -> LocalBoxFuture<'static, Result<ServiceResponse<EitherBody<B>>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    let new_csrf = csrf::cookie(req.request(), csrf::CSRF_COOKIE).is_none().then(csrf::new_token);
    if let Some(token) = &new_csrf {
        req.extensions_mut().insert(csrf::FreshToken(token.clone()));
    }
    let refusal = if is_public(&admin, req.path()) {
        None
    } else {
        match access(&admin, req.request()) {
            Access::Granted => None,
            Access::Anonymous if req.method() == Method::GET || req.method() == Method::HEAD => {
                let next = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
                let location = format!("{}/login?next={}", admin.prefix, percent_encode(next));
                Some(HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish())
            }
            Access::Anonymous | Access::Denied => Some(
                HttpResponse::Unauthorized()
                    .insert_header((header::WWW_AUTHENTICATE, r#"Basic realm="djstripe admin", charset="UTF-8""#))
                    .content_type("text/plain; charset=utf-8")
                    .body("authentication required: log in, or send the configured credential"),
            ),
        }
    };
    if let Some(response) = refusal {
        return Box::pin(async move { Ok(req.into_response(response).map_into_right_body()) });
    }
    let secure = req.connection_info().scheme() == "https";
    let path = admin.prefix.clone();
    let fut = srv.call(req);
    Box::pin(async move {
        let mut res = fut.await?;
        if let Some(token) = new_csrf {
            let cookie = csrf::set_cookie(csrf::CSRF_COOKIE, &token, &path, None, secure);
            if let Ok(value) = header::HeaderValue::from_str(&cookie) {
                res.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        res.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
        res.headers_mut().insert(header::X_FRAME_OPTIONS, header::HeaderValue::from_static("DENY"));
        Ok(res.map_into_left_body())
    })
}

/// Percent-encodes everything but unreserved characters and `/`.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_parse() {
        let digest = parse_hash("X", &hash_password("pw")).unwrap();
        assert_eq!(digest, sha256(b"pw"));
        assert!(parse_hash("X", "sha256:zz").is_err());
        assert!(parse_hash("X", &hex(&sha256(b"pw"))).is_ok(), "bare hex is accepted");
    }

    #[test]
    fn sessions_expire_and_are_bound_to_the_credential() {
        let config = AdminConfig::token("token-one-token-one");
        let session = new_session(&config);
        assert!(session_is_valid(&config, &session));
        assert!(!session_is_valid(&AdminConfig::token("token-two-token-two"), &session));
        let (expires, mac) = session.split_once('.').unwrap();
        assert!(!session_is_valid(&config, &format!("{}.{mac}", expires.parse::<i64>().unwrap() + 1)));
        let past = chrono::Utc::now().timestamp() - 1;
        assert!(!session_is_valid(&config, &format!("{past}.{}", hex(&session_mac(&config, past)))));
    }
}
