//! Event JSON (v1 events and v2 notifications) on hostile input: any bytes as a webhook body.
//!
//! Properties, beyond "no panic":
//! - an event that parses has a non-empty `id` and `type`, and its accessors do not panic;
//! - round trip: serialized (`serde_json::to_vec`), it parses back equal — what is stored and
//!   replayed is what Stripe sent;
//! - parsing through a `serde_json::Value` (`Event::from_value`, as for events fetched from
//!   Stripe's API) gives the same event.
//!
//! v1 events and v2 event notifications (`"object": "v2.core.event"`) go through the same
//! parser; the corpus holds both shapes.
#![no_main]

use djstripe_core::Event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(event) = Event::from_slice(data) else { return };
    assert!(!event.id.is_empty() && !event.event_type().is_empty());
    assert!(event.event_type().starts_with(event.category()));
    let _ = (event.object_id(), event.request_id(), event.idempotency_key(), event.is_dashboard_test());

    let json = serde_json::to_vec(&event).expect("an event serializes");
    let again = Event::from_slice(&json)
        .unwrap_or_else(|e| panic!("a parsed event does not parse back: {e}\n{}", String::from_utf8_lossy(&json)));
    assert_eq!(again, event, "the round trip changed the event:\n{}", String::from_utf8_lossy(&json));

    let value: serde_json::Value = serde_json::from_slice(data).expect("an event is JSON");
    let from_value = Event::from_value(value).unwrap_or_else(|e| panic!("parsed from bytes, not from a Value: {e}"));
    assert_eq!(from_value, event, "from_value and from_slice disagree");
});
