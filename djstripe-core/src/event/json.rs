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

use super::{Event, EventData, EventRequest, RelatedObject, V2_OBJECT};

/// Top-level names that always come from typed fields, never from `extra`.
const TYPED: [&str; 3] = ["id", "type", "livemode"];

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Event::from_fields(d.deserialize_map(FieldsVisitor)?).map_err(de::Error::custom)
    }
}

/// The top-level names an event's typed fields are read from. Streaming them into slots of their
/// own, instead of a JSON map first, saves a map node and a key string per field on the hot path.
const NAMED: [&str; 12] = [
    "id",
    "type",
    "created",
    "data",
    "livemode",
    "api_version",
    "pending_webhooks",
    "account",
    "context",
    "request",
    "related_object",
    "object",
];

/// An event's top-level fields as sent: the named ones in their slots, the rest as a map.
#[derive(Default)]
struct Fields {
    named: [Option<Value>; NAMED.len()],
    rest: Map<String, Value>,
}

impl Fields {
    fn slot(name: &str) -> Option<usize> {
        NAMED.iter().position(|n| *n == name)
    }

    fn get(&self, name: &str) -> Option<&Value> {
        match Self::slot(name) {
            Some(n) => self.named[n].as_ref(),
            None => self.rest.get(name),
        }
    }

    fn remove(&mut self, name: &str) -> Option<Value> {
        match Self::slot(name) {
            Some(n) => self.named[n].take(),
            None => self.rest.remove(name),
        }
    }

    /// What is left, as a map (fields not taken, unknown names).
    fn into_rest(self) -> Map<String, Value> {
        let mut rest = self.rest;
        for (name, value) in NAMED.iter().zip(self.named) {
            if let Some(value) = value {
                rest.insert((*name).to_owned(), value);
            }
        }
        rest
    }
}

/// A top-level key: a slot of [`NAMED`] (read without allocating), or another name.
enum Key {
    Named(usize),
    Other(String),
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl de::Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Key, E> {
                Ok(Fields::slot(name).map_or_else(|| Key::Other(name.to_owned()), Key::Named))
            }
            fn visit_string<E: de::Error>(self, name: String) -> Result<Key, E> {
                Ok(Fields::slot(&name).map_or(Key::Other(name), Key::Named))
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

struct FieldsVisitor;

impl<'de> de::Visitor<'de> for FieldsVisitor {
    type Value = Fields;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut access: A) -> Result<Fields, A::Error> {
        let mut fields = Fields::default();
        // A name sent twice: the last one counts, as in a JSON map.
        while let Some(key) = access.next_key::<Key>()? {
            let value: Value = access.next_value()?;
            match key {
                Key::Named(n) => fields.named[n] = Some(value),
                Key::Other(name) => {
                    fields.rest.insert(name, value);
                }
            }
        }
        Ok(fields)
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
    fn from_fields(mut map: Fields) -> Result<Event, String> {
        let mut extra = Map::new();
        let thin = map.get("object").and_then(Value::as_str) == Some(V2_OBJECT);
        let id = required(&mut map, "id", string)?;
        let type_ = required(&mut map, "type", string)?;
        let (created, data) = if thin {
            // A v2 notification: `created` is RFC 3339 text (kept as sent), `data` optional and
            // of the type's own shape (kept as sent; see `Event::v2_data`).
            let text = required(&mut map, "created", string)?;
            let created = chrono::DateTime::parse_from_rfc3339(&text)
                .map_err(|e| format!("invalid value: `created` {text:?} is no RFC 3339 time ({e})"))?
                .timestamp();
            extra.insert("created".into(), Value::String(text));
            if let Some(data) = map.remove("data") {
                extra.insert("data".into(), data);
            }
            (created, EventData::default())
        } else {
            let created = required(&mut map, "created", integer)?;
            let data = required(&mut map, "data", |value| match value {
                Value::Object(data) => EventData::from_map(data),
                other => Err(invalid(&other, "a map")),
            })?;
            (created, data)
        };
        let livemode = required(&mut map, "livemode", boolean)?;
        let api_version = optional(&mut map, &mut extra, "api_version", string)?;
        let pending_webhooks = optional(&mut map, &mut extra, "pending_webhooks", integer)?;
        let account = optional(&mut map, &mut extra, "account", string)?;
        let context = optional(&mut map, &mut extra, "context", string)?;
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
        let related_object = match map.remove("related_object") {
            None => None,
            Some(Value::Null) => {
                extra.insert("related_object".into(), Value::Null);
                None
            }
            Some(Value::Object(sent)) => {
                let related = RelatedObject::from_map(&sent).map_err(|e| format!("related_object: {e}"))?;
                // Fields beyond `id`, `type` and `url` stay as sent.
                if related.to_value() != Value::Object(sent.clone()) {
                    extra.insert("related_object".into(), Value::Object(sent));
                }
                Some(related)
            }
            Some(other) => return Err(format!("related_object: {}", invalid(&other, "a map"))),
        };
        extra.append(&mut map.into_rest());
        Ok(Event {
            id,
            type_,
            api_version,
            created,
            livemode,
            pending_webhooks,
            request,
            account,
            context,
            related_object,
            data,
            extra,
        })
    }

    /// Writes the top-level fields that are not stored in a column of their own: `object`,
    /// `pending_webhooks`, `request` as sent, `context`, `related_object`, a v2 notification's
    /// `created` text, unknown fields, and `null`s (the storage's `extra` column). With the
    /// columns, they are the whole event.
    pub(crate) fn extra_column(&self) -> String {
        serde_json::to_string(&ExtraFields(self)).expect("JSON values serialize")
    }

    /// What the `data` column holds: a v1 event's `data`; a v2 notification's `data` as sent,
    /// or JSON `null` when it has none.
    pub(crate) fn data_column(&self) -> Result<String, serde_json::Error> {
        if self.is_thin() {
            serde_json::to_string(self.extra.get("data").unwrap_or(&Value::Null))
        } else {
            serde_json::to_string(&self.data)
        }
    }
}

/// An event's fields for the `extra` column, written straight from the event (no map built):
/// typed fields first unless `extra` holds the same name, which wins.
struct ExtraFields<'a>(&'a Event);

impl Serialize for ExtraFields<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let event = self.0;
        let extra = &event.extra;
        let mut map = s.serialize_map(None)?;
        if let Some(pending) = event.pending_webhooks.filter(|_| !extra.contains_key("pending_webhooks")) {
            map.serialize_entry("pending_webhooks", &pending)?;
        }
        if let Some(request) = event.request.as_ref().filter(|_| !extra.contains_key("request")) {
            map.serialize_entry("request", request)?;
        }
        if let Some(context) = event.context.as_ref().filter(|_| !extra.contains_key("context")) {
            map.serialize_entry("context", context)?;
        }
        if let Some(related) = event.related_object.as_ref().filter(|_| !extra.contains_key("related_object")) {
            map.serialize_entry("related_object", related)?;
        }
        for (name, value) in extra {
            // A v2 notification's `data` has the `data` column (a `null` has not).
            let in_data_column = name == "data" && !value.is_null();
            if !TYPED.contains(&name.as_str()) && !in_data_column {
                map.serialize_entry(name, value)?;
            }
        }
        map.end()
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let extra = &self.extra;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("type", &self.type_)?;
        map.serialize_entry("livemode", &self.livemode)?;
        // A field `extra` holds is written from there: as sent (a `null`, an old `request`, a
        // v2 notification's `created` text and `data`).
        if !extra.contains_key("created") {
            map.serialize_entry("created", &self.created)?;
        }
        if !self.is_thin() && !extra.contains_key("data") {
            map.serialize_entry("data", &self.data)?;
        }
        if let Some(request) = self.request.as_ref().filter(|_| !extra.contains_key("request")) {
            map.serialize_entry("request", request)?;
        }
        if let Some(related) = self.related_object.as_ref().filter(|_| !extra.contains_key("related_object")) {
            map.serialize_entry("related_object", related)?;
        }
        let texts = [("api_version", &self.api_version), ("account", &self.account), ("context", &self.context)];
        for (name, value) in texts {
            if let Some(value) = value.as_ref().filter(|_| !extra.contains_key(name)) {
                map.serialize_entry(name, value)?;
            }
        }
        if let Some(pending) = self.pending_webhooks.filter(|_| !extra.contains_key("pending_webhooks")) {
            map.serialize_entry("pending_webhooks", &pending)?;
        }
        for (name, value) in extra {
            if !TYPED.contains(&name.as_str()) {
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

    /// Whether serializing writes exactly `sent` back.
    fn writes(&self, sent: &Map<String, Value>) -> bool {
        let same = |name: &str, ours: &Option<String>| match (sent.get(name), ours) {
            (Some(Value::Null), None) => true,
            (Some(Value::String(sent)), Some(ours)) => sent == ours,
            _ => false,
        };
        sent.len() == 2 && same("id", &self.id) && same("idempotency_key", &self.idempotency_key)
    }
}

/// `{"id": ..., "idempotency_key": ...}`, both always present (`null` when `None`), as Stripe
/// writes them.
impl Serialize for EventRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("idempotency_key", &self.idempotency_key)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for EventRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        EventRequest::from_map(&Map::deserialize(d)?).map_err(de::Error::custom)
    }
}

impl RelatedObject {
    fn from_map(map: &Map<String, Value>) -> Result<RelatedObject, String> {
        let text = |name: &str| match map.get(name) {
            Some(Value::String(s)) => Ok(Some(s.clone())),
            None | Some(Value::Null) => Ok(None),
            Some(other) => Err(format!("`{name}`: {}", invalid(other, "a string"))),
        };
        Ok(RelatedObject {
            id: text("id")?.ok_or_else(|| missing("id"))?,
            type_: text("type")?.ok_or_else(|| missing("type"))?,
            url: text("url")?,
        })
    }

    /// `{"id", "type", "url"}` as Stripe writes them (`url` left out when `None`).
    pub(crate) fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert("id".into(), self.id.clone().into());
        map.insert("type".into(), self.type_.clone().into());
        if let Some(url) = &self.url {
            map.insert("url".into(), url.clone().into());
        }
        Value::Object(map)
    }
}

/// What [`RelatedObject::to_value`] makes, written without building it.
impl Serialize for RelatedObject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("type", &self.type_)?;
        if let Some(url) = &self.url {
            map.serialize_entry("url", url)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for RelatedObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        RelatedObject::from_map(&Map::deserialize(d)?).map_err(de::Error::custom)
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
fn required<T>(map: &mut Fields, name: &str, read: impl FnOnce(Value) -> Result<T, String>) -> Result<T, String> {
    match map.remove(name) {
        None => Err(missing(name)),
        Some(value) => read(value).map_err(|e| format!("{e} for `{name}`")),
    }
}

/// Takes an optional field; `null` becomes `None` with the `null` kept in `extra`.
fn optional<T>(
    map: &mut Fields,
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
