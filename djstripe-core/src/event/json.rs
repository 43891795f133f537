//! The event's JSON form, read and written losslessly.
//!
//! Derived serde cannot tell a field sent as `null` from one left out, and it normalizes an old
//! `request` string into an object: the stored and replayed event would differ from the one
//! delivered. So an event is read into a JSON map once, its named fields are taken out one by
//! one, and whatever the typed fields cannot reproduce exactly stays in `extra` as sent; writing
//! puts the typed fields first and lets `extra` win for any name it holds.

use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Event, EventData, EventRequest};

/// Top-level names that always come from typed fields, never from `extra`.
const REQUIRED: [&str; 5] = ["id", "type", "created", "livemode", "data"];

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Event::from_map(Map::deserialize(d)?).map_err(de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for EventData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        EventData::from_map(Map::deserialize(d)?).map_err(de::Error::custom)
    }
}

impl Event {
    /// Builds the event from its JSON object, taking the named fields out; the error is serde's
    /// wording (`missing field `type``, `invalid type: ...`).
    pub(crate) fn from_map(mut map: Map<String, Value>) -> Result<Event, String> {
        let mut extra = Map::new();
        let id = required(&mut map, "id", string)?;
        let type_ = required(&mut map, "type", string)?;
        let created = required(&mut map, "created", integer)?;
        let livemode = required(&mut map, "livemode", boolean)?;
        let data = required(&mut map, "data", |value| match value {
            Value::Object(data) => EventData::from_map(data),
            other => Err(invalid(&other, "a map")),
        })?;
        let api_version = optional(&mut map, &mut extra, "api_version", string)?;
        let pending_webhooks = optional(&mut map, &mut extra, "pending_webhooks", integer)?;
        let account = optional(&mut map, &mut extra, "account", string)?;
        let request = match map.remove("request") {
            None => None,
            Some(Value::Null) => {
                extra.insert("request".into(), Value::Null);
                None
            }
            // Old API versions: a bare request id.
            Some(Value::String(id)) => {
                extra.insert("request".into(), Value::String(id.clone()));
                Some(EventRequest { id: Some(id), idempotency_key: None })
            }
            Some(Value::Object(sent)) => {
                let request = EventRequest::from_map(&sent).map_err(|e| format!("request: {e}"))?;
                if !request.writes(&sent) {
                    extra.insert("request".into(), Value::Object(sent));
                }
                Some(request)
            }
            Some(other) => return Err(format!("request: {}", invalid(&other, "a map or a string"))),
        };
        extra.append(&mut map);
        Ok(Event { id, type_, api_version, created, livemode, pending_webhooks, request, account, data, extra })
    }

    /// Writes the top-level fields that are not stored in a column of their own: `object`,
    /// `pending_webhooks`, `request` as sent, `context`, unknown fields, and `null`s (the
    /// storage's `extra` column). With the columns, they are the whole event.
    pub(crate) fn extra_fields(&self) -> Map<String, Value> {
        let mut fields = Map::new();
        if let Some(pending) = self.pending_webhooks {
            fields.insert("pending_webhooks".into(), pending.into());
        }
        if let Some(request) = &self.request {
            fields.insert("request".into(), request.to_value());
        }
        for (name, value) in &self.extra {
            if !REQUIRED.contains(&name.as_str()) {
                fields.insert(name.clone(), value.clone());
            }
        }
        fields
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("type", &self.type_)?;
        map.serialize_entry("created", &self.created)?;
        map.serialize_entry("livemode", &self.livemode)?;
        let typed = !self.extra.contains_key("request");
        if let Some(request) = self.request.as_ref().filter(|_| typed) {
            map.serialize_entry("request", &request.to_value())?;
        }
        for (name, value) in [("api_version", &self.api_version), ("account", &self.account)] {
            if let Some(value) = value.as_ref().filter(|_| !self.extra.contains_key(name)) {
                map.serialize_entry(name, value)?;
            }
        }
        if let Some(pending) = self.pending_webhooks.filter(|_| !self.extra.contains_key("pending_webhooks")) {
            map.serialize_entry("pending_webhooks", &pending)?;
        }
        map.serialize_entry("data", &self.data)?;
        for (name, value) in &self.extra {
            if !REQUIRED.contains(&name.as_str()) {
                map.serialize_entry(name, value)?;
            }
        }
        map.end()
    }
}

impl EventData {
    fn from_map(mut map: Map<String, Value>) -> Result<EventData, String> {
        let object = map.remove("object").ok_or_else(|| missing("object"))?;
        let previous_attributes = match map.remove("previous_attributes") {
            Some(Value::Null) => {
                map.insert("previous_attributes".into(), Value::Null);
                None
            }
            other => other,
        };
        Ok(EventData { object, previous_attributes, extra: map })
    }
}

impl Serialize for EventData {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("object", &self.object)?;
        if let Some(previous) =
            self.previous_attributes.as_ref().filter(|_| !self.extra.contains_key("previous_attributes"))
        {
            map.serialize_entry("previous_attributes", previous)?;
        }
        for (name, value) in self.extra.iter().filter(|(name, _)| *name != "object") {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl EventRequest {
    fn from_map(map: &Map<String, Value>) -> Result<EventRequest, String> {
        let field = |name: &str| match map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!("`{name}`: {}", invalid(other, "a string"))),
        };
        Ok(EventRequest { id: field("id")?, idempotency_key: field("idempotency_key")? })
    }

    /// `{"id": ..., "idempotency_key": ...}`, both always present (`null` when `None`), as Stripe
    /// writes them.
    fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert("id".into(), self.id.clone().map_or(Value::Null, Value::String));
        map.insert("idempotency_key".into(), self.idempotency_key.clone().map_or(Value::Null, Value::String));
        Value::Object(map)
    }

    /// Whether [`EventRequest::to_value`] writes exactly `sent` back.
    fn writes(&self, sent: &Map<String, Value>) -> bool {
        matches!(self.to_value(), Value::Object(written) if written == *sent)
    }
}

impl Serialize for EventRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for EventRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        EventRequest::from_map(&Map::deserialize(d)?).map_err(de::Error::custom)
    }
}

fn missing(name: &str) -> String {
    format!("missing field `{name}`")
}

fn invalid(value: &Value, expected: &str) -> String {
    let found = match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean `{b}`"),
        Value::Number(n) => format!("number `{n}`"),
        Value::String(_) => "a string".to_owned(),
        Value::Array(_) => "a sequence".to_owned(),
        Value::Object(_) => "a map".to_owned(),
    };
    format!("invalid type: {found}, expected {expected}")
}

/// Takes a field every event has; its absence or `null` is "missing field", a wrong type says so.
fn required<T>(
    map: &mut Map<String, Value>,
    name: &str,
    read: impl FnOnce(Value) -> Result<T, String>,
) -> Result<T, String> {
    match map.remove(name) {
        None => Err(missing(name)),
        Some(value) => read(value).map_err(|e| format!("{e} for `{name}`")),
    }
}

/// Takes an optional field; `null` becomes `None` with the `null` kept in `extra`.
fn optional<T>(
    map: &mut Map<String, Value>,
    extra: &mut Map<String, Value>,
    name: &str,
    read: impl FnOnce(Value) -> Result<T, String>,
) -> Result<Option<T>, String> {
    match map.remove(name) {
        None => Ok(None),
        Some(Value::Null) => {
            extra.insert(name.to_owned(), Value::Null);
            Ok(None)
        }
        Some(value) => read(value).map(Some).map_err(|e| format!("{e} for `{name}`")),
    }
}

fn string(value: Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(invalid(&other, "a string")),
    }
}

fn integer(value: Value) -> Result<i64, String> {
    match &value {
        Value::Number(n) => n.as_i64().ok_or_else(|| format!("invalid value: number `{n}`, expected i64")),
        other => Err(invalid(other, "i64")),
    }
}

fn boolean(value: Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(b),
        other => Err(invalid(&other, "a boolean")),
    }
}
