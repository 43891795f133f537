//! The application layer that every web adapter shares: settings read from the environment
//! with dj-stripe's names, the startup wiring and its checks, the webhook request flow up to a
//! framework-neutral answer, and the operator operations (list, show, reprocess, endpoints) as
//! functions that return data.
//!
//! An adapter (`djstripe-actix`, `djstripe-axum`) keeps only what is HTTP: routing, reading the
//! body from its framework's stream, the peer address, and turning a [`WebhookAnswer`] into its
//! framework's response.
//!
//! ```
//! use djstripe_core::app::{Djstripe, Settings};
//! let dir = tempfile::tempdir().unwrap();
//! let url = format!("sqlite://{}/app.sqlite3", dir.path().display());
//! let djstripe = Djstripe::start(Settings::new(url)).unwrap(); // connects, migrates
//! assert!(djstripe.endpoints().unwrap().is_empty());
//! ```
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | [`Djstripe`]: the engine and its settings, started once and cloned into the app |
//! | `settings.rs` | [`Settings`]: every setting, from code or from the environment |
//! | `limits.rs` | [`Limits`]: what unauthenticated traffic can cost, and the counters enforcing it |
//! | `webhook.rs` | the webhook request flow: paths, body limits, client IP, [`WebhookAnswer`] |
//! | `ops.rs` | operator operations: triggers, events, reprocessing, handlers, endpoints |
//! | `retention.rs` | [`RetentionPolicy`], the background [`Pruner`], `triggers prune` ([`Djstripe::prune`]) |
//! | `server.rs` | [`Server`]: what an adapter gives the command line's `serve` |

pub(crate) mod limits;
mod migrations;
mod ops;
mod retention;
mod server;
mod settings;
mod webhook;

use std::sync::Arc;

pub use limits::{FREE_BODY_BYTES, Limits};
pub use migrations::{AppMigrations, MigrationFn};
pub use ops::{HandlerInfo, ReprocessTarget, ShownEvent};
pub use retention::{MIN_EVENT_RETENTION_DAYS, PruneReport, PruneRequest, Pruner, RetentionPolicy};
pub use server::{Ready, ServeOptions, Server, Shutdown};
pub use settings::Settings;
pub use webhook::{
    Blocking, BlockingJob, Body, SpawnBlocking, WebhookAnswer, WebhookPath, WebhookRequest, client_ip, read_body,
    receive, webhook_path,
};

use crate::Result;
use crate::db::{Database, NewWebhookEndpoint};
use crate::endpoints::EndpointManager;
use crate::engine::{Engine, EngineConfig, LegacyEndpoint};
use crate::stripe_api::StripeClient;

/// The log target of [`Djstripe::shutdown`]'s line, so that it can be shown alone
/// (`RUST_LOG=warn,djstripe_core::shutdown=info`).
const SHUTDOWN_LOG: &str = "djstripe_core::shutdown";

/// The running webhook receiver: the engine (database pool, writer threads) and the settings.
/// Cheap to clone: start it once, clone it into each worker or router.
///
/// ```no_run
/// let djstripe = djstripe_core::app::Djstripe::start(djstripe_core::app::Settings::new("sqlite://app.sqlite3")).unwrap();
/// let (triggers, events) = djstripe.engine().database().counts().unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct Djstripe {
    engine: Engine,
    settings: Arc<Settings>,
    /// The bodies being read now, against [`Limits`].
    bodies: Arc<limits::BodyBudget>,
    /// The background pruning task (retention set): stops when the last clone is dropped.
    pruner: Option<Arc<Pruner>>,
}

/// The retry budget of the engine's Stripe client (see [`StripeClient::retry_budget`]).
const ENGINE_RETRY_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);
/// How long one call of the engine's Stripe client may take: a delivery waits for it.
const ENGINE_CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// The retry budget of [`Djstripe::endpoint_manager`]'s client.
const OPERATOR_RETRY_BUDGET: std::time::Duration = std::time::Duration::from_secs(60);

impl Djstripe {
    /// Connects to the database, applies djstripe's pending migrations, then the app's
    /// ([`Settings::app_migrations`]), builds the engine, and starts the background pruning task
    /// when retention is set ([`Settings::retention`], [`Djstripe::pruner`]).
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] for a bad combination of settings, [`Error::BackendNotCompiled`],
    /// [`Error::DatabaseUnavailable`] when the database cannot be reached, [`Error::Migration`]
    /// when djstripe's or the app's migrations fail.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let url = format!("sqlite://{}/app.sqlite3", dir.path().display());
    /// let djstripe = djstripe_core::app::Djstripe::start(djstripe_core::app::Settings::new(url)).unwrap();
    /// # let _ = djstripe;
    /// ```
    pub fn start(settings: Settings) -> Result<Self> {
        let mut djstripe = Self::connect(settings)?;
        djstripe.migrate()?;
        // Inbox mode may be chosen per endpoint at any time (`endpoints update --processing`):
        // the workers run whatever the setting, idle when the inbox is empty.
        djstripe.engine.start_inbox();
        if djstripe.settings.retention.is_enabled() {
            let pruner = Pruner::start(djstripe.engine.database().clone(), djstripe.settings.retention.clone());
            djstripe.pruner = Some(Arc::new(pruner));
        }
        Ok(djstripe)
    }

    /// Like [`Djstripe::start`] without migrating (for `migrate` itself, or managed schemas),
    /// and without the pruning task. The pool connects lazily: nothing is reached yet.
    ///
    /// ```
    /// let djstripe = djstripe_core::app::Djstripe::connect(djstripe_core::app::Settings::new("postgres://localhost/x")).unwrap();
    /// # let _ = djstripe;
    /// ```
    pub fn connect(settings: Settings) -> Result<Self> {
        settings.check()?;
        let db = Database::connect_with(&settings.database_url, settings.database.clone())?;
        // The engine calls Stripe while a delivery waits for its answer (`retrieve_event`): a
        // short retry budget, so that a long `Retry-After` fails the delivery (Stripe redelivers)
        // rather than outlasting Stripe's own timeout.
        let mut stripe =
            StripeClient::new(&settings.api_base).retry_budget(ENGINE_RETRY_BUDGET).timeout(ENGINE_CALL_TIMEOUT);
        if let Some(key) = &settings.test_secret_key {
            stripe = stripe.test_key(key);
        }
        if let Some(key) = &settings.live_secret_key {
            stripe = stripe.live_key(key);
        }
        let legacy = settings.legacy_enabled().then(|| LegacyEndpoint {
            secrets: settings.webhook_secrets.clone(),
            validation: settings.validation,
            tolerance: settings.tolerance,
            fetch_thin_events: settings.fetch_thin_events,
        });
        let engine_config = EngineConfig {
            legacy,
            event_callback: settings.event_callback.clone(),
            stripe: Some(stripe),
            writers: settings.writers,
            handlers: settings.handlers.clone(),
            queue_capacity: settings.limits.writer_queue,
            queue_deadline: settings.database.connect_timeout,
            rejected_per_minute: settings.limits.rejected_per_minute,
            retrieve_per_second: settings.limits.retrieve_per_second,
            processing: settings.processing,
            inbox: settings.inbox.clone(),
            ..Default::default()
        };
        let engine = Engine::new(db, engine_config)?;
        Ok(Self { engine, settings: Arc::new(settings), bodies: Default::default(), pruner: None })
    }

    /// The end of a graceful shutdown, once the HTTP server has stopped accepting and returned:
    /// waits, at most `grace`, for the deliveries still with the writers to be committed and
    /// answered and for the queued `on_commit` callbacks to run ([`Engine::drain`]), then logs
    /// one line saying what it drained and how long it took (a warning if the grace ran out).
    /// `serve` calls it with what is left of [`Settings::shutdown_grace`]; an app that runs its
    /// own `HttpServer` or `axum::serve` calls it after that returned (README, "Graceful
    /// shutdown"). It blocks: from async code, call it after the server's future completed.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let url = format!("sqlite://{}/app.sqlite3", dir.path().display());
    /// let djstripe = djstripe_core::app::Djstripe::start(djstripe_core::app::Settings::new(url)).unwrap();
    /// // ... the HTTP server ran and returned ...
    /// let drained = djstripe.shutdown(std::time::Duration::from_secs(30));
    /// assert!(drained.is_complete());
    /// ```
    pub fn shutdown(&self, grace: std::time::Duration) -> crate::engine::Drained {
        let drained = self.engine.drain(grace);
        if drained.is_complete() {
            tracing::info!(
                target: SHUTDOWN_LOG,
                deliveries = drained.deliveries,
                on_commit = drained.callbacks,
                took_ms = drained.took.as_millis() as u64,
                "shutdown: {drained}"
            );
        } else {
            tracing::warn!(
                target: SHUTDOWN_LOG,
                deliveries_left = drained.deliveries_left,
                on_commit_left = drained.callbacks_left,
                took_ms = drained.took.as_millis() as u64,
                "shutdown: {drained}"
            );
        }
        drained
    }

    /// Applies djstripe's pending migrations, then the app's ([`Settings::app_migrations`]);
    /// returns how many were applied. What [`Djstripe::start`] does after connecting.
    ///
    /// # Errors
    /// [`Error::Migration`], [`Error::DatabaseUnavailable`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let url = format!("sqlite://{}/app.sqlite3", dir.path().display());
    /// let djstripe = djstripe_core::app::Djstripe::connect(djstripe_core::app::Settings::new(url)).unwrap();
    /// assert!(djstripe.migrate().unwrap() > 0, "a new database");
    /// assert_eq!(djstripe.migrate().unwrap(), 0, "nothing pending");
    /// ```
    pub fn migrate(&self) -> Result<usize> {
        let mut applied = self.engine.database().migrate()?;
        if let Some(migrations) = &self.settings.app_migrations {
            applied += migrations.run(self.engine.database())?;
        }
        Ok(applied)
    }

    /// Runs other app migrations than the settings' (after djstripe's own, which
    /// [`Djstripe::start`] applied).
    ///
    /// # Errors
    /// [`Error::Migration`] naming the app's error.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let url = format!("sqlite://{}/app.sqlite3", dir.path().display());
    /// use diesel::connection::SimpleConnection;
    /// use djstripe_core::app::{AppMigrations, Djstripe, Settings};
    /// let djstripe = Djstripe::start(Settings::new(url)).unwrap();
    /// let notes = AppMigrations::function(|conn| Ok(conn.batch_execute("CREATE TABLE IF NOT EXISTS notes (id TEXT)")?));
    /// djstripe.migrate_app(notes).unwrap();
    /// ```
    pub fn migrate_app(&self, migrations: AppMigrations) -> Result<()> {
        migrations.run(self.engine.database()).map(drop)
    }

    /// The engine, for operations beyond HTTP (reprocessing, queries).
    ///
    /// ```no_run
    /// # let djstripe = djstripe_core::app::Djstripe::start(djstripe_core::app::Settings::new("app.sqlite3")).unwrap();
    /// let failed = djstripe.engine().reprocess_failed().unwrap();
    /// ```
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The settings it was started with.
    ///
    /// ```no_run
    /// # let djstripe = djstripe_core::app::Djstripe::start(djstripe_core::app::Settings::new("app.sqlite3")).unwrap();
    /// println!("limit {} bytes", djstripe.settings().max_body);
    /// ```
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Endpoint management at Stripe for webhook URLs under `prefix` (e.g. `/stripe`), whose
    /// calls may wait up to a minute in all for Stripe's rate limits (`Retry-After`).
    ///
    /// ```no_run
    /// # let djstripe = djstripe_core::app::Djstripe::start(djstripe_core::app::Settings::new("app.sqlite3")).unwrap();
    /// for row in djstripe.endpoint_manager("/stripe").list().unwrap() { println!("{}", row.endpoint.url); }
    /// ```
    pub fn endpoint_manager(&self, prefix: &str) -> EndpointManager {
        let client = self.engine.config().stripe.clone().unwrap_or_else(|| StripeClient::new(&self.settings.api_base));
        // An operator's command may wait for Stripe's rate limit to pass.
        let client = client.retry_budget(OPERATOR_RETRY_BUDGET).timeout(crate::stripe_api::DEFAULT_TIMEOUT);
        EndpointManager::new(self.engine.database().clone(), client).prefix(prefix)
    }

    /// For examples and local development: when the database has no webhook endpoint, creates a
    /// local one with a fresh secret (so a signed test event can be sent at once). Returns it,
    /// or `None` when endpoints exist. Never call this in production.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let url = format!("sqlite://{}/app.sqlite3", dir.path().display());
    /// let djstripe = djstripe_core::app::Djstripe::start(djstripe_core::app::Settings::new(url)).unwrap();
    /// assert!(djstripe.ensure_dev_endpoint().unwrap().is_some());
    /// assert!(djstripe.ensure_dev_endpoint().unwrap().is_none(), "only when there is none");
    /// ```
    pub fn ensure_dev_endpoint(&self) -> Result<Option<crate::db::WebhookEndpoint>> {
        let db = self.engine.database();
        if !db.endpoints()?.is_empty() {
            return Ok(None);
        }
        let secret = format!("whsec_dev{}", uuid::Uuid::new_v4().simple());
        let mut new = NewWebhookEndpoint::local(secret);
        new.description = DEV_ENDPOINT_DESCRIPTION.into();
        db.insert_endpoint(&new).map(Some)
    }
}

/// The description of the endpoint [`Djstripe::ensure_dev_endpoint`] creates.
pub const DEV_ENDPOINT_DESCRIPTION: &str = "local development endpoint (created by serve)";
