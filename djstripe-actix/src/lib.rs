//! # djstripe-actix
//!
//! Stripe webhooks in an actix-web app: one scope that receives, verifies, records and
//! dispatches deliveries to your `#[webhook_handler]` functions, and a manage.py-style CLI.
//!
//! ```no_run
//! use actix_web::{App, HttpServer};
//! use djstripe_actix::{Config, Djstripe};
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), djstripe_actix::Error> {
//!     let djstripe = Djstripe::start(Config::from_env("sqlite://app.sqlite3")?)?; // connects, migrates
//!     HttpServer::new(move || App::new().service(djstripe_actix::scope("/stripe", djstripe.clone())))
//!         .bind("127.0.0.1:8000")?
//!         .run()
//!         .await?;
//!     Ok(())
//! }
//! ```
//!
//! Routes under the prefix:
//! - `POST {prefix}/webhook/{uuid}/`: the endpoint with that `djstripe_uuid`, verified with its
//!   own secret(s). Unknown or malformed uuids are a 404 that reveals nothing.
//! - `POST {prefix}/webhook/`: the legacy global endpoint, verified with `DJSTRIPE_WEBHOOK_SECRET`;
//!   404 unless that is set. Not recommended: its URL is guessable.
//!
//! | answer | when |
//! |---|---|
//! | 200 `processed` / `duplicate` / `test_event` / `queued` | done (or nothing to do) |
//! | 400 | missing or bad signature, stale timestamp, body that is not a Stripe event |
//! | 404 | unknown, disabled or malformed endpoint |
//! | 405 | a method other than POST |
//! | 413 | body over `DJSTRIPE_WEBHOOK_MAX_BODY` (2.5 MiB by default) |
//! | 500 | a handler failed: rolled back, Stripe retries |
//! | 503 | the database is unavailable: nothing written, Stripe retries |

pub mod admin;
pub mod cli;
mod client_ip;
mod config;
mod error;
mod webhook;

use std::sync::Arc;

use actix_web::web;
use djstripe_core::db::Database;
use djstripe_core::engine::{Engine, EngineConfig, LegacyEndpoint};
use djstripe_core::stripe_api::StripeClient;

pub use config::Config;
pub use error::{Error, Result};

/// The running webhook receiver: engine (database pool) and configuration. Cheap to clone: build
/// it once, clone it into each `App`.
///
/// ```no_run
/// let djstripe = djstripe_actix::Djstripe::start(djstripe_actix::Config::new("sqlite://app.sqlite3")).unwrap();
/// let (triggers, events) = djstripe.engine().database().counts().unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct Djstripe {
    engine: Engine,
    config: Arc<Config>,
}

impl Djstripe {
    /// Connects to the database, applies pending migrations and builds the engine.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let url = format!("sqlite://{}/app.sqlite3", dir.path().display());
    /// let djstripe = djstripe_actix::Djstripe::start(djstripe_actix::Config::new(url)).unwrap();
    /// # let _ = djstripe;
    /// ```
    pub fn start(config: Config) -> Result<Self> {
        let djstripe = Self::connect(config)?;
        djstripe.engine.database().migrate()?;
        Ok(djstripe)
    }

    /// Like [`Djstripe::start`] without migrating (for `migrate` itself, or managed schemas).
    ///
    /// ```
    /// let djstripe = djstripe_actix::Djstripe::connect(djstripe_actix::Config::new("postgres://localhost/x")).unwrap();
    /// # let _ = djstripe;
    /// ```
    pub fn connect(config: Config) -> Result<Self> {
        config.check()?;
        let db = Database::connect_with(&config.database_url, config.database.clone())
            .map_err(|e| Error::Config { var: "DATABASE_URL", message: e.to_string() })?;
        let mut stripe = StripeClient::new(&config.api_base);
        if let Some(key) = &config.test_secret_key {
            stripe = stripe.test_key(key);
        }
        if let Some(key) = &config.live_secret_key {
            stripe = stripe.live_key(key);
        }
        let legacy = config.legacy_enabled().then(|| LegacyEndpoint {
            secrets: config.webhook_secrets.clone(),
            validation: config.validation,
            tolerance: config.tolerance,
        });
        let engine_config = EngineConfig {
            legacy,
            event_callback: config.event_callback.clone(),
            stripe: Some(stripe),
            writers: config.writers,
            ..Default::default()
        };
        let engine = Engine::new(db, engine_config)?;
        Ok(Self { engine, config: Arc::new(config) })
    }

    /// The engine, for operations beyond HTTP (reprocessing, queries).
    ///
    /// ```no_run
    /// # let djstripe = djstripe_actix::Djstripe::start(djstripe_actix::Config::new("app.sqlite3")).unwrap();
    /// let failed = djstripe.engine().reprocess_failed().unwrap();
    /// ```
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The configuration.
    ///
    /// ```no_run
    /// # let djstripe = djstripe_actix::Djstripe::start(djstripe_actix::Config::new("app.sqlite3")).unwrap();
    /// println!("limit {} bytes", djstripe.config().max_body);
    /// ```
    pub fn config(&self) -> &Config {
        &self.config
    }
}

/// The webhook scope, mounted at `prefix` (no trailing slash, e.g. `"/stripe"`).
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let djstripe = djstripe_actix::Djstripe::start(djstripe_actix::Config::new(dir.path().join("a.sqlite3").to_str().unwrap())).unwrap();
/// let app = actix_web::App::new().service(djstripe_actix::scope("/stripe", djstripe));
/// # let _ = app;
/// ```
pub fn scope(prefix: &str, djstripe: Djstripe) -> actix_web::Scope {
    web::scope(prefix).configure(|cfg| configure(cfg, djstripe))
}

/// The same routes for `App::configure` / `ServiceConfig`, relative to where it is mounted.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let djstripe = djstripe_actix::Djstripe::start(djstripe_actix::Config::new(dir.path().join("a.sqlite3").to_str().unwrap())).unwrap();
/// let app = actix_web::App::new().configure(|cfg| djstripe_actix::configure(cfg, djstripe));
/// # let _ = app;
/// ```
pub fn configure(cfg: &mut web::ServiceConfig, djstripe: Djstripe) {
    webhook::routes(cfg, djstripe);
}
