//! The Event model: Stripe's shapes parse, unknown fields survive a round trip, and a body that
//! is not an event gets an error naming what is wrong.
#![allow(missing_docs)]

use djstripe_core::{Error, Event, testing};
use serde_json::{Value, json};

fn err(body: &[u8]) -> String {
    match Event::from_slice(body) {
        Err(Error::InvalidEvent { reason }) => reason,
        other => panic!("expected InvalidEvent, got {other:?}"),
    }
}

#[test]
fn stripe_fixture_event_parses() {
    let fixture = testing::fixture("event").expect("the event fixture");
    let event = Event::from_value(fixture.clone()).unwrap();
    assert_eq!(event.event_type(), "plan.created");
    assert_eq!(event.category(), "plan");
    assert_eq!(event.object_id(), Some("price_1PgafmB7WZ01zgkW6dKueIc5"));
    assert_eq!(event.api_version, None);
    assert_eq!(event.pending_webhooks, Some(0));
    assert_eq!(event.request_id(), None);
}

#[test]
fn unknown_fields_round_trip() {
    let original = json!({
        "id": "evt_1", "object": "event", "type": "invoice.paid", "created": 1700000000, "livemode": true,
        "api_version": "2026-07-29.dahlia", "pending_webhooks": 2, "account": "acct_1",
        "request": {"id": "req_1", "idempotency_key": "ik"},
        "context": "acct_1/ctx", "future_field": {"nested": [1, 2, 3]},
        "data": {"object": {"id": "in_1", "object": "invoice", "amount_paid": 100},
                 "previous_attributes": {"status": "open"}, "data_extra": true}
    });
    let event = Event::from_value(original.clone()).unwrap();
    assert_eq!(event.extra["future_field"]["nested"][2], 3);
    assert_eq!(event.data.previous_attributes.as_ref().unwrap()["status"], "open");
    let back: Value = serde_json::to_value(&event).unwrap();
    assert_eq!(back, original, "serializes back to what Stripe sent");
    #[derive(serde::Deserialize)]
    struct Invoice {
        amount_paid: i64,
    }
    assert_eq!(event.object::<Invoice>().unwrap().amount_paid, 100);
    assert!(event.object::<Vec<String>>().is_err());
}

#[test]
fn old_request_string_is_accepted() {
    let event = Event::from_value(json!({
        "id": "evt_1", "type": "charge.succeeded", "created": 1, "livemode": false,
        "request": "req_old", "data": {"object": {}}
    }))
    .unwrap();
    assert_eq!(event.request_id(), Some("req_old"));
    assert_eq!(event.object_id(), None);
}

#[test]
fn not_an_event_names_what_is_missing() {
    assert!(
        err(br#"{"id":"evt_1","created":1,"livemode":false,"data":{"object":{}}}"#).contains("missing field `type`")
    );
    assert!(
        err(br#"{"id":"evt_1","type":"x.y","livemode":false,"data":{"object":{}}}"#)
            .contains("missing field `created`")
    );
    assert!(err(br#"{"id":"evt_1","type":"x.y","created":1,"livemode":false}"#).contains("missing field `data`"));
    assert!(
        err(br#"{"id":"evt_1","type":"x.y","created":1,"livemode":false,"data":{}}"#)
            .contains("missing field `object`")
    );
    assert!(
        err(br#"{"id":"","type":"x.y","created":1,"livemode":false,"data":{"object":{}}}"#).contains("`id` is empty")
    );
    assert!(
        err(br#"{"id":"cus_1","object":"customer","type":"x.y","created":1,"livemode":false,"data":{"object":{}}}"#)
            .contains("not \"event\"")
    );
    assert!(err(b"[1,2,3]").contains("expected a JSON object"), "{}", err(b"[1,2,3]"));
    assert!(err(b"").contains("not valid JSON"));
    assert!(err(b"{\"id\": \xff}").contains("not valid JSON"));
    assert!(err(br#"{"id": 5}"#).contains("invalid type"));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = "[".repeat(100_000);
    assert!(Event::from_slice(deep.as_bytes()).is_err());
}

#[test]
fn every_catalog_type_builds_a_parsable_event() {
    for event_type in testing::event_types() {
        let signed = testing::EventBuilder::new(*event_type).signed("whsec_x");
        let parsed = Event::from_slice(&signed.body).unwrap();
        assert_eq!(parsed.event_type(), *event_type);
        assert_eq!(parsed, signed.event);
    }
}

/// Issue 15, 5: Stripe ids are format-checked on ingest — the event id and the Connect account.
#[test]
fn an_account_that_is_no_stripe_account_id_is_refused() {
    let with = |account: &str| {
        format!(
            r#"{{"id":"evt_1","type":"x.y","created":1,"livemode":false,"account":"{account}","data":{{"object":{{}}}}}}"#
        )
    };
    assert!(Event::from_slice(with("acct_1Nv0FGQ9RKHgCVdK").as_bytes()).is_ok());
    for bad in ["acct_1'--", "acct_", "cus_1", "acct_1/../x"] {
        assert!(err(with(bad).as_bytes()).contains("not a Stripe account id"), "{bad}");
    }
}
