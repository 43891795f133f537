//! Helpers for your own tests: signed `Stripe-Signature` headers, complete Stripe-shaped events
//! built from Stripe's example objects, throwaway databases ([`TestDatabase`]) and a fake of
//! Stripe's API over real HTTP ([`FakeStripe`]).
//!
//! What stripe-node's `generateTestHeaderString` is to Node, [`header`] is here; [`event`] and
//! [`EventBuilder`] give events whose `data.object` is the example object Stripe's API reference
//! shows for that type, so a handler under test sees realistic data.
//!
//! ```
//! use djstripe_core::{testing, Verifier};
//!
//! // Call a handler directly with a realistic event...
//! let event = testing::event("checkout.session.completed");
//! assert_eq!(event.data.object["object"], "checkout.session");
//!
//! // ...or post a signed delivery to your endpoint.
//! let delivery = testing::EventBuilder::new("customer.created")
//!     .metadata("plan", "pro")
//!     .signed("whsec_test_secret");
//! let verifier = Verifier::new(["whsec_test_secret"]);
//! assert!(verifier.verify(Some(&delivery.header), &delivery.body).is_ok());
//! ```
//!
//! The same engine the web adapters run, on a throwaway database:
//!
//! ```
//! use djstripe_core::db::{Backend, NewWebhookEndpoint};
//! use djstripe_core::engine::{Delivery, Engine, EngineConfig, Target};
//! use djstripe_core::testing::{EventBuilder, TestDatabase};
//!
//! let db = TestDatabase::new(Backend::Sqlite); // Backend::Postgres: a database on DJSTRIPE_TEST_PG's server
//! let endpoint = db.insert_endpoint(&NewWebhookEndpoint::local("whsec_test")).unwrap();
//! let engine = Engine::new(db.database().clone(), EngineConfig::default()).unwrap();
//! let delivery = EventBuilder::new("customer.created").signed("whsec_test");
//! let receipt = engine
//!     .receive(&Delivery {
//!         target: Target::Endpoint(&endpoint.djstripe_uuid),
//!         body: &delivery.body,
//!         signature: Some(delivery.header.as_bytes()),
//!         headers: "{}".into(),
//!         remote_ip: "127.0.0.1".into(),
//!     })
//!     .unwrap();
//! assert_eq!(receipt.outcome.as_str(), "processed");
//! assert_eq!(db.count("SELECT COUNT(*) AS n FROM djstripe_event"), 1);
//! ```

mod app;
mod database;
mod fake_stripe;
mod scrape;

pub use app::{TEST_APP_SECRET, TestAnswer, TestApp, TestAppBuilder};
pub use database::{POSTGRES_SERVER_VAR, TestDatabase, TestDatabaseBuilder, postgres_server};
pub use fake_stripe::{FakeStripe, Request};
pub use scrape::metric;

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::signature::{self, SignatureHeader};
use crate::{Event, EventData, EventRequest};

mod thin;
pub use thin::{related_object_for, v2_event_types};

/// The API version test events are rendered with. Pinned, so tests do not change meaning when
/// Stripe releases a new version.
///
/// ```
/// let event = djstripe_core::testing::event("customer.created");
/// assert_eq!(event.api_version.as_deref(), Some(djstripe_core::testing::API_VERSION));
/// ```
pub const API_VERSION: &str = "2026-07-29.dahlia";

/// A complete `Stripe-Signature` header for `payload` signed with `secret` at `timestamp`
/// (Unix seconds): `t=<timestamp>,v1=<hex>`.
///
/// ```
/// use djstripe_core::{testing, Verifier};
/// let header = testing::header("whsec_test_secret", 1492774577, b"{}");
/// assert!(header.starts_with("t=1492774577,v1="));
/// let verifier = Verifier::new(["whsec_test_secret"]);
/// assert!(verifier.verify_at(Some(&header), b"{}", 1492774577).is_ok());
/// ```
pub fn header(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    format!("t={timestamp},v1={}", signature::sign(secret, timestamp, payload))
}

/// [`header`] signed at the current time, so it passes a verifier with the default tolerance.
///
/// ```
/// use djstripe_core::{testing, Verifier};
/// let header = testing::header_now("whsec_test_secret", b"{}");
/// assert!(Verifier::new(["whsec_test_secret"]).verify(Some(&header), b"{}").is_ok());
/// ```
pub fn header_now(secret: &str, payload: &[u8]) -> String {
    header(secret, signature::unix_now(), payload)
}

/// A complete Stripe event of type `event_type` whose `data.object` is Stripe's example object
/// for it (see [`object_for`]). Each call has a fresh, unique `evt_...` id, so two calls are two
/// distinct events; use an [`EventBuilder`] for more control.
///
/// ```
/// let a = djstripe_core::testing::event("invoice.paid");
/// let b = djstripe_core::testing::event("invoice.paid");
/// assert_ne!(a.id, b.id);
/// assert_eq!(a.event_type(), "invoice.paid");
/// assert_eq!(a.data.object["object"], "invoice");
/// ```
pub fn event(event_type: &str) -> Event {
    EventBuilder::new(event_type).build()
}

/// The name of the example object (a key of Stripe's fixtures) used for `event_type`, or `None`
/// when no fixture fits and [`object_for`] falls back to a minimal `{id, object}`.
///
/// The object is found by dropping the type's last segment (`checkout.session.completed` →
/// `checkout.session`), then trying that prefix's last segment (`customer.subscription` →
/// `subscription`), an `issuing_x` → `issuing.x` spelling, and a small table for the types whose
/// object is named differently (`customer.source.*` → `card`, `charge.dispute.*` → `dispute`,
/// ...).
///
/// ```
/// use djstripe_core::testing::resource_for;
/// assert_eq!(resource_for("checkout.session.completed"), Some("checkout.session"));
/// assert_eq!(resource_for("customer.subscription.updated"), Some("subscription"));
/// assert_eq!(resource_for("charge.dispute.created"), Some("dispute"));
/// assert_eq!(resource_for("issuing_card.created"), Some("issuing.card"));
/// assert_eq!(resource_for("made_up.thing.happened"), None);
/// ```
pub fn resource_for(event_type: &str) -> Option<&'static str> {
    let resources = resources();
    let found = |name: &str| resources.get_key_value(name).map(|(k, _)| k.as_str());

    if let Some(&(_, name)) = EXACT.iter().find(|(t, _)| *t == event_type) {
        return found(name);
    }
    let prefix = event_type.rsplit_once('.').map_or(event_type, |(prefix, _)| prefix);
    if let Some(&(_, name)) = PREFIXES.iter().find(|(p, _)| *p == prefix) {
        return found(name);
    }
    found(prefix)
        .or_else(|| prefix.rsplit_once('.').and_then(|(_, last)| found(last)))
        .or_else(|| prefix.split_once('_').and_then(|(ns, rest)| found(&format!("{ns}.{rest}"))))
}

/// Event types whose object is not named after the type.
const EXACT: &[(&str, &str)] = &[
    ("billing.alert.triggered", "billing.alert_triggered"),
    ("source.mandate_notification", "source_mandate_notification"),
];

/// Type prefixes (the type minus its last segment) whose object is named differently.
const PREFIXES: &[(&str, &str)] = &[
    ("account.application", "application"),
    ("account.external_account", "bank_account"),
    ("application_fee.refund", "fee_refund"),
    ("charge.dispute", "dispute"),
    ("charge.refund", "refund"),
    ("customer.discount", "discount"),
    ("customer.source", "card"),
    ("sigma.scheduled_query_run", "scheduled_query_run"),
    ("source.transaction", "source_transaction"),
];

/// Stripe's example object for `event_type` (a fresh copy you may modify), found as
/// [`resource_for`] describes. When nothing fits: `{"id": "<name>_test", "object": "<name>"}`,
/// `<name>` being the type's second-to-last segment.
///
/// ```
/// let customer = djstripe_core::testing::object_for("customer.updated");
/// assert_eq!(customer["object"], "customer");
/// assert!(customer["id"].as_str().unwrap().starts_with("cus_"));
///
/// let unknown = djstripe_core::testing::object_for("made_up.thing.happened");
/// assert_eq!(unknown, serde_json::json!({"id": "thing_test", "object": "thing"}));
/// ```
pub fn object_for(event_type: &str) -> Value {
    if let Some(value) = resource_for(event_type).and_then(fixture) {
        return value.clone();
    }
    let prefix = event_type.rsplit_once('.').map_or(event_type, |(prefix, _)| prefix);
    let name = prefix.rsplit_once('.').map_or(prefix, |(_, last)| last);
    json!({"id": format!("{name}_test"), "object": name})
}

/// One of Stripe's example objects by its name (`"customer"`, `"checkout.session"`, ...), as
/// shipped with this crate (176 of them).
///
/// ```
/// let price = djstripe_core::testing::fixture("price").unwrap();
/// assert_eq!(price["object"], "price");
/// assert!(djstripe_core::testing::fixture("nope").is_none());
/// ```
pub fn fixture(resource: &str) -> Option<&'static Value> {
    resources().get(resource)
}

/// Every event type Stripe can send to a webhook endpoint, as listed when this crate was
/// released: handy to check that your code copes with all of them.
///
/// ```
/// let types = djstripe_core::testing::event_types();
/// assert!(types.contains(&"invoice.paid"));
/// for t in types {
///     let _ = djstripe_core::testing::event(t);
/// }
/// ```
pub fn event_types() -> &'static [&'static str] {
    static TYPES: OnceLock<Vec<&'static str>> = OnceLock::new();
    TYPES.get_or_init(|| catalog_lines(include_str!("../../fixtures/event-types.txt")))
}

/// The names of a catalog file: one a line, blank lines and `#` comments skipped.
fn catalog_lines(text: &'static str) -> Vec<&'static str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
}

fn resources() -> &'static HashMap<String, Value> {
    static RESOURCES: OnceLock<HashMap<String, Value>> = OnceLock::new();
    RESOURCES.get_or_init(|| {
        #[derive(serde::Deserialize)]
        struct Fixtures {
            resources: HashMap<String, Value>,
        }
        let fixtures: Fixtures = serde_json::from_str(include_str!("../../fixtures/fixtures3.json"))
            .expect("fixtures/fixtures3.json is valid and shipped with the crate");
        fixtures.resources
    })
}

/// Builds a test event with more control than [`event`]: a chosen id, a patched object,
/// metadata, a Connect account, live mode, a creation time.
///
/// The id is drawn when the builder is created, so signing the same builder twice gives the
/// same event delivered twice — what a duplicate-delivery test needs.
///
/// ```
/// use djstripe_core::testing::EventBuilder;
/// use serde_json::json;
///
/// let event = EventBuilder::new("customer.subscription.updated")
///     .id("evt_fixed")
///     .merge_object(json!({"status": "past_due", "items": {"has_more": true}}))
///     .previous_attributes(json!({"status": "active"}))
///     .metadata("tenant", "42")
///     .account("acct_123")
///     .livemode(true)
///     .created(1_700_000_000)
///     .build();
///
/// assert_eq!(event.id, "evt_fixed");
/// assert_eq!(event.data.object["status"], "past_due");
/// assert_eq!(event.data.object["items"]["object"], "list"); // the rest of `items` is kept
/// assert_eq!(event.data.object["metadata"]["tenant"], "42");
/// assert_eq!(event.account.as_deref(), Some("acct_123"));
/// assert!(event.livemode && event.data.object["livemode"] == true);
/// assert_eq!(event.created, 1_700_000_000);
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct EventBuilder {
    event: Event,
}

impl EventBuilder {
    /// A builder for an event of `event_type`, with a fresh unique id, `created` now, test mode,
    /// [`API_VERSION`], a request id and idempotency key, and [`object_for`] as `data.object`.
    ///
    /// ```
    /// let event = djstripe_core::testing::EventBuilder::new("price.created").build();
    /// assert!(event.id.starts_with("evt_"));
    /// assert_eq!(event.pending_webhooks, Some(1));
    /// assert!(event.request_id().unwrap().starts_with("req_"));
    /// ```
    pub fn new(event_type: impl Into<String>) -> Self {
        let event_type = event_type.into();
        let object = object_for(&event_type);
        let mut extra = Map::new();
        extra.insert("object".into(), Value::from("event"));
        EventBuilder {
            event: Event {
                id: format!("evt_test_{}", uuid::Uuid::new_v4().simple()),
                type_: event_type,
                api_version: Some(API_VERSION.into()),
                created: signature::unix_now(),
                livemode: false,
                pending_webhooks: Some(1),
                request: Some(EventRequest {
                    id: Some(format!("req_{}", &uuid::Uuid::new_v4().simple().to_string()[..14])),
                    idempotency_key: Some(uuid::Uuid::new_v4().to_string()),
                }),
                account: None,
                context: None,
                related_object: None,
                data: EventData { object, previous_attributes: None, extra: Map::new() },
                extra,
            },
        }
    }

    /// A builder for a v2 event notification ("thin" event, `"object": "v2.core.event"`) of
    /// `event_type` (one of [`v2_event_types`], or any newer name): a fresh `evt_test_...` id,
    /// `created` now as RFC 3339 text, test mode, and [`related_object_for`] the type; no `data`.
    ///
    /// ```
    /// let delivery = djstripe_core::testing::EventBuilder::v2("v2.core.account[requirements].updated").signed("whsec_x");
    /// let body: serde_json::Value = serde_json::from_slice(&delivery.body).unwrap();
    /// assert_eq!(body["object"], "v2.core.event");
    /// assert!(body["created"].as_str().unwrap().ends_with('Z'));
    /// assert_eq!(body["related_object"]["type"], "v2.core.account");
    /// assert!(body.get("data").is_none());
    /// ```
    pub fn v2(event_type: impl Into<String>) -> Self {
        let event_type = event_type.into();
        let created = signature::unix_now();
        let mut extra = Map::new();
        extra.insert("object".into(), Value::from(crate::event::V2_OBJECT));
        extra.insert("created".into(), Value::from(thin::rfc3339(created)));
        EventBuilder {
            event: Event {
                id: format!("evt_test_{}", uuid::Uuid::new_v4().simple()),
                related_object: Some(related_object_for(&event_type)),
                type_: event_type,
                api_version: None,
                created,
                livemode: false,
                pending_webhooks: None,
                request: None,
                account: None,
                context: None,
                data: EventData::default(),
                extra,
            },
        }
    }

    /// Sets the event id (e.g. to deliver "the same" event from two builders).
    ///
    /// ```
    /// let event = djstripe_core::testing::EventBuilder::new("price.created").id("evt_1").build();
    /// assert_eq!(event.id, "evt_1");
    /// ```
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.event.id = id.into();
        self
    }

    /// Replaces `data.object` entirely.
    ///
    /// ```
    /// use serde_json::json;
    /// let event = djstripe_core::testing::EventBuilder::new("customer.created")
    ///     .object(json!({"id": "cus_mine", "object": "customer"}))
    ///     .build();
    /// assert_eq!(event.object_id(), Some("cus_mine"));
    /// ```
    pub fn object(mut self, object: Value) -> Self {
        self.event.data.object = object;
        self
    }

    /// Deep-merges `patch` into `data.object`: objects merge key by key, anything else (strings,
    /// arrays, `null`) replaces. So you change the fields your test is about and keep the rest
    /// of the example.
    ///
    /// ```
    /// use serde_json::json;
    /// let event = djstripe_core::testing::EventBuilder::new("customer.created")
    ///     .merge_object(json!({"email": "jo@example.com", "address": {"city": "Paris"}}))
    ///     .build();
    /// assert_eq!(event.data.object["email"], "jo@example.com");
    /// assert_eq!(event.data.object["object"], "customer");
    /// ```
    pub fn merge_object(mut self, patch: Value) -> Self {
        merge(&mut self.event.data.object, patch);
        self
    }

    /// Sets `data.object.metadata[key] = value` (creating `metadata` if needed; no effect if
    /// `data.object` is not a JSON object).
    ///
    /// ```
    /// let event = djstripe_core::testing::EventBuilder::new("customer.created")
    ///     .metadata("djstripe_test", "yes")
    ///     .build();
    /// assert_eq!(event.data.object["metadata"]["djstripe_test"], "yes");
    /// ```
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        if let Some(object) = self.event.data.object.as_object_mut() {
            let metadata = object.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
            if !metadata.is_object() {
                *metadata = Value::Object(Map::new());
            }
            if let Some(metadata) = metadata.as_object_mut() {
                metadata.insert(key.into(), Value::String(value.into()));
            }
        }
        self
    }

    /// Sets `data.previous_attributes`, as Stripe sends for `*.updated` events.
    ///
    /// ```
    /// let event = djstripe_core::testing::EventBuilder::new("customer.updated")
    ///     .previous_attributes(serde_json::json!({"email": "old@example.com"}))
    ///     .build();
    /// assert_eq!(event.data.previous_attributes.unwrap()["email"], "old@example.com");
    /// ```
    pub fn previous_attributes(mut self, previous: Value) -> Self {
        self.event.data.previous_attributes = Some(previous);
        self
    }

    /// Marks the event as coming from a connected account (Connect webhooks).
    ///
    /// ```
    /// let event = djstripe_core::testing::EventBuilder::new("account.updated").account("acct_1").build();
    /// assert_eq!(event.account.as_deref(), Some("acct_1"));
    /// ```
    pub fn account(mut self, account: impl Into<String>) -> Self {
        let account = account.into();
        if self.event.is_thin() {
            // v2 notifications name the account in `context`.
            self.event.context = Some(account);
        } else {
            self.event.account = Some(account);
        }
        self
    }

    /// Live or test mode; `data.object.livemode`, when the object has it, follows at
    /// [`build`](Self::build).
    ///
    /// ```
    /// let event = djstripe_core::testing::EventBuilder::new("customer.created").livemode(true).build();
    /// assert!(event.livemode);
    /// assert_eq!(event.data.object["livemode"], true);
    /// ```
    pub fn livemode(mut self, livemode: bool) -> Self {
        self.event.livemode = livemode;
        self
    }

    /// Sets `created` (Unix seconds).
    ///
    /// ```
    /// let event = djstripe_core::testing::EventBuilder::new("customer.created").created(1).build();
    /// assert_eq!(event.created, 1);
    /// ```
    pub fn created(mut self, created: i64) -> Self {
        self.event.created = created;
        if self.event.is_thin() {
            self.event.extra.insert("created".into(), Value::from(thin::rfc3339(created)));
        }
        self
    }

    /// Sets `api_version` (`None`, as in some old events, leaves it out).
    ///
    /// ```
    /// let event = djstripe_core::testing::EventBuilder::new("customer.created")
    ///     .api_version(Some("2020-08-27"))
    ///     .build();
    /// assert_eq!(event.api_version.as_deref(), Some("2020-08-27"));
    /// ```
    pub fn api_version(mut self, version: Option<&str>) -> Self {
        self.event.api_version = version.map(str::to_owned);
        self
    }

    /// Sets `request` (`None` for an event no API request caused, e.g. a renewal).
    ///
    /// ```
    /// let event = djstripe_core::testing::EventBuilder::new("invoice.created").request(None).build();
    /// assert_eq!(event.request_id(), None);
    /// ```
    pub fn request(mut self, request: Option<EventRequest>) -> Self {
        self.event.request = request;
        self
    }

    /// The event.
    ///
    /// ```
    /// let event = djstripe_core::testing::EventBuilder::new("plan.created").build();
    /// assert_eq!(event.event_type(), "plan.created");
    /// ```
    pub fn build(&self) -> Event {
        let mut event = self.event.clone();
        if let Some(livemode) = event.data.object.get_mut("livemode")
            && livemode.is_boolean()
        {
            *livemode = Value::Bool(event.livemode);
        }
        event
    }

    /// The event serialized as Stripe would post it.
    ///
    /// ```
    /// let body = djstripe_core::testing::EventBuilder::new("plan.created").to_json();
    /// let event = djstripe_core::Event::from_slice(&body).unwrap();
    /// assert_eq!(event.event_type(), "plan.created");
    /// ```
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.build()).expect("an Event always serializes")
    }

    /// The serialized event with a `Stripe-Signature` header signed with `secret` now: what to
    /// post to your endpoint.
    ///
    /// ```
    /// use djstripe_core::{testing::EventBuilder, Verifier};
    /// let delivery = EventBuilder::new("customer.created").signed("whsec_abc");
    /// assert!(Verifier::new(["whsec_abc"]).verify(Some(&delivery.header), &delivery.body).is_ok());
    /// assert_eq!(delivery.event.event_type(), "customer.created");
    /// ```
    pub fn signed(&self, secret: &str) -> SignedEvent {
        self.signed_at(secret, signature::unix_now())
    }

    /// [`signed`](Self::signed) at a chosen time (Unix seconds), e.g. to test the tolerance.
    ///
    /// ```
    /// use djstripe_core::{testing::EventBuilder, Error, Verifier};
    /// let delivery = EventBuilder::new("customer.created").signed_at("whsec_abc", 1_000_000_000);
    /// let result = Verifier::new(["whsec_abc"]).verify(Some(&delivery.header), &delivery.body);
    /// assert!(matches!(result, Err(Error::TimestampOutsideTolerance { .. })));
    /// ```
    pub fn signed_at(&self, secret: &str, timestamp: i64) -> SignedEvent {
        let event = self.build();
        let body = serde_json::to_vec(&event).expect("an Event always serializes");
        let header = header(secret, timestamp, &body);
        SignedEvent { event, body, header }
    }
}

/// A delivery ready to post: the body, its `Stripe-Signature` header, and the event it holds.
///
/// ```
/// let delivery = djstripe_core::testing::EventBuilder::new("price.updated").signed("whsec_abc");
/// let parsed = djstripe_core::signature::SignatureHeader::parse(&delivery.header).unwrap();
/// assert_eq!(parsed.v1().len(), 1);
/// assert_eq!(delivery.timestamp(), parsed.timestamp());
/// ```
#[derive(Debug, Clone)]
pub struct SignedEvent {
    /// The event as built.
    pub event: Event,
    /// The request body: the event as JSON.
    pub body: Vec<u8>,
    /// The `Stripe-Signature` header value for `body`.
    pub header: String,
}

impl SignedEvent {
    /// When the delivery was signed (the header's `t=`).
    ///
    /// ```
    /// let delivery = djstripe_core::testing::EventBuilder::new("price.updated").signed_at("whsec_abc", 7);
    /// assert_eq!(delivery.timestamp(), 7);
    /// ```
    pub fn timestamp(&self) -> i64 {
        SignatureHeader::parse(&self.header).map_or(0, |h| h.timestamp())
    }
}

fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                match target.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        target.insert(key, value);
                    }
                }
            }
        }
        (target, patch) => *target = patch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_has_a_fixture_object() {
        let types = event_types();
        assert!(types.len() > 200, "{} types", types.len());
        let mut fallbacks = Vec::new();
        for t in types {
            let object = object_for(t);
            assert!(object.get("object").and_then(Value::as_str).is_some(), "{t}: {object}");
            if resource_for(t).is_none() {
                fallbacks.push(*t);
            }
            let event = event(t);
            assert_eq!(event.event_type(), *t);
            assert_eq!(event.data.object["object"], object["object"], "{t}");
            assert_eq!(event.data.object.get("id"), object.get("id"), "{t}");
            if let Some(livemode) = event.data.object.get("livemode") {
                assert_eq!(livemode, false, "{t}: livemode follows the event");
            }
        }
        assert!(fallbacks.is_empty(), "no fixture for: {fallbacks:?}");
    }

    #[test]
    fn mapped_objects_have_the_expected_kind() {
        for (t, kind) in [
            ("customer.source.created", "card"),
            ("customer.discount.deleted", "discount"),
            ("customer.tax_id.created", "tax_id"),
            ("account.external_account.created", "bank_account"),
            ("account.application.authorized", "application"),
            ("application_fee.refund.updated", "fee_refund"),
            ("charge.refund.updated", "refund"),
            ("invoice.payment_failed", "invoice"),
            ("invoiceitem.created", "invoiceitem"),
            ("issuing_authorization.request", "issuing.authorization"),
            ("radar.early_fraud_warning.created", "radar.early_fraud_warning"),
            ("test_helpers.test_clock.ready", "test_helpers.test_clock"),
            ("source.transaction.created", "source_transaction"),
            ("sigma.scheduled_query_run.created", "scheduled_query_run"),
            ("billing.alert.triggered", "billing.alert_triggered"),
            ("person.updated", "person"),
            ("tax_rate.created", "tax_rate"),
        ] {
            assert_eq!(event(t).data.object["object"], kind, "{t}");
        }
    }

    #[test]
    fn events_round_trip_through_json_and_ids_are_unique() {
        let mut ids = std::collections::HashSet::new();
        for _ in 0..100 {
            let builder = EventBuilder::new("customer.created");
            let parsed = Event::from_slice(&builder.to_json()).unwrap();
            assert_eq!(parsed, builder.build());
            assert_eq!(parsed.extra["object"], "event");
            assert!(ids.insert(parsed.id));
        }
    }

    #[test]
    fn merge_is_deep_and_replaces_non_objects() {
        let mut v = json!({"a": {"b": 1, "c": 2}, "d": [1], "e": "x"});
        merge(&mut v, json!({"a": {"b": 9}, "d": [2, 3], "e": null, "f": true}));
        assert_eq!(v, json!({"a": {"b": 9, "c": 2}, "d": [2, 3], "e": null, "f": true}));
    }

    #[test]
    fn metadata_replaces_a_null_metadata() {
        let event = EventBuilder::new("customer.created").object(json!({"metadata": null})).metadata("k", "v").build();
        assert_eq!(event.data.object["metadata"], json!({"k": "v"}));
    }
}
