//! Shared test support: signed deliveries for the engine, one test per backend. Databases and
//! the fake Stripe API are `djstripe_core::testing`'s `TestDatabase` and `FakeStripe`.
#![allow(dead_code, missing_docs)]

#[cfg(feature = "postgres")]
pub mod private_postgres;

use std::sync::atomic::{AtomicUsize, Ordering};

use djstripe_core::db::{Database, NewWebhookEndpoint, WebhookEndpoint};
use djstripe_core::engine::{Delivery, Target};
use serde_json::{Value, json};

/// Generates one `#[test]` per backend compiled in from `fn name(backend: Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        #[cfg(feature = "sqlite")]
        mod sqlite { $( #[test] fn $name() { super::$name(djstripe_core::db::Backend::Sqlite) } )* }
        #[cfg(feature = "postgres")]
        mod postgres { $( #[test] fn $name() { super::$name(djstripe_core::db::Backend::Postgres) } )* }
    };
}

pub const SECRET: &str = "whsec_test_engine";

/// An endpoint with [`SECRET`].
pub fn endpoint(db: &Database) -> WebhookEndpoint {
    db.insert_endpoint(&NewWebhookEndpoint::local(SECRET)).unwrap()
}

static EVENTS: AtomicUsize = AtomicUsize::new(0);

/// A fresh unique event id.
pub fn event_id() -> String {
    format!("evt_t{}_{}", std::process::id(), EVENTS.fetch_add(1, Ordering::SeqCst))
}

/// A Stripe-shaped event body of `type_` whose object has `metadata`.
pub fn event_body(id: &str, type_: &str, metadata: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id, "object": "event", "type": type_, "api_version": "2026-07-29.dahlia",
        "created": chrono::Utc::now().timestamp(), "livemode": false, "pending_webhooks": 1,
        "request": {"id": "req_1", "idempotency_key": "ik_1"},
        "data": {"object": {"id": "cus_123", "object": "customer", "metadata": metadata}}
    }))
    .unwrap()
}

/// A `Stripe-Signature` header for `body` signed now with `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    djstripe_core::testing::header_now(secret, body)
}

/// A delivery to `endpoint`'s uuid.
pub fn delivery<'a>(uuid: &'a str, body: &'a [u8], header: Option<&'a str>) -> Delivery<'a> {
    Delivery {
        target: Target::Endpoint(uuid),
        body,
        signature: header.map(str::as_bytes),
        headers: r#"{"content-type":"application/json"}"#.into(),
        remote_ip: "127.0.0.1".into(),
    }
}
