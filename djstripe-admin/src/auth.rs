//! Who may use the admin: passwords hashed with argon2 (the environment's
//! `DJSTRIPE_ADMIN_PASSWORD_HASH` and the users of `djstripe_admin_user`), the bearer token
//! compared in constant time, the sessions a login opens (a random key in the cookie, a row in
//! `djstripe_admin_session`), and the guard in front of every page but the login form.
//!
//! Verifying an argon2 hash costs tens of milliseconds of CPU and 19 MiB of memory on purpose,
//! and the login form answers anyone: verifications run on the adapter's blocking pool, at most
//! [`AdminConfig::max_concurrent_logins`] at once (a request beyond that is answered 429 at once,
//! without hashing); a client address with [`AdminConfig::failed_logins_per_minute`] failures
//! is answered 429 without a check until its minute is over; and a successful HTTP basic login is remembered for a few minutes (keyed
//! by an HMAC of the credential and the stored hash) so that a script sending basic auth with
//! every request does not pay for a hash each time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2};
use base64::Engine as _;
use djstripe_core::app::Blocking;
use djstripe_core::db::{AdminSession, Database};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::csrf::Expected;
use crate::{AdminConfig, AdminRequest, Error, Result};

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "djstripe_admin_session";
/// How long a login lasts.
pub(crate) const SESSION_SECONDS: i64 = 12 * 3600;
/// How long a verified HTTP basic credential is remembered.
const REMEMBER: Duration = Duration::from_secs(300);
/// The most remembered credentials (the memory is emptied when full).
const REMEMBER_MAX: usize = 1024;
/// Failed logins are counted per client address over this window.
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// The most client addresses counted (the oldest counts are dropped when full).
const FAILURES_MAX: usize = 10_000;

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// The argon2id hash of `password` with a fresh random salt, as a PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`): the value of `DJSTRIPE_ADMIN_PASSWORD_HASH`,
/// and what the command line's `admin set-password` stores. Slow on purpose (tens of
/// milliseconds).
///
/// ```
/// let hash = djstripe_admin::hash_password("correct horse battery staple");
/// assert!(hash.starts_with("$argon2id$v=19$"));
/// assert_ne!(hash, djstripe_admin::hash_password("correct horse battery staple"), "salted");
/// let config = djstripe_admin::AdminConfig::password("ops", &hash).unwrap();
/// assert!(config.check_password("ops", "correct horse battery staple"));
/// ```
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system's random number generator failed");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes are a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2's default parameters hash any password")
        .to_string()
}

/// Checks that `hash` is an argon2 PHC string; `setting` names where it came from.
pub(crate) fn parse_hash(setting: &'static str, hash: &str) -> std::result::Result<String, djstripe_core::Error> {
    let hash = hash.trim();
    let bad = |message: String| djstripe_core::Error::InvalidSetting { setting, message };
    let advice = "run `admin set-password` of the app's command line (it stores an argon2 hash in the database; \
                  then unset this variable), or set an argon2 PHC string here (`admin hash-password` prints one)";
    let legacy_hex = |h: &str| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit());
    if hash.starts_with("sha256:") || legacy_hex(hash) {
        return Err(bad(format!(
            "unsalted SHA-256 hashes are no longer accepted (a stolen one is cracked in minutes): {advice}"
        )));
    }
    match PasswordHash::new(hash) {
        Ok(parsed) if Algorithm::try_from(parsed.algorithm).is_ok() && parsed.hash.is_some() => Ok(hash.to_owned()),
        _ => Err(bad(format!("expected an argon2 PHC string ($argon2id$v=19$m=...): {advice}"))),
    }
}

/// Whether `password` is the one `hash` (an argon2 PHC string) was made from. Slow on purpose.
pub(crate) fn verify(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A hash of a random password, checked for unknown user names so that they take as long to
/// refuse as known ones (no user enumeration by timing).
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password(&hex(&random_bytes())))
}

/// The environment's login (`DJSTRIPE_ADMIN_USER` / `DJSTRIPE_ADMIN_PASSWORD_HASH`), checked
/// right here (slow: argon2).
pub(crate) fn check_password(config: &AdminConfig, user: &str, password: &str) -> bool {
    let Some(expected) = &config.password else { return false };
    let user_ok: bool = sha256(user.as_bytes()).ct_eq(&sha256(config.user.as_bytes())).into();
    // Verify even for another name: the same time either way.
    verify(expected, password) & user_ok
}

pub(crate) fn check_token(config: &AdminConfig, token: &str) -> bool {
    let Some(expected) = &config.token else { return false };
    sha256(token.as_bytes()).ct_eq(expected).into()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random key drawn once per process: keys the memory of good HTTP basic credentials.
fn process_key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(random_bytes)
}

pub(crate) fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    bytes
}

fn keyed(parts: &[&[u8]]) -> [u8; 32] {
    hmac(process_key(), parts)
}

/// Where a login's credential is kept: what a session is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// `DJSTRIPE_ADMIN_PASSWORD_HASH`.
    Setting,
    /// A `djstripe_admin_user` row.
    Database,
}

impl Source {
    fn letter(self) -> &'static str {
        match self {
            Source::Setting => "s",
            Source::Database => "d",
        }
    }

    fn parse(letter: &str) -> Option<Self> {
        Some(match letter {
            "s" => Source::Setting,
            "d" => Source::Database,
            _ => return None,
        })
    }
}

/// Who logged in: the session is bound to the credential as it is now (its hash, or the token's
/// digest), so a new password or token ends every session made with the old one.
#[derive(Clone)]
pub(crate) struct Login {
    pub(crate) source: Source,
    pub(crate) user: String,
    fingerprint: String,
}

/// Shows who, never the stored hash.
impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login").field("source", &self.source).field("user", &self.user).finish_non_exhaustive()
    }
}

impl Login {
    /// The CSRF token of a request that HTTP basic authentication lets in (no session): an HMAC
    /// keyed by the stored password hash, which no other site knows and every instance shares.
    pub(crate) fn basic_csrf(&self) -> String {
        hex(&hmac(self.fingerprint.as_bytes(), &[b"djstripe-admin-csrf-basic", self.user.as_bytes()]))
    }
}

/// HMAC-SHA256 of `parts` (each length-prefixed) under `key`.
fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// A fresh session for `login`: the cookie's value (a random key, 64 hex digits) and the row to
/// store, found again by the key's SHA-256.
pub(crate) fn new_session(login: &Login) -> (String, AdminSession) {
    let key = hex(&random_bytes());
    let now = chrono::Utc::now().naive_utc();
    let row = AdminSession {
        id: session_id(&key),
        source: login.source.letter().to_owned(),
        username: login.user.clone(),
        credential: credential_digest(login),
        created: now,
        expires: now + chrono::Duration::seconds(SESSION_SECONDS),
    };
    (key, row)
}

/// The row id of a session key: its SHA-256 (a copy of the table logs no one in).
pub(crate) fn session_id(key: &str) -> String {
    hex(&sha256(key.as_bytes()))
}

/// What a session remembers of its credential.
fn credential_digest(login: &Login) -> String {
    hex(&sha256(login.fingerprint.as_bytes()))
}

/// The CSRF token of a session: an HMAC keyed by the session's own random key (`HttpOnly`,
/// never in a page), so a token planted with a cookie from elsewhere matches no session, and
/// every instance sharing the database computes the same token.
pub(crate) fn session_csrf(key: &str) -> String {
    hex(&hmac(key.as_bytes(), &[b"djstripe-admin-csrf"]))
}

/// A session cookie's value, if it is one (64 hex digits).
fn session_key(value: &str) -> Option<&str> {
    (value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())).then_some(value)
}

/// How many argon2 verifications run at once, the memory of recent good credentials, and the
/// failure limiter every way of logging in shares (form, HTTP basic, bearer token).
#[derive(Debug, Default)]
pub(crate) struct Guard {
    busy: AtomicUsize,
    remembered: Mutex<HashMap<[u8; 32], Instant>>,
    /// Failed logins per client address: how many, since when.
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    /// Failed logins of all clients together (those of no known address too): how many, since
    /// when. Many addresses, or a proxy that names none, do not buy a guesser more tries.
    global: Mutex<Option<(u32, Instant)>>,
}

/// A verification slot, given back on drop.
struct Slot(Arc<Guard>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The failure limits of [`AdminConfig`]: per client address and for the admin as a whole.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) per_address: u32,
    pub(crate) total: u32,
}

impl Guard {
    fn take(self: &Arc<Self>, max: usize) -> Option<Slot> {
        self.busy.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < max).then_some(n + 1)).ok()?;
        Some(Slot(self.clone()))
    }

    /// Takes a slot as a login would (tests fill the slots with it).
    #[cfg(test)]
    pub(crate) fn take_for_test(self: &Arc<Self>, max: usize) -> Option<impl Drop> {
        self.take(max)
    }

    /// Refuses a login when `client` failed `limits.per_address` times this window
    /// ([`Error::LoginsLocked`]) or all clients together `limits.total` times
    /// ([`Error::LoginsPaused`]), with the seconds to wait.
    pub(crate) fn check(&self, client: Option<IpAddr>, limits: Limits) -> Result<()> {
        let over = |entry: Option<&(u32, Instant)>, max: u32| {
            let (count, since) = entry?;
            let left = FAILURE_WINDOW.checked_sub(since.elapsed())?;
            (*count >= max).then(|| left.as_secs().max(1))
        };
        if let Some(seconds) = over(self.global.lock().unwrap_or_else(|p| p.into_inner()).as_ref(), limits.total) {
            return Err(Error::LoginsPaused { seconds });
        }
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(seconds) = client.and_then(|c| over(failures.get(&c), limits.per_address)) {
            return Err(Error::LoginsLocked { seconds });
        }
        Ok(())
    }

    /// Counts a failure of `client` (and of everyone); logs when a limit is reached.
    pub(crate) fn failed(&self, client: Option<IpAddr>, limits: Limits) {
        let bump = |entry: &mut (u32, Instant)| {
            if entry.1.elapsed() >= FAILURE_WINDOW {
                *entry = (0, Instant::now());
            }
            entry.0 += 1;
            entry.0
        };
        {
            let mut global = self.global.lock().unwrap_or_else(|p| p.into_inner());
            if bump(global.get_or_insert_with(|| (0, Instant::now()))) == limits.total {
                tracing::warn!(
                    failures = limits.total,
                    "admin logins paused for every client: too many failed logins this minute"
                );
            }
        }
        let Some(client) = client else { return };
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= FAILURES_MAX && !failures.contains_key(&client) {
            failures.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
            if failures.len() >= FAILURES_MAX {
                failures.clear();
            }
        }
        if bump(failures.entry(client).or_insert((0, Instant::now()))) == limits.per_address {
            tracing::warn!(%client, failures = limits.per_address, "admin logins locked for a client address: too many failed logins this minute");
        }
    }

    fn succeeded(&self, client: Option<IpAddr>) {
        if let Some(client) = client {
            self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(&client);
        }
    }

    fn is_remembered(&self, key: &[u8; 32]) -> bool {
        let memory = self.remembered.lock().unwrap_or_else(|p| p.into_inner());
        memory.get(key).is_some_and(|at| at.elapsed() < REMEMBER)
    }

    fn remember(&self, key: [u8; 32]) {
        let mut memory = self.remembered.lock().unwrap_or_else(|p| p.into_inner());
        if memory.len() >= REMEMBER_MAX {
            memory.retain(|_, at| at.elapsed() < REMEMBER);
            if memory.len() >= REMEMBER_MAX {
                memory.clear();
            }
        }
        memory.insert(key, Instant::now());
    }
}

/// What a user name's password is checked against: the database's user of that name, else the
/// environment's login when the name is its user.
fn stored_credential(config: &AdminConfig, db: &Database, user: &str) -> Result<Option<(Source, String)>> {
    if config.database_users && djstripe_core::db::check_username(user).is_ok() {
        if let Some(row) = db.admin_user(user)? {
            return Ok(Some((Source::Database, row.password_hash)));
        }
    }
    Ok(match &config.password {
        Some(hash) if config.user == user => Some((Source::Setting, hash.clone())),
        _ => None,
    })
}

/// The client's address: the peer, or what a trusted proxy says it forwarded.
pub(crate) fn client_of(req: &AdminRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    djstripe_core::app::client_ip(req.peer, req.forwarded_for.as_deref(), trusted).parse().ok()
}

/// Who asks to log in, and how.
pub(crate) struct Attempt<'a> {
    pub(crate) user: &'a str,
    pub(crate) password: &'a str,
    /// The client's address (failures are counted per address).
    pub(crate) client: Option<IpAddr>,
    /// Remember a good credential (HTTP basic, sent again with every request).
    pub(crate) remember: bool,
    /// How the credential came: for the log line of a failure.
    pub(crate) via: Via,
}

/// How a login's credential came.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Via {
    /// The login form.
    Form,
    /// HTTP basic authentication.
    Basic,
    /// A bearer token.
    Bearer,
}

/// Checks a login on the blocking pool: `Ok(Some(login))` when right, `Ok(None)` when wrong
/// (logged, and counted by the failure limiter), [`Error::LoginsLocked`] for a client address
/// that failed too often this minute, [`Error::LoginsPaused`] when all clients together did,
/// [`Error::TooManyLogins`] when every verification slot is taken.
pub(crate) async fn verify_login(
    config: &AdminConfig,
    guard: &Arc<Guard>,
    db: Database,
    blocking: &impl Blocking,
    attempt: Attempt<'_>,
) -> Result<Option<Login>> {
    let (config, guard) = (config.clone(), guard.clone());
    let (user, password, client, remember, via) =
        (attempt.user.to_owned(), attempt.password.to_owned(), attempt.client, attempt.remember, attempt.via);
    let limits = config.limits();
    blocking
        .run(move || {
            let stored = stored_credential(&config, &db, &user)?;
            let key = stored.as_ref().map(|(_, hash)| {
                keyed(&[b"djstripe-admin-basic", user.as_bytes(), password.as_bytes(), hash.as_bytes()])
            });
            if remember && key.as_ref().is_some_and(|k| guard.is_remembered(k)) {
                let (source, fingerprint) = stored.expect("a key only for a stored credential");
                return Ok(Some(Login { source, user, fingerprint }));
            }
            guard.check(client, limits)?;
            let Some(_slot) = guard.take(config.max_logins) else {
                return Err(Error::TooManyLogins);
            };
            let failed_user = djstripe_core::logging::escaped(&user).into_owned();
            let login = match stored {
                Some((source, hash)) if verify(&hash, &password) => {
                    if let (true, Some(key)) = (remember, key) {
                        guard.remember(key);
                    }
                    Some(Login { source, user, fingerprint: hash })
                }
                Some(_) => None,
                None => {
                    verify(decoy_hash(), &password);
                    None
                }
            };
            if login.is_some() {
                guard.succeeded(client);
            } else {
                tracing::warn!(user = %failed_user, client = ?client, via = ?via, "admin login failed");
                guard.failed(client, limits);
            }
            Ok(login)
        })
        .await?
}

/// Checks a bearer token through the same failure limiter as passwords: a locked client
/// address (or a paused admin) is refused before the comparison, a wrong token is logged and
/// counted.
pub(crate) fn verify_token(config: &AdminConfig, guard: &Guard, client: Option<IpAddr>, token: &str) -> Result<bool> {
    let limits = config.limits();
    guard.check(client, limits)?;
    let ok = check_token(config, token);
    if ok {
        guard.succeeded(client);
    } else {
        tracing::warn!(client = ?client, via = ?Via::Bearer, "admin login failed");
        guard.failed(client, limits);
    }
    Ok(ok)
}

/// What the request proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Access {
    Granted(Grant),
    /// No credential at all: a browser is sent to the login form.
    Anonymous,
    /// A credential that is wrong.
    Denied,
}

/// What a let-in request's forms are checked against, and its session (`Debug` shows neither
/// the token nor the id: see [`Expected`]'s).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Grant {
    pub(crate) csrf: Expected,
    /// The session's row id (logout deletes it).
    pub(crate) session: Option<String>,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant").field("csrf", &self.csrf).field("session", &self.session.as_ref().map(|_| "…")).finish()
    }
}

/// Checks `Authorization` (bearer token or HTTP basic), else the session cookie (its row in
/// the database, and the credential it was made with).
pub(crate) async fn access(
    config: &AdminConfig,
    guard: &Arc<Guard>,
    db: &Database,
    req: &AdminRequest,
    client: Option<IpAddr>,
    blocking: &impl Blocking,
) -> Result<Access> {
    if let Some(value) = &req.authorization {
        let granted = if let Some(token) = value.strip_prefix("Bearer ") {
            // A browser never sends a bearer token by itself: no CSRF token to check.
            verify_token(config, guard, client, token.trim())?.then_some(Expected::Exempt)
        } else if let Some(encoded) = value.strip_prefix("Basic ") {
            let pair = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|raw| String::from_utf8(raw).ok());
            match pair.as_deref().and_then(|pair| pair.split_once(':')) {
                Some((user, password)) => {
                    let attempt = Attempt { user, password, client, remember: true, via: Via::Basic };
                    let login = verify_login(config, guard, db.clone(), blocking, attempt).await?;
                    login.map(|login| Expected::Token(login.basic_csrf()))
                }
                None => {
                    guard.failed(client, config.limits());
                    None
                }
            }
        } else {
            None
        };
        return Ok(match granted {
            Some(csrf) => Access::Granted(Grant { csrf, session: None }),
            None => Access::Denied,
        });
    }
    // Unknown, expired, logged out, or made with an old password or token: log in again.
    let name = crate::csrf::cookie_name(SESSION_COOKIE, crate::csrf::secure_cookies(config, req));
    let Some(key) = req.cookie(&name).and_then(session_key) else { return Ok(Access::Anonymous) };
    let (config, db, id) = (config.clone(), db.clone(), session_id(key));
    let login = blocking
        .run(move || -> Result<Option<(Login, AdminSession)>> {
            let Some(row) = db.admin_session(&id)? else { return Ok(None) };
            let login =
                match Source::parse(&row.source) {
                    Some(Source::Setting) => config
                        .password
                        .clone()
                        .filter(|_| config.user == row.username)
                        .map(|fingerprint| Login { source: Source::Setting, user: row.username.clone(), fingerprint }),
                    Some(Source::Database) if config.database_users => db.admin_user(&row.username)?.map(|user| {
                        Login { source: Source::Database, user: user.username, fingerprint: user.password_hash }
                    }),
                    _ => None,
                };
            Ok(login.map(|login| (login, row)))
        })
        .await??;
    Ok(match login {
        Some((login, row)) if bool::from(credential_digest(&login).as_bytes().ct_eq(row.credential.as_bytes())) => {
            Access::Granted(Grant { csrf: Expected::Token(session_csrf(key)), session: Some(row.id) })
        }
        _ => Access::Anonymous,
    })
}

/// What a `next` value keeps as is: unreserved characters and `/`.
const NEXT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'/');

/// Percent-encodes everything but unreserved characters and `/` (the login form's `next`).
pub(crate) fn percent_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, NEXT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2_and_old_ones_are_refused_with_advice() {
        let hash = hash_password("pw");
        assert_eq!(parse_hash("X", &hash).unwrap(), hash);
        assert!(verify(&hash, "pw") && !verify(&hash, "pw2"));
        for old in ["sha256:30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4", &"ab".repeat(32)] {
            let err = parse_hash("DJSTRIPE_ADMIN_PASSWORD_HASH", old).unwrap_err().to_string();
            assert!(err.contains("no longer accepted") && err.contains("admin set-password"), "{err}");
        }
        let err = parse_hash("X", "$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA").unwrap_err().to_string();
        assert!(err.contains("argon2 PHC string"), "{err}");
        assert!(parse_hash("X", "hunter2").is_err());
    }

    /// Issue 15, 3: the cookie was `{expiry}.{HMAC}`, the same for every login in one second.
    #[test]
    fn sessions_are_random_keys_bound_to_the_credential() {
        let login = Login { source: Source::Database, user: "ops".into(), fingerprint: "$argon2id$one".into() };
        let (key, row) = new_session(&login);
        let (again, other_row) = new_session(&login);
        assert_ne!(key, again, "two logins in the same second");
        assert_ne!(row.id, other_row.id);
        assert_eq!(session_key(&key), Some(key.as_str()));
        assert_eq!(row.id, session_id(&key));
        assert!(
            !row.id.contains(&key) && !format!("{row:?}").contains(&row.id),
            "the row holds a digest, Debug neither"
        );
        assert_eq!((row.source.as_str(), row.username.as_str()), ("d", "ops"));
        assert_eq!(row.credential, credential_digest(&login));
        let changed = Login { fingerprint: "$argon2id$two".into(), ..login.clone() };
        assert_ne!(credential_digest(&changed), row.credential, "a new password ends the session");
        assert!(session_key("garbage").is_none() && session_key(&"g".repeat(64)).is_none());
        assert_ne!(session_csrf(&key), session_csrf(&again), "the CSRF token is the session's own");
        let grant = Grant { csrf: Expected::Token(session_csrf(&key)), session: Some(row.id.clone()) };
        let shown = format!("{login:?} {grant:?} {:?}", Expected::Token(session_csrf(&key)));
        assert!(
            !shown.contains("$argon2id") && !shown.contains(&session_csrf(&key)) && !shown.contains(&row.id),
            "{shown}"
        );
    }

    #[test]
    fn failures_lock_a_client_address_for_the_rest_of_its_minute() {
        let guard = Guard::default();
        let limits = Limits { per_address: 3, total: 100 };
        let (one, other) = (Some("192.0.2.1".parse().unwrap()), Some("192.0.2.2".parse().unwrap()));
        for _ in 0..3 {
            assert!(guard.check(one, limits).is_ok());
            guard.failed(one, limits);
        }
        assert!(matches!(guard.check(one, limits), Err(Error::LoginsLocked { seconds: 1..=60 })));
        assert!(guard.check(other, limits).is_ok(), "per address");
        assert!(guard.check(None, limits).is_ok(), "an unknown address has no count of its own");
        guard.succeeded(one);
        assert!(guard.check(one, limits).is_ok(), "a good login clears the count");
    }

    /// Issue 15, 1: 300 guesses from as many addresses (or from none the server knows) went
    /// unslowed; all clients together now pause the logins too.
    #[test]
    fn failures_of_all_clients_together_pause_every_login() {
        let guard = Guard::default();
        let limits = Limits { per_address: 3, total: 20 };
        for n in 0..19u8 {
            guard.failed(Some(std::net::IpAddr::from([198, 51, 100, n])), limits);
        }
        assert!(guard.check(Some("192.0.2.9".parse().unwrap()), limits).is_ok());
        guard.failed(None, limits);
        for client in [None, Some("192.0.2.9".parse().unwrap())] {
            assert!(matches!(guard.check(client, limits), Err(Error::LoginsPaused { seconds: 1..=60 })), "{client:?}");
        }
    }

    /// Issue 15, 1: a wrong bearer token was neither counted nor refused when locked.
    #[test]
    fn bearer_tokens_go_through_the_same_limiter() {
        let config = AdminConfig::token("a-long-random-token").failed_logins_per_minute(2);
        let guard = Guard::default();
        let client = Some("192.0.2.1".parse().unwrap());
        assert!(!verify_token(&config, &guard, client, "guess-1").unwrap());
        assert!(!verify_token(&config, &guard, client, "guess-2").unwrap());
        let locked = verify_token(&config, &guard, client, "a-long-random-token");
        assert!(matches!(locked, Err(Error::LoginsLocked { .. })), "the right token, locked: {locked:?}");
        let other = Some("192.0.2.2".parse().unwrap());
        assert!(verify_token(&config, &guard, other, "a-long-random-token").unwrap());
    }

    #[test]
    fn slots_are_limited_and_given_back() {
        let guard = Arc::new(Guard::default());
        let first = guard.take(2).unwrap();
        let _second = guard.take(2).unwrap();
        assert!(guard.take(2).is_none());
        drop(first);
        assert!(guard.take(2).is_some());
    }
}
