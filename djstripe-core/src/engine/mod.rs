//! The engine: records every delivery and processes each Stripe event exactly once.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | [`Engine`], its configuration, validation of a delivery |
//! | `process.rs` | the transaction: trigger row, event row, handlers, savepoint, `on_commit` |
//! | `delivery.rs` | [`Delivery`]: what an adapter hands over |
//! | `outcome.rs` | [`Outcome`]: what happened |
//!
//! # Guarantees
//! - **Every request that reached an endpoint leaves a trigger row**, valid or not. For a valid
//!   delivery the row is written in the same transaction as the processing, which runs inside a
//!   SAVEPOINT: a handler failure rolls the savepoint back (event row and handler writes) while the
//!   trigger row commits with the error — one commit per delivery.
//! - **Each event is processed once.** The event row (keyed by Stripe's id) is inserted in that
//!   savepoint, before the handlers, with "insert unless present". A second delivery of the same
//!   event finds it and is a duplicate. Two deliveries at the same moment serialize on that row:
//!   on PostgreSQL the second insert waits for the first transaction and then inserts (the first
//!   rolled back) or does nothing (it committed); on SQLite writers are serialized outright.
//! - **Handlers' writes are atomic with the event** through [`crate::HandlerContext::connection`];
//!   `on_commit` callbacks run only after the commit succeeded.
//! - A database that is down or locked is [`Error::DatabaseUnavailable`]: nothing half-written.

mod delivery;
mod outcome;
mod process;

use std::sync::Arc;
use std::time::Duration;

pub use delivery::{Delivery, Target, headers_json};
pub use outcome::Outcome;

use crate::db::{Database, ValidationMethod, WebhookEventTrigger};
use crate::stripe_api::StripeClient;
use crate::{Error, Event, HandlerError, Verifier};
use process::{Draft, Mode};

/// A user function that takes over a valid delivery instead of inline processing (dj-stripe's
/// `DJSTRIPE_WEBHOOK_EVENT_CALLBACK`), e.g. to enqueue it. It gets the trigger id and the event;
/// call [`Engine::process_trigger`] later to process it exactly once. An error answers 500.
pub type EventCallback = Arc<dyn Fn(i64, &Event) -> Result<(), HandlerError> + Send + Sync>;

/// The legacy global endpoint, `POST {prefix}/webhook/` (`DJSTRIPE_WEBHOOK_SECRET`). Not
/// recommended: its URL is guessable; prefer per-endpoint UUID URLs.
///
/// ```
/// let legacy = djstripe_core::engine::LegacyEndpoint::new(["whsec_new", "whsec_old"]);
/// assert_eq!(legacy.secrets.len(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct LegacyEndpoint {
    /// Secrets that verify deliveries (several during a rotation).
    pub secrets: Vec<String>,
    /// How deliveries are validated (`DJSTRIPE_WEBHOOK_VALIDATION`).
    pub validation: ValidationMethod,
    /// Timestamp tolerance (`DJSTRIPE_WEBHOOK_TOLERANCE`); zero turns the check off.
    pub tolerance: Duration,
}

impl LegacyEndpoint {
    /// Signature validation with the given secrets and the default 300 s tolerance.
    ///
    /// ```
    /// let legacy = djstripe_core::engine::LegacyEndpoint::new(["whsec_1"]);
    /// assert_eq!(legacy.tolerance.as_secs(), 300);
    /// ```
    pub fn new(secrets: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            secrets: secrets.into_iter().map(Into::into).collect(),
            validation: ValidationMethod::VerifySignature,
            tolerance: Duration::from_secs(300),
        }
    }
}

/// How the engine behaves beyond the database.
///
/// ```
/// let config = djstripe_core::engine::EngineConfig::default();
/// assert_eq!(config.unverified_body_limit, 4096);
/// ```
#[derive(Clone)]
pub struct EngineConfig {
    /// The legacy global endpoint; `None` = it answers 404.
    pub legacy: Option<LegacyEndpoint>,
    /// Hand valid deliveries to this function instead of processing them inline.
    pub event_callback: Option<EventCallback>,
    /// Stripe's API, for the `retrieve_event` validation method.
    pub stripe: Option<StripeClient>,
    /// At most this many bytes of a delivery that failed validation are stored (default 4 KiB):
    /// an unauthenticated sender cannot fill the disk.
    pub unverified_body_limit: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self { legacy: None, event_callback: None, stripe: None, unverified_body_limit: 4096 }
    }
}

impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("legacy", &self.legacy.as_ref().map(|l| (l.validation, l.tolerance, l.secrets.len())))
            .field("event_callback", &self.event_callback.is_some())
            .field("stripe", &self.stripe)
            .field("unverified_body_limit", &self.unverified_body_limit)
            .finish()
    }
}

/// Records deliveries and processes events exactly once. Cheap to clone; blocking (run it on a
/// blocking thread pool from async code).
///
/// ```
/// use djstripe_core::db::{Database, NewWebhookEndpoint};
/// use djstripe_core::engine::{Delivery, Engine, EngineConfig, Target};
///
/// let dir = tempfile::tempdir().unwrap();
/// let db = Database::connect(dir.path().join("app.sqlite3").to_str().unwrap()).unwrap();
/// db.migrate().unwrap();
/// let endpoint = db.insert_endpoint(&NewWebhookEndpoint::local("whsec_doc")).unwrap();
/// let engine = Engine::new(db, EngineConfig::default()).unwrap();
///
/// let signed = djstripe_core::testing::EventBuilder::new("customer.created").signed("whsec_doc");
/// let outcome = engine.receive(&Delivery {
///     target: Target::Endpoint(&endpoint.djstripe_uuid),
///     body: &signed.body,
///     signature: Some(signed.header.as_bytes()),
///     headers: "{}".into(),
///     remote_ip: "127.0.0.1".into(),
/// }).unwrap();
/// assert_eq!(outcome.label(), "processed");
/// ```
#[derive(Clone, Debug)]
pub struct Engine {
    db: Database,
    config: Arc<EngineConfig>,
}

/// What a delivery is validated against.
struct Resolved {
    endpoint_id: Option<i64>,
    validation: ValidationMethod,
    secrets: Vec<String>,
    tolerance: Duration,
}

impl Engine {
    /// An engine over `db` (migrate it first). Warns once if a validation method is `none`.
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// let engine = djstripe_core::engine::Engine::new(db, Default::default()).unwrap();
    /// # let _ = engine;
    /// ```
    pub fn new(db: Database, config: EngineConfig) -> Result<Self, Error> {
        if let Some(legacy) = &config.legacy {
            if legacy.validation == ValidationMethod::None {
                tracing::warn!("the legacy webhook endpoint has validation `none`: anyone can post events to it");
            }
            if legacy.validation == ValidationMethod::RetrieveEvent && config.stripe.is_none() {
                return Err(Error::Config("validation `retrieve_event` needs Stripe API keys (STRIPE_TEST_SECRET_KEY / STRIPE_LIVE_SECRET_KEY)".into()));
            }
        }
        Ok(Self { db, config: Arc::new(config) })
    }

    /// The database.
    ///
    /// ```no_run
    /// # fn f(engine: djstripe_core::engine::Engine) {
    /// let (triggers, events) = engine.database().counts().unwrap();
    /// # }
    /// ```
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The configuration.
    ///
    /// ```no_run
    /// # fn f(engine: djstripe_core::engine::Engine) {
    /// let has_legacy = engine.config().legacy.is_some();
    /// # }
    /// ```
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Validates, records and processes one delivery.
    ///
    /// `Err` only when nothing could be recorded: [`Error::NotFound`] (unknown, disabled or
    /// malformed endpoint: 404) and [`Error::DatabaseUnavailable`] (503). Everything else is an
    /// [`Outcome`] with its trigger row.
    pub fn receive(&self, delivery: &Delivery<'_>) -> Result<Outcome, Error> {
        let resolved = self.resolve(delivery.target)?;
        let mut draft = Draft {
            endpoint_id: resolved.endpoint_id,
            remote_ip: &delivery.remote_ip,
            headers: &delivery.headers,
            body: delivery.body,
            body_truncated: false,
            reprocess_of: None,
        };
        match self.validate(&resolved, delivery) {
            Err(error) => {
                if !error_is_authenticated(&resolved, &error) && draft.body.len() > self.config.unverified_body_limit {
                    draft.body = &draft.body[..self.config.unverified_body_limit];
                    draft.body_truncated = true;
                }
                tracing::info!(error = %error, "webhook delivery rejected");
                let trigger_id = process::record(&self.db, &draft, None, "invalid", &error)?;
                Ok(Outcome::Rejected { trigger_id, error })
            }
            Ok(event) => self.accept(&draft, &event),
        }
    }

    /// Records a delivery the adapter refused before validation (e.g. a body over the size
    /// limit) as an invalid trigger row with a bounded body. Unknown endpoints are still
    /// [`Error::NotFound`], with nothing recorded.
    ///
    /// ```
    /// # use djstripe_core::{db::Database, engine::*, Error};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::connect(dir.path().join("r.sqlite3").to_str().unwrap()).unwrap();
    /// # db.migrate().unwrap();
    /// let engine = Engine::new(db, EngineConfig { legacy: Some(LegacyEndpoint::new(["whsec_1"])), ..Default::default() }).unwrap();
    /// let delivery = Delivery { target: Target::Legacy, body: b"...", signature: None, headers: "{}".into(), remote_ip: "::1".into() };
    /// let outcome = engine.reject(&delivery, Error::InvalidEvent("the body exceeds 2.5 MiB".into())).unwrap();
    /// assert_eq!(outcome.label(), "invalid");
    /// ```
    pub fn reject(&self, delivery: &Delivery<'_>, error: Error) -> Result<Outcome, Error> {
        let resolved = self.resolve(delivery.target)?;
        let limit = self.config.unverified_body_limit;
        let draft = Draft {
            endpoint_id: resolved.endpoint_id,
            remote_ip: &delivery.remote_ip,
            headers: &delivery.headers,
            body: &delivery.body[..delivery.body.len().min(limit)],
            body_truncated: delivery.body.len() > limit,
            reprocess_of: None,
        };
        let trigger_id = process::record(&self.db, &draft, None, "invalid", &error)?;
        Ok(Outcome::Rejected { trigger_id, error })
    }

    /// What to do with a valid event: discard the dashboard test, queue it, or process it.
    fn accept(&self, draft: &Draft<'_>, event: &Event) -> Result<Outcome, Error> {
        if event.is_dashboard_test() {
            let trigger_id = process::record_valid(&self.db, draft, event, true, "test_event")?;
            return Ok(Outcome::TestEvent { trigger_id });
        }
        if let Some(callback) = &self.config.event_callback {
            let trigger_id = process::record_valid(&self.db, draft, event, false, "queued")?;
            return match callback(trigger_id, event) {
                Ok(()) => Ok(Outcome::Queued { trigger_id, event_id: event.id.clone() }),
                Err(err) => {
                    let error = Error::Handler { handler: "event callback", message: err.to_string(), trace: err.trace() };
                    process::fail_trigger(&self.db, trigger_id, &error)?;
                    Ok(Outcome::Failed { trigger_id, event_id: event.id.clone(), error })
                }
            };
        }
        process::process(&self.db, draft, event, Mode::Deliver)
    }

    fn resolve(&self, target: Target<'_>) -> Result<Resolved, Error> {
        match target {
            Target::Legacy => {
                let legacy = self.config.legacy.as_ref().ok_or_else(|| Error::NotFound("webhook endpoint".into()))?;
                Ok(Resolved {
                    endpoint_id: None,
                    validation: legacy.validation,
                    secrets: legacy.secrets.clone(),
                    tolerance: legacy.tolerance,
                })
            }
            Target::Endpoint(uuid) => {
                // A malformed uuid is the same 404 as an unknown one: reveal nothing.
                let uuid = uuid::Uuid::parse_str(uuid).map_err(|_| Error::NotFound("webhook endpoint".into()))?;
                let endpoint = self
                    .db
                    .endpoint_by_uuid(&uuid.hyphenated().to_string())?
                    .filter(|e| e.is_enabled())
                    .ok_or_else(|| Error::NotFound("webhook endpoint".into()))?;
                let validation = endpoint.validation();
                if validation == ValidationMethod::None {
                    tracing::warn!(endpoint = endpoint.id, "webhook endpoint with validation `none` accepted a delivery unverified");
                }
                Ok(Resolved {
                    endpoint_id: Some(endpoint.id),
                    validation,
                    secrets: endpoint.valid_secrets(chrono::Utc::now().timestamp()),
                    tolerance: Duration::from_secs(endpoint.tolerance.max(0) as u64),
                })
            }
        }
    }

    fn validate(&self, resolved: &Resolved, delivery: &Delivery<'_>) -> Result<Event, Error> {
        match resolved.validation {
            ValidationMethod::VerifySignature => {
                if resolved.secrets.is_empty() {
                    return Err(Error::NoSecret);
                }
                Verifier::new(resolved.secrets.iter().cloned())
                    .tolerance(resolved.tolerance)
                    .verify_bytes(delivery.signature, delivery.body)?;
                Event::from_slice(delivery.body)
            }
            ValidationMethod::RetrieveEvent => {
                let claimed = Event::from_slice(delivery.body)?;
                if claimed.is_dashboard_test() {
                    return Ok(claimed);
                }
                let stripe = self.config.stripe.as_ref().ok_or_else(|| {
                    Error::Config("validation `retrieve_event` needs a Stripe API client".into())
                })?;
                // Outside any transaction: the network call must not hold database locks.
                let fetched = stripe.retrieve_event(&claimed.id, claimed.livemode, claimed.account.as_deref())?;
                let mut event = Event::from_value(fetched)?;
                if event.id != claimed.id {
                    return Err(Error::InvalidEvent(format!("Stripe returned event {} for {}", event.id, claimed.id)));
                }
                if event.account.is_none() {
                    event.account = claimed.account;
                }
                Ok(event)
            }
            ValidationMethod::None => Event::from_slice(delivery.body),
        }
    }

    /// Processes a recorded, valid trigger: one queued by the event callback (processed in place)
    /// or one whose processing failed (a new attempt row with `reprocess_of` pointing at it; the
    /// original's outcome becomes `reprocessed` once an attempt succeeds).
    ///
    /// An event already processed is a [`Outcome::Duplicate`]: handlers never run twice this way.
    pub fn process_trigger(&self, trigger_id: i64) -> Result<Outcome, Error> {
        let trigger = self.db.trigger(trigger_id)?;
        let event = reprocessable(&trigger)?;
        let draft = Draft {
            endpoint_id: trigger.webhook_endpoint_id,
            remote_ip: &trigger.remote_ip,
            headers: &trigger.headers,
            body: &trigger.body,
            body_truncated: false,
            reprocess_of: Some(trigger.id),
        };
        let mode = if trigger.outcome == "queued" { Mode::Queued(trigger.id) } else { Mode::Reprocess(trigger.id) };
        process::process(&self.db, &draft, &event, mode)
    }

    /// Reprocesses every failed trigger, oldest first (see [`Engine::process_trigger`]). A failed
    /// trigger whose reprocessing attempt failed too is retried through that latest attempt only:
    /// one new attempt per failed delivery and run, not one per earlier attempt.
    pub fn reprocess_failed(&self) -> Result<Vec<Outcome>, Error> {
        let filter = crate::db::TriggerFilter { failed: true, ..Default::default() };
        let mut failed = self.db.triggers(&filter, 0, i64::MAX)?;
        let superseded: std::collections::HashSet<i64> = failed.iter().filter_map(|t| t.reprocess_of).collect();
        failed.retain(|t| !superseded.contains(&t.id));
        failed.reverse();
        failed.iter().map(|t| self.process_trigger(t.id)).collect()
    }

    /// Runs the handlers of an already stored event again, on purpose (dj-stripe cannot: its
    /// reprocess skips stored events). Recorded as a trigger row with outcome `replayed`.
    pub fn replay_event(&self, event_id: &str) -> Result<Outcome, Error> {
        let stored = self.db.event(event_id)?;
        let event = stored.to_event()?;
        let body = serde_json::to_vec(&event).map_err(|e| Error::InvalidEvent(e.to_string()))?;
        let draft = Draft {
            endpoint_id: None,
            remote_ip: "replay",
            headers: "{}",
            body: &body,
            body_truncated: false,
            reprocess_of: None,
        };
        process::process(&self.db, &draft, &event, Mode::Replay)
    }
}

/// A failed verification means the body is unauthenticated; a body that failed to parse after a
/// good signature (or retrieval) came from Stripe and is kept whole.
fn error_is_authenticated(resolved: &Resolved, error: &Error) -> bool {
    matches!(error, Error::InvalidEvent(_)) && resolved.validation == ValidationMethod::VerifySignature
}

fn reprocessable(trigger: &WebhookEventTrigger) -> Result<Event, Error> {
    if !trigger.valid {
        return Err(Error::Config(format!("trigger {} is not a valid delivery: it cannot be processed", trigger.id)));
    }
    if trigger.processed {
        return Err(Error::Config(format!("trigger {} was processed already ({})", trigger.id, trigger.outcome)));
    }
    if trigger.body_truncated {
        return Err(Error::Config(format!("trigger {} holds a truncated body", trigger.id)));
    }
    Event::from_slice(&trigger.body)
}
