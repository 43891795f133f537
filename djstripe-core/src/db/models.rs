//! Rows of the three tables, as Rust structs.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Outcome;
use super::schema::{djstripe_event, djstripe_webhookendpoint, djstripe_webhookeventtrigger};
use crate::Error;
use crate::error::{NotReprocessable, Resource};

/// How an endpoint decides that a delivery is genuine (dj-stripe's `DJSTRIPE_WEBHOOK_VALIDATION`).
///
/// ```
/// use djstripe_core::db::ValidationMethod;
/// assert_eq!("retrieve_event".parse::<ValidationMethod>().unwrap(), ValidationMethod::RetrieveEvent);
/// assert!("sometimes".parse::<ValidationMethod>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidationMethod {
    /// Check the `Stripe-Signature` header with the endpoint's secret(s). The default.
    #[default]
    VerifySignature,
    /// Ignore the body's content and fetch the event by id from Stripe's API with the account's key.
    RetrieveEvent,
    /// No validation at all: only when asked for explicitly; warned about at startup and on use.
    None,
}

impl ValidationMethod {
    /// The stored name (`verify_signature`, `retrieve_event`, `none`).
    ///
    /// ```
    /// assert_eq!(djstripe_core::db::ValidationMethod::None.as_str(), "none");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifySignature => "verify_signature",
            Self::RetrieveEvent => "retrieve_event",
            Self::None => "none",
        }
    }
}

impl std::str::FromStr for ValidationMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim() {
            "verify_signature" => Ok(Self::VerifySignature),
            "retrieve_event" => Ok(Self::RetrieveEvent),
            "none" => Ok(Self::None),
            other => Err(Error::input(
                "validation_method",
                format!("`{other}` is not one of verify_signature, retrieve_event, none"),
            )),
        }
    }
}

/// When a verified delivery's handlers run (`DJSTRIPE_WEBHOOK_PROCESSING`, or an endpoint's own
/// `processing`).
///
/// Stripe asks receivers to answer quickly and do slow work afterwards; dj-stripe runs handlers
/// before answering and dropped its only way out (`DJSTRIPE_WEBHOOK_EVENT_CALLBACK`) in 3.0.
///
/// ```
/// use djstripe_core::db::Processing;
/// assert_eq!("inbox".parse::<Processing>().unwrap(), Processing::Inbox);
/// assert_eq!(Processing::default().as_str(), "inline");
/// assert!("later".parse::<Processing>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Processing {
    /// Handlers run in the delivery's transaction, before the answer: a handler's failure is the
    /// delivery's 500, and Stripe retries. The default, dj-stripe's behaviour.
    #[default]
    Inline,
    /// The verified event is committed to the inbox (`djstripe_inbox`) and answered 200 at once;
    /// workers in the app's process run the handlers afterwards, with the same exactly-once
    /// transaction, retrying a failure with backoff until it is dead-lettered (see
    /// [`crate::inbox`]).
    Inbox,
}

impl Processing {
    /// The stored name (`inline`, `inbox`).
    ///
    /// ```
    /// assert_eq!(djstripe_core::db::Processing::Inbox.as_str(), "inbox");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inline => "inline",
            Self::Inbox => "inbox",
        }
    }
}

impl std::str::FromStr for Processing {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim() {
            "inline" => Ok(Self::Inline),
            "inbox" => Ok(Self::Inbox),
            other => Err(Error::input("processing", format!("`{other}` is not one of inline, inbox"))),
        }
    }
}

impl std::fmt::Display for Processing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A secret that stays valid until `expires` (Unix seconds) during a rotation.
///
/// ```
/// let old = djstripe_core::db::PreviousSecret { secret: "whsec_old".into(), expires: 0 };
/// assert!(old.expires <= chrono::Utc::now().timestamp());
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousSecret {
    /// The secret.
    pub secret: String,
    /// When it stops verifying, Unix seconds.
    pub expires: i64,
}

/// Shows when it expires; the secret as `whsec_…`.
impl std::fmt::Debug for PreviousSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreviousSecret")
            .field("secret", &redacted(&self.secret))
            .field("expires", &self.expires)
            .finish()
    }
}

/// How a secret appears in `Debug` output: `whsec_…` when set (never any of its characters
/// past Stripe's prefix), empty when not.
pub(crate) fn redacted(secret: &str) -> &'static str {
    if secret.is_empty() { "" } else { "whsec_…" }
}

/// A `djstripe_webhookendpoint` row.
///
/// ```no_run
/// # use djstripe_core::db::{Database, WebhookEndpoint};
/// # let db = Database::connect("sqlite://app.sqlite3").unwrap();
/// for endpoint in db.endpoints().unwrap() {
///     println!("{} {}", endpoint.djstripe_uuid, endpoint.url);
/// }
/// ```
#[derive(Clone, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = djstripe_webhookendpoint)]
pub struct WebhookEndpoint {
    /// Local primary key.
    pub id: i64,
    /// Stripe's id, `we_...` (none for an endpoint not created at Stripe).
    pub stripe_id: Option<String>,
    /// The UUID in the endpoint's URL: `{prefix}/webhook/{uuid}/`.
    pub djstripe_uuid: String,
    /// The full URL Stripe delivers to.
    pub url: String,
    /// The current signing secret (`whsec_...`); empty when unknown (e.g. after a sync).
    #[serde(skip)]
    pub secret: String,
    /// JSON list of [`PreviousSecret`]s still valid during a rotation.
    #[serde(skip)]
    pub previous_secrets: String,
    /// The endpoint's pinned API version.
    pub api_version: Option<String>,
    /// JSON list of enabled event types (`["*"]` for all).
    pub enabled_events: String,
    /// Live or test mode.
    pub livemode: bool,
    /// `enabled` or `disabled`.
    pub status: String,
    /// Free text.
    pub description: String,
    /// JSON object of metadata (holds `djstripe_uuid`).
    pub metadata: String,
    /// The Connect account the endpoint belongs to.
    pub account: Option<String>,
    /// Whether it receives events from connected accounts.
    pub connect: bool,
    /// [`ValidationMethod`] name.
    pub validation_method: String,
    /// Signature timestamp tolerance in seconds (0 = check off).
    pub tolerance: i64,
    /// Created (UTC).
    pub created: NaiveDateTime,
    /// Last updated (UTC).
    pub updated: NaiveDateTime,
    /// Whether a v2 event notification ("thin" event) is completed before its transaction
    /// opens: the engine fetches the full event (`GET /v2/core/events/{id}`, with the mode's
    /// secret key and `Stripe-Context`), so that handlers see its `data` (see
    /// [`crate::stripe_api::StripeClient::fetch_event`]). Local only: Stripe knows nothing of it.
    pub fetch_thin_events: bool,
    /// `inline` or `inbox` ([`Processing`]); `None` follows `DJSTRIPE_WEBHOOK_PROCESSING`. Local
    /// only. See [`WebhookEndpoint::processing`].
    pub processing: Option<String>,
}

/// Shows every field but the secrets (which appear as `whsec_…` when set).
impl std::fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpoint")
            .field("id", &self.id)
            .field("stripe_id", &self.stripe_id)
            .field("djstripe_uuid", &self.djstripe_uuid)
            .field("url", &self.url)
            .field("secret", &redacted(&self.secret))
            .field("previous_secrets", &self.previous().len())
            .field("api_version", &self.api_version)
            .field("enabled_events", &self.enabled_events)
            .field("livemode", &self.livemode)
            .field("status", &self.status)
            .field("description", &self.description)
            .field("account", &self.account)
            .field("connect", &self.connect)
            .field("validation_method", &self.validation_method)
            .field("tolerance", &self.tolerance)
            .field("fetch_thin_events", &self.fetch_thin_events)
            .field("processing", &self.processing)
            .finish_non_exhaustive()
    }
}

impl WebhookEndpoint {
    /// Every secret that verifies a delivery now: the current one and unexpired previous ones.
    ///
    /// ```no_run
    /// # fn f(endpoint: djstripe_core::db::WebhookEndpoint) {
    /// let verifier = djstripe_core::Verifier::new(endpoint.valid_secrets(chrono::Utc::now().timestamp()));
    /// # }
    /// ```
    pub fn valid_secrets(&self, now: i64) -> Vec<String> {
        let mut secrets = Vec::new();
        if !self.secret.is_empty() {
            secrets.push(self.secret.clone());
        }
        secrets.extend(self.previous().into_iter().filter(|p| p.expires > now).map(|p| p.secret));
        secrets
    }

    /// The previous secrets, parsed (an unreadable list counts as empty, logged).
    ///
    /// ```no_run
    /// # fn f(endpoint: djstripe_core::db::WebhookEndpoint) {
    /// for old in endpoint.previous() { println!("valid until {}", old.expires); }
    /// # }
    /// ```
    pub fn previous(&self) -> Vec<PreviousSecret> {
        serde_json::from_str(&self.previous_secrets).unwrap_or_else(|e| {
            tracing::error!(endpoint = self.id, error = %e, "unreadable previous_secrets; ignoring them");
            Vec::new()
        })
    }

    /// The endpoint's validation method (an unknown stored name falls back to the safe default).
    ///
    /// ```no_run
    /// # fn f(endpoint: djstripe_core::db::WebhookEndpoint) {
    /// println!("{:?}", endpoint.validation());
    /// # }
    /// ```
    pub fn validation(&self) -> ValidationMethod {
        self.validation_method.parse().unwrap_or_default()
    }

    /// The endpoint's own processing mode, `None` when it follows the app's
    /// (`DJSTRIPE_WEBHOOK_PROCESSING`). An unknown stored name counts as `None`.
    ///
    /// ```no_run
    /// # fn f(endpoint: djstripe_core::db::WebhookEndpoint) {
    /// use djstripe_core::db::Processing;
    /// let mode = endpoint.processing().unwrap_or(Processing::Inline);
    /// # let _ = mode;
    /// # }
    /// ```
    pub fn processing(&self) -> Option<Processing> {
        self.processing.as_deref().and_then(|name| name.parse().ok())
    }

    /// Whether deliveries are accepted (`status = enabled`).
    ///
    /// ```no_run
    /// # fn f(endpoint: djstripe_core::db::WebhookEndpoint) {
    /// if !endpoint.is_enabled() { println!("disabled: deliveries get 404"); }
    /// # }
    /// ```
    pub fn is_enabled(&self) -> bool {
        self.status == "enabled"
    }
}

/// A new `djstripe_webhookendpoint` row.
///
/// ```
/// let new = djstripe_core::db::NewWebhookEndpoint::local("whsec_abc");
/// assert_eq!(new.validation_method, "verify_signature");
/// ```
#[derive(Clone, Insertable)]
#[diesel(table_name = djstripe_webhookendpoint)]
pub struct NewWebhookEndpoint {
    /// See [`WebhookEndpoint::stripe_id`].
    pub stripe_id: Option<String>,
    /// See [`WebhookEndpoint::djstripe_uuid`].
    pub djstripe_uuid: String,
    /// See [`WebhookEndpoint::url`].
    pub url: String,
    /// See [`WebhookEndpoint::secret`].
    pub secret: String,
    /// See [`WebhookEndpoint::previous_secrets`].
    pub previous_secrets: String,
    /// See [`WebhookEndpoint::api_version`].
    pub api_version: Option<String>,
    /// See [`WebhookEndpoint::enabled_events`].
    pub enabled_events: String,
    /// See [`WebhookEndpoint::livemode`].
    pub livemode: bool,
    /// See [`WebhookEndpoint::status`].
    pub status: String,
    /// See [`WebhookEndpoint::description`].
    pub description: String,
    /// See [`WebhookEndpoint::metadata`].
    pub metadata: String,
    /// See [`WebhookEndpoint::account`].
    pub account: Option<String>,
    /// See [`WebhookEndpoint::connect`].
    pub connect: bool,
    /// See [`WebhookEndpoint::validation_method`].
    pub validation_method: String,
    /// See [`WebhookEndpoint::tolerance`].
    pub tolerance: i64,
    /// See [`WebhookEndpoint::created`].
    pub created: NaiveDateTime,
    /// See [`WebhookEndpoint::updated`].
    pub updated: NaiveDateTime,
    /// See [`WebhookEndpoint::fetch_thin_events`].
    pub fetch_thin_events: bool,
}

/// Shows what identifies the endpoint; the secrets as `whsec_…` and a count.
impl std::fmt::Debug for NewWebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let previous = serde_json::from_str::<Vec<PreviousSecret>>(&self.previous_secrets).map_or(0, |p| p.len());
        f.debug_struct("NewWebhookEndpoint")
            .field("stripe_id", &self.stripe_id)
            .field("djstripe_uuid", &self.djstripe_uuid)
            .field("url", &self.url)
            .field("secret", &redacted(&self.secret))
            .field("previous_secrets", &previous)
            .field("livemode", &self.livemode)
            .field("status", &self.status)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl NewWebhookEndpoint {
    /// A local endpoint (not created at Stripe) with a fresh UUID and one secret: for tests and for
    /// endpoints configured by hand in the Stripe Dashboard.
    ///
    /// ```
    /// let new = djstripe_core::db::NewWebhookEndpoint::local("whsec_abc");
    /// assert_eq!(new.djstripe_uuid.len(), 36);
    /// ```
    pub fn local(secret: impl Into<String>) -> Self {
        let now = chrono::Utc::now().naive_utc();
        let uuid = uuid::Uuid::new_v4().to_string();
        Self {
            stripe_id: None,
            metadata: serde_json::json!({ "djstripe_uuid": uuid }).to_string(),
            djstripe_uuid: uuid,
            url: String::new(),
            secret: secret.into(),
            previous_secrets: "[]".into(),
            api_version: None,
            enabled_events: r#"["*"]"#.into(),
            livemode: false,
            status: "enabled".into(),
            description: String::new(),
            account: None,
            connect: false,
            validation_method: ValidationMethod::VerifySignature.as_str().into(),
            tolerance: 300,
            created: now,
            updated: now,
            fetch_thin_events: false,
        }
    }
}

/// A `djstripe_webhookeventtrigger` row: one delivery (or reprocessing attempt).
///
/// ```no_run
/// # let db = djstripe_core::db::Database::connect("sqlite://app.sqlite3").unwrap();
/// for t in db.recent_triggers(20).unwrap() {
///     println!("{} valid={} processed={} {}", t.id, t.valid, t.processed, t.exception);
/// }
/// ```
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = djstripe_webhookeventtrigger)]
pub struct WebhookEventTrigger {
    /// Local primary key.
    pub id: i64,
    /// When the request arrived (UTC).
    pub created: NaiveDateTime,
    /// Last change (UTC).
    pub updated: NaiveDateTime,
    /// The client's address.
    pub remote_ip: String,
    /// The request headers, a JSON object.
    pub headers: String,
    /// The raw body (bounded for a delivery that failed verification).
    #[serde(skip)]
    pub body: Vec<u8>,
    /// Whether `body` was cut to the bound.
    pub body_truncated: bool,
    /// Whether the delivery passed validation.
    pub valid: bool,
    /// Whether processing finished successfully (or it was a duplicate or the dashboard test).
    pub processed: bool,
    /// What became of it.
    pub outcome: Outcome,
    /// The error message, if any.
    pub exception: String,
    /// The error's trace, if any.
    pub traceback: String,
    /// The Stripe event id, once known.
    pub event_id: Option<String>,
    /// The Stripe event type, once known.
    pub event_type: Option<String>,
    /// The endpoint it reached (`None` for the legacy endpoint).
    pub webhook_endpoint_id: Option<i64>,
    /// The Connect account of the event.
    pub account: Option<String>,
    /// For a reprocessing attempt: the trigger it reprocesses.
    pub reprocess_of: Option<i64>,
    /// The djstripe-core version that recorded it.
    pub djstripe_version: String,
}

impl WebhookEventTrigger {
    /// Whether this trigger can be processed again, and if not why: dj-stripe's rule, defined
    /// once for the engine, the CLI and the admin. It must be a valid delivery with its whole
    /// body, whose outcome is [`Outcome::Failed`] or [`Outcome::Queued`].
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("sqlite://app.sqlite3").unwrap();
    /// let trigger = db.trigger(42).unwrap();
    /// if let Err(why) = trigger.reprocessable() { println!("not reprocessable: {why}"); }
    /// ```
    pub fn reprocessable(&self) -> Result<(), NotReprocessable> {
        if !self.valid {
            Err(NotReprocessable::Invalid)
        } else if self.processed || !self.outcome.is_reprocessable() {
            Err(NotReprocessable::AlreadyProcessed(self.outcome))
        } else if self.body_truncated {
            Err(NotReprocessable::TruncatedBody)
        } else {
            Ok(())
        }
    }
}

/// A new `djstripe_webhookeventtrigger` row.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = djstripe_webhookeventtrigger, treat_none_as_default_value = false)]
pub(crate) struct NewTrigger<'a> {
    pub created: NaiveDateTime,
    pub updated: NaiveDateTime,
    pub remote_ip: &'a str,
    pub headers: &'a str,
    pub body: &'a [u8],
    pub body_truncated: bool,
    pub valid: bool,
    pub processed: bool,
    pub outcome: Outcome,
    pub exception: &'a str,
    pub traceback: &'a str,
    pub event_id: Option<&'a str>,
    pub event_type: Option<&'a str>,
    pub webhook_endpoint_id: Option<i64>,
    pub account: Option<&'a str>,
    pub reprocess_of: Option<i64>,
    pub djstripe_version: &'a str,
}

/// A `djstripe_event` row: an event processed successfully, stored once.
///
/// ```no_run
/// # let db = djstripe_core::db::Database::connect("sqlite://app.sqlite3").unwrap();
/// let stored = db.event("evt_1").unwrap();
/// let event = stored.to_event().unwrap();
/// # let _ = event;
/// ```
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable, Serialize)]
#[diesel(table_name = djstripe_event, treat_none_as_default_value = false)]
pub struct StoredEvent {
    /// Stripe's id.
    pub id: String,
    /// The event type.
    pub type_: String,
    /// The API version it was rendered with.
    pub api_version: Option<String>,
    /// When Stripe created it (UTC).
    pub created: NaiveDateTime,
    /// Live or test mode.
    pub livemode: bool,
    /// The event's `data` (`object`, `previous_attributes`), JSON.
    pub data: String,
    /// The Connect account.
    pub account: Option<String>,
    /// The API request that caused it.
    pub request_id: Option<String>,
    /// That request's idempotency key.
    pub idempotency_key: Option<String>,
    /// When it was first received (UTC).
    pub received: NaiveDateTime,
    /// When its handlers last completed (UTC).
    pub processed: NaiveDateTime,
    /// How many times its handlers completed (1, plus one per replay).
    pub times_processed: i32,
    /// The top-level fields without a column of their own (`object`, `pending_webhooks`,
    /// `request` as sent, `context`, fields Stripe adds later, fields sent as `null`), a JSON
    /// object; with the columns above, the event as delivered. `None` for events stored before
    /// this column existed.
    pub extra: Option<String>,
}

impl StoredEvent {
    /// The row for a parsed event, received and processed now. A `created` that is no
    /// timestamp at all is [`Error::UnstorableEvent`] (parsing refuses it before; an event built
    /// in code may not have been parsed), never silently 1970.
    pub(crate) fn from_event(event: &crate::Event, now: NaiveDateTime) -> Result<Self, Error> {
        let created = Self::created_column(event)?;
        Ok(Self {
            id: event.id.clone(),
            type_: event.type_.clone(),
            api_version: event.api_version.clone(),
            created,
            livemode: event.livemode,
            data: event.data_column().map_err(|e| Error::invalid_event(e.to_string()))?,
            extra: Some(event.extra_column()),
            account: event.account.clone(),
            request_id: event.request_id().map(str::to_owned),
            idempotency_key: event.idempotency_key().map(str::to_owned),
            received: now,
            processed: now,
            times_processed: 1,
        })
    }

    /// The `created` column of `event` (UTC), or [`Error::UnstorableEvent`].
    pub(crate) fn created_column(event: &crate::Event) -> Result<NaiveDateTime, Error> {
        chrono::DateTime::from_timestamp(event.created, 0).map(|t| t.naive_utc()).ok_or_else(|| {
            Error::UnstorableEvent {
                field: Some("created".into()),
                refusal: crate::error::Refusal::OutOfRange,
                detail: format!("{} is not a timestamp chrono can represent", event.created),
            }
        })
    }

    /// The event again, rebuilt from its columns (for replays and the admin): the event as
    /// delivered, field for field (for rows stored before the `extra` column, the fields that
    /// have columns).
    ///
    /// # Errors
    /// [`Error::CorruptRow`] when `data` or `extra` is not the JSON object it was written as;
    /// [`Error::InvalidEvent`] when the columns do not make an event.
    ///
    /// ```no_run
    /// # fn f(stored: djstripe_core::db::StoredEvent) {
    /// let event = stored.to_event().unwrap();
    /// assert_eq!(event.id, stored.id);
    /// # }
    /// ```
    pub fn to_event(&self) -> Result<crate::Event, Error> {
        let corrupt = |reason: String| Error::CorruptRow { resource: Resource::Event, id: self.id.clone(), reason };
        let data: Value = serde_json::from_str(&self.data).map_err(|e| corrupt(format!("data: {e}")))?;
        let mut fields = match &self.extra {
            Some(extra) => serde_json::from_str::<serde_json::Map<String, Value>>(extra)
                .map_err(|e| corrupt(format!("extra: {e}")))?,
            // Stored before the `extra` column: what the columns hold.
            None => serde_json::json!({
                "object": "event",
                "request": { "id": self.request_id, "idempotency_key": self.idempotency_key },
            })
            .as_object()
            .cloned()
            .unwrap_or_default(),
        };
        fields.insert("id".into(), self.id.clone().into());
        fields.insert("type".into(), self.type_.clone().into());
        fields.insert("livemode".into(), self.livemode.into());
        // A v2 notification keeps its `created` text in `extra`, and has `data` only if sent.
        let thin = fields.get("object").and_then(Value::as_str) == Some(crate::event::V2_OBJECT);
        if !fields.contains_key("created") {
            fields.insert("created".into(), self.created.and_utc().timestamp().into());
        }
        if !thin || !data.is_null() {
            fields.insert("data".into(), data);
        }
        // A `null` sent for these stays in `extra`; a value has its column.
        for (name, column) in [("api_version", &self.api_version), ("account", &self.account)] {
            if let Some(value) = column {
                fields.insert(name.into(), value.clone().into());
            }
        }
        crate::Event::from_value(Value::Object(fields))
    }
}
