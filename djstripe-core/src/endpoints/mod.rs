//! Webhook endpoints created and managed at Stripe, the dj-stripe way: each has a URL holding a
//! fresh random UUID (`{base_url}{prefix}/webhook/{uuid}/`) and the signing secret Stripe returned
//! for it, stored locally. Independent of any web framework: the CLI and admin pages share it.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | [`EndpointManager`]: create, list, sync, update, delete, secret rotation |
//! | `base_url.rs` | [`check_base_url`]: the base URLs Stripe would refuse, refused first |
//! | `checks.rs` | [`check_events`], [`check_api_version`], [`check_account`]: every other parameter |
//!
//! ## Which key a call uses
//! No account: the configured key of the mode (`STRIPE_TEST_SECRET_KEY` / `STRIPE_LIVE_SECRET_KEY`).
//! An account with its own key stored ([`Database::set_account_key`]): that key. Any other
//! account: the platform's key of the mode, with `Stripe-Account: acct_...`.
//!
//! ```no_run
//! use djstripe_core::endpoints::{CreateEndpoint, EndpointManager};
//! use djstripe_core::stripe_api::StripeClient;
//! # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
//! let client = StripeClient::new("https://api.stripe.com").test_key("sk_test_...");
//! let manager = EndpointManager::new(db, client);
//! let created = manager.create(&CreateEndpoint::new("https://shop.example.com")).unwrap();
//! println!("Stripe delivers to {}; its secret is stored", created.endpoint.url);
//! ```

mod base_url;
mod checks;

use std::time::Duration;

use serde_json::json;

use crate::Error;
use crate::db::{
    Database, EndpointChanges, NewWebhookEndpoint, PreviousSecret, Processing, ValidationMethod, WebhookEndpoint,
};
use crate::error::Resource;
use crate::stripe_api::webhook_endpoints::{CreateParams, UpdateParams, WebhookEndpointObject};
use crate::stripe_api::{Caller, StripeClient};

pub use base_url::check_base_url;
pub use checks::{check_account, check_api_version, check_events};

/// How many Stripe calls [`EndpointManager::list`] makes at a time.
pub const LIST_PARALLELISM: usize = 8;

/// How long a replaced secret keeps verifying by default (Stripe's own roll keeps it up to 24 h).
pub const DEFAULT_SECRET_OVERLAP: Duration = Duration::from_secs(24 * 3600);

/// What to create: see [`EndpointManager::create`].
///
/// ```
/// let request = djstripe_core::endpoints::CreateEndpoint::new("https://shop.example.com");
/// assert_eq!(request.enabled_events, vec!["*".to_string()]);
/// assert!(!request.livemode && request.account.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateEndpoint {
    /// The public base URL of the app (`https://shop.example.com`, optionally with a path).
    pub base_url: String,
    /// The connected account the endpoint belongs to; `None` = the platform account.
    pub account: Option<String>,
    /// Live or test mode (picks the key).
    pub livemode: bool,
    /// Event types Stripe sends (default `["*"]`, all).
    pub enabled_events: Vec<String>,
    /// The API version Stripe renders events with (default: the account's).
    pub api_version: Option<String>,
    /// Free text shown in the Stripe Dashboard.
    pub description: Option<String>,
    /// Receive events of connected accounts (Stripe's `connect=true`).
    pub connect: bool,
}

impl CreateEndpoint {
    /// Defaults: test mode, no account, all events, no description, not Connect.
    ///
    /// ```
    /// let mut request = djstripe_core::endpoints::CreateEndpoint::new("https://shop.example.com");
    /// request.livemode = true;
    /// request.enabled_events = vec!["invoice.paid".into()];
    /// ```
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            account: None,
            livemode: false,
            enabled_events: vec!["*".into()],
            api_version: None,
            description: None,
            connect: false,
        }
    }
}

/// An endpoint just created at Stripe and stored, with the signing secret Stripe returned.
#[derive(Clone)]
pub struct Created {
    /// The stored row (its `url` holds the fresh UUID).
    pub endpoint: WebhookEndpoint,
    /// The signing secret (`whsec_...`), also stored in the row. Do not log it.
    pub secret: String,
    /// Whether this finished an interrupted creation (with its parameters, not the new ones).
    pub resumed: bool,
}

impl std::fmt::Debug for Created {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Created")
            .field("endpoint", &self.endpoint)
            .field("secret", &"whsec_…")
            .field("resumed", &self.resumed)
            .finish()
    }
}

/// `enabled` or `disabled`.
///
/// ```
/// use djstripe_core::endpoints::EndpointStatus;
/// assert_eq!("disabled".parse::<EndpointStatus>().unwrap(), EndpointStatus::Disabled);
/// assert!("off".parse::<EndpointStatus>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointStatus {
    /// Deliveries are accepted.
    Enabled,
    /// Stripe stops sending, and deliveries that still arrive get 404.
    Disabled,
}

impl EndpointStatus {
    /// The stored name.
    ///
    /// ```
    /// assert_eq!(djstripe_core::endpoints::EndpointStatus::Enabled.as_str(), "enabled");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
        }
    }
}

impl std::str::FromStr for EndpointStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim() {
            "enabled" => Ok(Self::Enabled),
            "disabled" => Ok(Self::Disabled),
            other => {
                Err(Error::input("status", format!("`{other}` is not an endpoint status: use enabled or disabled")))
            }
        }
    }
}

/// What to change: see [`EndpointManager::update`]. `None` leaves a field as it is.
///
/// ```
/// use djstripe_core::endpoints::{EndpointStatus, UpdateEndpoint};
/// let disable = UpdateEndpoint { status: Some(EndpointStatus::Disabled), ..Default::default() };
/// assert!(disable.enabled_events.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateEndpoint {
    /// A new base URL (`https://new.example.com`): the URL becomes `{base}{prefix}/webhook/{uuid}/`
    /// with the same UUID and secret (checked like a new one, [`check_base_url`]).
    pub base_url: Option<String>,
    /// New event types.
    pub enabled_events: Option<Vec<String>>,
    /// Enable or disable.
    pub status: Option<EndpointStatus>,
    /// New description.
    pub description: Option<String>,
}

/// How Stripe sees a local endpoint, for [`EndpointManager::list`].
///
/// ```
/// use djstripe_core::endpoints::AtStripe;
/// assert_eq!(AtStripe::Missing.to_string(), "missing at Stripe (deleted there?)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtStripe {
    /// Stripe has it with this status (`enabled` / `disabled`).
    Status(String),
    /// Stripe answered 404: deleted there.
    Missing,
    /// Not created at Stripe (a local endpoint).
    LocalOnly,
    /// Its creation at Stripe was interrupted: `create` again finishes it.
    Pending,
    /// Stripe could not be asked (no key, network): the reason.
    Unknown(String),
}

impl std::fmt::Display for AtStripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Status(status) => write!(f, "{status} at Stripe"),
            Self::Missing => f.write_str("missing at Stripe (deleted there?)"),
            Self::LocalOnly => f.write_str("local only"),
            Self::Pending => f.write_str("creation unfinished (run `endpoints create` again)"),
            Self::Unknown(why) => write!(f, "unknown ({why})"),
        }
    }
}

/// One row of [`EndpointManager::list`].
#[derive(Debug, Clone)]
pub struct Listed {
    /// The local row.
    pub endpoint: WebhookEndpoint,
    /// What Stripe says about it.
    pub at_stripe: AtStripe,
}

/// What [`EndpointManager::sync`] did.
#[derive(Debug, Clone, Default)]
pub struct SyncReport {
    /// Endpoints new to the local table (no secret yet: they cannot verify until one is set).
    pub created: Vec<WebhookEndpoint>,
    /// Local rows refreshed from Stripe.
    pub updated: Vec<WebhookEndpoint>,
    /// Local rows of the same mode and account that Stripe no longer has (left as they are).
    pub missing: Vec<WebhookEndpoint>,
    /// Interrupted creations that Stripe did make: the pending row and the Stripe id (not
    /// imported: the same `create` again finishes them, with their secret).
    pub unfinished: Vec<(WebhookEndpoint, String)>,
    /// Endpoints made by djstripe (a `djstripe_uuid` in their metadata) whose signing secret is
    /// not stored: every delivery to them fails until one is added or they are replaced.
    pub without_secret: Vec<WebhookEndpoint>,
}

/// What [`EndpointManager::delete`] removed.
#[derive(Debug, Clone)]
pub struct Deleted {
    /// The row, as it was.
    pub endpoint: WebhookEndpoint,
    /// What happened at Stripe.
    pub at_stripe: DeletedAt,
}

/// Where [`EndpointManager::delete`] deleted.
///
/// ```
/// use djstripe_core::endpoints::DeletedAt;
/// assert_eq!(DeletedAt::NotFoundAtStripe.to_string(), "not found at Stripe; removed locally");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletedAt {
    /// Stripe deleted it, then the local row was.
    Stripe,
    /// Stripe answered 404 (deleted there before): only the local row was removed.
    NotFoundAtStripe,
    /// A local endpoint, never at Stripe.
    LocalOnly,
}

impl std::fmt::Display for DeletedAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Stripe => "deleted at Stripe and locally",
            Self::NotFoundAtStripe => "not found at Stripe; removed locally",
            Self::LocalOnly => "deleted locally",
        })
    }
}

/// Creates and manages webhook endpoints at Stripe and in the local table.
///
/// A creation is written first as a `pending` row (no secret, answering deliveries 404) whose
/// UUID is the call's idempotency key, so an interrupted one is resumed, not repeated (see
/// [`EndpointManager::create`]). If storing Stripe's answer fails, the endpoint is deleted at
/// Stripe again, or [`Error::CleanupNeeded`] says exactly what to delete.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = djstripe_core::db::Database::connect(dir.path().join("m.sqlite3").to_str().unwrap()).unwrap();
/// # db.migrate().unwrap();
/// use djstripe_core::endpoints::{CreateEndpoint, EndpointManager};
/// use djstripe_core::stripe_api::StripeClient;
/// let manager = EndpointManager::new(db, StripeClient::new("http://127.0.0.1:9").test_key("sk_test_1")).prefix("/stripe");
/// // Refused before any call: Stripe cannot reach this machine.
/// let err = manager.create(&CreateEndpoint::new("http://localhost:8000")).unwrap_err();
/// assert!(err.to_string().contains("tunnel"));
/// ```
#[derive(Debug, Clone)]
pub struct EndpointManager {
    db: Database,
    client: StripeClient,
    prefix: String,
}

impl EndpointManager {
    /// A manager over `db` (migrated) calling Stripe through `client`; prefix `/stripe`.
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// let manager = djstripe_core::endpoints::EndpointManager::new(db, djstripe_core::stripe_api::StripeClient::new("https://api.stripe.com"));
    /// # let _ = manager;
    /// ```
    pub fn new(db: Database, client: StripeClient) -> Self {
        Self { db, client, prefix: "/stripe".into() }
    }

    /// Where the webhook routes are mounted (the URL is `{base_url}{prefix}/webhook/{uuid}/`).
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// # let client = djstripe_core::stripe_api::StripeClient::new("https://api.stripe.com");
    /// let manager = djstripe_core::endpoints::EndpointManager::new(db, client).prefix("/payments/stripe");
    /// # let _ = manager;
    /// ```
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        let prefix = prefix.trim_end_matches('/');
        self.prefix =
            if prefix.is_empty() || prefix.starts_with('/') { prefix.to_owned() } else { format!("/{prefix}") };
        self
    }

    /// The database.
    ///
    /// ```no_run
    /// # fn f(manager: djstripe_core::endpoints::EndpointManager) {
    /// let endpoints = manager.database().endpoints().unwrap();
    /// # }
    /// ```
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Who calls for `account` in a mode: its own stored key, else the default key (with
    /// `Stripe-Account` when an account is given). See the [module docs](self).
    ///
    /// ```no_run
    /// # fn f(manager: djstripe_core::endpoints::EndpointManager) {
    /// let caller = manager.caller(Some("acct_1"), false).unwrap();
    /// # }
    /// ```
    pub fn caller(&self, account: Option<&str>, livemode: bool) -> Result<Caller, Error> {
        let Some(account) = account else { return Ok(Caller::mode(livemode)) };
        if !account.starts_with("acct_") {
            return Err(Error::input("account", format!("`{account}` is not a Stripe account id (acct_...)")));
        }
        Ok(match self.db.account_key(account, livemode)? {
            Some(key) => Caller::mode(livemode).key(key),
            None => Caller::mode(livemode).account(Some(account)),
        })
    }

    /// Creates the endpoint at Stripe with a URL holding a fresh v4 UUID (also in its metadata as
    /// `djstripe_uuid`), and stores it with the signing secret Stripe returned.
    ///
    /// Every parameter is checked first ([`check_base_url`], [`check_events`],
    /// [`check_api_version`], [`check_account`]): a refused one makes no call at all.
    ///
    /// No unusable orphan: the local row is written first (status `pending`, no secret), and its
    /// UUID makes the call's `Idempotency-Key`. If the call is cut off (the process killed, the
    /// network gone, Stripe failing: [`Error::CreationUnfinished`]) the row stays, and the next
    /// `create` for the same base URL, mode and account resumes it with the same key: Stripe
    /// answers a repeated key with its first answer (for 24 hours), so the same endpoint and
    /// secret, never a second endpoint. A pending row older than that is checked at Stripe
    /// instead: an endpoint found there with its UUID is deleted (its secret cannot be had
    /// again) and the creation starts afresh. A refusal (4xx) removes the pending row.
    ///
    /// ```no_run
    /// # fn f(manager: djstripe_core::endpoints::EndpointManager) {
    /// use djstripe_core::endpoints::CreateEndpoint;
    /// let mut request = CreateEndpoint::new("https://shop.example.com");
    /// request.enabled_events = vec!["invoice.paid".into(), "customer.subscription.deleted".into()];
    /// let created = manager.create(&request).unwrap();
    /// assert!(created.endpoint.url.ends_with(&format!("/stripe/webhook/{}/", created.endpoint.djstripe_uuid)));
    /// # }
    /// ```
    pub fn create(&self, request: &CreateEndpoint) -> Result<Created, Error> {
        let base = check_base_url(&request.base_url, request.livemode)?;
        let enabled_events = check_events(&request.enabled_events)?;
        let api_version = request.api_version.as_deref().map(check_api_version).transpose()?;
        let account = request.account.as_deref().map(check_account).transpose()?;
        let caller = self.caller(account.as_deref(), request.livemode)?;
        let description = request.description.as_deref().map(str::trim).filter(|d| !d.is_empty());

        let (pending, resumed) = match self.unfinished(&caller, &base, account.as_deref(), request.livemode)? {
            Some(row) => {
                tracing::info!(endpoint = row.id, url = %row.url, "resuming an interrupted endpoint creation");
                (row, true)
            }
            None => {
                let uuid = uuid::Uuid::new_v4().hyphenated().to_string();
                let now = chrono::Utc::now().naive_utc();
                let row = NewWebhookEndpoint {
                    stripe_id: None,
                    url: format!("{base}{}/webhook/{uuid}/", self.prefix),
                    secret: String::new(),
                    previous_secrets: "[]".into(),
                    api_version,
                    enabled_events: json!(enabled_events).to_string(),
                    livemode: request.livemode,
                    status: PENDING.into(),
                    description: description.unwrap_or_default().to_owned(),
                    metadata: json!({ "djstripe_uuid": uuid }).to_string(),
                    account: account.clone(),
                    connect: request.connect,
                    validation_method: ValidationMethod::VerifySignature.as_str().into(),
                    tolerance: 300,
                    created: now,
                    updated: now,
                    djstripe_uuid: uuid,
                    fetch_thin_events: false,
                };
                (self.db.insert_endpoint(&row)?, false)
            }
        };

        let params = create_params(&pending);
        let key = format!("djstripe-create-{}", pending.djstripe_uuid);
        let object = match self.client.create_webhook_endpoint(&caller, &params, &key) {
            Ok(object) => object,
            Err(error) if outcome_unknown(&error, resumed) => {
                return Err(Error::CreationUnfinished { endpoint: pending.id, source: Box::new(error) });
            }
            Err(refused) => {
                // Stripe refused the creation: nothing exists there, and the row has no use.
                if let Err(e) = self.db.delete_endpoint(pending.id) {
                    tracing::warn!(endpoint = pending.id, error = %e, "could not remove a refused endpoint creation");
                }
                return Err(refused);
            }
        };

        let Some(secret) = object.secret.clone().filter(|s| s.starts_with("whsec_")) else {
            let error = Error::StripeUnexpectedAnswer {
                request: "POST /v1/webhook_endpoints".into(),
                reason: format!("Stripe created {} but returned no signing secret", object.id),
            };
            return Err(self.undo_create(&caller, &object, pending.id, error));
        };
        // The secret first: a row that has it but is still pending is resumed, never unusable.
        let stored = self.db.set_endpoint_secrets(pending.id, &secret, &[]).and_then(|()| {
            let changes = EndpointChanges {
                stripe_id: Some(Some(object.id.clone())),
                status: Some(if object.status.is_empty() { "enabled".into() } else { object.status.clone() }),
                api_version: object.api_version.clone().or(pending.api_version.clone()).map(Some),
                ..changes_from(&object)
            };
            self.db.update_endpoint(pending.id, &changes)
        });
        match stored {
            Ok(endpoint) => {
                tracing::info!(endpoint = endpoint.id, stripe_id = %object.id, url = %endpoint.url, resumed, "webhook endpoint created");
                Ok(Created { endpoint, secret, resumed })
            }
            Err(error) => Err(self.undo_create(&caller, &object, pending.id, error)),
        }
    }

    /// The pending row a new creation for `base` (mode, account) resumes, if any. One older than
    /// Stripe keeps idempotency keys (24 h, less an hour's margin) is settled instead: its
    /// endpoint, if Stripe has one, is deleted there, and the row removed.
    fn unfinished(
        &self,
        caller: &Caller,
        base: &str,
        account: Option<&str>,
        livemode: bool,
    ) -> Result<Option<WebhookEndpoint>, Error> {
        let under = format!("{base}{}/webhook/", self.prefix);
        let mut pending: Vec<WebhookEndpoint> = self
            .db
            .endpoints()?
            .into_iter()
            .filter(|e| is_pending(e) && e.livemode == livemode && e.account.as_deref() == account)
            .filter(|e| e.url.starts_with(&under))
            .collect();
        pending.sort_by_key(|e| e.id);
        let cutoff = chrono::Utc::now().naive_utc() - chrono::Duration::hours(23);
        for stale in pending.iter().filter(|e| e.created < cutoff) {
            for object in self.at_stripe_by_uuid(caller, &stale.djstripe_uuid)? {
                self.client.delete_webhook_endpoint(caller, &object.id)?;
                tracing::warn!(stripe_id = %object.id, "deleted the endpoint of an interrupted creation older than 24 h (its secret cannot be had again)");
            }
            self.db.delete_endpoint(stale.id)?;
        }
        Ok(pending.into_iter().find(|e| e.created >= cutoff))
    }

    /// The endpoints Stripe holds with `djstripe_uuid` in their metadata.
    fn at_stripe_by_uuid(&self, caller: &Caller, uuid: &str) -> Result<Vec<WebhookEndpointObject>, Error> {
        let all = self.client.list_webhook_endpoints(caller)?;
        Ok(all.into_iter().filter(|o| o.metadata.get("djstripe_uuid").map(String::as_str) == Some(uuid)).collect())
    }

    /// Deletes at Stripe an endpoint that could not be stored, and its pending row; returns the
    /// error to report.
    fn undo_create(&self, caller: &Caller, object: &WebhookEndpointObject, pending: i64, error: Error) -> Error {
        let deleted = self.client.delete_webhook_endpoint(caller, &object.id);
        if let Err(e) = self.db.delete_endpoint(pending) {
            tracing::warn!(endpoint = pending, error = %e, "could not remove the pending row of a failed creation");
        }
        match deleted {
            Ok(_) => {
                tracing::warn!(stripe_id = %object.id, error = %error, "storing the new endpoint failed; deleted it at Stripe again");
                error
            }
            Err(cleanup) => Error::CleanupNeeded {
                stripe_id: object.id.clone(),
                url: object.url.clone(),
                account: caller.stripe_account.clone(),
                api_base: self.client.base().to_owned(),
                store_error: Box::new(error),
                delete_error: Box::new(cleanup),
            },
        }
    }

    /// The endpoint `key` names: a local id (`12`), a Stripe id (`we_...`) or a UUID.
    ///
    /// ```no_run
    /// # fn f(manager: djstripe_core::endpoints::EndpointManager) {
    /// let endpoint = manager.find("we_1Pgc6yB7WZ01zgkWzAudq4eU").unwrap();
    /// # }
    /// ```
    pub fn find(&self, key: &str) -> Result<WebhookEndpoint, Error> {
        let key = key.trim();
        let found = if let Ok(id) = key.parse::<i64>() {
            return self.db.endpoint(id);
        } else if key.starts_with("we_") {
            self.db.endpoint_by_stripe_id(key)?
        } else if let Ok(uuid) = uuid::Uuid::parse_str(key) {
            self.db.endpoint_by_uuid(&uuid.hyphenated().to_string())?
        } else {
            return Err(Error::input("endpoint", format!("`{key}` is not an endpoint id, Stripe id (we_...) or UUID")));
        };
        found.ok_or_else(|| Error::not_found(Resource::WebhookEndpoint, key))
    }

    /// Every local endpoint, newest first, with what Stripe says about it: one call each, at most
    /// [`LIST_PARALLELISM`] at a time.
    ///
    /// ```no_run
    /// # fn f(manager: djstripe_core::endpoints::EndpointManager) {
    /// for row in manager.list().unwrap() {
    ///     println!("{} {} ({})", row.endpoint.id, row.endpoint.url, row.at_stripe);
    /// }
    /// # }
    /// ```
    pub fn list(&self) -> Result<Vec<Listed>, Error> {
        let endpoints = self.db.endpoints()?;
        let next = std::sync::atomic::AtomicUsize::new(0);
        let answers: Vec<std::sync::Mutex<Option<Result<AtStripe, Error>>>> =
            endpoints.iter().map(|_| std::sync::Mutex::new(None)).collect();
        // Blocking calls (ureq): a few scoped threads take the endpoints in turn.
        std::thread::scope(|scope| {
            for _ in 0..LIST_PARALLELISM.min(endpoints.len()) {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(endpoint) = endpoints.get(i) else { break };
                        let answer = self.at_stripe(endpoint);
                        *answers[i].lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(answer);
                    }
                });
            }
        });
        endpoints
            .into_iter()
            .zip(answers)
            .map(|(endpoint, answer)| {
                let answer = answer.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
                let at_stripe = answer.unwrap_or_else(|| Ok(AtStripe::Unknown("not asked".into())))?;
                Ok(Listed { endpoint, at_stripe })
            })
            .collect()
    }

    /// What Stripe says about one endpoint (`Err` only when the database is down).
    fn at_stripe(&self, endpoint: &WebhookEndpoint) -> Result<AtStripe, Error> {
        let Some(id) = &endpoint.stripe_id else {
            return Ok(if is_pending(endpoint) { AtStripe::Pending } else { AtStripe::LocalOnly });
        };
        match self
            .caller(endpoint.account.as_deref(), endpoint.livemode)
            .and_then(|caller| self.client.retrieve_webhook_endpoint(&caller, id))
        {
            Ok(Some(object)) => Ok(AtStripe::Status(object.status)),
            Ok(None) => Ok(AtStripe::Missing),
            Err(e @ Error::DatabaseUnavailable { .. }) => Err(e),
            Err(e) => Ok(AtStripe::Unknown(e.to_string())),
        }
    }

    /// Pulls the endpoints of a mode and account from Stripe into the local table: existing rows
    /// (matched by Stripe id) are refreshed, others inserted with the UUID of their metadata's
    /// `djstripe_uuid` (a new one if absent). Stripe never returns a secret here, so new rows
    /// cannot verify deliveries (400, "no signing secret") until [`EndpointManager::add_secret`].
    ///
    /// Two cases are reported for the operator to settle: an endpoint Stripe has for a local
    /// `pending` row ([`SyncReport::unfinished`]: the same `create` again finishes it), and an
    /// endpoint made by djstripe (it has a `djstripe_uuid`) whose secret is not stored
    /// ([`SyncReport::without_secret`]).
    ///
    /// ```no_run
    /// # fn f(manager: djstripe_core::endpoints::EndpointManager) {
    /// let report = manager.sync(false, None).unwrap();
    /// println!("{} new, {} updated", report.created.len(), report.updated.len());
    /// # }
    /// ```
    pub fn sync(&self, livemode: bool, account: Option<&str>) -> Result<SyncReport, Error> {
        let account = account.map(check_account).transpose()?;
        let account = account.as_deref();
        let caller = self.caller(account, livemode)?;
        let remote = self.client.list_webhook_endpoints(&caller)?;
        let mut report = SyncReport::default();
        for object in &remote {
            let uuid = object
                .metadata
                .get("djstripe_uuid")
                .and_then(|u| uuid::Uuid::parse_str(u).ok())
                .map(|u| u.hyphenated().to_string());
            match self.db.endpoint_by_stripe_id(&object.id)? {
                Some(local) => {
                    let changes = EndpointChanges {
                        url: Some(object.url.clone()),
                        status: Some(object.status.clone()),
                        api_version: Some(object.api_version.clone()),
                        ..changes_from(object)
                    };
                    report.updated.push(self.db.update_endpoint(local.id, &changes)?);
                }
                None => {
                    let local = match &uuid {
                        Some(u) => self.db.endpoint_by_uuid(u)?,
                        None => None,
                    };
                    if let Some(pending) = local.as_ref().filter(|l| is_pending(l)) {
                        report.unfinished.push((pending.clone(), object.id.clone()));
                        continue;
                    }
                    let uuid = uuid
                        .filter(|_| local.is_none())
                        .unwrap_or_else(|| uuid::Uuid::new_v4().hyphenated().to_string());
                    let mut row = new_row(object, account, object.application.is_some(), uuid);
                    row.livemode = livemode;
                    report.created.push(self.db.insert_endpoint(&row)?);
                }
            }
        }
        report.without_secret = report
            .created
            .iter()
            .chain(&report.updated)
            .filter(|e| e.secret.is_empty() && made_by_djstripe(e))
            .cloned()
            .collect();
        report.missing = self
            .db
            .endpoints()?
            .into_iter()
            .filter(|e| e.livemode == livemode && e.account.as_deref() == account)
            .filter(|e| e.stripe_id.as_ref().is_some_and(|id| !remote.iter().any(|o| &o.id == id)))
            .collect();
        Ok(report)
    }

    /// Changes the URL (a new base URL, same UUID), enabled events, status or description: at
    /// Stripe first (for an endpoint created there), then locally from Stripe's answer. A
    /// disabled endpoint answers deliveries with 404, and Stripe stops sending to it. What the
    /// CLI's `endpoints update` and the admin's enable/disable both call.
    ///
    /// ```no_run
    /// # fn f(manager: djstripe_core::endpoints::EndpointManager) {
    /// use djstripe_core::endpoints::{EndpointStatus, UpdateEndpoint};
    /// let update = UpdateEndpoint { status: Some(EndpointStatus::Disabled), ..Default::default() };
    /// let endpoint = manager.update("we_123", &update).unwrap();
    /// assert!(!endpoint.is_enabled());
    /// let moved = UpdateEndpoint { base_url: Some("https://new.example.com".into()), ..Default::default() };
    /// assert!(manager.update("we_123", &moved).unwrap().url.starts_with("https://new.example.com/stripe/webhook/"));
    /// # }
    /// ```
    pub fn update(&self, key: &str, update: &UpdateEndpoint) -> Result<WebhookEndpoint, Error> {
        let endpoint = self.find(key)?;
        if is_pending(&endpoint) {
            return Err(Error::input(
                "endpoint",
                format!(
                    "endpoint #{} is still being created at Stripe: run `endpoints create` again to finish it first",
                    endpoint.id
                ),
            ));
        }
        let events = update.enabled_events.as_deref().map(check_events).transpose()?;
        let url = match &update.base_url {
            Some(base) => {
                let base = check_base_url(base, endpoint.livemode)?;
                Some(format!("{base}{}/webhook/{}/", self.prefix, endpoint.djstripe_uuid))
            }
            None => None,
        };
        let changes = match &endpoint.stripe_id {
            Some(id) => {
                let caller = self.caller(endpoint.account.as_deref(), endpoint.livemode)?;
                let params = UpdateParams {
                    url,
                    enabled_events: events,
                    disabled: update.status.map(|s| s == EndpointStatus::Disabled),
                    description: update.description.clone(),
                };
                let object = self.client.update_webhook_endpoint(&caller, id, &params)?;
                EndpointChanges {
                    url: Some(object.url.clone()),
                    status: Some(object.status.clone()),
                    ..changes_from(&object)
                }
            }
            None => EndpointChanges {
                url,
                enabled_events: events.map(|e| json!(e).to_string()),
                status: update.status.map(|s| s.as_str().to_owned()),
                description: update.description.clone(),
                ..Default::default()
            },
        };
        self.db.update_endpoint(endpoint.id, &changes)
    }

    /// Deletes the endpoint at Stripe, then locally; deliveries to its URL then get 404. If
    /// Stripe refuses, nothing is deleted locally. [`Deleted::at_stripe`] says what Stripe
    /// answered (deleted, or not found there). A pending creation's endpoint is looked for at
    /// Stripe by its UUID.
    ///
    /// ```no_run
    /// # fn f(manager: djstripe_core::endpoints::EndpointManager) {
    /// let gone = manager.delete("we_123").unwrap();
    /// println!("{}: {}", gone.endpoint.url, gone.at_stripe);
    /// # }
    /// ```
    pub fn delete(&self, key: &str) -> Result<Deleted, Error> {
        let endpoint = self.find(key)?;
        let at_stripe = match &endpoint.stripe_id {
            Some(id) => {
                let caller = self.caller(endpoint.account.as_deref(), endpoint.livemode)?;
                if self.client.delete_webhook_endpoint(&caller, id)? {
                    DeletedAt::Stripe
                } else {
                    tracing::info!(stripe_id = %id, "the endpoint was already deleted at Stripe");
                    DeletedAt::NotFoundAtStripe
                }
            }
            None if is_pending(&endpoint) => {
                let caller = self.caller(endpoint.account.as_deref(), endpoint.livemode)?;
                let found = self.at_stripe_by_uuid(&caller, &endpoint.djstripe_uuid)?;
                for object in &found {
                    self.client.delete_webhook_endpoint(&caller, &object.id)?;
                }
                if found.is_empty() { DeletedAt::NotFoundAtStripe } else { DeletedAt::Stripe }
            }
            None => DeletedAt::LocalOnly,
        };
        self.db.delete_endpoint(endpoint.id)?;
        Ok(Deleted { endpoint, at_stripe })
    }

    /// Turns fetching thin events on or off for the endpoint `key` names
    /// ([`WebhookEndpoint::fetch_thin_events`]): a local setting, no call to Stripe. With it on,
    /// every v2 event notification to the endpoint is completed with the full event before its
    /// transaction opens, with the secret key of the endpoint's mode (an account's stored key is
    /// not used: the event's `context` names the account).
    ///
    /// ```
    /// # let db = djstripe_core::testing::TestDatabase::new(djstripe_core::db::Backend::Sqlite);
    /// # let client = djstripe_core::stripe_api::StripeClient::new("http://127.0.0.1:1");
    /// let manager = djstripe_core::endpoints::EndpointManager::new((*db).clone(), client);
    /// let endpoint = db.insert_endpoint(&djstripe_core::db::NewWebhookEndpoint::local("whsec_1")).unwrap();
    /// assert!(manager.set_fetch_thin_events(&endpoint.id.to_string(), true).unwrap().fetch_thin_events);
    /// assert!(manager.find(&endpoint.djstripe_uuid).unwrap().fetch_thin_events);
    /// assert!(!manager.set_fetch_thin_events(&endpoint.djstripe_uuid, false).unwrap().fetch_thin_events);
    /// ```
    pub fn set_fetch_thin_events(&self, key: &str, fetch: bool) -> Result<WebhookEndpoint, Error> {
        let endpoint = self.find(key)?;
        let changes = EndpointChanges { fetch_thin_events: Some(fetch), ..Default::default() };
        self.db.update_endpoint(endpoint.id, &changes)
    }

    /// Sets when the handlers of the endpoint `key` names run ([`WebhookEndpoint::processing`]):
    /// `Some(mode)` for its own, `None` to follow `DJSTRIPE_WEBHOOK_PROCESSING`. A local setting,
    /// no call to Stripe; deliveries follow it within the endpoint cache's second.
    ///
    /// ```
    /// # let db = djstripe_core::testing::TestDatabase::new(djstripe_core::db::Backend::Sqlite);
    /// # let client = djstripe_core::stripe_api::StripeClient::new("http://127.0.0.1:1");
    /// use djstripe_core::db::Processing;
    /// let manager = djstripe_core::endpoints::EndpointManager::new((*db).clone(), client);
    /// let endpoint = db.insert_endpoint(&djstripe_core::db::NewWebhookEndpoint::local("whsec_1")).unwrap();
    /// let inbox = manager.set_processing(&endpoint.id.to_string(), Some(Processing::Inbox)).unwrap();
    /// assert_eq!(inbox.processing(), Some(Processing::Inbox));
    /// assert_eq!(manager.set_processing(&endpoint.djstripe_uuid, None).unwrap().processing(), None);
    /// ```
    pub fn set_processing(&self, key: &str, processing: Option<Processing>) -> Result<WebhookEndpoint, Error> {
        let endpoint = self.find(key)?;
        let changes =
            EndpointChanges { processing: Some(processing.map(|p| p.as_str().to_owned())), ..Default::default() };
        self.db.update_endpoint(endpoint.id, &changes)
    }

    /// Deletes the endpoint locally only (e.g. its account's key is gone); Stripe keeps it.
    ///
    /// ```no_run
    /// # fn f(manager: djstripe_core::endpoints::EndpointManager) {
    /// manager.forget("12").unwrap();
    /// # }
    /// ```
    pub fn forget(&self, key: &str) -> Result<WebhookEndpoint, Error> {
        let endpoint = self.find(key)?;
        self.db.delete_endpoint(endpoint.id)?;
        Ok(endpoint)
    }

    /// Rotation, step 1: `secret` becomes the current secret; the replaced one keeps verifying for
    /// `overlap` (e.g. [`DEFAULT_SECRET_OVERLAP`]; zero drops it at once). Also how a synced
    /// endpoint gets its first secret.
    ///
    /// ```no_run
    /// # fn f(manager: djstripe_core::endpoints::EndpointManager) {
    /// use djstripe_core::endpoints::DEFAULT_SECRET_OVERLAP;
    /// let endpoint = manager.add_secret("we_123", "whsec_new", DEFAULT_SECRET_OVERLAP).unwrap();
    /// # }
    /// ```
    pub fn add_secret(&self, key: &str, secret: &str, overlap: Duration) -> Result<WebhookEndpoint, Error> {
        let secret = secret.trim();
        if !secret.starts_with("whsec_") || secret.len() <= "whsec_".len() {
            return Err(Error::input("secret", "a webhook signing secret starts with whsec_"));
        }
        let endpoint = self.find(key)?;
        let now = chrono::Utc::now().timestamp();
        let mut previous: Vec<PreviousSecret> =
            endpoint.previous().into_iter().filter(|p| p.expires > now && p.secret != secret).collect();
        if !endpoint.secret.is_empty() && endpoint.secret != secret && !overlap.is_zero() {
            let expires = now.saturating_add(i64::try_from(overlap.as_secs()).unwrap_or(i64::MAX));
            previous.push(PreviousSecret { secret: endpoint.secret.clone(), expires });
        }
        self.db.set_endpoint_secrets(endpoint.id, secret, &previous)?;
        self.db.endpoint(endpoint.id)
    }

    /// Rotation, step 2: the previous secrets stop verifying now. Returns how many were dropped.
    ///
    /// ```no_run
    /// # fn f(manager: djstripe_core::endpoints::EndpointManager) {
    /// let dropped = manager.drop_secret("we_123").unwrap();
    /// # }
    /// ```
    pub fn drop_secret(&self, key: &str) -> Result<usize, Error> {
        let endpoint = self.find(key)?;
        let now = chrono::Utc::now().timestamp();
        let dropped = endpoint.previous().iter().filter(|p| p.expires > now).count();
        self.db.set_endpoint_secrets(endpoint.id, &endpoint.secret, &[])?;
        Ok(dropped)
    }
}

/// Whether the endpoint's metadata holds a `djstripe_uuid` (created by djstripe).
fn made_by_djstripe(endpoint: &WebhookEndpoint) -> bool {
    serde_json::from_str::<serde_json::Value>(&endpoint.metadata).is_ok_and(|m| m["djstripe_uuid"].is_string())
}

/// The status of a row whose creation at Stripe has not finished (see [`EndpointManager::create`]).
const PENDING: &str = "pending";

fn is_pending(endpoint: &WebhookEndpoint) -> bool {
    endpoint.status == PENDING && endpoint.stripe_id.is_none()
}

/// Whether a failed creation may have happened at Stripe all the same: no answer, a 5xx, a
/// 409 (another request with the key in flight), or a 429 when resuming (an earlier attempt's
/// fate is still unknown). Otherwise Stripe refused it, and created nothing.
fn outcome_unknown(error: &Error, resumed: bool) -> bool {
    match error {
        Error::StripeUnreachable { .. } => true,
        Error::StripeUnavailable { status, .. } => *status >= 500 || (*status == 429 && resumed),
        Error::StripeApi { status, .. } => *status == 409,
        _ => false,
    }
}

/// The creation's parameters, from its pending row: the same on every resumption, as Stripe
/// requires of a repeated idempotency key.
fn create_params(pending: &WebhookEndpoint) -> CreateParams {
    let mut params = CreateParams {
        url: pending.url.clone(),
        enabled_events: serde_json::from_str(&pending.enabled_events).unwrap_or_default(),
        api_version: pending.api_version.clone(),
        description: Some(pending.description.clone()).filter(|d| !d.is_empty()),
        connect: pending.connect,
        ..Default::default()
    };
    params.metadata.insert("djstripe_uuid".into(), pending.djstripe_uuid.clone());
    params
}

/// The fields Stripe's answer refreshes in every path (events, description, metadata).
fn changes_from(object: &WebhookEndpointObject) -> EndpointChanges {
    EndpointChanges {
        enabled_events: Some(json!(object.enabled_events).to_string()),
        description: Some(object.description.clone().unwrap_or_default()),
        metadata: Some(json!(object.metadata).to_string()),
        ..Default::default()
    }
}

/// The local row of a Stripe endpoint (secret left empty).
fn new_row(object: &WebhookEndpointObject, account: Option<&str>, connect: bool, uuid: String) -> NewWebhookEndpoint {
    let now = chrono::Utc::now().naive_utc();
    NewWebhookEndpoint {
        stripe_id: Some(object.id.clone()),
        djstripe_uuid: uuid,
        url: object.url.clone(),
        secret: String::new(),
        previous_secrets: "[]".into(),
        api_version: object.api_version.clone(),
        enabled_events: json!(object.enabled_events).to_string(),
        livemode: object.livemode,
        status: if object.status.is_empty() { "enabled".into() } else { object.status.clone() },
        description: object.description.clone().unwrap_or_default(),
        metadata: json!(object.metadata).to_string(),
        account: account.map(str::to_owned),
        connect,
        validation_method: ValidationMethod::VerifySignature.as_str().into(),
        tolerance: 300,
        created: now,
        updated: now,
        fetch_thin_events: false,
    }
}
