//! Lossless events, end to end: for every catalog type, a signed event with unknown fields
//! (top level and in `data`), `null` where Stripe allows it, an old-style `request` and any
//! `api_version` is answered 2xx, and the stored event serializes back to the delivered JSON —
//! so `events show` and `events reprocess` hand handlers the event as Stripe sent it.
#![allow(missing_docs)]

mod support;

use djstripe_core::Event;
use djstripe_core::db::Backend;
use djstripe_core::testing::{self, TestApp};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value, json};

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        "\\PC{0,16}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Field names Stripe has not defined (yet): none of the event's or `data`'s own.
fn unknown_fields() -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::btree_map("x_[a-z_]{1,10}", json_value(), 0..4).prop_map(|m| m.into_iter().collect())
}

/// How an event may carry its optional fields: left out, `null`, or a value.
#[derive(Debug, Clone)]
enum Field {
    Absent,
    Null,
    Set(Value),
}

fn field(value: impl Strategy<Value = Value>) -> impl Strategy<Value = Field> {
    prop_oneof![Just(Field::Absent), Just(Field::Null), value.prop_map(Field::Set)]
}

#[derive(Debug, Clone)]
struct Variation {
    type_index: usize,
    api_version: Field,
    account: Field,
    pending_webhooks: Field,
    request: Field,
    previous_attributes: Field,
    context: Field,
    top: Map<String, Value>,
    in_data: Map<String, Value>,
}

fn variation() -> impl Strategy<Value = Variation> {
    let request = prop_oneof![
        "req_[A-Za-z0-9]{4,14}".prop_map(Value::String), // old API versions: a bare id
        ("req_[a-z0-9]{4}", "[a-f0-9-]{0,36}").prop_map(|(id, key)| json!({"id": id, "idempotency_key": key})),
        Just(json!({"id": null, "idempotency_key": null})),
        "req_[a-z0-9]{4}".prop_map(|id| json!({"id": id})),
    ];
    (
        (0..testing::event_types().len(), field("[0-9]{4}-[0-9]{2}-[0-9]{2}(\\.[a-z]{1,8})?".prop_map(Value::String))),
        field("acct_[A-Za-z0-9]{8,16}".prop_map(Value::String)),
        field((0i64..10).prop_map(Value::from)),
        field(request),
        field(json_value()),
        field("acct_[A-Za-z0-9]{4}(/ctx_[a-z0-9]{4})?".prop_map(Value::String)),
        unknown_fields(),
        unknown_fields(),
    )
        .prop_map(
            |(
                (type_index, api_version),
                account,
                pending_webhooks,
                request,
                previous_attributes,
                context,
                top,
                in_data,
            )| {
                Variation {
                    type_index,
                    api_version,
                    account,
                    pending_webhooks,
                    request,
                    previous_attributes,
                    context,
                    top,
                    in_data,
                }
            },
        )
}

fn put(map: &mut Map<String, Value>, name: &str, field: &Field) {
    match field {
        Field::Absent => {
            map.remove(name);
        }
        Field::Null => {
            map.insert(name.into(), Value::Null);
        }
        Field::Set(value) => {
            map.insert(name.into(), value.clone());
        }
    }
}

/// The delivered body: Stripe's example object for the type, varied.
fn body(v: &Variation, n: usize) -> Value {
    let type_ = testing::event_types()[v.type_index];
    let Value::Object(mut event) = serde_json::from_slice(&testing::EventBuilder::new(type_).to_json()).unwrap() else {
        panic!("the builder writes an object")
    };
    event.insert("id".into(), format!("evt_lossless{}_{n}", std::process::id()).into());
    put(&mut event, "api_version", &v.api_version);
    put(&mut event, "account", &v.account);
    put(&mut event, "pending_webhooks", &v.pending_webhooks);
    put(&mut event, "request", &v.request);
    put(&mut event, "context", &v.context);
    event.extend(v.top.clone());
    let data = event.get_mut("data").and_then(Value::as_object_mut).unwrap();
    put(data, "previous_attributes", &v.previous_attributes);
    data.extend(v.in_data.clone());
    Value::Object(event)
}

fn stored_events_are_the_delivered_ones(backend: Backend) {
    let app = TestApp::builder().backend(backend).start();
    let mut runner = TestRunner::new(Config { cases: 96, failure_persistence: None, ..Config::default() });
    let n = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&variation(), |v| {
            let delivered = body(&v, n.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            let bytes = serde_json::to_vec(&delivered).unwrap();
            let header = testing::header_now(app.secret(), &bytes);
            let answer = app.send_raw(&bytes, &[("Stripe-Signature", &header), ("Content-Type", "application/json")]);
            prop_assert_eq!(answer.status, 200, "{:?}: {}", answer.error(), delivered);

            let parsed = Event::from_slice(&bytes).unwrap();
            prop_assert_eq!(&serde_json::to_value(&parsed).unwrap(), &delivered, "the model drops or changes a field");
            let stored = app.event(answer.event_id().unwrap()).unwrap().to_event().unwrap();
            prop_assert_eq!(&serde_json::to_value(&stored).unwrap(), &delivered, "the stored event differs");
            prop_assert_eq!(stored, parsed, "a replay would see another event than the delivery did");
            Ok(())
        })
        .unwrap();
}

/// The inputs of the issue, named: `context` and `pending_webhooks` survive storage.
fn context_and_pending_webhooks_are_stored(backend: Backend) {
    let app = TestApp::builder().backend(backend).start();
    let mut delivered: Value = serde_json::from_slice(&testing::EventBuilder::new("invoice.paid").to_json()).unwrap();
    delivered["context"] = "acct_1Nv0FGQ9RKHgCVdK".into();
    delivered["pending_webhooks"] = 3.into();
    let bytes = serde_json::to_vec(&delivered).unwrap();
    let header = testing::header_now(app.secret(), &bytes);
    let answer = app.send_raw(&bytes, &[("Stripe-Signature", &header)]);
    assert_eq!(answer.status, 200);
    let stored = app.event(answer.event_id().unwrap()).unwrap();
    let event = stored.to_event().unwrap();
    assert_eq!(event.extra["context"], "acct_1Nv0FGQ9RKHgCVdK");
    assert_eq!(event.pending_webhooks, Some(3));
    assert_eq!(serde_json::to_value(&event).unwrap(), delivered);
}

both_backends!(stored_events_are_the_delivered_ones, context_and_pending_webhooks_are_stored);
