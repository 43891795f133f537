#![allow(missing_docs)]
//! One event the database cannot store must not fail the batch it shares with good ones (issue
//! 14, "Faults and hostile traffic"): it is answered 400 with a trigger row of its own, the rest
//! of its batch commits as if it were alone, and a real outage is still 503.
//!
//! Every test submits all its deliveries before waiting for any, so the writers put them into
//! the same batches.

mod support;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use djstripe_core::db::{Backend, Outcome};
use djstripe_core::engine::{Engine, EngineConfig, Pending, Receipt};
use djstripe_core::testing::{EventBuilder, SignedEvent, TestDatabase};
use djstripe_core::{Error, Event, HandlerContext, HandlerError, HandlerResult, webhook_handler};
use support::*;

/// How many times the handler below ran and committed, per event id (counted in `on_commit`,
/// so a batch that rolled back counts nothing).
static PROCESSED: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);
/// Set by the handler when `metadata.hold` asks it to wait: the outage test then cuts the
/// connections while the batch is open.
static HOLDING: AtomicBool = AtomicBool::new(false);

fn processed(id: &str) -> usize {
    PROCESSED.lock().unwrap().as_ref().and_then(|m| m.get(id).copied()).unwrap_or(0)
}

/// Counts committed runs; `metadata.hold` = milliseconds to wait inside the batch's transaction;
/// `metadata.break` = "yes" runs a statement that fails and ignores the error (on PostgreSQL the
/// event's transaction is then aborted: the handler broke it, the event's content is fine).
#[webhook_handler("customer")]
fn count_customer(event: &Event, ctx: &mut HandlerContext) -> HandlerResult {
    let metadata = &event.data.object["metadata"];
    if let Some(ms) = metadata["hold"].as_str() {
        HOLDING.store(true, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(ms.parse()?));
    }
    if metadata["break"] == "yes" {
        use diesel::RunQueryDsl;
        let _ignored = diesel::sql_query("SELECT 1 / 0").execute(ctx.connection()?);
    }
    if metadata["fail"] == "yes" {
        return Err(HandlerError::msg("metadata.fail is yes"));
    }
    let id = event.id.clone();
    ctx.on_commit(move || *PROCESSED.lock().unwrap().get_or_insert_with(HashMap::new).entry(id).or_default() += 1);
    Ok(())
}

fn database(backend: Backend) -> TestDatabase {
    TestDatabase::builder(backend).pool_size(8).build()
}

/// Prepares and submits every delivery first, then waits for each: they share batches.
fn submit_all(engine: &Engine, uuid: &str, signed: &[SignedEvent]) -> Vec<Result<Receipt, Error>> {
    let pending: Vec<Pending> = signed
        .iter()
        .map(|s| engine.submit(engine.prepare(&delivery(uuid, &s.body, Some(&s.header))).unwrap()))
        .collect();
    let results = pending.into_iter().map(Pending::wait).collect();
    engine.flush_on_commit();
    results
}

fn good(n: usize) -> Vec<SignedEvent> {
    (0..n).map(|_| EventBuilder::new("customer.created").signed(SECRET)).collect()
}

/// `good` with `poison` spread evenly among them; returns the deliveries and which are poison.
fn interleave(
    good: Vec<SignedEvent>,
    poison: Vec<(SignedEvent, &'static str)>,
) -> Vec<(SignedEvent, Option<&'static str>)> {
    let every = good.len() / poison.len().max(1) + 1;
    let mut poison = poison.into_iter();
    let mut all = Vec::new();
    for (n, signed) in good.into_iter().enumerate() {
        if n % every == every / 2
            && let Some((p, reason)) = poison.next()
        {
            all.push((p, Some(reason)));
        }
        all.push((signed, None));
    }
    all.extend(poison.map(|(p, reason)| (p, Some(reason))));
    all
}

/// Checks the answers of a mix: every good event processed exactly once (200), every poison
/// one 400 with a trigger row whose exception holds `reason`; one trigger row per delivery.
fn check_mix(db: &TestDatabase, all: &[(SignedEvent, Option<&'static str>)], results: Vec<Result<Receipt, Error>>) {
    let mut poisoned = 0;
    for ((signed, reason), result) in all.iter().zip(results) {
        let receipt = result.unwrap_or_else(|e| panic!("{:?} left no trigger row: {e:?}", signed.event.id));
        match reason {
            None => {
                assert_eq!(receipt.http_status(), 200, "{receipt:?}");
                assert_eq!(receipt.outcome, Outcome::Processed, "{receipt:?}");
                assert_eq!(processed(&signed.event.id), 1, "{} processed once", signed.event.id);
                assert!(db.event(&signed.event.id).is_ok(), "{} is stored", signed.event.id);
            }
            Some(reason) => {
                poisoned += 1;
                assert_eq!(receipt.http_status(), 400, "{receipt:?}");
                assert_eq!(receipt.outcome, Outcome::Invalid, "{receipt:?}");
                let error = receipt.error.as_ref().expect("a refused delivery carries its error");
                assert!(error.is_client_error(), "{error:?}");
                let trigger = db.trigger(receipt.trigger_id).unwrap();
                assert!(trigger.exception.contains(reason), "exception {:?} names {reason:?}", trigger.exception);
                assert!(!trigger.processed && !trigger.valid, "{trigger:?}");
                assert_eq!(trigger.body, signed.body, "the body is kept whole (it was signed)");
                assert_eq!(processed(&signed.event.id), 0, "a poison event is never processed");
            }
        }
    }
    let (triggers, events) = db.counts().unwrap();
    assert_eq!(triggers as usize, all.len(), "one trigger row per delivery");
    assert_eq!(events as usize, all.len() - poisoned, "every good event is stored, no poison one");
}

/// The fault of issue 14: signed events PostgreSQL cannot store (a NUL in `id` or `type`, a
/// `created` far outside its timestamp range) among good ones.
fn unstorable_events_do_not_fail_their_batch(backend: Backend) {
    let db = database(backend);
    let ep = endpoint(&db);
    let engine = Engine::new(db.clone(), EngineConfig::default()).unwrap();
    let poison: Vec<(SignedEvent, &'static str)> = (0..4)
        .flat_map(|n| {
            [
                (EventBuilder::new("customer.created").id(format!("evt_nul\u{0}{n}")).signed(SECRET), "`id`"),
                (EventBuilder::new("customer.\u{0}created").signed(SECRET), "`type`"),
                (EventBuilder::new("customer.created").created(-8_000_000_000_000).signed(SECRET), "`created`"),
            ]
        })
        .collect();
    let all = interleave(good(200), poison);
    let signed: Vec<SignedEvent> = all.iter().map(|(s, _)| s.clone()).collect();
    let results = submit_all(&engine, &ep.djstripe_uuid, &signed);
    check_mix(&db, &all, results);
}

/// The generic isolation, beyond what validation recognises: the database itself refuses some
/// rows for their content (a constraint on `djstripe_event.type`, standing in for any per-row
/// error). Those deliveries get 400 and a trigger row; the rest of their batches commit.
fn rows_the_database_refuses_are_isolated(backend: Backend) {
    let db = database(backend);
    match backend {
        Backend::Postgres => {
            db.execute("ALTER TABLE djstripe_event ADD CONSTRAINT no_poison CHECK (type NOT LIKE '%poison%')")
        }
        // SQLite cannot add a constraint to a table: a trigger writes each type into a table
        // with the same CHECK.
        Backend::Sqlite => db.execute(
            "CREATE TABLE poison_guard (type TEXT CHECK (type NOT LIKE '%poison%'));
             CREATE TRIGGER no_poison BEFORE INSERT ON djstripe_event
             BEGIN INSERT INTO poison_guard VALUES (NEW.type); END;",
        ),
    }
    let ep = endpoint(&db);
    let engine = Engine::new(db.clone(), EngineConfig::default()).unwrap();
    let poison =
        (0..10).map(|_| (EventBuilder::new("customer.poisoned").signed(SECRET), "constraint")).collect::<Vec<_>>();
    let all = interleave(good(100), poison);
    let signed: Vec<SignedEvent> = all.iter().map(|(s, _)| s.clone()).collect();
    let results = submit_all(&engine, &ep.djstripe_uuid, &signed);
    check_mix(&db, &all, results);
    // The answer names the problem in a fixed form, not the database's own text.
    let refused = submit_all(&engine, &ep.djstripe_uuid, &[EventBuilder::new("customer.poisoned").signed(SECRET)]);
    let error = refused.into_iter().next().unwrap().unwrap().error.unwrap();
    let shown = error.to_string();
    assert!(shown.contains("cannot be stored") && !shown.contains("no_poison"), "{shown}");
}

/// Validation refuses what no backend should store, the same on both: the event never reaches
/// the database, and SQLite (which would store it) does not keep rows that later fail to list.
fn unstorable_fields_are_invalid_on_both_backends(backend: Backend) {
    let db = database(backend);
    let ep = endpoint(&db);
    let engine = Engine::new(db.clone(), EngineConfig::default()).unwrap();
    let cases = [
        (EventBuilder::new("customer.created").id("evt_\u{0}"), "`id`"),
        (EventBuilder::new("customer.\u{0}"), "`type`"),
        (EventBuilder::new("customer.created").created(-8_000_000_000_000), "`created`"),
        (EventBuilder::new("customer.created").created(i64::MAX), "`created`"),
        (EventBuilder::new("customer.created").account("acct_\u{0}"), "`account`"),
        (EventBuilder::new("customer.created").api_version(Some("2026\u{0}")), "`api_version`"),
        (EventBuilder::new("customer.created").id(format!("evt_{}", "x".repeat(300))), "`id`"),
    ];
    for (builder, reason) in cases {
        let signed = builder.signed(SECRET);
        let receipt = submit_all(&engine, &ep.djstripe_uuid, std::slice::from_ref(&signed)).pop().unwrap().unwrap();
        assert_eq!(receipt.http_status(), 400, "{reason}: {receipt:?}");
        let error = receipt.error.as_ref().unwrap();
        assert!(matches!(error, Error::InvalidEvent { .. }), "{reason}: {error:?}");
        assert!(error.to_string().contains(reason), "{reason}: {error}");
        let trigger = db.trigger(receipt.trigger_id).unwrap();
        assert!(trigger.exception.contains(reason) && trigger.event_id.is_none(), "{trigger:?}");
    }
    // The edges of the range are stored, and read back by the listings.
    for created in [-62_135_596_800, 253_402_300_799] {
        let signed = EventBuilder::new("customer.created").created(created).signed(SECRET);
        let receipt = submit_all(&engine, &ep.djstripe_uuid, std::slice::from_ref(&signed)).pop().unwrap().unwrap();
        assert_eq!(receipt.outcome, Outcome::Processed, "{created}: {receipt:?}");
        let stored = db.event(&signed.event.id).unwrap();
        assert_eq!(stored.to_event().unwrap().created, created);
    }
    assert_eq!(db.events(None, 0, 100).unwrap().len(), 2);
    assert_eq!(db.recent_triggers(100).unwrap().len(), 9);
}

/// Issue 15, 5: an event id that Stripe could not have sent was stored and then put into the
/// admin's links as it was. Now it is a 400 with an invalid trigger row, before any storing.
fn event_ids_are_checked_for_stripes_format(backend: Backend) {
    let db = database(backend);
    let ep = endpoint(&db);
    let engine = Engine::new(db.clone(), EngineConfig::default()).unwrap();
    for id in ["cus_1", "evt_", "evt_1/../../x", "evt_1?x=1", "evt_1#x", "evt_1 2", "evt_é", "EVT_1", "x"] {
        let signed = EventBuilder::new("customer.created").id(id).signed(SECRET);
        let receipt = submit_all(&engine, &ep.djstripe_uuid, std::slice::from_ref(&signed)).pop().unwrap().unwrap();
        assert_eq!((receipt.outcome, receipt.http_status()), (Outcome::Invalid, 400), "{id}: {receipt:?}");
        assert!(matches!(receipt.error, Some(Error::InvalidEventId { .. })), "{id}: {receipt:?}");
        let trigger = db.trigger(receipt.trigger_id).unwrap();
        assert!(trigger.exception.contains("is not a Stripe event id") && trigger.event_id.is_none(), "{trigger:?}");
    }
    assert!(db.events(None, 0, 100).unwrap().is_empty(), "none stored");
    let signed = EventBuilder::new("customer.created").id("evt_1PgaMmB7WZ01zgkW").signed(SECRET);
    let receipt = submit_all(&engine, &ep.djstripe_uuid, std::slice::from_ref(&signed)).pop().unwrap().unwrap();
    assert_eq!(receipt.outcome, Outcome::Processed, "{receipt:?}");
}

both_backends!(
    unstorable_events_do_not_fail_their_batch,
    rows_the_database_refuses_are_isolated,
    unstorable_fields_are_invalid_on_both_backends,
    event_ids_are_checked_for_stripes_format,
);

/// A handler that breaks its own transaction (PostgreSQL aborts it after a failed statement,
/// even if the handler ignores the error) is that handler's failure: 500 `failed`, retried by
/// Stripe, not a 400 for the event's content; its batch's other events commit.
#[cfg(feature = "postgres")]
#[test]
fn a_handler_that_breaks_its_transaction_fails_alone() {
    let db = database(Backend::Postgres);
    let ep = endpoint(&db);
    let engine = Engine::new(db.clone(), EngineConfig::default()).unwrap();
    let broken = EventBuilder::new("customer.updated").metadata("break", "yes").signed(SECRET);
    let mut signed = good(30);
    signed.insert(15, broken.clone());
    let results = submit_all(&engine, &ep.djstripe_uuid, &signed);
    for (s, result) in signed.iter().zip(results) {
        let receipt = result.unwrap();
        if s.event.id == broken.event.id {
            assert_eq!((receipt.outcome, receipt.http_status()), (Outcome::Failed, 500), "{receipt:?}");
            assert!(matches!(receipt.error, Some(Error::Handler { .. })), "{receipt:?}");
            let trigger = db.trigger(receipt.trigger_id).unwrap();
            assert!(trigger.valid && trigger.exception.contains("count_customer"), "{trigger:?}");
            assert!(db.event(&s.event.id).is_err(), "a failed event is not stored: the retry processes it");
        } else {
            assert_eq!(receipt.outcome, Outcome::Processed, "{receipt:?}");
            assert_eq!(processed(&s.event.id), 1);
        }
    }
    assert_eq!(db.counts().unwrap(), (31, 30));
}

/// A real outage stays 503: the batch's connections are terminated while it is open.
#[cfg(feature = "postgres")]
#[test]
fn connections_terminated_mid_batch_are_unavailable() {
    let db = database(Backend::Postgres);
    let ep = endpoint(&db);
    let engine = Engine::new(db.clone(), EngineConfig { writers: Some(1), ..Default::default() }).unwrap();
    let held = EventBuilder::new("customer.created").metadata("hold", "1500").signed(SECRET);
    let mut signed = vec![held];
    signed.extend(good(20));
    let name = db.pg_name().unwrap().to_owned();
    HOLDING.store(false, Ordering::SeqCst);
    let first = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !HOLDING.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
            db.admin_execute(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            ));
        });
        let pending: Vec<Pending> = signed
            .iter()
            .map(|s| engine.submit(engine.prepare(&delivery(&ep.djstripe_uuid, &s.body, Some(&s.header))).unwrap()))
            .collect();
        pending.into_iter().next().unwrap().wait()
    });
    let error = first.unwrap_err();
    assert!(matches!(error, Error::DatabaseUnavailable { .. }), "{error:?}");
    assert_eq!(error.http_status(), 503);
    assert_eq!(processed(&signed[0].event.id), 0);
    assert!(db.event(&signed[0].event.id).is_err(), "nothing of the cut batch is stored");
}
