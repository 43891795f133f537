#![allow(missing_docs)]
//! The engine against real databases: a SQLite file and the PostgreSQL server on 127.0.0.1:5432.
//!
//! The handlers below are registered with `#[webhook_handler]` like a user's would be. They react
//! to `customer.*` events through the object's metadata: `fail`, `panic`, `fail_once`, `sleep_ms`.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use diesel::prelude::*;
use djstripe_core::db::Outcome;
use djstripe_core::db::{Backend, NewWebhookEndpoint, TriggerFilter, ValidationMethod};
use djstripe_core::engine::{Engine, EngineConfig, LegacyEndpoint, Receipt, Target};
use djstripe_core::testing::{FakeStripe, TestDatabase};
use djstripe_core::{Error, Event, HandlerContext, HandlerError, HandlerResult, webhook_handler};
use serde_json::json;
use support::*;

diesel::table! {
    test_rows (id) {
        id -> BigInt,
        event_id -> Text,
        note -> Text,
    }
}

/// How many times the customer handler was entered, per event id.
static CALLS: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);
/// Event ids whose on_commit callback ran.
static COMMITTED: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// Event ids that fail the first time only (simulates a transient failure).
static FAIL_ONCE: Mutex<Option<HashSet<String>>> = Mutex::new(None);

fn calls(id: &str) -> usize {
    CALLS.lock().unwrap().as_ref().and_then(|m| m.get(id).copied()).unwrap_or(0)
}

/// How many times `id`'s on_commit callback ran, once `engine`'s queued callbacks have run.
fn committed(engine: &Engine, id: &str) -> usize {
    engine.flush_on_commit();
    COMMITTED.lock().unwrap().iter().filter(|e| *e == id).count()
}

fn fail_once(id: &str) {
    FAIL_ONCE.lock().unwrap().get_or_insert_with(HashSet::new).insert(id.to_owned());
}

#[webhook_handler("customer")]
fn record_customer(event: &Event, ctx: &mut HandlerContext) -> HandlerResult {
    *CALLS.lock().unwrap().get_or_insert_with(HashMap::new).entry(event.id.clone()).or_default() += 1;
    let metadata = &event.data.object["metadata"];
    if let Some(ms) = metadata["sleep_ms"].as_str() {
        std::thread::sleep(Duration::from_millis(ms.parse()?));
    }
    diesel::insert_into(test_rows::table)
        .values((test_rows::event_id.eq(&event.id), test_rows::note.eq(event.event_type())))
        .execute(ctx.connection()?)?;
    if metadata["fail"] == "yes" {
        return Err(HandlerError::msg("metadata.fail is yes"));
    }
    if metadata["panic"] == "yes" {
        panic!("metadata.panic is yes");
    }
    if FAIL_ONCE.lock().unwrap().get_or_insert_with(HashSet::new).remove(&event.id) {
        return Err(HandlerError::msg("transient failure"));
    }
    let id = event.id.clone();
    ctx.on_commit(move || COMMITTED.lock().unwrap().push(id));
    Ok(())
}

/// A handler with a nested diesel transaction of its own (a savepoint inside the event's):
/// `metadata.inner = "fail"` rolls the inner part back and goes on; `"panic"` panics inside it;
/// `metadata.outer = "fail"` fails the handler after its inner part committed.
#[webhook_handler("product.created")]
fn nested_transaction(event: &Event, ctx: &mut HandlerContext) -> HandlerResult {
    let metadata = &event.data.object["metadata"];
    let conn = ctx.connection()?;
    let _inner = conn.transaction::<_, diesel::result::Error, _>(|c| {
        diesel::insert_into(test_rows::table)
            .values((test_rows::event_id.eq(&event.id), test_rows::note.eq("inner")))
            .execute(c)?;
        if metadata["inner"] == "panic" {
            panic!("inside a nested transaction");
        }
        if metadata["inner"] == "fail" { Err(diesel::result::Error::RollbackTransaction) } else { Ok(()) }
    });
    diesel::insert_into(test_rows::table)
        .values((test_rows::event_id.eq(&event.id), test_rows::note.eq("outer")))
        .execute(conn)?;
    if metadata["outer"] == "fail" {
        return Err(HandlerError::msg("outer failure"));
    }
    Ok(())
}

/// A fresh, migrated database on `backend` with the handlers' own `test_rows` table.
fn database(backend: Backend, pool_size: u32) -> TestDatabase {
    let db = TestDatabase::builder(backend).pool_size(pool_size).build();
    db.execute(match backend {
        Backend::Sqlite => {
            "CREATE TABLE test_rows (id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, note TEXT NOT NULL)"
        }
        Backend::Postgres => {
            "CREATE TABLE test_rows (id BIGSERIAL PRIMARY KEY, event_id TEXT NOT NULL, note TEXT NOT NULL)"
        }
    });
    db
}

fn rows(db: &djstripe_core::db::Database, event_id: &str) -> i64 {
    let mut conn = db.get().unwrap();
    test_rows::table.filter(test_rows::event_id.eq(event_id)).count().get_result(&mut *conn).unwrap()
}

fn engine(db: &djstripe_core::db::Database) -> Engine {
    Engine::new(db.clone(), EngineConfig::default()).unwrap()
}

fn processed_once_then_duplicate(backend: Backend) {
    let db = database(backend, 4);
    let ep = endpoint(&db);
    let engine = engine(&db);
    let id = event_id();
    let body = event_body(&id, "customer.created", json!({}));
    let header = sign(SECRET, &body);

    let first = engine.receive(&delivery(&ep.djstripe_uuid, &body, Some(&header))).unwrap();
    assert!(matches!(first, Receipt { outcome: Outcome::Processed, handlers: 1, .. }), "{first:?}");
    let second = engine.receive(&delivery(&ep.djstripe_uuid, &body, Some(&header))).unwrap();
    assert!(matches!(second, Receipt { outcome: Outcome::Duplicate, .. }), "{second:?}");

    assert_eq!(calls(&id), 1, "handlers are not called for a duplicate");
    assert_eq!(rows(&db, &id), 1);
    assert_eq!(committed(&engine, &id), 1);
    let stored = db.event(&id).unwrap();
    assert_eq!(stored.type_, "customer.created");
    assert_eq!(stored.request_id.as_deref(), Some("req_1"));
    assert_eq!(stored.idempotency_key.as_deref(), Some("ik_1"));
    assert_eq!(stored.to_event().unwrap().data.object["id"], "cus_123");
    let triggers = db.recent_triggers(10).unwrap();
    assert_eq!(triggers.len(), 2);
    assert!(triggers.iter().all(|t| t.valid && t.processed && t.event_id.as_deref() == Some(id.as_str())));
    assert_eq!(triggers[0].outcome.as_str(), "duplicate");
    assert_eq!(triggers[1].outcome.as_str(), "processed");
    assert_eq!(triggers[1].body, body, "a valid delivery keeps its raw body");
    assert_eq!(triggers[1].webhook_endpoint_id, Some(ep.id));
}

fn handler_error_rolls_back_and_retry_processes(backend: Backend) {
    let db = database(backend, 4);
    let ep = endpoint(&db);
    let engine = engine(&db);
    let id = event_id();
    fail_once(&id);
    let body = event_body(&id, "customer.updated", json!({}));

    let failed = engine.receive(&delivery(&ep.djstripe_uuid, &body, Some(&sign(SECRET, &body)))).unwrap();
    let Receipt { outcome: Outcome::Failed, error: Some(Error::Handler { handler, message, .. }), trigger_id, .. } =
        &failed
    else {
        panic!("expected a handler failure, got {failed:?}")
    };
    assert!(handler.ends_with("record_customer"), "{handler}");
    assert_eq!(message, "transient failure");
    assert_eq!(rows(&db, &id), 0, "the handler's write is rolled back");
    assert!(matches!(db.event(&id), Err(Error::NotFound { .. })), "the event row is rolled back");
    assert_eq!(committed(&engine, &id), 0, "on_commit never runs after a rollback");
    let trigger = db.trigger(*trigger_id).unwrap();
    assert!(trigger.valid && !trigger.processed);
    assert_eq!(trigger.outcome.as_str(), "failed");
    assert!(trigger.exception.contains("transient failure"), "{}", trigger.exception);
    assert!(trigger.traceback.contains("record_customer"), "{}", trigger.traceback);

    // Stripe retries the same delivery: now it is processed.
    let retried = engine.receive(&delivery(&ep.djstripe_uuid, &body, Some(&sign(SECRET, &body)))).unwrap();
    assert!(matches!(retried, Receipt { outcome: Outcome::Processed, .. }), "{retried:?}");
    assert_eq!(rows(&db, &id), 1);
    assert_eq!(committed(&engine, &id), 1);
    assert_eq!(calls(&id), 2);
}

fn handler_panic_rolls_back(backend: Backend) {
    let db = database(backend, 4);
    let ep = endpoint(&db);
    let engine = engine(&db);
    let id = event_id();
    let body = event_body(&id, "customer.deleted", json!({"panic": "yes"}));
    let outcome = engine.receive(&delivery(&ep.djstripe_uuid, &body, Some(&sign(SECRET, &body)))).unwrap();
    let Receipt { outcome: Outcome::Failed, error: Some(Error::Handler { message, handler, .. }), .. } = &outcome
    else {
        panic!("expected a handler failure, got {outcome:?}")
    };
    assert!(handler.ends_with("record_customer"));
    assert!(message.contains("panicked") && message.contains("metadata.panic is yes"), "{message}");
    assert_eq!(rows(&db, &id), 0);
    assert_eq!(committed(&engine, &id), 0);
    assert_eq!(db.counts().unwrap(), (1, 0));
}

/// Many threads deliver the same events at the same moment: each event's handler commits once.
fn concurrent_duplicates_processed_once(backend: Backend) {
    let db = database(backend, 8);
    let ep = endpoint(&db);
    let engine = engine(&db);
    const EVENTS: usize = 12;
    const COPIES: usize = 8;
    let ids: Vec<String> = (0..EVENTS).map(|_| event_id()).collect();
    let bodies: Vec<Vec<u8>> =
        ids.iter().map(|id| event_body(id, "customer.subscription.updated", json!({"sleep_ms": "5"}))).collect();
    let barrier = Arc::new(Barrier::new(COPIES));
    let outcomes: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..COPIES)
            .map(|_| {
                let (engine, barrier, bodies, uuid) = (engine.clone(), barrier.clone(), &bodies, &ep.djstripe_uuid);
                s.spawn(move || {
                    let mut labels = Vec::new();
                    for body in bodies {
                        barrier.wait();
                        let header = sign(SECRET, body);
                        labels.push(
                            engine.receive(&delivery(uuid, body, Some(&header))).unwrap().outcome.as_str().to_owned(),
                        );
                    }
                    labels
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(outcomes.iter().filter(|l| *l == "processed").count(), EVENTS);
    assert_eq!(outcomes.iter().filter(|l| *l == "duplicate").count(), EVENTS * (COPIES - 1));
    for id in &ids {
        assert_eq!(calls(id), 1, "{id}: handler entered exactly once");
        assert_eq!(rows(&db, id), 1, "{id}: one committed handler row");
        assert_eq!(committed(&engine, id), 1);
    }
    assert_eq!(db.counts().unwrap(), ((EVENTS * COPIES) as i64, EVENTS as i64));
}

/// Concurrent copies of an event whose first processing fails: another copy processes it.
fn concurrent_duplicates_after_a_rollback(backend: Backend) {
    let db = database(backend, 8);
    let ep = endpoint(&db);
    let engine = engine(&db);
    const COPIES: usize = 6;
    let id = event_id();
    fail_once(&id);
    let body = event_body(&id, "customer.subscription.created", json!({"sleep_ms": "20"}));
    let barrier = Barrier::new(COPIES);
    let labels: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..COPIES)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let header = sign(SECRET, &body);
                    engine
                        .receive(&delivery(&ep.djstripe_uuid, &body, Some(&header)))
                        .unwrap()
                        .outcome
                        .as_str()
                        .to_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let count = |l: &str| labels.iter().filter(|x| *x == l).count();
    assert_eq!(count("failed"), 1, "{labels:?}");
    assert_eq!(count("processed"), 1, "{labels:?}");
    assert_eq!(count("duplicate"), COPIES - 2, "{labels:?}");
    assert_eq!(calls(&id), 2, "entered once to fail and once to succeed");
    assert_eq!(rows(&db, &id), 1);
    assert_eq!(committed(&engine, &id), 1);
}

/// Several app instances (each its own pool, as separate processes would have) share one database
/// and receive the same events at once: still exactly once. On SQLite this exercises the file
/// lock and busy timeout instead of the in-process writer queue.
fn concurrent_duplicates_across_instances(backend: Backend) {
    let db = database(backend, 2);
    let ep = endpoint(&db);
    const INSTANCES: usize = 4;
    const EVENTS: usize = 8;
    let engines: Vec<Engine> = (0..INSTANCES)
        .map(|_| {
            let own = djstripe_core::db::Database::connect_with(db.url(), Default::default()).unwrap();
            Engine::new(own, EngineConfig::default()).unwrap()
        })
        .collect();
    let ids: Vec<String> = (0..EVENTS).map(|_| event_id()).collect();
    let barrier = Barrier::new(INSTANCES);
    let labels: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = engines
            .iter()
            .map(|engine| {
                let (barrier, ids, uuid) = (&barrier, &ids, &ep.djstripe_uuid);
                s.spawn(move || {
                    let mut labels = Vec::new();
                    for id in ids {
                        let body = event_body(id, "customer.discount.created", json!({"sleep_ms": "3"}));
                        let header = sign(SECRET, &body);
                        barrier.wait();
                        labels.push(
                            engine.receive(&delivery(uuid, &body, Some(&header))).unwrap().outcome.as_str().to_owned(),
                        );
                    }
                    labels
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(labels.iter().filter(|l| *l == "processed").count(), EVENTS, "{labels:?}");
    assert_eq!(labels.iter().filter(|l| *l == "duplicate").count(), EVENTS * (INSTANCES - 1), "{labels:?}");
    for engine in &engines {
        engine.flush_on_commit();
    }
    for id in &ids {
        let on_commit = COMMITTED.lock().unwrap().iter().filter(|e| *e == id).count();
        assert_eq!((calls(id), rows(&db, id), on_commit), (1, 1, 1), "{id}");
    }
}

/// Concurrent deliveries share commits (group commit); a failing handler rolls back only its own
/// event, never its batch neighbours.
fn batched_failures_stay_isolated(backend: Backend) {
    let db = database(backend, 8);
    let ep = endpoint(&db);
    let engine = engine(&db);
    const THREADS: usize = 8;
    const PER_THREAD: usize = 12;
    let results: Vec<(String, bool, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (engine, uuid) = (&engine, &ep.djstripe_uuid);
                s.spawn(move || {
                    (0..PER_THREAD)
                        .map(|i| {
                            let id = event_id();
                            let fail = (t + i) % 4 == 0;
                            let metadata = if fail { json!({"fail": "yes"}) } else { json!({}) };
                            let body = event_body(&id, "customer.updated", metadata);
                            let header = sign(SECRET, &body);
                            let label = engine
                                .receive(&delivery(uuid, &body, Some(&header)))
                                .unwrap()
                                .outcome
                                .as_str()
                                .to_owned();
                            (id, fail, label)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    for (id, fail, label) in &results {
        let expected = if *fail { ("failed", 0, 0) } else { ("processed", 1, 1) };
        assert_eq!((label.as_str(), rows(&db, id), committed(&engine, id)), expected, "{id}");
    }
    let failing = results.iter().filter(|r| r.1).count() as i64;
    assert_eq!(db.counts().unwrap(), ((THREADS * PER_THREAD) as i64, (THREADS * PER_THREAD) as i64 - failing));
}

fn invalid_deliveries_leave_bounded_trigger_rows(backend: Backend) {
    let db = database(backend, 4);
    let ep = endpoint(&db);
    let engine = engine(&db);
    let id = event_id();
    let body = event_body(&id, "customer.created", json!({}));
    let uuid = ep.djstripe_uuid.as_str();

    let wrong = engine.receive(&delivery(uuid, &body, Some(&sign("whsec_wrong", &body)))).unwrap();
    assert!(
        matches!(wrong, Receipt { outcome: Outcome::Invalid, error: Some(Error::NoMatchingSignature), .. }),
        "{wrong:?}"
    );
    let missing = engine.receive(&delivery(uuid, &body, None)).unwrap();
    assert!(
        matches!(missing, Receipt { outcome: Outcome::Invalid, error: Some(Error::SignatureHeaderMissing), .. }),
        "{missing:?}"
    );
    let stale_t = chrono::Utc::now().timestamp() - 3600;
    let stale = format!("t={stale_t},v1={}", djstripe_core::signature::sign(SECRET, stale_t, &body));
    let stale = engine.receive(&delivery(uuid, &body, Some(&stale))).unwrap();
    assert!(
        matches!(
            stale,
            Receipt { outcome: Outcome::Invalid, error: Some(Error::TimestampOutsideTolerance { .. }), .. }
        ),
        "{stale:?}"
    );

    // Junk from an unauthenticated sender is stored bounded.
    let junk = vec![b'x'; 100_000];
    let junked = engine.receive(&delivery(uuid, &junk, Some("t=1,v1=00"))).unwrap();
    let trigger = db.trigger(junked.trigger_id).unwrap();
    assert!(!trigger.valid && !trigger.processed);
    assert_eq!(trigger.body.len(), 4096);
    assert!(trigger.body_truncated);
    assert!(!trigger.exception.is_empty());

    // A correctly signed body that is not an event: 400-class, and kept whole (it came from Stripe).
    let not_event = br#"{"hello":"world"}"#;
    let rejected = engine.receive(&delivery(uuid, not_event, Some(&sign(SECRET, not_event)))).unwrap();
    let Receipt { outcome: Outcome::Invalid, error: Some(Error::InvalidEvent { reason: why }), trigger_id, .. } =
        &rejected
    else {
        panic!("{rejected:?}")
    };
    assert!(why.contains("missing field"), "{why}");
    assert_eq!(db.trigger(*trigger_id).unwrap().body, not_event);

    // Unknown, malformed and disabled endpoints: 404, nothing recorded.
    let before = db.counts().unwrap();
    for target in ["0f4e8a4c-1111-4a4a-9b9b-000000000000", "not-a-uuid", "../../etc"] {
        let err = engine.receive(&delivery(target, &body, Some(&sign(SECRET, &body)))).unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    }
    db.set_endpoint_status(ep.id, "disabled").unwrap();
    let err = engine.receive(&delivery(uuid, &body, Some(&sign(SECRET, &body)))).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }));
    assert_eq!(db.counts().unwrap(), before);
    let legacy =
        engine.receive(&djstripe_core::engine::Delivery { target: Target::Legacy, ..delivery(uuid, &body, None) });
    assert!(matches!(legacy, Err(Error::NotFound { .. })), "the legacy endpoint is off unless configured");

    // An endpoint whose secret is unknown (e.g. synced from Stripe): 400 with a row saying why.
    let no_secret = db.insert_endpoint(&NewWebhookEndpoint::local("")).unwrap();
    let outcome = engine.receive(&delivery(&no_secret.djstripe_uuid, &body, Some(&sign(SECRET, &body)))).unwrap();
    assert!(matches!(outcome, Receipt { outcome: Outcome::Invalid, error: Some(Error::NoSecret), .. }));
    assert!(db.trigger(outcome.trigger_id).unwrap().exception.contains("no signing secret"));
    assert_eq!(calls(&id), 0);
    assert_eq!(db.triggers(&TriggerFilter { valid: Some(false), ..Default::default() }, 0, 100).unwrap().len(), 6);
}

fn dashboard_test_event_is_discarded(backend: Backend) {
    let db = database(backend, 2);
    let ep = endpoint(&db);
    let body = event_body("evt_00000000000000", "customer.created", json!({}));
    let outcome = engine(&db).receive(&delivery(&ep.djstripe_uuid, &body, Some(&sign(SECRET, &body)))).unwrap();
    assert!(matches!(outcome, Receipt { outcome: Outcome::TestEvent, .. }), "{outcome:?}");
    assert_eq!(calls("evt_00000000000000"), 0);
    assert_eq!(db.counts().unwrap(), (1, 0));
    assert_eq!(db.trigger(outcome.trigger_id).unwrap().outcome.as_str(), "test_event");
}

fn event_callback_queues_then_processes(backend: Backend) {
    let db = database(backend, 2);
    let ep = endpoint(&db);
    let queued = Arc::new(Mutex::new(Vec::new()));
    let sink = queued.clone();
    let config = EngineConfig {
        event_callback: Some(Arc::new(move |trigger_id, event: &Event| {
            sink.lock().unwrap().push((trigger_id, event.id.clone()));
            Ok(())
        })),
        ..Default::default()
    };
    let engine = Engine::new(db.clone(), config).unwrap();
    let id = event_id();
    let body = event_body(&id, "customer.created", json!({}));
    let outcome = engine.receive(&delivery(&ep.djstripe_uuid, &body, Some(&sign(SECRET, &body)))).unwrap();
    assert!(matches!(outcome, Receipt { outcome: Outcome::Queued, .. }), "{outcome:?}");
    assert_eq!(calls(&id), 0, "the callback takes over: no inline processing");
    assert_eq!(*queued.lock().unwrap(), vec![(outcome.trigger_id, id.clone())]);

    // The user's worker processes it later, in place.
    let processed = engine.process_trigger(outcome.trigger_id).unwrap();
    assert!(matches!(processed, Receipt { outcome: Outcome::Processed, .. }), "{processed:?}");
    assert_eq!(processed.trigger_id, outcome.trigger_id);
    assert_eq!((calls(&id), rows(&db, &id)), (1, 1));
    assert!(db.trigger(outcome.trigger_id).unwrap().processed);
    assert!(engine.process_trigger(outcome.trigger_id).is_err(), "a processed trigger is not processed again");
    assert_eq!(calls(&id), 1);
}

fn reprocess_failed_and_replay(backend: Backend) {
    let db = database(backend, 2);
    let ep = endpoint(&db);
    let engine = engine(&db);
    let id = event_id();
    fail_once(&id);
    let body = event_body(&id, "customer.source.created", json!({}));
    let failed = engine.receive(&delivery(&ep.djstripe_uuid, &body, Some(&sign(SECRET, &body)))).unwrap();
    assert_eq!(failed.outcome.as_str(), "failed");

    let outcomes = engine.reprocess_failed().unwrap();
    assert_eq!(outcomes.len(), 1);
    assert!(matches!(outcomes[0], Receipt { outcome: Outcome::Processed, .. }), "{:?}", outcomes[0]);
    let attempt = db.trigger(outcomes[0].trigger_id).unwrap();
    assert_eq!(attempt.reprocess_of, Some(failed.trigger_id));
    assert_eq!(db.trigger(failed.trigger_id).unwrap().outcome.as_str(), "reprocessed");
    assert!(engine.reprocess_failed().unwrap().is_empty(), "nothing left to reprocess");
    assert_eq!((rows(&db, &id), committed(&engine, &id)), (1, 1));

    // A deliberate replay runs the handlers of a stored event again.
    let replayed = engine.replay_event(&id).unwrap();
    assert!(matches!(replayed, Receipt { outcome: Outcome::Replayed, handlers: 1, .. }), "{replayed:?}");
    assert_eq!((rows(&db, &id), committed(&engine, &id), calls(&id)), (2, 2, 3));
    assert_eq!(db.event(&id).unwrap().times_processed, 2);
    assert!(matches!(engine.replay_event("evt_unknown"), Err(Error::NotFound { .. })));
}

fn legacy_endpoint_and_rotation(backend: Backend) {
    let db = database(backend, 2);
    let config = EngineConfig { legacy: Some(LegacyEndpoint::new(["whsec_new", "whsec_old"])), ..Default::default() };
    let engine = Engine::new(db.clone(), config).unwrap();
    for secret in ["whsec_new", "whsec_old"] {
        let id = event_id();
        let body = event_body(&id, "customer.created", json!({}));
        let header = sign(secret, &body);
        let d = djstripe_core::engine::Delivery { target: Target::Legacy, ..delivery("", &body, Some(&header)) };
        assert_eq!(engine.receive(&d).unwrap().outcome.as_str(), "processed", "{secret} verifies");
    }
    // An endpoint's previous secret verifies until it expires.
    let ep = endpoint(&db);
    let now = chrono::Utc::now().timestamp();
    let old = djstripe_core::db::PreviousSecret { secret: SECRET.into(), expires: now + 3600 };
    db.set_endpoint_secrets(ep.id, "whsec_rotated", &[old]).unwrap();
    for (secret, expected) in [(SECRET, "processed"), ("whsec_rotated", "processed")] {
        let body = event_body(&event_id(), "customer.created", json!({}));
        assert_eq!(
            engine.receive(&delivery(&ep.djstripe_uuid, &body, Some(&sign(secret, &body)))).unwrap().outcome.as_str(),
            expected
        );
    }
    let expired = djstripe_core::db::PreviousSecret { secret: SECRET.into(), expires: now - 1 };
    db.set_endpoint_secrets(ep.id, "whsec_rotated", &[expired]).unwrap();
    let body = event_body(&event_id(), "customer.created", json!({}));
    assert_eq!(
        engine.receive(&delivery(&ep.djstripe_uuid, &body, Some(&sign(SECRET, &body)))).unwrap().outcome.as_str(),
        "invalid"
    );
}

fn validation_none_and_retrieve_event(backend: Backend) {
    // Five engines on one database, each writer keeping a connection.
    let db = database(backend, 12);
    // `none`: accepted without a signature (only when asked for).
    let mut open = NewWebhookEndpoint::local("");
    open.validation_method = ValidationMethod::None.as_str().into();
    let open = db.insert_endpoint(&open).unwrap();
    let id = event_id();
    let body = event_body(&id, "customer.created", json!({}));
    assert_eq!(engine(&db).receive(&delivery(&open.djstripe_uuid, &body, None)).unwrap().outcome.as_str(), "processed");

    // `retrieve_event`: the copy fetched from Stripe's API is what the handlers see.
    let real_id = event_id();
    let authoritative = event_body(&real_id, "customer.updated", json!({"source": "api"}));
    let stripe = FakeStripe::start();
    stripe.add_event(serde_json::from_slice::<serde_json::Value>(&authoritative).unwrap());
    let config = EngineConfig {
        stripe: Some(
            djstripe_core::stripe_api::StripeClient::new(stripe.base_url())
                .test_key(FakeStripe::TEST_KEY)
                .max_retries(0),
        ),
        ..Default::default()
    };
    let engine = Engine::new(db.clone(), config).unwrap();
    let mut fetched = NewWebhookEndpoint::local("");
    fetched.validation_method = ValidationMethod::RetrieveEvent.as_str().into();
    let fetched = db.insert_endpoint(&fetched).unwrap();
    let forged = event_body(&real_id, "customer.updated", json!({"source": "forged", "fail": "yes"}));
    let outcome = engine.receive(&delivery(&fetched.djstripe_uuid, &forged, None)).unwrap();
    assert_eq!(outcome.outcome.as_str(), "processed", "{outcome:?}");
    let stored = db.event(&real_id).unwrap().to_event().unwrap();
    assert_eq!(stored.data.object["metadata"]["source"], "api");
    let seen = stripe.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, format!("/v1/events/{real_id}"));
    assert!(seen[0].header("stripe-version").is_some());

    let missing = event_body("evt_missing", "customer.updated", json!({}));
    let outcome = engine.receive(&delivery(&fetched.djstripe_uuid, &missing, None)).unwrap();
    let Receipt { outcome: Outcome::Invalid, error: Some(error), .. } = &outcome else { panic!("{outcome:?}") };
    assert!(error.to_string().contains("Stripe has no event `evt_missing`"), "{error}");
    assert_eq!(outcome.http_status(), 400, "a forged event is the sender's fault");

    // Stripe refuses our key: an error of ours (500, Stripe retries), whose text (Stripe's
    // message, a part of the key) never reaches the unauthenticated sender.
    let config = EngineConfig {
        stripe: Some(
            djstripe_core::stripe_api::StripeClient::new(stripe.base_url())
                .test_key("sk_test_wrong1234")
                .max_retries(0),
        ),
        ..Default::default()
    };
    let engine = Engine::new(db.clone(), config).unwrap();
    let forged = event_body(&event_id(), "customer.updated", json!({}));
    let receipt = engine.receive(&delivery(&fetched.djstripe_uuid, &forged, None)).unwrap();
    let answer = djstripe_core::app::WebhookAnswer::from_receipt(&receipt);
    assert_eq!(answer.status, 500, "{answer:?}");
    let shown = answer.body.to_string();
    assert!(!shown.contains("sk_") && !shown.contains("API Key"), "no internal text: {shown}");
    assert!(shown.contains("internal error"), "{shown}");
    // ... and the error, for the operator, names the key's setting.
    let error = receipt.error.as_ref().expect("the refusal").to_string();
    assert!(error.contains("refused the API key in STRIPE_TEST_SECRET_KEY"), "{error}");

    // Stripe rate limiting, failing or unreachable is no fault of the delivery nor a bug: 503,
    // so that Stripe delivers it again later (issue 16: every Stripe error was a 500).
    let engine = retrieving(&db, stripe.base_url());
    for status in [429, 500, 503] {
        stripe.fail_next(status, r#"{"error":{"message":"stripe-said-so"}}"#);
        let all = djstripe_core::db::TriggerFilter::default();
        let before = db.triggers(&all, 0, 10_000).unwrap().len();
        let answer = receive_answer(&engine, &fetched.djstripe_uuid);
        assert_eq!(answer.status, 503, "Stripe answered {status}: {answer:?}");
        assert_eq!(answer.retry_after, Some(5));
        assert!(!answer.body.to_string().contains("stripe-said-so"), "{answer:?}");
        assert!(!answer.body.to_string().contains("database"), "not the database's fault: {answer:?}");
        assert_eq!(db.triggers(&all, 0, 10_000).unwrap().len(), before + 1, "recorded, as every delivery is");
    }
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let unreachable = retrieving(&db, &format!("http://{closed}"));
    assert_eq!(receive_answer(&unreachable, &fetched.djstripe_uuid).status, 503, "Stripe unreachable");
}

/// An engine validating `retrieve_event` endpoints against the Stripe API at `base`, no retries.
fn retrieving(db: &djstripe_core::db::Database, base: &str) -> Engine {
    let client = djstripe_core::stripe_api::StripeClient::new(base).test_key(FakeStripe::TEST_KEY).max_retries(0);
    Engine::new(db.clone(), EngineConfig { stripe: Some(client), ..Default::default() }).unwrap()
}

/// The answer to a delivery of a fresh event to the endpoint `uuid`.
fn receive_answer(engine: &Engine, uuid: &str) -> djstripe_core::app::WebhookAnswer {
    let body = event_body(&event_id(), "customer.updated", json!({}));
    match engine.receive(&delivery(uuid, &body, None)) {
        Ok(receipt) => djstripe_core::app::WebhookAnswer::from_receipt(&receipt),
        Err(error) => djstripe_core::app::WebhookAnswer::from_error(&error),
    }
}

/// One batch holding every case at once (the single writer is held by a slow handler while the
/// rest queue behind it): three deliveries of one event whose first attempt fails — the first
/// fails and rolls back, the second processes it, the third is a duplicate — a failing event, a
/// fresh one, a re-delivery of an event stored earlier, and a delivery with a bad signature.
fn one_batch_mixes_every_case(backend: Backend) {
    let db = database(backend, 8);
    let ep = endpoint(&db);
    let engine = Engine::new(db.clone(), EngineConfig { writers: Some(1), ..Default::default() }).unwrap();
    let uuid = ep.djstripe_uuid.as_str();
    let send =
        |body: &[u8], header: Option<&str>| engine.submit(engine.prepare(&delivery(uuid, body, header)).unwrap());
    let signed = |body: &[u8]| send(body, Some(&sign(SECRET, body)));

    let stored = event_id();
    let stored_body = event_body(&stored, "customer.created", json!({}));
    assert_eq!(signed(&stored_body).wait().unwrap().outcome.as_str(), "processed");

    let slow = event_body(&event_id(), "customer.created", json!({"sleep_ms": "300"}));
    let holding = signed(&slow);
    std::thread::sleep(Duration::from_millis(60));
    let (retried, failing, fresh_id) = (event_id(), event_id(), event_id());
    fail_once(&retried);
    let retried_body = event_body(&retried, "customer.updated", json!({}));
    let queued = vec![
        signed(&retried_body),
        signed(&retried_body),
        signed(&retried_body),
        signed(&event_body(&failing, "customer.updated", json!({"fail": "yes"}))),
        signed(&event_body(&fresh_id, "customer.created", json!({}))),
        signed(&stored_body),
        send(&stored_body, Some(&sign("whsec_wrong", &stored_body))),
    ];
    assert_eq!(holding.wait().unwrap().outcome.as_str(), "processed");
    let labels: Vec<String> = queued.into_iter().map(|p| p.wait().unwrap().outcome.as_str().to_owned()).collect();
    assert_eq!(labels, ["failed", "processed", "duplicate", "failed", "processed", "duplicate", "invalid"]);

    assert_eq!(calls(&retried), 2, "entered once to fail, once to succeed");
    assert_eq!((rows(&db, &retried), committed(&engine, &retried)), (1, 1));
    assert_eq!((rows(&db, &failing), committed(&engine, &failing)), (0, 0), "the failure rolled back alone");
    assert!(db.event(&failing).is_err(), "a failed event is not stored: Stripe's retry processes it");
    assert_eq!((rows(&db, &fresh_id), committed(&engine, &fresh_id)), (1, 1));
    assert_eq!((calls(&stored), rows(&db, &stored)), (1, 1), "a re-delivery runs nothing");
    let triggers = db.recent_triggers(7).unwrap();
    // Trigger rows are written in the batch's event-id order: compare them sorted.
    let mut outcomes: Vec<&str> = triggers.iter().map(|t| t.outcome.as_str()).collect();
    outcomes.sort_unstable();
    assert_eq!(outcomes, ["duplicate", "duplicate", "failed", "failed", "invalid", "processed", "processed"]);
    let failed_row = triggers.iter().find(|t| t.event_id.as_deref() == Some(failing.as_str())).unwrap();
    assert!(failed_row.exception.contains("metadata.fail is yes") && !failed_row.processed, "{failed_row:?}");
}

/// Handlers' own nested transactions inside one batch: an inner rollback keeps the rest of the
/// handler, an outer failure rolls back the inner part that committed, a panic inside the inner
/// one fails only its event, and the events after it in the same batch are unaffected.
fn nested_transactions_in_one_batch(backend: Backend) {
    let db = database(backend, 8);
    let ep = endpoint(&db);
    let engine = Engine::new(db.clone(), EngineConfig { writers: Some(1), ..Default::default() }).unwrap();
    let uuid = ep.djstripe_uuid.as_str();
    let signed = |body: &[u8]| {
        let header = sign(SECRET, body);
        engine.submit(engine.prepare(&delivery(uuid, body, Some(&header))).unwrap())
    };
    let holding = signed(&event_body(&event_id(), "customer.created", json!({"sleep_ms": "300"})));
    std::thread::sleep(Duration::from_millis(60));
    let cases = [
        json!({}),
        json!({"inner": "fail"}),
        json!({"outer": "fail"}),
        json!({"inner": "panic"}),
        json!({"inner": "fail", "outer": "fail"}),
        json!({}),
    ];
    let ids: Vec<String> = cases.iter().map(|_| event_id()).collect();
    let queued: Vec<_> = ids
        .iter()
        .zip(&cases)
        .map(|(id, metadata)| signed(&event_body(id, "product.created", metadata.clone())))
        .collect();
    assert_eq!(holding.wait().unwrap().outcome.as_str(), "processed");
    let labels: Vec<String> = queued.into_iter().map(|p| p.wait().unwrap().outcome.as_str().to_owned()).collect();
    assert_eq!(labels, ["processed", "processed", "failed", "failed", "failed", "processed"]);
    let found: Vec<i64> = ids.iter().map(|id| rows(&db, id)).collect();
    assert_eq!(found, [2, 1, 0, 0, 0, 2], "inner + outer rows, outer only, nothing (x3), both");
    assert!(db.event(&ids[2]).is_err() && db.event(&ids[3]).is_err() && db.event(&ids[5]).is_ok());
    // The writer's connection is still sound: the next batch commits.
    let after = event_id();
    assert_eq!(signed(&event_body(&after, "product.created", json!({}))).wait().unwrap().outcome.as_str(), "processed");
    assert_eq!(rows(&db, &after), 2);
}

both_backends!(
    processed_once_then_duplicate,
    handler_error_rolls_back_and_retry_processes,
    handler_panic_rolls_back,
    concurrent_duplicates_processed_once,
    concurrent_duplicates_after_a_rollback,
    concurrent_duplicates_across_instances,
    batched_failures_stay_isolated,
    invalid_deliveries_leave_bounded_trigger_rows,
    dashboard_test_event_is_discarded,
    event_callback_queues_then_processes,
    reprocess_failed_and_replay,
    legacy_endpoint_and_rotation,
    validation_none_and_retrieve_event,
    one_batch_mixes_every_case,
    nested_transactions_in_one_batch,
);

#[cfg(feature = "postgres")]
#[test]
fn postgres_down_is_unavailable_and_writes_nothing() {
    let db = djstripe_core::db::Database::connect_with(
        "postgres://postgres@127.0.0.1:1/none",
        djstripe_core::db::DatabaseOptions { connect_timeout: Duration::from_millis(500), ..Default::default() },
    )
    .unwrap();
    let engine = Engine::new(db.clone(), EngineConfig::default()).unwrap();
    let body = event_body(&event_id(), "customer.created", json!({}));
    let err = engine.receive(&delivery("0f4e8a4c-1111-4a4a-9b9b-000000000000", &body, None)).unwrap_err();
    assert!(matches!(err, Error::DatabaseUnavailable { .. }), "{err:?}");
    assert_eq!(err.http_status(), 503);
}

#[cfg(feature = "sqlite")]
#[test]
fn sqlite_locked_is_unavailable_and_writes_nothing() {
    use diesel::connection::SimpleConnection;
    let options = djstripe_core::db::DatabaseOptions { busy_timeout: Duration::from_millis(200), ..Default::default() };
    let db = TestDatabase::builder(Backend::Sqlite).options(options).build();
    db.execute("CREATE TABLE test_rows (id INTEGER PRIMARY KEY, event_id TEXT NOT NULL, note TEXT NOT NULL)");
    let ep = endpoint(&db);
    let engine = engine(&db);
    // Another process holds the write lock.
    let mut other = diesel::SqliteConnection::establish(db.sqlite_path().unwrap().to_str().unwrap()).unwrap();
    other.batch_execute("BEGIN EXCLUSIVE").unwrap();
    let id = event_id();
    let body = event_body(&id, "customer.created", json!({}));
    let err = engine.receive(&delivery(&ep.djstripe_uuid, &body, Some(&sign(SECRET, &body)))).unwrap_err();
    assert!(matches!(err, Error::DatabaseUnavailable { .. }), "{err:?}");
    other.batch_execute("ROLLBACK").unwrap();
    assert_eq!(db.counts().unwrap(), (0, 0), "nothing half-written");
    assert_eq!(calls(&id), 0);
    // Once the lock is gone the retry succeeds.
    let outcome = engine.receive(&delivery(&ep.djstripe_uuid, &body, Some(&sign(SECRET, &body)))).unwrap();
    assert_eq!(outcome.outcome.as_str(), "processed", "{outcome:?}");
}
