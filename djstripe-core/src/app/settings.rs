//! [`Settings`]: typed settings, from a builder or from the environment (dj-stripe's names).

use std::net::IpAddr;
use std::time::Duration;

use super::Limits;
use super::retention::{MIN_EVENT_RETENTION_DAYS, RetentionPolicy};
use crate::Error;
use crate::db::{DatabaseOptions, Processing, SqliteSync, ValidationMethod};
use crate::engine::{EventCallback, InboxConfig};
use crate::registry::HandlerSet;
use crate::stripe_api::DEFAULT_API_BASE;

/// Everything an app needs to receive webhooks, whatever its web framework. Build it in code,
/// or read it from the environment with [`Settings::from_env`]; a bad value fails there, at
/// startup, as [`Error::InvalidSetting`] naming the variable, and so does a combination that
/// contradicts itself (see [`Settings::check`]). The two HTTP settings
/// (`max_body`, `trusted_proxies`) are read here too so that every adapter applies them the
/// same way.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `DATABASE_URL` | a SQLite path / `sqlite://path`, or `postgres://...` | the app's default |
/// | `DJSTRIPE_WEBHOOK_SECRET` | legacy endpoint secret(s), comma-separated | legacy endpoint off |
/// | `DJSTRIPE_WEBHOOK_VALIDATION` | the legacy endpoint's `verify_signature`, `retrieve_event` or `none` (needs `DJSTRIPE_WEBHOOK_SECRET`) | `verify_signature` |
/// | `DJSTRIPE_WEBHOOK_FETCH_THIN_EVENTS` | `true`/`false`: the legacy endpoint fetches the full v2 event (`GET /v2/core/events/{id}`) of each thin notification before its transaction opens, so handlers see its `data` (needs `DJSTRIPE_WEBHOOK_SECRET` and the mode's secret key) | false |
/// | `DJSTRIPE_WEBHOOK_TOLERANCE` | the legacy endpoint's signature timestamp tolerance, seconds (0 = off; needs `DJSTRIPE_WEBHOOK_SECRET`) | 300 |
/// | `STRIPE_LIVE_MODE` | `true`/`false`: which key is the default | false |
/// | `STRIPE_TEST_SECRET_KEY`, `STRIPE_LIVE_SECRET_KEY` | API keys (`sk_test_`/`rk_test_`, `sk_live_`/`rk_live_`) | none |
/// | `STRIPE_API_BASE` | Stripe's API base URL | `https://api.stripe.com` |
/// | `DJSTRIPE_WEBHOOK_BASE_URL` | the app's public base URL, default of `endpoints create` | none |
/// | `DJSTRIPE_WEBHOOK_MAX_BODY` | largest accepted body, bytes | 2621440 (2.5 MiB) |
/// | `DJSTRIPE_DB_POOL_SIZE` | database connections | 8 |
/// | `DJSTRIPE_DB_WRITERS` | writer threads doing group commit (at most half the pool) | 1 on SQLite; on PostgreSQL one per core, at least 2 |
/// | `DJSTRIPE_DB_TIMEOUT` | seconds to wait for a pooled connection or the SQLite write lock before answering 503; libpq's `connect_timeout` unless the URL sets one | 10 |
/// | `DJSTRIPE_SQLITE_SYNCHRONOUS` | SQLite only: `FULL` (durable) or `NORMAL` (may lose the last commits on power loss) | `FULL` |
/// | `DJSTRIPE_TRUSTED_PROXIES` | comma-separated proxy IPs whose `X-Forwarded-For` is believed | none |
/// | `DJSTRIPE_SHUTDOWN_GRACE` | seconds a SIGTERM/Ctrl-C leaves to finish the deliveries in flight and their `on_commit` callbacks before `serve` exits (keep it below the orchestrator's own: Kubernetes kills at 30) | 30 |
/// | `DJSTRIPE_WEBHOOK_BODY_TIMEOUT`, `…_MAX_READERS`, `…_BODY_MEMORY`, `DJSTRIPE_WRITER_QUEUE`, `DJSTRIPE_WEBHOOK_REJECTED_PER_MINUTE`, `DJSTRIPE_RETRIEVE_EVENT_PER_SECOND` | what unauthenticated traffic can cost: see [`Limits`] | see [`Limits`] |
/// | `DJSTRIPE_TRIGGER_RETENTION_DAYS` | days a trigger row whose outcome is final and successful, or `invalid`, is kept; then the background task removes it (`failed`, `queued` stay) | kept forever |
/// | `DJSTRIPE_EVENT_RETENTION_DAYS` | days an event row is kept once no trigger refers to it; at least 30 (Stripe resends events for 30 days), needs `DJSTRIPE_TRIGGER_RETENTION_DAYS` | kept forever |
/// | `DJSTRIPE_PRUNE_INTERVAL` | seconds between two runs of the background pruning task (needs a retention) | 3600 |
/// | `DJSTRIPE_WEBHOOK_PROCESSING` | `inline` (handlers run before the answer, dj-stripe's way) or `inbox` (committed and answered at once, handlers run by workers afterwards: see [`crate::engine::inbox`]); endpoints may set their own | `inline` |
/// | `DJSTRIPE_INBOX_WORKERS` | inbox worker threads per process (0: none; SQLite always 1) | 4 on PostgreSQL, 1 on SQLite |
/// | `DJSTRIPE_INBOX_MAX_ATTEMPTS` | failed attempts before an inbox event is dead-lettered | 12 |
/// | `DJSTRIPE_INBOX_MAX_AGE` | seconds after which an inbox event is dead-lettered at its next failure | 259200 (3 days) |
/// | `DJSTRIPE_INBOX_LEASE` | seconds a worker's claim holds before another worker may take the event over | 60 |
///
/// ```
/// use djstripe_core::app::Settings;
/// let config = Settings::new("sqlite://app.sqlite3").webhook_secrets(["whsec_1"]).tolerance_secs(600);
/// assert_eq!(config.tolerance.as_secs(), 600);
/// assert!(config.legacy_enabled());
/// ```
#[derive(Clone)]
pub struct Settings {
    /// `DATABASE_URL`.
    pub database_url: String,
    /// Pool size, timeouts, SQLite durability.
    pub database: DatabaseOptions,
    /// `DJSTRIPE_WEBHOOK_SECRET`: the legacy endpoint's secrets; empty = legacy endpoint off.
    pub webhook_secrets: Vec<String>,
    /// `DJSTRIPE_WEBHOOK_VALIDATION` for the legacy endpoint.
    pub validation: ValidationMethod,
    /// `DJSTRIPE_WEBHOOK_TOLERANCE`.
    pub tolerance: Duration,
    /// `DJSTRIPE_WEBHOOK_FETCH_THIN_EVENTS`: the legacy endpoint's
    /// [`crate::engine::LegacyEndpoint::fetch_thin_events`].
    pub fetch_thin_events: bool,
    /// `STRIPE_LIVE_MODE`.
    pub live_mode: bool,
    /// `STRIPE_TEST_SECRET_KEY`.
    pub test_secret_key: Option<String>,
    /// `STRIPE_LIVE_SECRET_KEY`.
    pub live_secret_key: Option<String>,
    /// `STRIPE_API_BASE`.
    pub api_base: String,
    /// `DJSTRIPE_WEBHOOK_BASE_URL`: the public base URL new endpoints get (checked when used).
    pub webhook_base_url: Option<String>,
    /// `DJSTRIPE_WEBHOOK_MAX_BODY`.
    pub max_body: usize,
    /// `DJSTRIPE_TRUSTED_PROXIES`.
    pub trusted_proxies: Vec<IpAddr>,
    /// Bounds on what unauthenticated traffic can cost (memory, time, disk, API calls).
    pub limits: Limits,
    /// `DJSTRIPE_DB_WRITERS`: group-commit writer threads (`None`: the engine's default).
    pub writers: Option<usize>,
    /// dj-stripe's `DJSTRIPE_WEBHOOK_EVENT_CALLBACK`: take over valid deliveries (code only).
    pub event_callback: Option<EventCallback>,
    /// The app's own migrations, applied by [`super::Djstripe::start`] after djstripe's (code only).
    pub app_migrations: Option<super::AppMigrations>,
    /// Which registered handlers and hooks run (code only; default all): see [`HandlerSet`].
    pub handlers: HandlerSet,
    /// `DJSTRIPE_TRIGGER_RETENTION_DAYS`, `DJSTRIPE_EVENT_RETENTION_DAYS`,
    /// `DJSTRIPE_PRUNE_INTERVAL`: how long rows are kept (default: forever).
    pub retention: RetentionPolicy,
    /// `DJSTRIPE_SHUTDOWN_GRACE`: from SIGTERM to exit, at most — the HTTP server's graceful
    /// stop, then [`super::Djstripe::shutdown`].
    pub shutdown_grace: Duration,
    /// `DJSTRIPE_WEBHOOK_PROCESSING`: when handlers run, for the legacy endpoint and every
    /// endpoint without its own ([`crate::db::WebhookEndpoint::processing`]).
    pub processing: Processing,
    /// `DJSTRIPE_INBOX_*`: the inbox's workers, retries and leases.
    pub inbox: InboxConfig,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact_url(&self.database_url))
            .field("webhook_secrets", &self.webhook_secrets.len())
            .field("validation", &self.validation)
            .field("tolerance", &self.tolerance)
            .field("fetch_thin_events", &self.fetch_thin_events)
            .field("live_mode", &self.live_mode)
            .field("api_base", &self.api_base)
            .field("max_body", &self.max_body)
            .field("retention", &self.retention)
            .field("processing", &self.processing)
            .field("inbox", &self.inbox)
            .finish_non_exhaustive()
    }
}

/// `postgres://user:password@host/db` without the password, for logs.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

impl Settings {
    /// Defaults for everything but the database.
    ///
    /// ```
    /// let config = djstripe_core::app::Settings::new("sqlite://app.sqlite3");
    /// assert_eq!(config.max_body, 2_621_440);
    /// ```
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            database: DatabaseOptions::default(),
            webhook_secrets: Vec::new(),
            validation: ValidationMethod::VerifySignature,
            tolerance: Duration::from_secs(300),
            fetch_thin_events: false,
            live_mode: false,
            test_secret_key: None,
            live_secret_key: None,
            api_base: DEFAULT_API_BASE.to_owned(),
            webhook_base_url: None,
            max_body: 2_621_440,
            trusted_proxies: Vec::new(),
            limits: Limits::default(),
            writers: None,
            event_callback: None,
            app_migrations: None,
            handlers: HandlerSet::all(),
            retention: RetentionPolicy::default(),
            shutdown_grace: Duration::from_secs(30),
            processing: Processing::Inline,
            inbox: InboxConfig::default(),
        }
    }

    /// Reads the environment (table above). `default_database_url` applies when `DATABASE_URL` is unset.
    ///
    /// ```
    /// let config = djstripe_core::app::Settings::from_env("sqlite://app.sqlite3").unwrap();
    /// # let _ = config;
    /// ```
    pub fn from_env(default_database_url: &str) -> Result<Self, Error> {
        Self::from_lookup(default_database_url, |name| std::env::var(name).ok())
    }

    /// [`Settings::from_env`] over any variable source (tests, config files).
    ///
    /// ```
    /// let err = djstripe_core::app::Settings::from_lookup("app.sqlite3", |name| {
    ///     (name == "DJSTRIPE_WEBHOOK_TOLERANCE").then(|| "soon".to_string())
    /// }).unwrap_err();
    /// assert!(err.to_string().starts_with("DJSTRIPE_WEBHOOK_TOLERANCE"));
    /// ```
    pub fn from_lookup(default_database_url: &str, get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |name: &str| get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let mut config = Settings::new(get("DATABASE_URL").unwrap_or_else(|| default_database_url.to_owned()));
        if let Some(secrets) = get("DJSTRIPE_WEBHOOK_SECRET") {
            config.webhook_secrets =
                secrets.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
            if let Some(bad) = config.webhook_secrets.iter().find(|s| !s.starts_with("whsec_")) {
                return Err(config_error(
                    "DJSTRIPE_WEBHOOK_SECRET",
                    format!("`{}…` is not a webhook signing secret (whsec_...)", &bad[..bad.len().min(6)]),
                ));
            }
        }
        if let Some(v) = get("DJSTRIPE_WEBHOOK_VALIDATION") {
            config.validation = v.parse().map_err(|_| {
                config_error(
                    "DJSTRIPE_WEBHOOK_VALIDATION",
                    format!("`{v}` is not one of verify_signature, retrieve_event, none"),
                )
            })?;
        }
        let tolerance_set = get("DJSTRIPE_WEBHOOK_TOLERANCE").is_some();
        if let Some(v) = get("DJSTRIPE_WEBHOOK_TOLERANCE") {
            let secs: u64 = v.parse().map_err(|_| {
                config_error(
                    "DJSTRIPE_WEBHOOK_TOLERANCE",
                    format!("`{v}` is not a number of seconds (0 turns the check off)"),
                )
            })?;
            config.tolerance = Duration::from_secs(secs);
        }
        if let Some(v) = get("DJSTRIPE_WEBHOOK_FETCH_THIN_EVENTS") {
            config.fetch_thin_events = parse_bool(&v).ok_or_else(|| {
                config_error("DJSTRIPE_WEBHOOK_FETCH_THIN_EVENTS", format!("`{v}` is not true or false"))
            })?;
        }
        if let Some(v) = get("STRIPE_LIVE_MODE") {
            config.live_mode = parse_bool(&v)
                .ok_or_else(|| config_error("STRIPE_LIVE_MODE", format!("`{v}` is not true or false")))?;
        }
        if let Some(key) = get("STRIPE_TEST_SECRET_KEY") {
            if !(key.starts_with("sk_test_") || key.starts_with("rk_test_")) {
                return Err(config_error(
                    "STRIPE_TEST_SECRET_KEY",
                    "expected a test key starting with sk_test_ or rk_test_".into(),
                ));
            }
            config.test_secret_key = Some(key);
        }
        if let Some(key) = get("STRIPE_LIVE_SECRET_KEY") {
            if !(key.starts_with("sk_live_") || key.starts_with("rk_live_")) {
                return Err(config_error(
                    "STRIPE_LIVE_SECRET_KEY",
                    "expected a live key starting with sk_live_ or rk_live_".into(),
                ));
            }
            config.live_secret_key = Some(key);
        }
        if let Some(base) = get("STRIPE_API_BASE") {
            if !(base.starts_with("https://") || base.starts_with("http://")) {
                return Err(config_error("STRIPE_API_BASE", format!("`{base}` is not an http(s) URL")));
            }
            config.api_base = base;
        }
        if let Some(base) = get("DJSTRIPE_WEBHOOK_BASE_URL") {
            if !(base.starts_with("https://") || base.starts_with("http://")) {
                return Err(config_error("DJSTRIPE_WEBHOOK_BASE_URL", format!("`{base}` is not an http(s) URL")));
            }
            config.webhook_base_url = Some(base);
        }
        if let Some(v) = get("DJSTRIPE_WEBHOOK_MAX_BODY") {
            config.max_body = v.parse().ok().filter(|n| *n >= 1024).ok_or_else(|| {
                config_error("DJSTRIPE_WEBHOOK_MAX_BODY", format!("`{v}` is not a size in bytes of at least 1024"))
            })?;
        }
        if let Some(v) = get("DJSTRIPE_DB_POOL_SIZE") {
            config.database.pool_size = v.parse().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| {
                config_error("DJSTRIPE_DB_POOL_SIZE", format!("`{v}` is not a pool size between 1 and 1000"))
            })?;
        }
        if let Some(v) = get("DJSTRIPE_DB_WRITERS") {
            config.writers = Some(v.parse().ok().filter(|n| (1..=64).contains(n)).ok_or_else(|| {
                config_error("DJSTRIPE_DB_WRITERS", format!("`{v}` is not a number of writer threads between 1 and 64"))
            })?);
        }
        if let Some(v) = get("DJSTRIPE_DB_TIMEOUT") {
            let secs: f64 = v.parse().ok().filter(|s: &f64| *s > 0.0 && *s <= 600.0).ok_or_else(|| {
                config_error("DJSTRIPE_DB_TIMEOUT", format!("`{v}` is not a number of seconds between 0 and 600"))
            })?;
            config.database.connect_timeout = Duration::from_secs_f64(secs);
            config.database.busy_timeout = Duration::from_secs_f64(secs);
        }
        if let Some(v) = get("DJSTRIPE_SQLITE_SYNCHRONOUS") {
            if config.sqlite_path().is_none() {
                return Err(config_error(
                    "DJSTRIPE_SQLITE_SYNCHRONOUS",
                    "it applies to SQLite only, and DATABASE_URL names another database: remove it".into(),
                ));
            }
            config.database.sqlite_sync = match v.to_ascii_uppercase().as_str() {
                "FULL" => SqliteSync::Full,
                "NORMAL" => SqliteSync::Normal,
                _ => return Err(config_error("DJSTRIPE_SQLITE_SYNCHRONOUS", format!("`{v}` is not FULL or NORMAL"))),
            };
        }
        if let Some(v) = get("DJSTRIPE_TRUSTED_PROXIES") {
            config.trusted_proxies = v
                .split(',')
                .map(|ip| {
                    ip.trim()
                        .parse()
                        .map_err(|_| config_error("DJSTRIPE_TRUSTED_PROXIES", format!("`{ip}` is not an IP address")))
                })
                .collect::<Result<_, _>>()?;
        }
        let days = |var: &'static str, v: &str| {
            v.parse::<u32>().ok().filter(|d| (1..=36_500).contains(d)).ok_or_else(|| {
                config_error(var, format!("`{v}` is not a number of days between 1 and 36500 (unset: kept forever)"))
            })
        };
        if let Some(v) = get("DJSTRIPE_TRIGGER_RETENTION_DAYS") {
            config.retention.triggers = Some(days("DJSTRIPE_TRIGGER_RETENTION_DAYS", &v)?);
        }
        if let Some(v) = get("DJSTRIPE_EVENT_RETENTION_DAYS") {
            config.retention.events = Some(days("DJSTRIPE_EVENT_RETENTION_DAYS", &v)?);
        }
        let interval_set = get("DJSTRIPE_PRUNE_INTERVAL").is_some();
        if let Some(v) = get("DJSTRIPE_PRUNE_INTERVAL") {
            let secs: u64 = v.parse().ok().filter(|s| (1..=604_800).contains(s)).ok_or_else(|| {
                config_error(
                    "DJSTRIPE_PRUNE_INTERVAL",
                    format!("`{v}` is not a number of seconds between 1 and 604800 (a week)"),
                )
            })?;
            config.retention.interval = Duration::from_secs(secs);
        }
        if let Some(v) = get("DJSTRIPE_WEBHOOK_PROCESSING") {
            config.processing = v.parse().map_err(|_| {
                config_error("DJSTRIPE_WEBHOOK_PROCESSING", format!("`{v}` is not one of inline, inbox"))
            })?;
        }
        let count = |var: &'static str, v: &str, range: std::ops::RangeInclusive<u64>| {
            v.parse::<u64>().ok().filter(|n| range.contains(n)).ok_or_else(|| {
                config_error(var, format!("`{v}` is not a number between {} and {}", range.start(), range.end()))
            })
        };
        if let Some(v) = get("DJSTRIPE_INBOX_WORKERS") {
            config.inbox.workers = Some(count("DJSTRIPE_INBOX_WORKERS", &v, 0..=256)? as usize);
        }
        if let Some(v) = get("DJSTRIPE_INBOX_MAX_ATTEMPTS") {
            config.inbox.max_attempts = count("DJSTRIPE_INBOX_MAX_ATTEMPTS", &v, 1..=1000)? as u32;
        }
        if let Some(v) = get("DJSTRIPE_INBOX_MAX_AGE") {
            config.inbox.max_age = Duration::from_secs(count("DJSTRIPE_INBOX_MAX_AGE", &v, 1..=31_536_000)?);
        }
        if let Some(v) = get("DJSTRIPE_INBOX_LEASE") {
            config.inbox.lease = Duration::from_secs(count("DJSTRIPE_INBOX_LEASE", &v, 1..=86_400)?);
        }
        if let Some(v) = get("DJSTRIPE_SHUTDOWN_GRACE") {
            let secs: u64 = v.parse().ok().filter(|s| *s <= 3600).ok_or_else(|| {
                config_error("DJSTRIPE_SHUTDOWN_GRACE", format!("`{v}` is not a number of seconds between 0 and 3600"))
            })?;
            config.shutdown_grace = Duration::from_secs(secs);
        }
        config.limits = config.limits.from_lookup(get)?;
        config.check()?;
        if interval_set && !config.retention.is_enabled() {
            return Err(config_error(
                "DJSTRIPE_PRUNE_INTERVAL",
                "it applies to the pruning task, which is off because DJSTRIPE_TRIGGER_RETENTION_DAYS is unset: \
                 set DJSTRIPE_TRIGGER_RETENTION_DAYS, or remove DJSTRIPE_PRUNE_INTERVAL"
                    .into(),
            ));
        }
        if tolerance_set {
            // Only the legacy endpoint verifies with this tolerance (endpoints made by `endpoints
            // create` keep their own): a tolerance it never applies is a mistake to report.
            if !config.legacy_enabled() {
                return Err(config_error(
                    "DJSTRIPE_WEBHOOK_TOLERANCE",
                    "it applies to the legacy endpoint only, which is off because DJSTRIPE_WEBHOOK_SECRET is \
                     unset: set DJSTRIPE_WEBHOOK_SECRET, or remove DJSTRIPE_WEBHOOK_TOLERANCE"
                        .into(),
                ));
            }
            if config.validation != ValidationMethod::VerifySignature {
                return Err(config_error(
                    "DJSTRIPE_WEBHOOK_TOLERANCE",
                    format!(
                        "it applies to signature verification only, and DJSTRIPE_WEBHOOK_VALIDATION is `{}`: \
                         remove one of them",
                        config.validation.as_str()
                    ),
                ));
            }
        }
        Ok(config)
    }

    /// Checks combinations that no single variable shows; each is fatal, naming both settings:
    ///
    /// - `DJSTRIPE_WEBHOOK_VALIDATION` other than `verify_signature` without
    ///   `DJSTRIPE_WEBHOOK_SECRET`: it would apply to the legacy endpoint, which is off;
    /// - `retrieve_event` for the legacy endpoint without the mode's secret key;
    /// - `DJSTRIPE_WEBHOOK_FETCH_THIN_EVENTS` without `DJSTRIPE_WEBHOOK_SECRET` (it applies to
    ///   the legacy endpoint only; other endpoints have their own flag), or without the mode's
    ///   secret key (it calls Stripe's API);
    /// - `DJSTRIPE_DB_WRITERS` above half of `DJSTRIPE_DB_POOL_SIZE` (each writer keeps a
    ///   connection; the engine would silently use fewer);
    /// - `DJSTRIPE_EVENT_RETENTION_DAYS` below [`MIN_EVENT_RETENTION_DAYS`] (a resent event
    ///   whose row is gone would run its handlers again), or without
    ///   `DJSTRIPE_TRIGGER_RETENTION_DAYS` (an event goes only once no trigger refers to it, and
    ///   triggers would be kept forever: nothing would ever be removed);
    /// - a retention of 0 days, or a batch size or interval of 0.
    ///
    /// [`Settings::from_lookup`] also refuses `DJSTRIPE_WEBHOOK_TOLERANCE` where no signature is
    /// checked with it, and `DJSTRIPE_SQLITE_SYNCHRONOUS` with a PostgreSQL `DATABASE_URL`.
    ///
    /// ```
    /// use djstripe_core::app::Settings;
    /// use djstripe_core::db::ValidationMethod;
    /// let config = Settings::new("app.sqlite3").validation(ValidationMethod::RetrieveEvent).webhook_secrets(["whsec_1"]);
    /// assert!(config.check().unwrap_err().to_string().contains("STRIPE_TEST_SECRET_KEY"));
    /// let err = Settings::new("app.sqlite3").validation(ValidationMethod::None).check().unwrap_err().to_string();
    /// assert!(err.starts_with("DJSTRIPE_WEBHOOK_VALIDATION") && err.contains("DJSTRIPE_WEBHOOK_SECRET"), "{err}");
    /// ```
    pub fn check(&self) -> Result<(), Error> {
        if self.validation != ValidationMethod::VerifySignature && !self.legacy_enabled() {
            return Err(config_error(
                "DJSTRIPE_WEBHOOK_VALIDATION",
                format!(
                    "`{}` applies to the legacy endpoint only, which is off because DJSTRIPE_WEBHOOK_SECRET is \
                     unset: set DJSTRIPE_WEBHOOK_SECRET to turn it on, or remove DJSTRIPE_WEBHOOK_VALIDATION \
                     (endpoints made by `endpoints create` have their own validation)",
                    self.validation.as_str()
                ),
            ));
        }
        if self.validation == ValidationMethod::RetrieveEvent && self.legacy_enabled() && self.stripe_key().is_none() {
            return Err(config_error(
                "DJSTRIPE_WEBHOOK_VALIDATION",
                format!(
                    "retrieve_event needs {} to fetch events from Stripe",
                    if self.live_mode { "STRIPE_LIVE_SECRET_KEY" } else { "STRIPE_TEST_SECRET_KEY" }
                ),
            ));
        }
        if self.processing == Processing::Inbox && self.event_callback.is_some() {
            return Err(config_error(
                "DJSTRIPE_WEBHOOK_PROCESSING",
                "inbox mode and an event callback (Settings::event_callback) both defer processing: \
                 choose one (the inbox keeps dj-stripe's transaction, retries and ordering)"
                    .into(),
            ));
        }
        if self.fetch_thin_events && !self.legacy_enabled() {
            return Err(config_error(
                "DJSTRIPE_WEBHOOK_FETCH_THIN_EVENTS",
                "it applies to the legacy endpoint only, which is off because DJSTRIPE_WEBHOOK_SECRET is unset: \
                 set DJSTRIPE_WEBHOOK_SECRET, or remove DJSTRIPE_WEBHOOK_FETCH_THIN_EVENTS (endpoints made by \
                 `endpoints create` have their own: `endpoints update <id> --fetch-thin-events true`)"
                    .into(),
            ));
        }
        if self.fetch_thin_events && self.stripe_key().is_none() {
            return Err(config_error(
                "DJSTRIPE_WEBHOOK_FETCH_THIN_EVENTS",
                format!(
                    "fetching thin events needs {} to call GET /v2/core/events/{{id}} at Stripe: set it, or remove \
                     DJSTRIPE_WEBHOOK_FETCH_THIN_EVENTS",
                    if self.live_mode { "STRIPE_LIVE_SECRET_KEY" } else { "STRIPE_TEST_SECRET_KEY" }
                ),
            ));
        }
        self.check_retention()?;
        if let Some(writers) = self.writers {
            let pool = self.database.pool_size as usize;
            let most = (pool / 2).max(1);
            if writers > most {
                return Err(config_error(
                    "DJSTRIPE_DB_WRITERS",
                    format!(
                        "{writers} writer threads need DJSTRIPE_DB_POOL_SIZE of at least {} (each writer keeps a \
                         connection, half the pool stays for reads), and it is {pool}: raise \
                         DJSTRIPE_DB_POOL_SIZE or lower DJSTRIPE_DB_WRITERS to {most}",
                        writers * 2
                    ),
                ));
            }
        }
        Ok(())
    }

    fn check_retention(&self) -> Result<(), Error> {
        let retention = &self.retention;
        if retention.triggers == Some(0) {
            return Err(config_error(
                "DJSTRIPE_TRIGGER_RETENTION_DAYS",
                "0 days would remove a trigger as soon as it is written: use at least 1 (unset: kept forever)".into(),
            ));
        }
        if let Some(days) = retention.events {
            if days < MIN_EVENT_RETENTION_DAYS {
                return Err(config_error(
                    "DJSTRIPE_EVENT_RETENTION_DAYS",
                    format!(
                        "{days} days is too short: Stripe retries a delivery for up to 3 days and can resend an \
                         event for {MIN_EVENT_RETENTION_DAYS} days, and an event whose row is gone is no longer a \
                         duplicate (its handlers would run again): use at least {MIN_EVENT_RETENTION_DAYS}"
                    ),
                ));
            }
            if retention.triggers.is_none() {
                return Err(config_error(
                    "DJSTRIPE_EVENT_RETENTION_DAYS",
                    "an event is removed only once no trigger refers to it, and DJSTRIPE_TRIGGER_RETENTION_DAYS \
                     is unset (triggers are kept forever): set DJSTRIPE_TRIGGER_RETENTION_DAYS too"
                        .into(),
                ));
            }
        }
        if retention.is_enabled() && (retention.interval.is_zero() || retention.batch_size < 1) {
            return Err(config_error(
                "DJSTRIPE_PRUNE_INTERVAL",
                "the pruning task needs an interval of at least 1 second and a batch size of at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The SQLite file `database_url` names (read as [`crate::db::Database::connect`] reads it),
    /// or `None` for PostgreSQL or a URL that is no SQLite file.
    ///
    /// ```
    /// use djstripe_core::app::Settings;
    /// assert_eq!(Settings::new("sqlite://shop.sqlite3").sqlite_path(), Some(std::path::Path::new("shop.sqlite3")));
    /// assert_eq!(Settings::new("/var/lib/shop.db").sqlite_path(), Some(std::path::Path::new("/var/lib/shop.db")));
    /// assert_eq!(Settings::new("postgres://localhost/shop").sqlite_path(), None);
    /// ```
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        let url = self.database_url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return None;
        }
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        (!path.is_empty() && path != ":memory:" && !path.contains("://")).then(|| std::path::Path::new(path))
    }

    /// `database_url` without its password, for messages and logs.
    ///
    /// ```
    /// let config = djstripe_core::app::Settings::new("postgres://shop:secret@db.internal/shop");
    /// assert_eq!(config.redacted_database_url(), "postgres://shop:***@db.internal/shop");
    /// ```
    pub fn redacted_database_url(&self) -> String {
        redact_url(&self.database_url)
    }

    /// The default key for the configured mode.
    fn stripe_key(&self) -> Option<&str> {
        if self.live_mode { self.live_secret_key.as_deref() } else { self.test_secret_key.as_deref() }
    }

    /// Whether the secret key of a mode is set (`STRIPE_LIVE_SECRET_KEY` for live mode,
    /// `STRIPE_TEST_SECRET_KEY` for test mode).
    ///
    /// ```
    /// let c = djstripe_core::app::Settings::new("app.sqlite3").stripe_api("http://127.0.0.1:1", Some("sk_test_1"), None);
    /// assert!(c.has_secret_key(false) && !c.has_secret_key(true));
    /// ```
    pub fn has_secret_key(&self, livemode: bool) -> bool {
        if livemode { self.live_secret_key.is_some() } else { self.test_secret_key.is_some() }
    }

    /// Whether the legacy `POST {prefix}/webhook/` endpoint is on: a secret is configured
    /// (`DJSTRIPE_WEBHOOK_SECRET`), whatever `DJSTRIPE_WEBHOOK_VALIDATION` says.
    ///
    /// ```
    /// assert!(!djstripe_core::app::Settings::new("app.sqlite3").legacy_enabled());
    /// ```
    pub fn legacy_enabled(&self) -> bool {
        !self.webhook_secrets.is_empty()
    }

    /// Sets the legacy endpoint's secrets (turns it on). Not recommended: its URL is guessable.
    ///
    /// ```
    /// let c = djstripe_core::app::Settings::new("app.sqlite3").webhook_secrets(["whsec_a", "whsec_b"]);
    /// assert_eq!(c.webhook_secrets.len(), 2);
    /// ```
    pub fn webhook_secrets(mut self, secrets: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.webhook_secrets = secrets.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the legacy endpoint's validation method.
    ///
    /// ```
    /// let c = djstripe_core::app::Settings::new("app.sqlite3").validation(djstripe_core::db::ValidationMethod::None);
    /// # let _ = c;
    /// ```
    pub fn validation(mut self, method: ValidationMethod) -> Self {
        self.validation = method;
        self
    }

    /// Whether the legacy endpoint fetches the full v2 event of each thin notification
    /// (`DJSTRIPE_WEBHOOK_FETCH_THIN_EVENTS`; needs the mode's secret key, see [`Settings::check`]).
    ///
    /// ```
    /// use djstripe_core::app::Settings;
    /// let c = Settings::new("app.sqlite3").webhook_secrets(["whsec_1"]).fetch_thin_events(true);
    /// assert!(c.check().unwrap_err().to_string().contains("STRIPE_TEST_SECRET_KEY"));
    /// assert!(c.stripe_api("http://127.0.0.1:12111", Some("sk_test_1"), None).check().is_ok());
    /// ```
    pub fn fetch_thin_events(mut self, fetch: bool) -> Self {
        self.fetch_thin_events = fetch;
        self
    }

    /// Sets the timestamp tolerance in seconds (0 turns the check off).
    ///
    /// ```
    /// let c = djstripe_core::app::Settings::new("app.sqlite3").tolerance_secs(60);
    /// assert_eq!(c.tolerance.as_secs(), 60);
    /// ```
    pub fn tolerance_secs(mut self, secs: u64) -> Self {
        self.tolerance = Duration::from_secs(secs);
        self
    }

    /// Sets the bounds on unauthenticated traffic ([`Limits`]).
    ///
    /// ```
    /// use djstripe_core::app::{Limits, Settings};
    /// let c = Settings::new("app.sqlite3").limits(Limits { max_readers: 64, ..Limits::default() });
    /// assert_eq!(c.limits.max_readers, 64);
    /// ```
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the body size limit.
    ///
    /// ```
    /// let c = djstripe_core::app::Settings::new("app.sqlite3").max_body(1 << 20);
    /// assert_eq!(c.max_body, 1_048_576);
    /// ```
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Sets the database pool size.
    ///
    /// ```
    /// let c = djstripe_core::app::Settings::new("app.sqlite3").pool_size(4);
    /// assert_eq!(c.database.pool_size, 4);
    /// ```
    pub fn pool_size(mut self, size: u32) -> Self {
        self.database.pool_size = size;
        self
    }

    /// Sets Stripe's API base URL and keys.
    ///
    /// ```
    /// let c = djstripe_core::app::Settings::new("app.sqlite3").stripe_api("http://127.0.0.1:12111", Some("sk_test_1"), None);
    /// assert_eq!(c.api_base, "http://127.0.0.1:12111");
    /// ```
    pub fn stripe_api(mut self, base: impl Into<String>, test_key: Option<&str>, live_key: Option<&str>) -> Self {
        self.api_base = base.into();
        self.test_secret_key = test_key.map(str::to_owned);
        self.live_secret_key = live_key.map(str::to_owned);
        self
    }

    /// Sets the event callback that takes over valid deliveries.
    ///
    /// ```
    /// let c = djstripe_core::app::Settings::new("app.sqlite3").event_callback(|trigger_id, event| {
    ///     println!("queue trigger {trigger_id} ({})", event.id);
    ///     Ok(())
    /// });
    /// # let _ = c;
    /// ```
    pub fn event_callback(
        mut self,
        callback: impl Fn(i64, &crate::Event) -> Result<(), crate::HandlerError> + Send + Sync + 'static,
    ) -> Self {
        self.event_callback = Some(std::sync::Arc::new(callback));
        self
    }

    /// The app's own migrations, applied by [`super::Djstripe::start`] after djstripe's.
    ///
    /// ```
    /// use diesel::connection::SimpleConnection;
    /// use djstripe_core::app::{AppMigrations, Settings};
    /// let settings = Settings::new("app.sqlite3").app_migrations(AppMigrations::function(|conn| {
    ///     Ok(conn.batch_execute("CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY)")?)
    /// }));
    /// assert!(settings.app_migrations.is_some());
    /// ```
    pub fn app_migrations(mut self, migrations: super::AppMigrations) -> Self {
        self.app_migrations = Some(migrations);
        self
    }

    /// Runs only these of the registered handlers and hooks (tests of one binary: see [`HandlerSet`]).
    ///
    /// ```
    /// use djstripe_core::registry::HandlerSet;
    /// let settings = djstripe_core::app::Settings::new("app.sqlite3").handlers(HandlerSet::none());
    /// assert!(!settings.handlers.is_all());
    /// ```
    pub fn handlers(mut self, handlers: HandlerSet) -> Self {
        self.handlers = handlers;
        self
    }

    /// Keeps trigger rows `days` days (see [`RetentionPolicy::triggers`]); the background task
    /// removes older ones whose outcome is prunable.
    ///
    /// ```
    /// let c = djstripe_core::app::Settings::new("app.sqlite3").trigger_retention_days(14);
    /// assert_eq!(c.retention.triggers, Some(14));
    /// ```
    pub fn trigger_retention_days(mut self, days: u32) -> Self {
        self.retention.triggers = Some(days);
        self
    }

    /// Keeps event rows `days` days once no trigger refers to them (see
    /// [`RetentionPolicy::events`]; at least [`MIN_EVENT_RETENTION_DAYS`], checked).
    ///
    /// ```
    /// let c = djstripe_core::app::Settings::new("app.sqlite3").event_retention_days(7);
    /// let err = c.check().unwrap_err().to_string();
    /// assert!(err.starts_with("DJSTRIPE_EVENT_RETENTION_DAYS") && err.contains("30"), "{err}");
    /// ```
    pub fn event_retention_days(mut self, days: u32) -> Self {
        self.retention.events = Some(days);
        self
    }

    /// The whole retention policy at once (batch size, pause, first run: code only).
    ///
    /// ```
    /// use djstripe_core::app::{RetentionPolicy, Settings};
    /// let policy = RetentionPolicy { triggers: Some(7), batch_size: 100, ..Default::default() };
    /// assert_eq!(Settings::new("app.sqlite3").retention(policy).retention.batch_size, 100);
    /// ```
    pub fn retention(mut self, policy: RetentionPolicy) -> Self {
        self.retention = policy;
        self
    }

    /// Trusts `X-Forwarded-For` from these proxies.
    ///
    /// ```
    /// let c = djstripe_core::app::Settings::new("app.sqlite3").trusted_proxies(["10.0.0.1".parse().unwrap()]);
    /// assert_eq!(c.trusted_proxies.len(), 1);
    /// ```
    pub fn trusted_proxies(mut self, proxies: impl IntoIterator<Item = IpAddr>) -> Self {
        self.trusted_proxies = proxies.into_iter().collect();
        self
    }

    /// `DJSTRIPE_SHUTDOWN_GRACE`: how long `serve` takes, at most, from SIGTERM to exit.
    ///
    /// ```
    /// let config = djstripe_core::app::Settings::new("app.sqlite3").shutdown_grace_secs(10);
    /// assert_eq!(config.shutdown_grace.as_secs(), 10);
    /// ```
    pub fn shutdown_grace_secs(mut self, secs: u64) -> Self {
        self.shutdown_grace = Duration::from_secs(secs);
        self
    }
}

fn config_error(var: &'static str, message: String) -> Error {
    Error::setting(var, message)
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Result<Settings, Error> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup("default.sqlite3", move |name| {
            pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults() {
        let c = env(&[]).unwrap();
        assert_eq!(c.database_url, "default.sqlite3");
        assert!(!c.legacy_enabled());
        assert_eq!(c.tolerance, Duration::from_secs(300));
    }

    #[test]
    fn every_bad_value_names_its_variable() {
        for (var, value) in [
            ("DJSTRIPE_WEBHOOK_SECRET", "secret"),
            ("DJSTRIPE_WEBHOOK_VALIDATION", "maybe"),
            ("DJSTRIPE_WEBHOOK_TOLERANCE", "-1"),
            ("STRIPE_LIVE_MODE", "perhaps"),
            ("STRIPE_TEST_SECRET_KEY", "sk_live_x"),
            ("STRIPE_LIVE_SECRET_KEY", "sk_test_x"),
            ("STRIPE_API_BASE", "api.stripe.com"),
            ("DJSTRIPE_WEBHOOK_BASE_URL", "shop.example.com"),
            ("DJSTRIPE_WEBHOOK_MAX_BODY", "12"),
            ("DJSTRIPE_DB_POOL_SIZE", "0"),
            ("DJSTRIPE_DB_WRITERS", "0"),
            ("DJSTRIPE_SQLITE_SYNCHRONOUS", "OFF"),
            ("DJSTRIPE_DB_TIMEOUT", "soon"),
            ("DJSTRIPE_TRUSTED_PROXIES", "proxy.local"),
            ("DJSTRIPE_TRIGGER_RETENTION_DAYS", "a month"),
            ("DJSTRIPE_TRIGGER_RETENTION_DAYS", "0"),
            ("DJSTRIPE_EVENT_RETENTION_DAYS", "-30"),
            ("DJSTRIPE_PRUNE_INTERVAL", "0"),
        ] {
            let err = env(&[(var, value)]).unwrap_err().to_string();
            assert!(err.starts_with(var), "{var}={value}: {err}");
        }
    }

    #[test]
    fn good_values() {
        let c = env(&[
            ("DATABASE_URL", "postgres://u:pw@h/db"),
            ("DJSTRIPE_WEBHOOK_SECRET", "whsec_a, whsec_b"),
            ("DJSTRIPE_WEBHOOK_TOLERANCE", "0"),
            ("STRIPE_LIVE_MODE", "true"),
            ("DJSTRIPE_TRUSTED_PROXIES", "10.0.0.1,::1"),
            ("DJSTRIPE_DB_POOL_SIZE", "16"),
            ("DJSTRIPE_DB_WRITERS", "8"),
        ])
        .unwrap();
        assert_eq!(c.writers, Some(8));
        assert_eq!(c.webhook_secrets, vec!["whsec_a", "whsec_b"]);
        assert!(c.tolerance.is_zero() && c.live_mode);
        assert_eq!(c.trusted_proxies.len(), 2);
        assert!(!format!("{c:?}").contains("pw"), "the password is not logged");
    }

    #[test]
    fn contradictions_are_fatal_and_name_both_settings() {
        for (pairs, first, second) in [
            (vec![("DJSTRIPE_WEBHOOK_VALIDATION", "none")], "DJSTRIPE_WEBHOOK_VALIDATION", "DJSTRIPE_WEBHOOK_SECRET"),
            (
                vec![("DJSTRIPE_WEBHOOK_VALIDATION", "retrieve_event"), ("STRIPE_TEST_SECRET_KEY", "sk_test_1")],
                "DJSTRIPE_WEBHOOK_VALIDATION",
                "DJSTRIPE_WEBHOOK_SECRET",
            ),
            (vec![("DJSTRIPE_WEBHOOK_TOLERANCE", "60")], "DJSTRIPE_WEBHOOK_TOLERANCE", "DJSTRIPE_WEBHOOK_SECRET"),
            (
                vec![
                    ("DJSTRIPE_WEBHOOK_SECRET", "whsec_a"),
                    ("DJSTRIPE_WEBHOOK_VALIDATION", "none"),
                    ("DJSTRIPE_WEBHOOK_TOLERANCE", "60"),
                ],
                "DJSTRIPE_WEBHOOK_TOLERANCE",
                "DJSTRIPE_WEBHOOK_VALIDATION",
            ),
            (
                vec![("DJSTRIPE_DB_POOL_SIZE", "4"), ("DJSTRIPE_DB_WRITERS", "3")],
                "DJSTRIPE_DB_WRITERS",
                "DJSTRIPE_DB_POOL_SIZE",
            ),
            (
                vec![("DATABASE_URL", "postgres://localhost/x"), ("DJSTRIPE_SQLITE_SYNCHRONOUS", "NORMAL")],
                "DJSTRIPE_SQLITE_SYNCHRONOUS",
                "DATABASE_URL",
            ),
        ] {
            let err = env(&pairs).unwrap_err().to_string();
            assert!(err.starts_with(first) && err.contains(second), "{pairs:?}: {err}");
        }
        // The same settings without the contradiction are fine.
        let ok = env(&[
            ("DJSTRIPE_WEBHOOK_SECRET", "whsec_a"),
            ("DJSTRIPE_WEBHOOK_VALIDATION", "none"),
            ("DJSTRIPE_DB_POOL_SIZE", "6"),
            ("DJSTRIPE_DB_WRITERS", "3"),
            ("DJSTRIPE_SQLITE_SYNCHRONOUS", "NORMAL"),
        ])
        .unwrap();
        assert_eq!((ok.validation, ok.writers), (ValidationMethod::None, Some(3)));
        assert!(env(&[("DJSTRIPE_WEBHOOK_SECRET", "whsec_a"), ("DJSTRIPE_WEBHOOK_TOLERANCE", "60")]).is_ok());
    }

    #[test]
    fn retention_is_off_by_default_and_read_from_the_environment() {
        let c = env(&[]).unwrap();
        assert!(!c.retention.is_enabled());
        let c = env(&[
            ("DJSTRIPE_TRIGGER_RETENTION_DAYS", "14"),
            ("DJSTRIPE_EVENT_RETENTION_DAYS", "45"),
            ("DJSTRIPE_PRUNE_INTERVAL", "600"),
        ])
        .unwrap();
        assert_eq!((c.retention.triggers, c.retention.events), (Some(14), Some(45)));
        assert_eq!(c.retention.interval, Duration::from_secs(600));
    }

    #[test]
    fn event_retention_is_refused_where_it_would_break_exactly_once() {
        let short = env(&[("DJSTRIPE_TRIGGER_RETENTION_DAYS", "7"), ("DJSTRIPE_EVENT_RETENTION_DAYS", "29")])
            .unwrap_err()
            .to_string();
        assert!(short.starts_with("DJSTRIPE_EVENT_RETENTION_DAYS") && short.contains("resend"), "{short}");
        assert!(env(&[("DJSTRIPE_TRIGGER_RETENTION_DAYS", "7"), ("DJSTRIPE_EVENT_RETENTION_DAYS", "30")]).is_ok());
        for (pairs, first, second) in [
            (
                vec![("DJSTRIPE_EVENT_RETENTION_DAYS", "60")],
                "DJSTRIPE_EVENT_RETENTION_DAYS",
                "DJSTRIPE_TRIGGER_RETENTION_DAYS",
            ),
            (vec![("DJSTRIPE_PRUNE_INTERVAL", "60")], "DJSTRIPE_PRUNE_INTERVAL", "DJSTRIPE_TRIGGER_RETENTION_DAYS"),
        ] {
            let err = env(&pairs).unwrap_err().to_string();
            assert!(err.starts_with(first) && err.contains(second), "{pairs:?}: {err}");
        }
        // The same from code.
        let err = Settings::new("a.sqlite3").trigger_retention_days(0).check().unwrap_err().to_string();
        assert!(err.starts_with("DJSTRIPE_TRIGGER_RETENTION_DAYS"), "{err}");
    }

    #[test]
    fn retrieve_event_needs_a_key() {
        let err = env(&[("DJSTRIPE_WEBHOOK_SECRET", "whsec_a"), ("DJSTRIPE_WEBHOOK_VALIDATION", "retrieve_event")])
            .unwrap_err();
        assert!(err.to_string().contains("STRIPE_TEST_SECRET_KEY"), "{err}");
    }

    #[test]
    fn processing_and_the_inbox_are_read_and_checked() {
        let default = env(&[]).unwrap();
        assert_eq!(default.processing, Processing::Inline);
        assert_eq!(default.inbox.workers, None);
        let inbox = env(&[
            ("DJSTRIPE_WEBHOOK_PROCESSING", "inbox"),
            ("DJSTRIPE_INBOX_WORKERS", "0"),
            ("DJSTRIPE_INBOX_MAX_ATTEMPTS", "3"),
            ("DJSTRIPE_INBOX_MAX_AGE", "600"),
            ("DJSTRIPE_INBOX_LEASE", "30"),
        ])
        .unwrap();
        assert_eq!(inbox.processing, Processing::Inbox);
        assert_eq!(inbox.inbox.workers, Some(0));
        assert_eq!(inbox.inbox.max_attempts, 3);
        assert_eq!(inbox.inbox.max_age, Duration::from_secs(600));
        assert_eq!(inbox.inbox.lease, Duration::from_secs(30));
        for (var, value) in [
            ("DJSTRIPE_WEBHOOK_PROCESSING", "later"),
            ("DJSTRIPE_INBOX_WORKERS", "-1"),
            ("DJSTRIPE_INBOX_MAX_ATTEMPTS", "0"),
            ("DJSTRIPE_INBOX_MAX_AGE", "forever"),
            ("DJSTRIPE_INBOX_LEASE", "0"),
        ] {
            let error = env(&[(var, value)]).unwrap_err().to_string();
            assert!(error.starts_with(var) && error.contains(value), "{error}");
        }
        let mut both = Settings::new("app.sqlite3");
        both.processing = Processing::Inbox;
        both.event_callback = Some(std::sync::Arc::new(|_, _| Ok(())));
        let error = both.check().unwrap_err().to_string();
        assert!(error.starts_with("DJSTRIPE_WEBHOOK_PROCESSING") && error.contains("choose one"), "{error}");
    }

    #[test]
    fn fetch_thin_events_is_read_and_needs_the_legacy_endpoint_and_a_key() {
        assert!(!env(&[]).unwrap().fetch_thin_events);
        let on = env(&[
            ("DJSTRIPE_WEBHOOK_SECRET", "whsec_a"),
            ("DJSTRIPE_WEBHOOK_FETCH_THIN_EVENTS", "true"),
            ("STRIPE_TEST_SECRET_KEY", "sk_test_1"),
        ])
        .unwrap();
        assert!(on.fetch_thin_events);
        let off = env(&[("DJSTRIPE_WEBHOOK_FETCH_THIN_EVENTS", "false")]).unwrap();
        assert!(!off.fetch_thin_events);
        let bad = env(&[("DJSTRIPE_WEBHOOK_FETCH_THIN_EVENTS", "sometimes")]).unwrap_err().to_string();
        assert!(bad.starts_with("DJSTRIPE_WEBHOOK_FETCH_THIN_EVENTS") && bad.contains("sometimes"), "{bad}");
        let no_legacy = env(&[("DJSTRIPE_WEBHOOK_FETCH_THIN_EVENTS", "true"), ("STRIPE_TEST_SECRET_KEY", "sk_test_1")])
            .unwrap_err()
            .to_string();
        assert!(
            no_legacy.starts_with("DJSTRIPE_WEBHOOK_FETCH_THIN_EVENTS")
                && no_legacy.contains("DJSTRIPE_WEBHOOK_SECRET"),
            "{no_legacy}"
        );
        let no_key = env(&[("DJSTRIPE_WEBHOOK_SECRET", "whsec_a"), ("DJSTRIPE_WEBHOOK_FETCH_THIN_EVENTS", "true")])
            .unwrap_err()
            .to_string();
        assert!(
            no_key.starts_with("DJSTRIPE_WEBHOOK_FETCH_THIN_EVENTS") && no_key.contains("STRIPE_TEST_SECRET_KEY"),
            "{no_key}"
        );
        // Live mode needs the live key: the test key does not do.
        let live = env(&[
            ("DJSTRIPE_WEBHOOK_SECRET", "whsec_a"),
            ("DJSTRIPE_WEBHOOK_FETCH_THIN_EVENTS", "1"),
            ("STRIPE_LIVE_MODE", "true"),
            ("STRIPE_TEST_SECRET_KEY", "sk_test_1"),
        ])
        .unwrap_err()
        .to_string();
        assert!(live.contains("STRIPE_LIVE_SECRET_KEY"), "{live}");
    }

    #[test]
    fn shutdown_grace() {
        assert_eq!(env(&[]).unwrap().shutdown_grace, Duration::from_secs(30));
        assert_eq!(env(&[("DJSTRIPE_SHUTDOWN_GRACE", "5")]).unwrap().shutdown_grace, Duration::from_secs(5));
        assert_eq!(env(&[("DJSTRIPE_SHUTDOWN_GRACE", "0")]).unwrap().shutdown_grace, Duration::ZERO);
        for bad in ["soon", "-1", "3601", "1.5"] {
            let err = env(&[("DJSTRIPE_SHUTDOWN_GRACE", bad)]).unwrap_err().to_string();
            assert!(err.starts_with("DJSTRIPE_SHUTDOWN_GRACE"), "{bad}: {err}");
        }
    }
}
