//! Shared test support: throwaway databases on both backends, signed deliveries, a fake Stripe.
#![allow(dead_code, missing_docs)]

pub mod fake_stripe;
pub mod stripe_endpoints;

use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use djstripe_core::db::{Backend, Database, DatabaseOptions, NewWebhookEndpoint, WebhookEndpoint};
use djstripe_core::engine::{Delivery, Target};
use serde_json::{Value, json};

/// The PostgreSQL server of this machine (override with DJSTRIPE_TEST_PG).
pub fn pg_server() -> String {
    std::env::var("DJSTRIPE_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A database that is dropped (PostgreSQL) or deleted (SQLite) with the guard.
pub struct TestDb {
    pub db: Database,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl std::ops::Deref for TestDb {
    type Target = Database;
    fn deref(&self) -> &Database {
        &self.db
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name
            && let Ok(mut admin) = PgConnection::establish(&format!("{}/postgres", pg_server()))
        {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh, migrated database on `backend`, with the tests' own `test_rows` table.
/// PostgreSQL must be running: a missing server fails the test (never skipped).
pub fn fresh(backend: Backend, pool_size: u32) -> TestDb {
    let options = DatabaseOptions { pool_size, ..Default::default() };
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let test = fresh_inner(backend, n, options);
    test.db.migrate().expect("migrations apply");
    let mut conn = test.db.get().unwrap();
    let ddl = match backend {
        Backend::Sqlite => {
            "CREATE TABLE test_rows (id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, note TEXT NOT NULL)"
        }
        Backend::Postgres => {
            "CREATE TABLE test_rows (id BIGSERIAL PRIMARY KEY, event_id TEXT NOT NULL, note TEXT NOT NULL)"
        }
    };
    conn.batch_execute(ddl).unwrap();
    drop(conn);
    test
}

fn fresh_inner(backend: Backend, n: usize, options: DatabaseOptions) -> TestDb {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("test.sqlite3").display());
            TestDb { db: Database::connect_with(&url, options).unwrap(), url, _dir: Some(dir), pg_name: None }
        }
        Backend::Postgres => {
            let name = format!("djstripe_test_{}_{}_{n}", std::process::id(), chrono::Utc::now().timestamp_micros());
            let mut admin = PgConnection::establish(&format!("{}/postgres", pg_server()))
                .expect("the PostgreSQL server on 127.0.0.1:5432 must be running for these tests");
            admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
            let url = format!("{}/{name}", pg_server());
            TestDb { db: Database::connect_with(&url, options).unwrap(), url, _dir: None, pg_name: Some(name) }
        }
    }
}

/// Generates one `#[test]` per backend from `fn name(backend: Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[test] fn $name() { super::$name(djstripe_core::db::Backend::Sqlite) } )* }
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
    let t = chrono::Utc::now().timestamp();
    format!("t={t},v1={}", djstripe_core::signature::sign(secret, t, body))
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
