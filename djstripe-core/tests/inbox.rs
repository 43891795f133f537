#![allow(missing_docs)]
//! Inbox mode (issue 17): a verified delivery is committed and answered at once, its handlers
//! run afterwards by the inbox's workers, exactly once, one event per object at a time in
//! Stripe's `created` order; a failure is retried, then dead-lettered, then replayable.

mod support;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use djstripe_core::backoff::Backoff;
use djstripe_core::db::{Backend, InboxFilter, Outcome, Processing};
use djstripe_core::engine::inbox::Settled;
use djstripe_core::engine::{Engine, EngineConfig, InboxConfig, Pending, Receipt};
use djstripe_core::testing::{EventBuilder, SignedEvent, TestDatabase};
use djstripe_core::{Error, Event, HandlerContext, HandlerError, HandlerResult, webhook_handler};
use serde_json::json;
use support::*;

/// Committed runs per event id (counted in `on_commit`: a rolled-back run counts nothing).
static COMMITTED: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);
/// The order in which each object's events were run: (object id, created, event id).
static ORDER: Mutex<Vec<(String, i64, String)>> = Mutex::new(Vec::new());
/// How many more times each event whose metadata says `flaky` fails.
static FAILURES_LEFT: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);

fn fail_times(id: &str, times: usize) {
    FAILURES_LEFT.lock().unwrap().get_or_insert_with(HashMap::new).insert(id.to_owned(), times);
}

fn committed(id: &str) -> usize {
    COMMITTED.lock().unwrap().as_ref().and_then(|m| m.get(id).copied()).unwrap_or(0)
}

/// Records the run and its order; `metadata.sleep_ms` waits first (a slow handler),
/// `metadata.flaky` fails as often as [`fail_times`] said.
#[webhook_handler("invoice")]
fn record_invoice(event: &Event, ctx: &mut HandlerContext) -> HandlerResult {
    let metadata = &event.data.object["metadata"];
    if let Some(ms) = metadata["sleep_ms"].as_str() {
        std::thread::sleep(Duration::from_millis(ms.parse()?));
    }
    if metadata["flaky"] == "yes" {
        let mut left = FAILURES_LEFT.lock().unwrap();
        if let Some(n) = left.get_or_insert_with(HashMap::new).get_mut(&event.id).filter(|n| **n > 0) {
            *n -= 1;
            return Err(HandlerError::msg("flaky: failing on purpose"));
        }
    }
    use diesel::RunQueryDsl;
    // A write of the handler's own, atomic with the event: counted below from the table too.
    diesel::sql_query(format!("INSERT INTO inbox_test_runs (event_id) VALUES ('{}')", event.id))
        .execute(ctx.connection()?)?;
    let object = event.object_id().unwrap_or_default().to_owned();
    ORDER.lock().unwrap().push((object, event.created, event.id.clone()));
    let id = event.id.clone();
    ctx.on_commit(move || *COMMITTED.lock().unwrap().get_or_insert_with(HashMap::new).entry(id).or_default() += 1);
    Ok(())
}

/// Events each subscription handler ran for (`skip_stale` or not).
static SUBSCRIPTION_RUNS: Mutex<Vec<(&'static str, String)>> = Mutex::new(Vec::new());

/// Applies a subscription's state: must not run for an update older than one applied already.
#[webhook_handler("customer.subscription.updated", skip_stale)]
fn apply_subscription(event: &Event) {
    SUBSCRIPTION_RUNS.lock().unwrap().push(("apply", event.id.clone()));
}

/// Audits every update, stale or not.
#[webhook_handler("customer.subscription")]
fn audit_subscription(event: &Event) {
    SUBSCRIPTION_RUNS.lock().unwrap().push(("audit", event.id.clone()));
}

fn subscription_runs(id: &str) -> Vec<&'static str> {
    SUBSCRIPTION_RUNS.lock().unwrap().iter().filter(|(_, e)| e == id).map(|(h, _)| *h).collect()
}

fn database(backend: Backend) -> TestDatabase {
    let db = TestDatabase::builder(backend).pool_size(12).build();
    db.execute("CREATE TABLE inbox_test_runs (event_id TEXT NOT NULL)");
    db
}

fn inbox_engine(db: &TestDatabase, inbox: InboxConfig) -> Engine {
    let config = EngineConfig { processing: Processing::Inbox, inbox, ..Default::default() };
    Engine::new(db.database().clone(), config).unwrap()
}

/// Retries without waiting, so that a test sees every attempt.
fn quick_retries(max_attempts: u32) -> InboxConfig {
    InboxConfig { max_attempts, backoff: Backoff::new(Duration::ZERO, Duration::ZERO), ..Default::default() }
}

fn invoice(object: &str, created: i64) -> EventBuilder {
    EventBuilder::new("invoice.paid").merge_object(json!({"id": object})).created(created)
}

/// Submits every delivery before waiting for any (they share batches).
fn send(engine: &Engine, uuid: &str, signed: &[SignedEvent]) -> Vec<Receipt> {
    let pending: Vec<Pending> = signed
        .iter()
        .map(|s| engine.submit(engine.prepare(&delivery(uuid, &s.body, Some(&s.header))).unwrap()))
        .collect();
    pending.into_iter().map(|p| p.wait().unwrap()).collect()
}

fn runs_in_table(db: &TestDatabase, id: &str) -> i64 {
    db.count(&format!("SELECT COUNT(*) AS n FROM inbox_test_runs WHERE event_id = '{id}'"))
}

fn answered_at_once_then_processed_exactly_once(backend: Backend) {
    let db = database(backend);
    let ep = endpoint(&db);
    let engine = inbox_engine(&db, InboxConfig::default());
    let events: Vec<SignedEvent> =
        (0..20).map(|n| invoice(&format!("in_once{n}"), 1_700_000_000).signed(SECRET)).collect();
    // Each event twice in the same round (Stripe's at-least-once), the copies in other batches too.
    let mut deliveries = events.clone();
    deliveries.extend(events.iter().take(5).cloned());
    let receipts = send(&engine, &ep.djstripe_uuid, &deliveries);
    for receipt in &receipts[..20] {
        assert_eq!((receipt.outcome, receipt.http_status()), (Outcome::Queued, 200), "{receipt:?}");
        assert_eq!(receipt.handlers, 0, "nothing ran before the answer");
    }
    for receipt in &receipts[20..] {
        assert_eq!((receipt.outcome, receipt.http_status()), (Outcome::Duplicate, 200), "{receipt:?}");
    }
    assert_eq!(db.inbox_stats().unwrap().pending, 20);
    for s in &events {
        assert_eq!(committed(&s.event.id), 0, "queued, not run");
        assert!(db.event(&s.event.id).is_err(), "no event row before processing");
    }
    let settled = engine.process_inbox().unwrap();
    assert_eq!(settled, vec![Settled::Processed; 20]);
    for (s, receipt) in events.iter().zip(&receipts) {
        assert_eq!(committed(&s.event.id), 1, "{} ran once", s.event.id);
        assert_eq!(runs_in_table(&db, &s.event.id), 1, "its write committed once");
        assert!(db.event(&s.event.id).is_ok(), "the event row is stored with the handlers' writes");
        let trigger = db.trigger(receipt.trigger_id).unwrap();
        assert_eq!(trigger.outcome, Outcome::Processed, "{trigger:?}");
        assert!(trigger.processed);
    }
    let stats = db.inbox_stats().unwrap();
    assert_eq!((stats.pending, stats.dead), (0, 0), "the inbox is empty");
    // A redelivery after processing is a duplicate, as inline.
    let again = send(&engine, &ep.djstripe_uuid, &events[..3]);
    assert!(again.iter().all(|r| r.outcome == Outcome::Duplicate), "{again:?}");
    assert!(engine.process_inbox().unwrap().is_empty(), "nothing was queued again");
    assert!(events.iter().all(|s| committed(&s.event.id) == 1));
}

fn a_failing_handler_is_retried_then_dead_lettered_then_replayed(backend: Backend) {
    let db = database(backend);
    let ep = endpoint(&db);
    let engine = inbox_engine(&db, quick_retries(3));
    let signed = invoice("in_flaky", 1_700_000_000).metadata("flaky", "yes").signed(SECRET);
    let id = signed.event.id.clone();
    fail_times(&id, 1_000);
    let receipt = send(&engine, &ep.djstripe_uuid, std::slice::from_ref(&signed)).remove(0);
    assert_eq!(receipt.outcome, Outcome::Queued);
    let settled = engine.process_inbox().unwrap();
    assert_eq!(settled, [Settled::Retried, Settled::Retried, Settled::Dead]);
    let entry = db.inbox_entry(&id).unwrap();
    assert!(entry.is_dead(), "{entry:?}");
    assert_eq!(entry.attempts, 3);
    assert!(entry.last_error.contains("flaky: failing on purpose"), "{}", entry.last_error);
    let dead = db.inbox_entries(&InboxFilter { dead: Some(true), ..Default::default() }, 10).unwrap();
    assert_eq!(dead.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(), [id.as_str()]);
    let trigger = db.trigger(receipt.trigger_id).unwrap();
    assert_eq!(trigger.outcome, Outcome::Failed, "dead-lettered: the trigger says failed");
    assert!(trigger.exception.contains("flaky"), "{}", trigger.exception);
    assert_eq!((committed(&id), runs_in_table(&db, &id)), (0, 0), "every failed attempt rolled back");
    assert!(db.event(&id).is_err(), "not stored as processed");
    assert!(engine.process_inbox().unwrap().is_empty(), "a dead event is not retried by itself");

    // Fixed: replay the dead letter (as `triggers reprocess` does for its trigger).
    fail_times(&id, 0);
    assert_eq!(db.retry_inbox(Some(&id)).unwrap(), std::slice::from_ref(&id));
    assert_eq!(db.trigger(receipt.trigger_id).unwrap().outcome, Outcome::Queued);
    let pending = engine.process_trigger(receipt.trigger_id).unwrap_err();
    assert!(matches!(pending, Error::NotReprocessable { .. }), "a waiting event is the workers': {pending:?}");
    assert_eq!(engine.process_inbox().unwrap(), [Settled::Processed]);
    assert_eq!((committed(&id), runs_in_table(&db, &id)), (1, 1));
    assert_eq!(db.trigger(receipt.trigger_id).unwrap().outcome, Outcome::Processed);
    assert!(matches!(db.inbox_entry(&id), Err(Error::NotFound { .. })), "the row left with the processing");
    assert!(matches!(db.retry_inbox(Some("evt_unknown")), Err(Error::NotFound { .. })));
}

fn reprocessing_a_dead_lettered_trigger_queues_it_again(backend: Backend) {
    let db = database(backend);
    let ep = endpoint(&db);
    let engine = inbox_engine(&db, quick_retries(1));
    let signed = invoice("in_reprocess", 1_700_000_000).metadata("flaky", "yes").signed(SECRET);
    let id = signed.event.id.clone();
    fail_times(&id, 1);
    let receipt = send(&engine, &ep.djstripe_uuid, std::slice::from_ref(&signed)).remove(0);
    assert_eq!(engine.process_inbox().unwrap(), [Settled::Dead]);
    let again = engine.reprocess_failed().unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].outcome, again[0].trigger_id), (Outcome::Queued, receipt.trigger_id), "{again:?}");
    assert_eq!(engine.process_inbox().unwrap(), [Settled::Processed]);
    assert_eq!(committed(&id), 1);
    assert_eq!(db.trigger(receipt.trigger_id).unwrap().outcome, Outcome::Processed);
}

fn events_of_one_object_run_in_created_order(backend: Backend) {
    let db = database(backend);
    let ep = endpoint(&db);
    let engine = inbox_engine(&db, InboxConfig::default());
    let base = 1_700_000_000;
    // Delivered out of order (as Stripe may), two objects interleaved, and a tie on `created`.
    let (a, b) = (format!("in_ordA{backend:?}"), format!("in_ordB{backend:?}"));
    let plan = [(&a, 5), (&b, 2), (&a, 1), (&a, 3), (&b, 1), (&a, 3)];
    let signed: Vec<SignedEvent> = plan.iter().map(|(o, t)| invoice(o, base + t).signed(SECRET)).collect();
    send(&engine, &ep.djstripe_uuid, &signed);
    assert_eq!(engine.process_inbox().unwrap().len(), plan.len());
    let order = ORDER.lock().unwrap().clone();
    for object in [&a, &b] {
        let ran: Vec<(i64, String)> =
            order.iter().filter(|(o, _, _)| o == object).map(|(_, t, id)| (*t, id.clone())).collect();
        let mut sorted = ran.clone();
        sorted.sort();
        assert_eq!(ran, sorted, "{object}'s events ran by (created, id)");
        assert_eq!(ran.len(), plan.iter().filter(|(o, _)| *o == object).count());
    }
}

fn an_older_event_waiting_for_a_retry_holds_its_object_back(backend: Backend) {
    let db = database(backend);
    let ep = endpoint(&db);
    // A long backoff: the failed event stays due later, and its object's newer event waits.
    let config = InboxConfig {
        backoff: Backoff::new(Duration::from_secs(3600), Duration::from_secs(3600)),
        ..Default::default()
    };
    let engine = inbox_engine(&db, config);
    let older = invoice("in_hold", 1_700_000_001).metadata("flaky", "yes").signed(SECRET);
    let newer = invoice("in_hold", 1_700_000_002).signed(SECRET);
    let other = invoice("in_free", 1_700_000_003).signed(SECRET);
    fail_times(&older.event.id, 1);
    send(&engine, &ep.djstripe_uuid, &[newer.clone(), older.clone(), other.clone()]);
    let settled = engine.process_inbox().unwrap();
    assert_eq!(settled.iter().filter(|s| **s == Settled::Retried).count(), 1, "{settled:?}");
    assert_eq!(committed(&other.event.id), 1, "another object is not held back");
    assert_eq!(committed(&newer.event.id), 0, "the newer event of the object waits for the older one");
    assert_eq!(db.inbox_stats().unwrap().pending, 2);
}

fn workers_in_several_engines_process_each_event_once(backend: Backend) {
    let db = database(backend);
    let ep = endpoint(&db);
    // Two "instances" on one database, each with its workers.
    let instances: Vec<Engine> = (0..2)
        .map(|_| {
            let config = InboxConfig { workers: Some(3), poll: Duration::from_millis(20), ..Default::default() };
            inbox_engine(&db, config)
        })
        .collect();
    let events = |name: &str, n: usize, objects: usize| -> Vec<SignedEvent> {
        (0..n)
            .map(|k| {
                let object = format!("in_{name}{backend:?}{}", k % objects);
                invoice(&object, 1_700_000_000 + (k / objects) as i64).signed(SECRET)
            })
            .collect()
    };
    // Queued before the workers start: the order per object is checked on these.
    let waiting = events("queued", 48, 6);
    send(&instances[0], &ep.djstripe_uuid, &waiting[..24]);
    send(&instances[1], &ep.djstripe_uuid, &waiting[24..]);
    for engine in &instances {
        engine.start_inbox();
    }
    // Delivered while the workers run, split between the instances, some to both.
    let live = events("live", 48, 12);
    let (first, second) = live.split_at(24);
    let mut to_second = second.to_vec();
    to_second.extend(first.iter().take(10).cloned());
    std::thread::scope(|s| {
        s.spawn(|| send(&instances[0], &ep.djstripe_uuid, first));
        s.spawn(|| send(&instances[1], &ep.djstripe_uuid, &to_second));
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while db.inbox_stats().unwrap().pending > 0 {
        assert!(Instant::now() < deadline, "the inbox did not drain: {:?}", db.inbox_stats());
        std::thread::sleep(Duration::from_millis(20));
    }
    for engine in &instances {
        assert!(engine.drain(Duration::from_secs(10)).is_complete());
    }
    for s in waiting.iter().chain(&live) {
        assert_eq!(runs_in_table(&db, &s.event.id), 1, "{} committed once", s.event.id);
        assert_eq!(committed(&s.event.id), 1, "{} on_commit once", s.event.id);
    }
    let counts: Vec<_> = instances.iter().map(|e| e.inbox().unwrap().counts()).collect();
    assert_eq!(counts.iter().map(|c| c.processed).sum::<u64>(), 96, "{counts:?}");
    assert!(counts.iter().all(|c| c.processed > 0), "both instances took part: {counts:?}");
    let order = ORDER.lock().unwrap().clone();
    for n in 0..6 {
        let object = format!("in_queued{backend:?}{n}");
        let ran: Vec<i64> = order.iter().filter(|(o, _, _)| *o == object).map(|(_, t, _)| *t).collect();
        assert_eq!(ran.len(), 8);
        assert!(ran.windows(2).all(|w| w[0] < w[1]), "{object}: {ran:?} in created order across instances");
    }
}

fn shutdown_finishes_the_running_event_and_releases_the_rest(backend: Backend) {
    let db = database(backend);
    let ep = endpoint(&db);
    let config = InboxConfig { workers: Some(1), batch: 8, ..Default::default() };
    let engine = inbox_engine(&db, config);
    let signed: Vec<SignedEvent> = (0..4)
        .map(|n| invoice(&format!("in_stop{n}"), 1_700_000_000).metadata("sleep_ms", "300").signed(SECRET))
        .collect();
    send(&engine, &ep.djstripe_uuid, &signed);
    engine.start_inbox();
    std::thread::sleep(Duration::from_millis(100)); // the worker is inside the first event
    let drained = engine.drain(Duration::from_secs(10));
    assert!(drained.is_complete(), "{drained}");
    let done = signed.iter().filter(|s| committed(&s.event.id) == 1).count();
    assert_eq!(done, 1, "the running event finished, commit and on_commit; the others were not begun");
    let waiting = db.inbox_entries(&InboxFilter::default(), 10).unwrap();
    assert_eq!(waiting.len(), 3);
    assert!(
        waiting.iter().all(|e| e.lease_token.is_none() && e.attempts == 0),
        "released, no attempt counted: {waiting:?}"
    );
    // The next start processes them.
    assert_eq!(engine.process_inbox().unwrap().len(), 3);
    assert!(signed.iter().all(|s| committed(&s.event.id) == 1));
}

/// Stripe delivers out of order: an update older than one processed already is skipped by the
/// `skip_stale` handler (and the trigger says so), while the other handler still runs.
fn skip_stale_skips_an_older_update_delivered_after_a_newer_one(backend: Backend) {
    let db = database(backend);
    let ep = endpoint(&db);
    let engine = inbox_engine(&db, InboxConfig::default());
    let subscription = format!("sub_stale{backend:?}");
    let update = |created: i64| {
        EventBuilder::new("customer.subscription.updated").merge_object(json!({"id": subscription})).created(created)
    };
    let newer = update(1_700_000_100).signed(SECRET);
    let older = update(1_700_000_050).signed(SECRET);
    send(&engine, &ep.djstripe_uuid, std::slice::from_ref(&newer));
    assert_eq!(engine.process_inbox().unwrap(), [Settled::Processed]);
    let late = send(&engine, &ep.djstripe_uuid, std::slice::from_ref(&older)).remove(0);
    assert_eq!(engine.process_inbox().unwrap(), [Settled::Processed]);
    assert_eq!(subscription_runs(&newer.event.id), ["audit", "apply"]);
    assert_eq!(subscription_runs(&older.event.id), ["audit"], "the stale update was not applied");
    let trigger = db.trigger(late.trigger_id).unwrap();
    assert_eq!(trigger.outcome, Outcome::Processed);
    assert!(
        trigger.exception.starts_with("stale: skipped") && trigger.exception.contains(&newer.event.id),
        "the trigger records the skip: {}",
        trigger.exception
    );
    assert!(db.event(&older.event.id).is_ok(), "stored: a redelivery is a duplicate");
    // A newer update still applies.
    let newest = update(1_700_000_200).signed(SECRET);
    send(&engine, &ep.djstripe_uuid, std::slice::from_ref(&newest));
    engine.process_inbox().unwrap();
    assert_eq!(subscription_runs(&newest.event.id), ["audit", "apply"]);
}

both_backends!(
    skip_stale_skips_an_older_update_delivered_after_a_newer_one,
    answered_at_once_then_processed_exactly_once,
    a_failing_handler_is_retried_then_dead_lettered_then_replayed,
    reprocessing_a_dead_lettered_trigger_queues_it_again,
    events_of_one_object_run_in_created_order,
    an_older_event_waiting_for_a_retry_holds_its_object_back,
    workers_in_several_engines_process_each_event_once,
    shutdown_finishes_the_running_event_and_releases_the_rest,
);
