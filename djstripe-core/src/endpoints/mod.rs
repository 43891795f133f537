//! Webhook endpoints created and managed at Stripe, the dj-stripe way: each has a URL holding a
//! fresh random UUID (`{base_url}{prefix}/webhook/{uuid}/`) and the signing secret Stripe returned
//! for it, stored locally. Independent of any web framework: the CLI and admin pages share it.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | [`EndpointManager`]: create, list, sync, update, delete, secret rotation |
//! | `base_url.rs` | [`check_base_url`]: the base URLs Stripe would refuse, refused first |
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

use std::time::Duration;

use serde_json::json;

use crate::Error;
use crate::db::{Database, EndpointChanges, NewWebhookEndpoint, PreviousSecret, ValidationMethod, WebhookEndpoint};
use crate::error::Resource;
use crate::stripe_api::webhook_endpoints::{CreateParams, UpdateParams, WebhookEndpointObject};
use crate::stripe_api::{Caller, StripeClient};

pub use base_url::check_base_url;

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
}

impl std::fmt::Debug for Created {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Created").field("endpoint", &self.endpoint).field("secret", &"whsec_…").finish()
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
    /// Stripe could not be asked (no key, network): the reason.
    Unknown(String),
}

impl std::fmt::Display for AtStripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Status(status) => write!(f, "{status} at Stripe"),
            Self::Missing => f.write_str("missing at Stripe (deleted there?)"),
            Self::LocalOnly => f.write_str("local only"),
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
}

/// Creates and manages webhook endpoints at Stripe and in the local table.
///
/// Nothing is stored unless Stripe confirmed the creation; if storing fails afterwards, the
/// endpoint is deleted at Stripe again, or [`Error::CleanupNeeded`] says exactly what to delete.
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
    /// `djstripe_uuid`), then stores it with the signing secret Stripe returned.
    ///
    /// The base URL is checked first ([`check_base_url`]): a refused one makes no call at all.
    /// The creation carries an `Idempotency-Key`, so a retried request never creates two.
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
        let caller = self.caller(request.account.as_deref(), request.livemode)?;
        let uuid = uuid::Uuid::new_v4().hyphenated().to_string();
        let url = format!("{base}{}/webhook/{uuid}/", self.prefix);
        let mut params = CreateParams {
            url,
            enabled_events,
            api_version: request.api_version.clone(),
            description: request.description.clone().filter(|d| !d.is_empty()),
            connect: request.connect,
            ..Default::default()
        };
        params.metadata.insert("djstripe_uuid".into(), uuid.clone());
        let object = self.client.create_webhook_endpoint(&caller, &params, &format!("djstripe-create-{uuid}"))?;

        let Some(secret) = object.secret.clone().filter(|s| s.starts_with("whsec_")) else {
            let error = Error::StripeUnexpectedAnswer {
                request: "POST /v1/webhook_endpoints".into(),
                reason: format!("Stripe created {} but returned no signing secret", object.id),
            };
            return Err(self.undo_create(&caller, &object, error));
        };
        let mut row = new_row(&object, request.account.as_deref(), request.connect, uuid);
        row.secret = secret.clone();
        row.livemode = request.livemode;
        if row.api_version.is_none() {
            row.api_version = request.api_version.clone();
        }
        match self.db.insert_endpoint(&row) {
            Ok(endpoint) => {
                tracing::info!(endpoint = endpoint.id, stripe_id = %object.id, url = %endpoint.url, "webhook endpoint created");
                Ok(Created { endpoint, secret })
            }
            Err(error) => Err(self.undo_create(&caller, &object, error)),
        }
    }

    /// Deletes at Stripe an endpoint that could not be stored; returns the error to report.
    fn undo_create(&self, caller: &Caller, object: &WebhookEndpointObject, error: Error) -> Error {
        match self.client.delete_webhook_endpoint(caller, &object.id) {
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

    /// Every local endpoint, newest first, with what Stripe says about it (one call each).
    ///
    /// ```no_run
    /// # fn f(manager: djstripe_core::endpoints::EndpointManager) {
    /// for row in manager.list().unwrap() {
    ///     println!("{} {} ({})", row.endpoint.id, row.endpoint.url, row.at_stripe);
    /// }
    /// # }
    /// ```
    pub fn list(&self) -> Result<Vec<Listed>, Error> {
        self.db
            .endpoints()?
            .into_iter()
            .map(|endpoint| {
                let at_stripe = match &endpoint.stripe_id {
                    None => AtStripe::LocalOnly,
                    Some(id) => match self
                        .caller(endpoint.account.as_deref(), endpoint.livemode)
                        .and_then(|caller| self.client.retrieve_webhook_endpoint(&caller, id))
                    {
                        Ok(Some(object)) => AtStripe::Status(object.status),
                        Ok(None) => AtStripe::Missing,
                        Err(e @ Error::DatabaseUnavailable { .. }) => return Err(e),
                        Err(e) => AtStripe::Unknown(e.to_string()),
                    },
                };
                Ok(Listed { endpoint, at_stripe })
            })
            .collect()
    }

    /// Pulls the endpoints of a mode and account from Stripe into the local table: existing rows
    /// (matched by Stripe id) are refreshed, others inserted with the UUID of their metadata's
    /// `djstripe_uuid` (a new one if absent). Stripe never returns a secret here, so new rows
    /// cannot verify deliveries (400, "no signing secret") until [`EndpointManager::add_secret`].
    ///
    /// ```no_run
    /// # fn f(manager: djstripe_core::endpoints::EndpointManager) {
    /// let report = manager.sync(false, None).unwrap();
    /// println!("{} new, {} updated", report.created.len(), report.updated.len());
    /// # }
    /// ```
    pub fn sync(&self, livemode: bool, account: Option<&str>) -> Result<SyncReport, Error> {
        let caller = self.caller(account, livemode)?;
        let remote = self.client.list_webhook_endpoints(&caller)?;
        let mut report = SyncReport::default();
        for object in &remote {
            match self.db.endpoint_by_stripe_id(&object.id)? {
                Some(local) => {
                    let changes = EndpointChanges {
                        url: Some(object.url.clone()),
                        enabled_events: Some(json!(object.enabled_events).to_string()),
                        status: Some(object.status.clone()),
                        description: Some(object.description.clone().unwrap_or_default()),
                        api_version: Some(object.api_version.clone()),
                        metadata: Some(json!(object.metadata).to_string()),
                    };
                    report.updated.push(self.db.update_endpoint(local.id, &changes)?);
                }
                None => {
                    let uuid = object
                        .metadata
                        .get("djstripe_uuid")
                        .and_then(|u| uuid::Uuid::parse_str(u).ok())
                        .map(|u| u.hyphenated().to_string())
                        .filter(|u| self.db.endpoint_by_uuid(u).ok().flatten().is_none())
                        .unwrap_or_else(|| uuid::Uuid::new_v4().hyphenated().to_string());
                    let mut row = new_row(object, account, object.application.is_some(), uuid);
                    row.livemode = livemode;
                    report.created.push(self.db.insert_endpoint(&row)?);
                }
            }
        }
        report.missing = self
            .db
            .endpoints()?
            .into_iter()
            .filter(|e| e.livemode == livemode && e.account.as_deref() == account)
            .filter(|e| e.stripe_id.as_ref().is_some_and(|id| !remote.iter().any(|o| &o.id == id)))
            .collect();
        Ok(report)
    }

    /// Changes enabled events, status or description: at Stripe first (for an endpoint created
    /// there), then locally from Stripe's answer. A disabled endpoint answers deliveries with 404.
    ///
    /// ```no_run
    /// # fn f(manager: djstripe_core::endpoints::EndpointManager) {
    /// use djstripe_core::endpoints::{EndpointStatus, UpdateEndpoint};
    /// let update = UpdateEndpoint { status: Some(EndpointStatus::Disabled), ..Default::default() };
    /// let endpoint = manager.update("we_123", &update).unwrap();
    /// assert!(!endpoint.is_enabled());
    /// # }
    /// ```
    pub fn update(&self, key: &str, update: &UpdateEndpoint) -> Result<WebhookEndpoint, Error> {
        let endpoint = self.find(key)?;
        let events = update.enabled_events.as_deref().map(check_events).transpose()?;
        let changes = match &endpoint.stripe_id {
            Some(id) => {
                let caller = self.caller(endpoint.account.as_deref(), endpoint.livemode)?;
                let params = UpdateParams {
                    enabled_events: events,
                    disabled: update.status.map(|s| s == EndpointStatus::Disabled),
                    description: update.description.clone(),
                };
                let object = self.client.update_webhook_endpoint(&caller, id, &params)?;
                EndpointChanges {
                    enabled_events: Some(json!(object.enabled_events).to_string()),
                    status: Some(object.status.clone()),
                    description: Some(object.description.clone().unwrap_or_default()),
                    ..Default::default()
                }
            }
            None => EndpointChanges {
                enabled_events: events.map(|e| json!(e).to_string()),
                status: update.status.map(|s| s.as_str().to_owned()),
                description: update.description.clone(),
                ..Default::default()
            },
        };
        self.db.update_endpoint(endpoint.id, &changes)
    }

    /// Deletes the endpoint at Stripe (already gone there is fine), then locally; deliveries to
    /// its URL then get 404. If Stripe refuses, nothing is deleted locally.
    ///
    /// ```no_run
    /// # fn f(manager: djstripe_core::endpoints::EndpointManager) {
    /// let gone = manager.delete("we_123").unwrap();
    /// println!("deleted {}", gone.url);
    /// # }
    /// ```
    pub fn delete(&self, key: &str) -> Result<WebhookEndpoint, Error> {
        let endpoint = self.find(key)?;
        if let Some(id) = &endpoint.stripe_id {
            let caller = self.caller(endpoint.account.as_deref(), endpoint.livemode)?;
            if !self.client.delete_webhook_endpoint(&caller, id)? {
                tracing::info!(stripe_id = %id, "the endpoint was already deleted at Stripe");
            }
        }
        self.db.delete_endpoint(endpoint.id)?;
        Ok(endpoint)
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

/// Event types, non-empty, trimmed; `*` alone or specific types.
fn check_events(events: &[String]) -> Result<Vec<String>, Error> {
    let events: Vec<String> = events.iter().map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()).collect();
    if events.is_empty() {
        return Err(Error::input("enabled_events", "an endpoint needs at least one enabled event (`*` for all)"));
    }
    if let Some(bad) =
        events.iter().find(|e| !e.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._*".contains(&b)))
    {
        return Err(Error::input(
            "enabled_events",
            format!("`{bad}` is not a Stripe event type (e.g. invoice.paid, or * for all)"),
        ));
    }
    Ok(events)
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_checked() {
        assert_eq!(check_events(&[" invoice.paid ".into()]).unwrap(), vec!["invoice.paid"]);
        assert!(check_events(&[]).is_err());
        assert!(check_events(&["".into()]).is_err());
        assert!(check_events(&["Invoice Paid".into()]).unwrap_err().to_string().contains("`Invoice Paid`"));
    }
}
