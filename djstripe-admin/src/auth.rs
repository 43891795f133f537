//! Who may use the admin: the configured credential checked in constant time, the signed session
//! cookie a login sets, and the guard in front of every page but the login form.

use std::sync::OnceLock;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{AdminConfig, AdminRequest};

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
/// let hash = djstripe_admin::hash_password("pw");
/// assert_eq!(hash, "sha256:30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4");
/// ```
pub fn hash_password(password: &str) -> String {
    format!("sha256:{}", hex(&sha256(password.as_bytes())))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses `sha256:<hex>` (or bare hex) into a digest.
pub(crate) fn parse_hash(var: &'static str, value: &str) -> Result<[u8; 32], djstripe_core::Error> {
    let hex_digits = value.trim();
    let hex_digits = hex_digits.strip_prefix("sha256:").unwrap_or(hex_digits);
    let bad = || djstripe_core::Error::InvalidSetting {
        setting: var,
        message: "expected `sha256:` and 64 hex digits (the SHA-256 of the password, e.g. from \
                  `printf %s 'password' | sha256sum`)"
            .into(),
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Granted,
    /// No credential at all: a browser is sent to the login form.
    Anonymous,
    /// A credential that is wrong.
    Denied,
}

/// Checks `Authorization` (bearer token or HTTP basic), else the session cookie.
pub(crate) fn access(config: &AdminConfig, req: &AdminRequest) -> Access {
    if let Some(value) = &req.authorization {
        let ok = if let Some(token) = value.strip_prefix("Bearer ") {
            check_token(config, token.trim())
        } else if let Some(encoded) = value.strip_prefix("Basic ") {
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|raw| String::from_utf8(raw).ok())
                .and_then(|pair| pair.split_once(':').map(|(u, p)| check_password(config, u, p)))
                .unwrap_or(false)
        } else {
            false
        };
        return if ok { Access::Granted } else { Access::Denied };
    }
    match req.cookie(SESSION_COOKIE) {
        Some(session) if session_is_valid(config, session) => Access::Granted,
        // Expired or signed before a restart: log in again.
        Some(_) | None => Access::Anonymous,
    }
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
