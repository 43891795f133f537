//! The Stripe Event object, as Stripe sends it to a webhook endpoint.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::Error;

mod json;

/// A Stripe event (`"object": "event"`).
///
/// The well-known fields are typed; `data.object` stays a [`serde_json::Value`] with typed access
/// on demand ([`Event::object`]), and every field this model does not know is kept in
/// [`Event::extra`], so an event serializes back to what Stripe sent, field for field: a field
/// sent as `null` stays `null` (the typed field is `None` and `extra` holds the `null`), a field
/// in a form the typed model normalizes (an old API version's `request` as a bare id) is kept in
/// `extra` as sent, and a field held in `extra` is what serializes.
///
/// ```
/// use djstripe_core::Event;
/// let body = br#"{"id":"evt_1","object":"event","type":"customer.created","created":1700000000,
///   "livemode":false,"api_version":"2024-06-20","data":{"object":{"id":"cus_1","object":"customer"}}}"#;
/// let event = Event::from_slice(body).unwrap();
/// assert_eq!(event.event_type(), "customer.created");
/// assert_eq!(event.category(), "customer");
/// assert_eq!(event.object_id(), Some("cus_1"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Stripe's id, `evt_...`; the primary key of the stored event.
    pub id: String,
    /// The event type, e.g. `customer.subscription.updated` (`type` in the JSON).
    pub type_: String,
    /// The API version the event was rendered with (`null` for some old and test events).
    pub api_version: Option<String>,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Whether it happened in live mode.
    pub livemode: bool,
    /// Webhooks not yet successfully delivered.
    pub pending_webhooks: Option<i64>,
    /// The API request that caused the event, if any (old API versions send a bare id string;
    /// that is read as `{id}` and kept as sent in [`Event::extra`]).
    pub request: Option<EventRequest>,
    /// The connected account the event belongs to (Connect webhooks).
    pub account: Option<String>,
    /// The account (or `account/context` path) the event happened in: Stripe's `context`,
    /// what a call about it sends as `Stripe-Context`. v2 notifications carry it; v1 events of
    /// newer API versions too.
    pub context: Option<String>,
    /// A v2 notification's reference to the object it is about (`related_object`: id, type,
    /// API path); `None` for v1 events, which carry the object itself in `data.object`.
    pub related_object: Option<RelatedObject>,
    /// The object and, for `*.updated`, what changed (v1 events). Empty (`object` is `null`)
    /// for v2 notifications: their own `data`, if any, is [`Event::v2_data`].
    pub data: EventData,
    /// Every field this model does not name (`object`, `context`, ...) and every named field
    /// sent as `null` or in a form the typed field normalizes, as sent: kept for the round trip.
    pub extra: Map<String, Value>,
}

/// `request` of an event: the API request that caused it.
///
/// ```
/// let req = djstripe_core::EventRequest { id: Some("req_1".into()), idempotency_key: None };
/// assert_eq!(req.id.as_deref(), Some("req_1"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventRequest {
    /// The request id, `req_...`; `None` for automatic events.
    pub id: Option<String>,
    /// The idempotency key of that request.
    pub idempotency_key: Option<String>,
}

/// `data` of an event.
///
/// ```
/// let data = djstripe_core::EventData { object: serde_json::json!({"id": "cus_1"}), previous_attributes: None, extra: Default::default() };
/// assert_eq!(data.object["id"], "cus_1");
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventData {
    /// The resource the event is about, as Stripe rendered it.
    pub object: Value,
    /// For `*.updated` events: the changed attributes' previous values.
    pub previous_attributes: Option<Value>,
    /// Unknown fields of `data` (and a `previous_attributes` sent as `null`), kept for the
    /// round trip.
    pub extra: Map<String, Value>,
}

/// `related_object` of a v2 event notification: the object the event is about, by reference
/// (fetch it with the event's `context`; see Stripe's "Event destinations" docs).
///
/// ```
/// use djstripe_core::Event;
/// let body = br#"{"id":"evt_test_65R0","object":"v2.core.event","type":"v1.billing.meter.error_report_triggered",
///   "livemode":false,"created":"2026-11-30T06:20:52.246Z",
///   "related_object":{"id":"mtr_test_61R","type":"billing.meter","url":"/v1/billing/meters/mtr_test_61R"}}"#;
/// let event = Event::from_slice(body).unwrap();
/// let related = event.related_object.as_ref().unwrap();
/// assert_eq!((related.id.as_str(), related.type_.as_str()), ("mtr_test_61R", "billing.meter"));
/// assert_eq!(related.url.as_deref(), Some("/v1/billing/meters/mtr_test_61R"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RelatedObject {
    /// The object's id, e.g. `mtr_...`.
    pub id: String,
    /// Its type, e.g. `billing.meter` (`type` in the JSON).
    pub type_: String,
    /// Its API path, e.g. `/v1/billing/meters/mtr_...`.
    pub url: Option<String>,
}

impl Event {
    /// Parses a webhook body: a v1 event (`"object": "event"`, integer `created`, `data.object`)
    /// or a v2 event notification (`"object": "v2.core.event"`, RFC 3339 `created`,
    /// `related_object`). The error names what is missing or wrong, e.g.
    /// "the body is not a Stripe event: missing field `type` at line 1 column 30".
    ///
    /// ```
    /// use djstripe_core::Event;
    /// let err = Event::from_slice(br#"{"id":"evt_1"}"#).unwrap_err();
    /// assert!(err.to_string().contains("missing field"));
    /// assert!(Event::from_slice(b"not json").is_err());
    /// ```
    pub fn from_slice(body: &[u8]) -> Result<Event, Error> {
        let event: Event = serde_json::from_slice(body).map_err(|e| Error::invalid_event(describe(&e)))?;
        event.check()?;
        Ok(event)
    }

    /// Converts an already parsed JSON value (e.g. from Stripe's API), with the same checks.
    ///
    /// ```
    /// let value = serde_json::json!({"id":"evt_1","object":"event","type":"price.created","created":1,
    ///     "livemode":false,"data":{"object":{"id":"price_1"}}});
    /// assert_eq!(djstripe_core::Event::from_value(value).unwrap().object_id(), Some("price_1"));
    /// ```
    pub fn from_value(value: Value) -> Result<Event, Error> {
        let event: Event = serde_json::from_value(value).map_err(|e| Error::invalid_event(describe(&e)))?;
        event.check()?;
        Ok(event)
    }

    fn check(&self) -> Result<(), Error> {
        if let Some(object) = self.extra.get("object")
            && object != "event"
            && object != V2_OBJECT
        {
            return Err(Error::invalid_event(format!(
                "`object` is {object}, not \"event\" (v1) or \"{}\" (v2)",
                V2_OBJECT
            )));
        }
        if self.id.is_empty() {
            return Err(Error::invalid_event("`id` is empty"));
        }
        if self.type_.is_empty() {
            return Err(Error::invalid_event("`type` is empty"));
        }
        self.check_storable()?;
        if !is_event_id(&self.id) {
            return Err(Error::InvalidEventId { id: self.id.clone() });
        }
        if let Some(account) = self.account.as_deref().filter(|a| !is_account_id(a)) {
            return Err(Error::invalid_event(format!(
                "`account` {:?} is not a Stripe account id (acct_...)",
                excerpt(account)
            )));
        }
        Ok(())
    }

    /// Refuses what no Stripe event holds and a backend could not store or read back, before
    /// the event reaches the database (where one such row would fail the statement of its whole
    /// batch): a NUL character in a stored text (PostgreSQL's `text` cannot hold U+0000), an
    /// `id` or `type` longer than [`MAX_ID_LEN`] (they are indexed, and a btree entry has a size
    /// limit), a `created` outside years 1–9999 ([`CREATED_RANGE`]: PostgreSQL stores years from
    /// 4713 BC, SQLite stores timestamps as text that reads back only with four-digit years).
    /// The same on both backends, so an event valid on one is valid on the other.
    fn check_storable(&self) -> Result<(), Error> {
        let request = self.request.as_ref();
        let texts = [
            ("id", Some(self.id.as_str())),
            ("type", Some(self.type_.as_str())),
            ("api_version", self.api_version.as_deref()),
            ("account", self.account.as_deref()),
            ("context", self.context.as_deref()),
            ("request.id", request.and_then(|r| r.id.as_deref())),
            ("request.idempotency_key", request.and_then(|r| r.idempotency_key.as_deref())),
        ];
        for (field, text) in texts {
            if text.is_some_and(|t| t.contains('\0')) {
                return Err(Error::invalid_event(format!("`{field}` contains a NUL character (U+0000)")));
            }
        }
        for (field, text) in [("id", &self.id), ("type", &self.type_)] {
            if text.len() > MAX_ID_LEN {
                return Err(Error::invalid_event(format!("`{field}` is longer than {MAX_ID_LEN} bytes")));
            }
        }
        if !CREATED_RANGE.contains(&self.created) {
            return Err(Error::invalid_event(format!("`created` ({}) is outside the years 1 to 9999", self.created)));
        }
        Ok(())
    }

    /// The event type, e.g. `invoice.paid`.
    ///
    /// ```
    /// assert_eq!(djstripe_core::testing::event("invoice.paid").event_type(), "invoice.paid");
    /// ```
    pub fn event_type(&self) -> &str {
        &self.type_
    }

    /// The part of the type before the first dot: `customer` for `customer.subscription.updated`.
    ///
    /// ```
    /// let event = djstripe_core::testing::event("customer.subscription.updated");
    /// assert_eq!(event.category(), "customer");
    /// ```
    pub fn category(&self) -> &str {
        self.type_.split('.').next().unwrap_or_default()
    }

    /// The id of the object the event is about: `data.object.id` (`cus_...`, `sub_...`) of a v1
    /// event, `related_object.id` of a v2 notification; `None` if it has none.
    ///
    /// ```
    /// let event = djstripe_core::testing::event("customer.created");
    /// assert!(event.object_id().unwrap().starts_with("cus_"));
    /// let thin = djstripe_core::testing::EventBuilder::v2("v1.billing.meter.error_report_triggered").build();
    /// assert!(thin.object_id().unwrap().starts_with("mtr_"));
    /// ```
    pub fn object_id(&self) -> Option<&str> {
        match &self.related_object {
            Some(related) => Some(&related.id),
            None => self.data.object.get("id").and_then(Value::as_str),
        }
    }

    /// Whether this is a v2 event notification ("thin" event, `"object": "v2.core.event"`, sent
    /// by event destinations): it names its object in [`Event::related_object`] instead of
    /// carrying it, and its `created` is RFC 3339 text (kept as sent; [`Event::created`] holds
    /// its Unix seconds).
    ///
    /// ```
    /// use djstripe_core::testing::{event, EventBuilder};
    /// assert!(!event("customer.created").is_thin());
    /// assert!(EventBuilder::v2("v2.core.account.updated").build().is_thin());
    /// ```
    pub fn is_thin(&self) -> bool {
        self.extra.get("object").and_then(Value::as_str) == Some(V2_OBJECT)
    }

    /// A v2 event's own `data`, when it has one (a full event fetched from
    /// `GET /v2/core/events/{id}` has; a notification usually has not). `None` for v1 events,
    /// whose data is [`Event::data`].
    ///
    /// ```
    /// let thin = djstripe_core::testing::EventBuilder::v2("v2.core.account.updated").build();
    /// assert_eq!(thin.v2_data(), None);
    /// ```
    pub fn v2_data(&self) -> Option<&Value> {
        if self.is_thin() { self.extra.get("data").filter(|data| !data.is_null()) } else { None }
    }

    /// `data.object` deserialized into your own type.
    ///
    /// ```
    /// #[derive(serde::Deserialize)]
    /// struct Customer { id: String, email: Option<String> }
    /// let event = djstripe_core::testing::event("customer.created");
    /// let customer: Customer = event.object().unwrap();
    /// assert!(customer.id.starts_with("cus_"));
    /// ```
    pub fn object<T: DeserializeOwned>(&self) -> Result<T, Error> {
        T::deserialize(&self.data.object).map_err(|e| Error::invalid_event(format!("data.object: {e}")))
    }

    /// Whether this is the test event the Stripe Dashboard sends (`evt_00000000000000`): recorded
    /// and discarded, never dispatched.
    ///
    /// ```
    /// let mut event = djstripe_core::testing::event("customer.created");
    /// assert!(!event.is_dashboard_test());
    /// event.id = "evt_00000000000000".into();
    /// assert!(event.is_dashboard_test());
    /// ```
    pub fn is_dashboard_test(&self) -> bool {
        self.id == TEST_EVENT_ID
    }

    /// The id of the API request that caused the event.
    ///
    /// ```
    /// let event = djstripe_core::testing::event("customer.created");
    /// let _ = event.request_id();
    /// ```
    pub fn request_id(&self) -> Option<&str> {
        self.request.as_ref().and_then(|r| r.id.as_deref())
    }

    /// The idempotency key of the API request that caused the event.
    ///
    /// ```
    /// let event = djstripe_core::testing::event("customer.created");
    /// let _ = event.idempotency_key();
    /// ```
    pub fn idempotency_key(&self) -> Option<&str> {
        self.request.as_ref().and_then(|r| r.idempotency_key.as_deref())
    }
}

/// The longest event `id` and `type` accepted, in bytes (dj-stripe's columns hold 255
/// characters; Stripe's are far shorter).
///
/// ```
/// let body = format!(r#"{{"id":"evt_{}","type":"a.b","created":1,"livemode":false,"data":{{"object":{{}}}}}}"#, "x".repeat(300));
/// assert!(djstripe_core::Event::from_slice(body.as_bytes()).is_err());
/// assert_eq!(djstripe_core::event::MAX_ID_LEN, 255);
/// ```
pub const MAX_ID_LEN: usize = 255;

/// Whether `id` has the shape of a Stripe event id: `evt_` and then ASCII letters, digits and
/// `_` (`evt_1PgaMmB7WZ01zgkW`, `evt_test_…`), at most [`MAX_ID_LEN`] bytes. Checked on every
/// delivery before the id is stored, put in a link or sent to Stripe's API: anything else is
/// answered 400 ([`Error::InvalidEventId`]) and recorded as an invalid trigger.
///
/// ```
/// use djstripe_core::event::is_event_id;
/// assert!(is_event_id("evt_1PgaMmB7WZ01zgkW") && is_event_id("evt_test_61S5"));
/// assert!(!is_event_id("evt_") && !is_event_id("cus_1") && !is_event_id("evt_1/../x") && !is_event_id("evt_1?x"));
/// assert!(!is_event_id(&format!("evt_{}", "1".repeat(252))));
/// ```
pub fn is_event_id(id: &str) -> bool {
    id.len() <= MAX_ID_LEN
        && id
            .strip_prefix("evt_")
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

/// Whether `id` has the shape of a Stripe account id: `acct_` and 1 to 64 ASCII letters or
/// digits (`acct_1Nv0FGQ9RKHgCVdK`). An event's `account` is checked on every delivery (it is
/// stored, shown in links and sent as `Stripe-Account`); the endpoint commands check theirs.
///
/// ```
/// use djstripe_core::event::is_account_id;
/// assert!(is_account_id("acct_1Nv0FGQ9RKHgCVdK"));
/// assert!(!is_account_id("acct_") && !is_account_id("acct_1'--") && !is_account_id("cus_1"));
/// ```
pub fn is_account_id(id: &str) -> bool {
    id.strip_prefix("acct_")
        .is_some_and(|rest| !rest.is_empty() && rest.len() <= 64 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// At most 40 characters of attacker-sent text, for an error message.
fn excerpt(text: &str) -> String {
    text.chars().take(40).collect()
}

/// The `created` values accepted (Unix seconds): 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z,
/// the timestamps both backends store and read back.
///
/// ```
/// use djstripe_core::event::CREATED_RANGE;
/// assert!(CREATED_RANGE.contains(&1_700_000_000));
/// assert!(!CREATED_RANGE.contains(&-8_000_000_000_000));
/// ```
pub const CREATED_RANGE: std::ops::RangeInclusive<i64> = -62_135_596_800..=253_402_300_799;

/// `object` of a v2 event notification ("thin" event), as event destinations send it; a v1
/// event's is `event`.
///
/// ```
/// assert_eq!(djstripe_core::event::V2_OBJECT, "v2.core.event");
/// ```
pub const V2_OBJECT: &str = "v2.core.event";

/// The id of the test event sent from the Stripe Dashboard's "Send test webhook".
///
/// ```
/// assert_eq!(djstripe_core::event::TEST_EVENT_ID, "evt_00000000000000");
/// ```
pub const TEST_EVENT_ID: &str = "evt_00000000000000";

fn describe(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof => format!("not valid JSON ({e})"),
        Category::Io => format!("unreadable ({e})"),
        Category::Data if e.to_string().starts_with("invalid type") && e.line() == 1 && e.column() <= 1 => {
            format!("expected a JSON object ({e})")
        }
        Category::Data => e.to_string(),
    }
}
