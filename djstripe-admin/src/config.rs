//! [`AdminConfig`]: who may log in, where new endpoints point, rows per page.

use djstripe_core::app::Djstripe;

use crate::auth;

/// The admin's settings: who may log in, and how pages look.
///
/// Who may log in: the users of the database's `djstripe_admin_user` table (made by the
/// command line's `admin set-password`, like Django's `createsuperuser`), plus, when set, one
/// user from the environment (`DJSTRIPE_ADMIN_USER` with the argon2 hash
/// `DJSTRIPE_ADMIN_PASSWORD_HASH`) and a bearer token (`DJSTRIPE_ADMIN_TOKEN`). A name that is in
/// the database is checked against the database's hash only.
///
/// ```
/// use djstripe_admin::{AdminConfig, hash_password};
/// let config = AdminConfig::password("ops", &hash_password("correct horse")).unwrap().page_size(25);
/// assert!(config.check_password("ops", "correct horse"));
/// assert!(!config.check_password("ops", "wrong"));
/// ```
#[derive(Clone)]
pub struct AdminConfig {
    pub(crate) user: String,
    /// The argon2 PHC string of the environment's user.
    pub(crate) password: Option<String>,
    pub(crate) token: Option<[u8; 32]>,
    pub(crate) database_users: bool,
    pub(crate) max_logins: usize,
    pub(crate) max_failures: u32,
    pub(crate) max_total_failures: u32,
    pub(crate) webhook_prefix: String,
    pub(crate) page_size: i64,
    pub(crate) secure_cookies: bool,
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "$argon2…"))
            .field("token", &self.token.map(|_| "…"))
            .field("database_users", &self.database_users)
            .field("max_concurrent_logins", &self.max_logins)
            .field("failed_logins_per_minute", &self.max_failures)
            .field("failed_logins_per_minute_total", &self.max_total_failures)
            .field("webhook_prefix", &self.webhook_prefix)
            .field("page_size", &self.page_size)
            .field("secure_cookies", &self.secure_cookies)
            .finish()
    }
}

impl AdminConfig {
    /// Only the database's users (`djstripe_admin_user`, made by `admin set-password`) may log
    /// in: the configuration an app gets when the environment sets no credential.
    ///
    /// ```
    /// let config = djstripe_admin::AdminConfig::database_users().page_size(20);
    /// assert!(!config.check_password("admin", ""), "no login of the environment");
    /// ```
    pub fn database_users() -> Self {
        Self {
            user: "admin".into(),
            password: None,
            token: None,
            database_users: true,
            max_logins: DEFAULT_MAX_LOGINS,
            max_failures: DEFAULT_MAX_FAILURES,
            max_total_failures: DEFAULT_MAX_TOTAL_FAILURES,
            webhook_prefix: "/stripe".into(),
            page_size: 50,
            secure_cookies: true,
        }
    }

    /// Log in as `user` with the password whose argon2 hash is `hash` (a PHC string
    /// `$argon2id$...`, see [`hash_password`]), by HTTP basic auth or the login form; the
    /// database's users may log in too.
    ///
    /// # Errors
    /// [`djstripe_core::Error::InvalidSetting`] (`DJSTRIPE_ADMIN_PASSWORD_HASH`) for anything but
    /// an argon2 PHC string; an old unsalted `sha256:` hash is refused with what to do instead.
    ///
    /// ```
    /// let err = djstripe_admin::AdminConfig::password("admin", "hunter2").unwrap_err();
    /// assert!(err.to_string().contains("argon2"));
    /// let err = djstripe_admin::AdminConfig::password("admin", &format!("sha256:{}", "0".repeat(64))).unwrap_err();
    /// assert!(err.to_string().contains("admin set-password"));
    /// ```
    pub fn password(user: impl Into<String>, hash: &str) -> Result<Self, djstripe_core::Error> {
        let hash = auth::parse_hash("DJSTRIPE_ADMIN_PASSWORD_HASH", hash)?;
        Ok(Self { user: user.into(), password: Some(hash), ..Self::database_users() })
    }

    /// Log in with a token: `Authorization: Bearer <token>` only (never as the login form's
    /// password, where any user name would do). Only its SHA-256 is kept.
    ///
    /// ```
    /// let config = djstripe_admin::AdminConfig::token("s3cr3t-token-of-enough-length");
    /// assert!(config.check_token("s3cr3t-token-of-enough-length"));
    /// ```
    pub fn token(token: &str) -> Self {
        Self { token: Some(auth::sha256(token.as_bytes())), ..Self::database_users() }
    }

    /// Also accept a token (see [`AdminConfig::token`]).
    ///
    /// ```
    /// use djstripe_admin::{AdminConfig, hash_password};
    /// let config = AdminConfig::password("admin", &hash_password("pw")).unwrap().with_token("t0ken");
    /// assert!(config.check_token("t0ken"));
    /// ```
    pub fn with_token(mut self, token: &str) -> Self {
        self.token = Some(auth::sha256(token.as_bytes()));
        self
    }

    /// Where the webhook scope is mounted (default `/stripe`): new endpoints created from the
    /// admin get the URL `{base URL}{prefix}/webhook/{uuid}/`.
    ///
    /// ```
    /// let config = djstripe_admin::AdminConfig::token("t").webhook_prefix("/payments/stripe/");
    /// # let _ = config;
    /// ```
    pub fn webhook_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.webhook_prefix = prefix.into().trim_end_matches('/').to_owned();
        self
    }

    /// Whether the database's users (`djstripe_admin_user`) may log in (default yes).
    ///
    /// ```
    /// let config = djstripe_admin::AdminConfig::token("a-token-for-scripts-only").with_database_users(false);
    /// # let _ = config;
    /// ```
    pub fn with_database_users(mut self, on: bool) -> Self {
        self.database_users = on;
        self
    }

    /// How many password verifications (argon2: tens of milliseconds of CPU and 19 MiB each)
    /// run at once, at least 1 (default 2). A login beyond that is answered 429 at once: the
    /// login form answers anyone, and this bounds what anonymous clients can make the server do.
    ///
    /// ```
    /// let config = djstripe_admin::AdminConfig::database_users().max_concurrent_logins(1);
    /// # let _ = config;
    /// ```
    pub fn max_concurrent_logins(mut self, verifications: usize) -> Self {
        self.max_logins = verifications.max(1);
        self
    }

    /// How many failed password logins a client address may make in a minute, at least 1
    /// (default 10): after that, its logins are answered 429 (with `Retry-After`) without a
    /// check until the minute is over, whatever the password; a good login clears the count. The
    /// address is the connection's peer, or what a trusted proxy (`DJSTRIPE_TRUSTED_PROXIES`)
    /// forwarded; a request without one is not counted.
    ///
    /// ```
    /// let config = djstripe_admin::AdminConfig::database_users().failed_logins_per_minute(5);
    /// # let _ = config;
    /// ```
    pub fn failed_logins_per_minute(mut self, failures: u32) -> Self {
        self.max_failures = failures.max(1);
        self
    }

    /// How many failed logins all clients together may make in a minute, at least 1 (default
    /// 100): after that, every login (form, HTTP basic, bearer token) is answered 429 with
    /// `Retry-After` until the minute is over. Sessions already open keep working. This bounds
    /// a guesser with many addresses, or behind a proxy that names none.
    ///
    /// ```
    /// let config = djstripe_admin::AdminConfig::database_users().failed_logins_per_minute_total(50);
    /// # let _ = config;
    /// ```
    pub fn failed_logins_per_minute_total(mut self, failures: u32) -> Self {
        self.max_total_failures = failures.max(1);
        self
    }

    /// Whether the admin's cookies are `Secure` (and named `__Host-…`, bound to this host and
    /// https) even when a request arrives over plain HTTP (default on, like Django's
    /// `SESSION_COOKIE_SECURE` in a deployment checklist): a proxy that terminates TLS and is not
    /// in `DJSTRIPE_TRUSTED_PROXIES` still gets secure cookies. Plain HTTP to a loopback address
    /// (`localhost`, `127.0.0.1`: local development) is exempt; elsewhere over plain HTTP the
    /// login form says why a browser would not keep its cookie. Off: `Secure` only over https.
    ///
    /// ```
    /// let config = djstripe_admin::AdminConfig::database_users().secure_cookies(false);
    /// # let _ = config;
    /// ```
    pub fn secure_cookies(mut self, on: bool) -> Self {
        self.secure_cookies = on;
        self
    }

    /// The failure limits, for the guard.
    pub(crate) fn limits(&self) -> auth::Limits {
        auth::Limits { per_address: self.max_failures, total: self.max_total_failures }
    }

    /// Rows per page of the triggers and events lists (default 50, at least 1).
    ///
    /// ```
    /// let config = djstripe_admin::AdminConfig::token("t").page_size(20);
    /// # let _ = config;
    /// ```
    pub fn page_size(mut self, rows: u32) -> Self {
        self.page_size = i64::from(rows.max(1));
        self
    }

    /// From the environment; `Ok(None)` when it sets no credential (see [`AdminConfig::load`],
    /// which also turns the admin on for the database's users).
    ///
    /// | variable | meaning |
    /// |---|---|
    /// | `DJSTRIPE_ADMIN_PASSWORD_HASH` | the argon2 PHC string of a password (`$argon2id$...`, from the command line's `admin hash-password`); `sha256:` values are refused |
    /// | `DJSTRIPE_ADMIN_USER` | the user name for that password (default `admin`) |
    /// | `DJSTRIPE_ADMIN_TOKEN` | a bearer token (at least 16 characters) |
    /// | `DJSTRIPE_ADMIN_PAGE_SIZE` | rows per page (default 50) |
    /// | `DJSTRIPE_ADMIN_MAX_LOGINS` | password verifications at once, beyond which a login is answered 429 (default 2) |
    /// | `DJSTRIPE_ADMIN_FAILED_LOGINS` | failed logins per client address and minute, beyond which it is answered 429 (default 10) |
    /// | `DJSTRIPE_ADMIN_SECURE_COOKIES` | `true` (default) or `false`: whether cookies are `Secure` and `__Host-` even over plain HTTP (see [`AdminConfig::secure_cookies`]) |
    /// | `DJSTRIPE_ADMIN_FAILED_LOGINS_TOTAL` | failed logins of all clients together per minute, beyond which every login is answered 429 (default 100) |
    ///
    /// Users stored in the database by the command line's `admin set-password` need no variable.
    ///
    /// ```
    /// // Nothing configured: no credential from the environment.
    /// assert!(djstripe_admin::AdminConfig::from_lookup(|_| None).unwrap().is_none());
    /// ```
    pub fn from_env() -> Result<Option<Self>, djstripe_core::Error> {
        Self::from_lookup(env)
    }

    /// [`AdminConfig::from_env`] reading variables through `get` (for tests and other sources).
    ///
    /// ```
    /// use djstripe_admin::{AdminConfig, hash_password};
    /// let hash = hash_password("pw");
    /// let config = AdminConfig::from_lookup(|name| match name {
    ///     "DJSTRIPE_ADMIN_PASSWORD_HASH" => Some(hash.clone()),
    ///     "DJSTRIPE_ADMIN_USER" => Some("ops".into()),
    ///     _ => None,
    /// }).unwrap().unwrap();
    /// assert!(config.check_password("ops", "pw"));
    /// ```
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, djstripe_core::Error> {
        let (config, credential) = Self::read(get)?;
        Ok(credential.then_some(config))
    }

    /// What the adapters' `serve` mounts: the environment's settings, on when they set a
    /// credential or when the database has an admin user (the command line's `admin set-password`);
    /// `Ok(None)` (no admin pages) otherwise. A user added later counts after a restart.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let url = format!("sqlite://{}/app.sqlite3", dir.path().display());
    /// use djstripe_core::app::{Djstripe, Settings};
    /// let djstripe = Djstripe::start(Settings::new(url)).unwrap();
    /// let lookup = |_: &str| None; // an environment without DJSTRIPE_ADMIN_*
    /// assert!(djstripe_admin::AdminConfig::load_with(&djstripe, lookup).unwrap().is_none());
    /// djstripe.engine().database().set_admin_password("ops", &djstripe_admin::hash_password("a passphrase")).unwrap();
    /// assert!(djstripe_admin::AdminConfig::load_with(&djstripe, lookup).unwrap().is_some());
    /// ```
    pub fn load(djstripe: &Djstripe) -> Result<Option<Self>, djstripe_core::Error> {
        Self::load_with(djstripe, env)
    }

    /// [`AdminConfig::load`] reading variables through `get`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let url = format!("sqlite://{}/app.sqlite3", dir.path().display());
    /// let djstripe = djstripe_core::app::Djstripe::start(djstripe_core::app::Settings::new(url)).unwrap();
    /// let token = |name: &str| (name == "DJSTRIPE_ADMIN_TOKEN").then(|| "a-long-random-token".to_owned());
    /// let config = djstripe_admin::AdminConfig::load_with(&djstripe, token).unwrap().unwrap();
    /// assert!(config.check_token("a-long-random-token"));
    /// ```
    pub fn load_with(
        djstripe: &Djstripe,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, djstripe_core::Error> {
        let (config, credential) = Self::read(get)?;
        let on = credential || (config.database_users && !djstripe.engine().database().admin_users()?.is_empty());
        Ok(on.then_some(config))
    }

    /// The settings, and whether they name a credential.
    fn read(get: impl Fn(&str) -> Option<String>) -> Result<(Self, bool), djstripe_core::Error> {
        let hash = get("DJSTRIPE_ADMIN_PASSWORD_HASH");
        let token = get("DJSTRIPE_ADMIN_TOKEN");
        let credential = hash.is_some() || token.is_some();
        let mut config = match &hash {
            Some(hash) => Self::password(get("DJSTRIPE_ADMIN_USER").unwrap_or_else(|| "admin".into()), hash)?,
            None => Self::database_users(),
        };
        if let Some(token) = token {
            if token.trim().len() < 16 {
                return Err(djstripe_core::Error::InvalidSetting {
                    setting: "DJSTRIPE_ADMIN_TOKEN",
                    message: "the token is too short: use at least 16 random characters".into(),
                });
            }
            config = config.with_token(token.trim());
        }
        if let Some(size) = get("DJSTRIPE_ADMIN_PAGE_SIZE") {
            let rows = size.trim().parse::<u32>().map_err(|_| djstripe_core::Error::InvalidSetting {
                setting: "DJSTRIPE_ADMIN_PAGE_SIZE",
                message: format!("`{size}` is not a number of rows"),
            })?;
            config = config.page_size(rows);
        }
        if let Some(max) = get("DJSTRIPE_ADMIN_MAX_LOGINS") {
            let max = max.trim().parse::<usize>().ok().filter(|n| (1..=64).contains(n)).ok_or_else(|| {
                djstripe_core::Error::InvalidSetting {
                    setting: "DJSTRIPE_ADMIN_MAX_LOGINS",
                    message: format!("`{max}` is not a number of verifications between 1 and 64"),
                }
            })?;
            config = config.max_concurrent_logins(max);
        }
        if let Some(max) = get("DJSTRIPE_ADMIN_FAILED_LOGINS") {
            let max = max.trim().parse::<u32>().ok().filter(|n| (1..=10_000).contains(n)).ok_or_else(|| {
                djstripe_core::Error::InvalidSetting {
                    setting: "DJSTRIPE_ADMIN_FAILED_LOGINS",
                    message: format!("`{max}` is not a number of failed logins per minute between 1 and 10000"),
                }
            })?;
            config = config.failed_logins_per_minute(max);
        }
        if let Some(max) = get("DJSTRIPE_ADMIN_FAILED_LOGINS_TOTAL") {
            let max = max.trim().parse::<u32>().ok().filter(|n| (1..=1_000_000).contains(n)).ok_or_else(|| {
                djstripe_core::Error::InvalidSetting {
                    setting: "DJSTRIPE_ADMIN_FAILED_LOGINS_TOTAL",
                    message: format!("`{max}` is not a number of failed logins per minute between 1 and 1000000"),
                }
            })?;
            config = config.failed_logins_per_minute_total(max);
        }
        if let Some(on) = get("DJSTRIPE_ADMIN_SECURE_COOKIES") {
            let on = match on.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => {
                    return Err(djstripe_core::Error::InvalidSetting {
                        setting: "DJSTRIPE_ADMIN_SECURE_COOKIES",
                        message: format!("`{on}` is not true or false"),
                    });
                }
            };
            config = config.secure_cookies(on);
        }
        Ok((config, credential))
    }

    /// Whether `user` / `password` is the environment's login (argon2: slow on purpose, run it
    /// off the async executor). The database's users are checked by [`crate::Admin::handle`].
    ///
    /// ```
    /// let config = djstripe_admin::AdminConfig::token("a-token-for-scripts");
    /// assert!(!config.check_password("admin", "a-token-for-scripts"), "a token is not a password");
    /// ```
    pub fn check_password(&self, user: &str, password: &str) -> bool {
        auth::check_password(self, user, password)
    }

    /// Whether `token` is the configured token (constant-time comparison).
    ///
    /// ```
    /// let config = djstripe_admin::AdminConfig::token("a-token-for-scripts");
    /// assert!(!config.check_token("a-token-for-script"));
    /// ```
    pub fn check_token(&self, token: &str) -> bool {
        auth::check_token(self, token)
    }
}

/// Password verifications at once, by default.
const DEFAULT_MAX_LOGINS: usize = 2;
/// Failed logins per client address and minute, by default.
const DEFAULT_MAX_FAILURES: u32 = 10;
/// Failed logins of all clients together per minute, by default.
const DEFAULT_MAX_TOTAL_FAILURES: u32 = 100;

/// A variable of the environment; empty counts as unset.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}
