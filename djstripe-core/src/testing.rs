//! Helpers for testing handlers: signed headers and complete events (filled in by signature work).

use crate::Event;

/// A complete Stripe event of type `event_type` whose `data.object` is Stripe's example object.
pub fn event(event_type: &str) -> Event {
    Event::from_value(serde_json::json!({
        "id": "evt_test", "object": "event", "type": event_type, "created": 1, "livemode": false,
        "data": {"object": {"id": "cus_test"}}
    }))
    .expect("valid")
}
