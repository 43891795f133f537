//! v2 event notifications ("thin" events, `"object": "v2.core.event"`), end to end on both
//! backends: recorded as valid, stored once with every field, dispatched by type with the same
//! pattern rules as v1 (a bracketed part belongs to its word), a duplicate answered 200 without
//! a second call.
#![allow(missing_docs)]

mod support;

use std::sync::Mutex;

use djstripe_core::db::{Backend, Outcome};
use djstripe_core::registry::HandlerSet;
use djstripe_core::testing::{self, EventBuilder, TestApp};
use djstripe_core::{Event, webhook_handler};
use serde_json::{Value, json};

/// (handler, event id, related object id) of every call.
static CALLS: Mutex<Vec<(&'static str, String, String)>> = Mutex::new(Vec::new());

fn record(handler: &'static str, event: &Event) {
    let related = event.related_object.as_ref().map(|r| r.id.clone()).unwrap_or_default();
    CALLS.lock().unwrap().push((handler, event.id.clone(), related));
}

fn calls_for(id: &str) -> Vec<&'static str> {
    let mut calls: Vec<_> = CALLS.lock().unwrap().iter().filter(|c| c.1 == id).map(|c| c.0).collect();
    calls.sort_unstable();
    calls
}

#[webhook_handler("v1.billing.meter.error_report_triggered")]
fn meter_error(event: &Event) {
    record("meter_error", event);
}

/// A prefix covering every `v2.core.account` type, bracketed ones too.
#[webhook_handler("v2.core.account")]
fn any_account(event: &Event) {
    record("any_account", event);
}

#[webhook_handler("v2.core.account[requirements].updated")]
fn requirements(event: &Event) {
    record("requirements", event);
}

/// A type newer than the catalog.
#[webhook_handler("v2.money_management.thing.happened", unchecked)]
fn newer(event: &Event) {
    record("newer", event);
}

fn app(backend: Backend) -> TestApp {
    TestApp::builder()
        .backend(backend)
        .handlers(HandlerSet::only(["meter_error", "any_account", "requirements", "newer"]))
        .start()
}

fn send_json(app: &TestApp, body: &Value) -> testing::TestAnswer {
    let bytes = serde_json::to_vec(body).unwrap();
    let header = testing::header_now(app.secret(), &bytes);
    app.send_raw(&bytes, &[("Stripe-Signature", &header), ("Content-Type", "application/json")])
}

/// The body of the issue, which was answered 400 "invalid type: string ..., expected i64".
fn the_reported_notification_is_received(backend: Backend) {
    let app = app(backend);
    let id = format!("evt_test_65R0example{}{backend:?}", std::process::id());
    let body = json!({
        "id": id, "object": "v2.core.event",
        "type": "v1.billing.meter.error_report_triggered", "livemode": false,
        "created": "2026-11-30T06:20:52.246Z",
        "related_object": {"id": "mtr_test_61Rexample", "type": "billing.meter",
                           "url": "/v1/billing/meters/mtr_test_61Rexample"}
    });
    let answer = send_json(&app, &body);
    assert_eq!((answer.status, answer.outcome()), (200, Some(Outcome::Processed)), "{:?}", answer.error());
    assert_eq!(calls_for(&id), ["meter_error"]);
    assert_eq!(CALLS.lock().unwrap().iter().find(|c| c.1 == id).unwrap().2, "mtr_test_61Rexample");

    let stored = app.event(&id).unwrap();
    assert_eq!(stored.type_, "v1.billing.meter.error_report_triggered");
    assert_eq!(stored.created.and_utc().timestamp(), 1_796_019_652, "created parsed from RFC 3339");
    assert!(!stored.livemode);
    let event = stored.to_event().unwrap();
    assert!(event.is_thin());
    assert_eq!(serde_json::to_value(&event).unwrap(), body, "stored field for field");

    // The duplicate: 200, no second call.
    let again = send_json(&app, &body);
    assert_eq!((again.status, again.outcome()), (200, Some(Outcome::Duplicate)));
    assert_eq!(calls_for(&id), ["meter_error"]);
}

/// Every v2 type of the catalog: 200, stored as sent, the right handlers once; the bracketed
/// types reach the `v2.core.account` prefix handler, not the exact handler of another type.
fn every_v2_type_is_dispatched(backend: Backend) {
    let app = app(backend);
    for event_type in testing::v2_event_types().iter().copied().chain(["v2.money_management.thing.happened"]) {
        let delivery = EventBuilder::v2(event_type).account("acct_1Nv0FGQ9RKHgCVdK");
        let signed = delivery.signed(app.secret());
        let answer = app.send(&delivery);
        assert_eq!(
            (answer.status, answer.outcome()),
            (200, Some(Outcome::Processed)),
            "{event_type}: {:?}",
            answer.error()
        );
        let id = answer.event_id().unwrap();
        assert_eq!(id, signed.event.id);

        let mut expected = Vec::new();
        if event_type == "v1.billing.meter.error_report_triggered" {
            expected.push("meter_error");
        }
        if event_type.strip_prefix("v2.core.account").is_some_and(|rest| rest.starts_with(['.', '['])) {
            expected.push("any_account");
        }
        if event_type == "v2.core.account[requirements].updated" {
            expected.push("requirements");
        }
        if event_type == "v2.money_management.thing.happened" {
            expected.push("newer");
        }
        expected.sort_unstable();
        assert_eq!(calls_for(id), expected, "{event_type}");

        let stored = app.event(id).unwrap().to_event().unwrap();
        assert_eq!(stored.context.as_deref(), Some("acct_1Nv0FGQ9RKHgCVdK"));
        assert_eq!(stored.object_id(), signed.event.object_id());
        let delivered: Value = serde_json::from_slice(&signed.body).unwrap();
        assert_eq!(serde_json::to_value(&stored).unwrap(), delivered, "{event_type}");
    }
}

/// A v2 body that is wrong says what is wrong (400, an invalid trigger), never a 500.
fn a_malformed_notification_is_a_clear_400(backend: Backend) {
    let app = app(backend);
    let mut body: Value = serde_json::from_slice(&EventBuilder::v2("v2.core.account.updated").to_json()).unwrap();
    body["created"] = "yesterday".into();
    let answer = send_json(&app, &body);
    assert_eq!((answer.status, answer.outcome()), (400, Some(Outcome::Invalid)));
    assert!(answer.error().unwrap_or_default().contains("RFC 3339"), "{:?}", answer.error());
    body["created"] = 1_700_000_000.into();
    let answer = send_json(&app, &body);
    assert_eq!(answer.status, 400);
    assert!(answer.error().unwrap_or_default().contains("created"), "{:?}", answer.error());
}

both_backends!(
    the_reported_notification_is_received,
    every_v2_type_is_dispatched,
    a_malformed_notification_is_a_clear_400
);
