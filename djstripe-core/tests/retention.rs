#![allow(missing_docs)]
//! Retention against real databases (a SQLite file, the PostgreSQL server on 127.0.0.1:5432):
//! which rows `Djstripe::prune` and the background `Pruner` remove and which they keep, batches,
//! stopping, and deliveries going on while a prune runs.

mod support;

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use djstripe_core::app::{Djstripe, PruneRequest, Pruner, RetentionPolicy, Settings};
use djstripe_core::db::{Backend, Outcome};
use djstripe_core::testing::TestDatabase;
use djstripe_core::{Event, HandlerError, HandlerResult, webhook_handler};
use serde_json::json;
use support::*;

/// Event ids whose handler fails the first time only.
static FAIL_ONCE: Mutex<Option<HashSet<String>>> = Mutex::new(None);

#[webhook_handler("customer")]
fn customer(event: &Event) -> HandlerResult {
    if event.data.object["metadata"]["fail"] == "yes" {
        return Err(HandlerError::msg("metadata.fail is yes"));
    }
    if FAIL_ONCE.lock().unwrap().get_or_insert_with(HashSet::new).remove(&event.id) {
        return Err(HandlerError::msg("transient failure"));
    }
    Ok(())
}

const OLD: &str = "2020-01-01 00:00:00";

/// Djstripe on `db` with `settings`' retention and event callback, and an endpoint.
fn start(db: &TestDatabase, settings: impl FnOnce(Settings) -> Settings) -> (Djstripe, String) {
    let djstripe = Djstripe::start(settings(Settings::new(db.url()))).unwrap();
    let uuid = endpoint(djstripe.engine().database()).djstripe_uuid;
    (djstripe, uuid)
}

/// Delivers `body` signed (or with a wrong signature) and returns the receipt's trigger id and outcome.
fn deliver(djstripe: &Djstripe, uuid: &str, body: &[u8], signed: bool) -> (i64, Outcome) {
    let header = sign(if signed { SECRET } else { "whsec_wrong" }, body);
    let receipt = djstripe.engine().receive(&delivery(uuid, body, Some(&header))).unwrap();
    (receipt.trigger_id, receipt.outcome)
}

fn customer_event(id: &str, fail: bool) -> Vec<u8> {
    event_body(id, "customer.updated", if fail { json!({"fail": "yes"}) } else { json!({}) })
}

/// Makes the triggers `ids` (and their events) look as if they had come in 2020.
fn backdate(db: &TestDatabase, ids: &[i64]) {
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    let list = list.join(", ");
    db.execute(&format!("UPDATE djstripe_webhookeventtrigger SET created = '{OLD}' WHERE id IN ({list})"));
    db.execute(&format!(
        "UPDATE djstripe_event SET received = '{OLD}' WHERE id IN \
         (SELECT event_id FROM djstripe_webhookeventtrigger WHERE id IN ({list}))"
    ));
}

fn triggers_left(db: &TestDatabase) -> i64 {
    db.count("SELECT COUNT(*) AS n FROM djstripe_webhookeventtrigger")
}

fn has_trigger(db: &TestDatabase, id: i64) -> bool {
    db.count(&format!("SELECT COUNT(*) AS n FROM djstripe_webhookeventtrigger WHERE id = {id}")) == 1
}

fn has_event(db: &TestDatabase, id: &str) -> bool {
    db.count(&format!("SELECT COUNT(*) AS n FROM djstripe_event WHERE id = '{id}'")) == 1
}

/// Old final triggers go (processed, duplicate, invalid); failed, queued and recent ones stay;
/// events stay; a dry run counts per outcome and removes nothing; `include_failed` takes the
/// failed one too, never the queued one.
fn prune_removes_old_final_triggers_only(backend: Backend) {
    let db = TestDatabase::new(backend);
    let (djstripe, uuid) = start(&db, |s| s);
    let ok = event_id();
    let processed = deliver(&djstripe, &uuid, &customer_event(&ok, false), true);
    let duplicate = deliver(&djstripe, &uuid, &customer_event(&ok, false), true);
    let failed = deliver(&djstripe, &uuid, &customer_event(&event_id(), true), true);
    let invalid = deliver(&djstripe, &uuid, &customer_event(&event_id(), false), false);
    let recent_id = event_id();
    let recent = deliver(&djstripe, &uuid, &customer_event(&recent_id, false), true);
    assert_eq!(
        [processed.1, duplicate.1, failed.1, invalid.1, recent.1],
        [Outcome::Processed, Outcome::Duplicate, Outcome::Failed, Outcome::Invalid, Outcome::Processed]
    );
    // A queued one, through an app whose event callback takes valid deliveries.
    let queuing = Djstripe::start(Settings::new(db.url()).event_callback(|_, _| Ok(()))).unwrap();
    let queued = deliver(&queuing, &uuid, &customer_event(&event_id(), false), true);
    assert_eq!(queued.1, Outcome::Queued);
    backdate(&db, &[processed.0, duplicate.0, failed.0, invalid.0, queued.0]);
    let events_before = db.count("SELECT COUNT(*) AS n FROM djstripe_event");

    let dry = djstripe.prune(&PruneRequest::older_than_days(30).dry_run(true)).unwrap();
    assert!(dry.dry_run);
    assert_eq!(dry.triggers, vec![(Outcome::Processed, 1), (Outcome::Duplicate, 1), (Outcome::Invalid, 1)]);
    assert_eq!(triggers_left(&db), 6, "a dry run removes nothing");

    let done = djstripe.prune(&PruneRequest::older_than_days(30)).unwrap();
    assert_eq!(done.triggers, dry.triggers, "removes what the dry run counted");
    for (id, kept) in [
        (processed.0, false),
        (duplicate.0, false),
        (invalid.0, false),
        (failed.0, true),
        (queued.0, true),
        (recent.0, true),
    ] {
        assert_eq!(has_trigger(&db, id), kept, "trigger {id}");
    }
    assert_eq!(db.count("SELECT COUNT(*) AS n FROM djstripe_event"), events_before, "events are not touched");
    assert!(has_event(&db, &ok), "the event stays: a redelivery is still a duplicate");
    assert_eq!(deliver(&djstripe, &uuid, &customer_event(&ok, false), true).1, Outcome::Duplicate);

    let dry = djstripe.prune(&PruneRequest::older_than_days(30).include_failed(true).dry_run(true)).unwrap();
    assert_eq!(dry.triggers, vec![(Outcome::Failed, 1)]);
    let done = djstripe.prune(&PruneRequest::older_than_days(30).include_failed(true)).unwrap();
    assert_eq!(done.triggers_of(Outcome::Failed), 1);
    assert!(!has_trigger(&db, failed.0) && has_trigger(&db, queued.0), "queued triggers are never pruned");
    assert!(has_trigger(&db, recent.0));
}

/// The background task's event retention: an old event goes once no trigger refers to it; one
/// that a kept (failed) trigger refers to stays, so reprocessing that trigger is a duplicate,
/// not a second run of the handlers; recent events stay.
fn events_go_only_when_old_and_unreferenced(backend: Backend) {
    let db = TestDatabase::new(backend);
    let (djstripe, uuid) = start(&db, |s| s);
    let gone = event_id();
    let first = deliver(&djstripe, &uuid, &customer_event(&gone, false), true);
    // Fails, then its retry succeeds: a failed trigger and a processed one for the same event.
    let retried = event_id();
    FAIL_ONCE.lock().unwrap().get_or_insert_with(HashSet::new).insert(retried.clone());
    let failed = deliver(&djstripe, &uuid, &customer_event(&retried, false), true);
    let retry = deliver(&djstripe, &uuid, &customer_event(&retried, false), true);
    assert_eq!((failed.1, retry.1), (Outcome::Failed, Outcome::Processed));
    let recent = event_id();
    let kept = deliver(&djstripe, &uuid, &customer_event(&recent, false), true);
    backdate(&db, &[first.0, failed.0, retry.0]);

    let policy =
        RetentionPolicy { triggers: Some(30), events: Some(30), first_run_after: Duration::ZERO, ..Default::default() };
    let pruner = Pruner::start(djstripe.engine().database().clone(), policy);
    wait_for(|| pruner.runs() > 0);
    pruner.stop();
    assert!(!has_trigger(&db, first.0) && !has_trigger(&db, retry.0) && has_trigger(&db, failed.0));
    assert!(has_trigger(&db, kept.0));
    assert!(!has_event(&db, &gone), "old and no trigger left: removed");
    assert!(has_event(&db, &retried), "a failed trigger still refers to it: kept");
    assert!(has_event(&db, &recent), "recent: kept");
    let again = djstripe.engine().process_trigger(failed.0).unwrap();
    assert_eq!(again.outcome, Outcome::Duplicate, "the kept event still makes it a duplicate");
}

/// Without event retention the task leaves every event, however old.
fn events_stay_without_their_retention(backend: Backend) {
    let db = TestDatabase::new(backend);
    let (djstripe, uuid) = start(&db, |s| s);
    let id = event_id();
    let old = deliver(&djstripe, &uuid, &customer_event(&id, false), true);
    backdate(&db, &[old.0]);
    let policy = RetentionPolicy { triggers: Some(30), first_run_after: Duration::ZERO, ..Default::default() };
    let pruner = Pruner::start(djstripe.engine().database().clone(), policy);
    wait_for(|| pruner.runs() > 0);
    drop(pruner);
    assert!(!has_trigger(&db, old.0), "the trigger went");
    assert!(has_event(&db, &id), "the event stayed");
}

/// A prune deletes in statements of at most `batch_size` rows.
fn prune_deletes_in_batches(backend: Backend) {
    let db = TestDatabase::new(backend);
    let (djstripe, uuid) = start(&db, |s| s);
    let ids: Vec<i64> =
        (0..7).map(|_| deliver(&djstripe, &uuid, &customer_event(&event_id(), false), true).0).collect();
    backdate(&db, &ids);
    let request = PruneRequest { batch_size: 3, pause: Duration::ZERO, ..PruneRequest::older_than_days(1) };
    let report = djstripe.prune(&request).unwrap();
    assert_eq!((report.triggers_of(Outcome::Processed), report.batches), (7, 3), "3 + 3 + 1");
    assert_eq!(triggers_left(&db), 0);
}

/// While the task pauses between two batches a delivery is answered at once (the writer lock is
/// held for one statement, not the run); `stop` ends the task at once, mid-run, and it removes
/// nothing afterwards.
fn deliveries_go_on_and_stop_is_prompt(backend: Backend) {
    let db = TestDatabase::new(backend);
    let (djstripe, uuid) = start(&db, |s| s);
    let ids: Vec<i64> =
        (0..6).map(|_| deliver(&djstripe, &uuid, &customer_event(&event_id(), false), true).0).collect();
    backdate(&db, &ids);
    let policy = RetentionPolicy {
        triggers: Some(30),
        first_run_after: Duration::ZERO,
        batch_size: 2,
        pause: Duration::from_secs(30),
        ..Default::default()
    };
    let pruner = Pruner::start(djstripe.engine().database().clone(), policy);
    wait_for(|| triggers_left(&db) == 4);
    let started = Instant::now();
    let fresh = deliver(&djstripe, &uuid, &customer_event(&event_id(), false), true);
    assert_eq!(fresh.1, Outcome::Processed);
    assert!(started.elapsed() < Duration::from_secs(5), "answered during the pause: {:?}", started.elapsed());
    let stopping = Instant::now();
    pruner.stop();
    assert!(stopping.elapsed() < Duration::from_secs(5), "stopped in {:?}, not after the pause", stopping.elapsed());
    assert!(pruner.is_stopped());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(triggers_left(&db), 5, "4 old left by the stopped run, and the fresh one");
}

/// `Djstripe::start` starts the task only when retention is set; it runs, and stops when the
/// app is dropped.
fn the_app_starts_and_stops_the_task(backend: Backend) {
    let db = TestDatabase::new(backend);
    let (plain, uuid) = start(&db, |s| s);
    assert!(plain.pruner().is_none());
    let old = deliver(&plain, &uuid, &customer_event(&event_id(), false), true);
    backdate(&db, &[old.0]);
    let policy = RetentionPolicy {
        triggers: Some(30),
        first_run_after: Duration::ZERO,
        interval: Duration::from_millis(50),
        ..Default::default()
    };
    let pruning = Djstripe::start(Settings::new(db.url()).retention(policy)).unwrap();
    assert!(pruning.pruner().is_some());
    wait_for(|| !has_trigger(&db, old.0));
    let clone = pruning.clone();
    drop(pruning);
    let later = deliver(&plain, &uuid, &customer_event(&event_id(), false), true);
    backdate(&db, &[later.0]);
    let runs = clone.pruner().unwrap().runs();
    wait_for(|| clone.pruner().unwrap().runs() > runs + 1);
    assert!(!has_trigger(&db, later.0), "a clone keeps the task running");
    drop(clone);
    let last = deliver(&plain, &uuid, &customer_event(&event_id(), false), true);
    backdate(&db, &[last.0]);
    std::thread::sleep(Duration::from_millis(400));
    assert!(has_trigger(&db, last.0), "the task stopped with the last clone");
}

fn wait_for(mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(10));
    }
}

both_backends!(
    prune_removes_old_final_triggers_only,
    events_go_only_when_old_and_unreferenced,
    events_stay_without_their_retention,
    prune_deletes_in_batches,
    deliveries_go_on_and_stop_is_prompt,
    the_app_starts_and_stops_the_task,
);
