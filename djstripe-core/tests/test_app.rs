#![allow(missing_docs)]
//! `testing::TestApp` as a user's tests use it: chosen handlers only, the app's migrations, the
//! answer and stored rows, and `wait_on_commit` seeing every callback of every answered delivery.

mod support;

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use djstripe_core::app::{AppMigrations, Settings};
use djstripe_core::db::{Backend, Outcome, SqliteSync};
use djstripe_core::error::MigrationSet;
use djstripe_core::registry::HandlerSet;
use djstripe_core::testing::{EventBuilder, TestApp};
use djstripe_core::{Error, Event, HandlerContext, HandlerResult, webhook_handler};

/// Event ids whose `on_commit` callback ran.
static COMMITTED: Mutex<Option<HashSet<String>>> = Mutex::new(None);
/// Event ids the "other" handler saw (it must not run in tests that do not choose it).
static OTHER_SAW: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn committed(id: &str) -> bool {
    COMMITTED.lock().unwrap().as_ref().is_some_and(|set| set.contains(id))
}

/// Records the event in the app's table (in its transaction) and, after the commit, in `COMMITTED`.
#[webhook_handler("invoice.paid")]
fn record_paid(event: &Event, ctx: &mut HandlerContext) -> HandlerResult {
    ctx.connection()?.batch_execute(&format!("INSERT INTO paid (event_id) VALUES ('{}')", event.id))?;
    let id = event.id.clone();
    ctx.on_commit(move || {
        // A callback that takes a little while, as a mail or a queue would.
        std::thread::sleep(Duration::from_micros(50));
        COMMITTED.lock().unwrap().get_or_insert_with(HashSet::new).insert(id);
    });
    Ok(())
}

/// A handler of the same type that the tests above leave out.
#[webhook_handler("invoice")]
fn other_invoice_handler(event: &Event) {
    OTHER_SAW.lock().unwrap().push(event.id.clone());
}

fn paid_table(conn: &mut djstripe_core::db::DbConnection) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Ok(conn.batch_execute("CREATE TABLE IF NOT EXISTS paid (event_id TEXT PRIMARY KEY)")?)
}

fn app(backend: Backend) -> TestApp {
    let mut settings = Settings::new("replaced");
    settings.database.sqlite_sync = SqliteSync::Normal; // the race is about threads, not the disk
    TestApp::builder()
        .backend(backend)
        .settings(settings)
        .migrations(AppMigrations::function(paid_table))
        .handlers(HandlerSet::only(["record_paid"]))
        .start()
}

/// The user's test that failed 1 run in 11: after the 200, `wait_on_commit` must have run the
/// callback. Many deliveries from several threads at once (batches of several), while other
/// threads keep the CPU busy, so that any gap between answering and queueing the callbacks shows.
fn wait_on_commit_sees_every_answered_callback(backend: Backend) {
    let app = app(backend);
    let stop = AtomicBool::new(false);
    let (senders, rounds) = (8, 60);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    std::hint::black_box((0..10_000u64).sum::<u64>());
                }
            });
        }
        let workers: Vec<_> = (0..senders)
            .map(|sender| {
                let app = &app;
                scope.spawn(move || {
                    let mut missed = Vec::new();
                    for round in 0..rounds {
                        let id = format!("evt_race_{}_{sender}_{round}", std::process::id());
                        let answer = app.send(&EventBuilder::new("invoice.paid").id(&id));
                        assert_eq!(answer.outcome(), Some(Outcome::Processed), "{answer:?}");
                        app.wait_on_commit();
                        if !committed(&id) {
                            missed.push(id);
                        }
                    }
                    missed
                })
            })
            .collect();
        let results: Vec<_> = workers.into_iter().map(|w| w.join()).collect();
        stop.store(true, Ordering::Relaxed); // before any assertion: the scope waits for the load threads
        let missed: Vec<String> = results.into_iter().flat_map(|r| r.unwrap()).collect();
        assert!(missed.is_empty(), "wait_on_commit returned before these callbacks ran: {missed:?}");
    });
    assert_eq!(app.database().count("SELECT COUNT(*) AS n FROM paid"), i64::from(senders * rounds));
}

/// Only the chosen handler runs; the other registered one does not (and a failing handler's
/// row is rolled back with the event: here the app's table has a primary key, so a second
/// event with the same row fails).
fn only_the_chosen_handlers_run(backend: Backend) {
    let app = app(backend);
    let answer = app.send(&EventBuilder::new("invoice.paid").id("evt_chosen"));
    assert_eq!((answer.status, answer.outcome()), (200, Some(Outcome::Processed)));
    let trigger = app.trigger(answer.trigger_id().unwrap()).unwrap();
    assert!(trigger.valid && trigger.processed, "{trigger:?}");
    assert_eq!(app.event("evt_chosen").unwrap().type_, "invoice.paid");
    assert!(!OTHER_SAW.lock().unwrap().contains(&"evt_chosen".to_owned()), "an unchosen handler ran");

    // The app's row is written in the event's transaction: make the insert fail (the row is
    // there already) and both the row and the event are rolled back, the trigger says why.
    app.database().execute("INSERT INTO paid (event_id) VALUES ('evt_clash')");
    let failed = app.send(&EventBuilder::new("invoice.paid").id("evt_clash"));
    assert_eq!((failed.status, failed.outcome()), (500, Some(Outcome::Failed)), "{failed:?}");
    assert!(matches!(app.event("evt_clash"), Err(Error::NotFound { .. })));
    assert_eq!(app.database().count("SELECT COUNT(*) AS n FROM paid"), 2);
    app.wait_on_commit();
    assert!(!committed("evt_clash"), "a rolled-back event's on_commit ran");

    // Every handler when none is chosen (another app in the same binary).
    let all = TestApp::builder().backend(backend).migrations(AppMigrations::function(paid_table)).start();
    assert_eq!(all.send(&EventBuilder::new("invoice.paid").id("evt_all")).status, 200);
    assert!(OTHER_SAW.lock().unwrap().contains(&"evt_all".to_owned()));
}

/// Raw bytes with any header, and the answers a user's test asserts on.
fn raw_deliveries_get_clear_answers(backend: Backend) {
    let app = TestApp::builder().backend(backend).handlers(HandlerSet::none()).start();
    let unsigned = app.send_raw(br#"{"id":"evt_1"}"#, &[("Content-Type", "application/json")]);
    assert_eq!((unsigned.status, unsigned.outcome()), (400, Some(Outcome::Invalid)));
    assert!(unsigned.error().unwrap().contains("Stripe-Signature"), "{unsigned:?}");
    let stored = app.trigger(unsigned.trigger_id().unwrap()).unwrap();
    assert!(!stored.valid);
    assert!(stored.headers.contains("application/json"), "{}", stored.headers);

    let wrong_secret = EventBuilder::new("customer.created").signed("whsec_not_the_endpoints");
    let answer = app.send_raw(&wrong_secret.body, &[("Stripe-Signature", &wrong_secret.header)]);
    assert_eq!(answer.status, 400);

    let unknown = app.post("/stripe/webhook/7d2c1f0e-0000-4000-8000-000000000000/", b"{}", &[]);
    assert_eq!((unknown.status, unknown.outcome()), (404, None));

    let test_event = app.send(&EventBuilder::new("customer.created").id("evt_00000000000000"));
    assert_eq!(test_event.outcome(), Some(Outcome::TestEvent));
}

/// Migrations that fail, and a settings name that matches no handler, stop the start with
/// the core's error type.
fn start_errors_are_clear(backend: Backend) {
    let broken = AppMigrations::function(|conn| Ok(conn.batch_execute("CREATE TABLE (")?));
    let err = TestApp::builder().backend(backend).migrations(broken).try_start().unwrap_err();
    assert!(matches!(err, Error::Migration { set: MigrationSet::App, .. }), "{err:?}");
    let err = TestApp::builder().backend(backend).handlers(HandlerSet::only(["record"])).try_start().unwrap_err();
    assert!(err.to_string().contains("no handler `record`"), "{err}");
    assert!(err.to_string().contains("record_paid"), "lists what is registered: {err}");
}

// diesel's embedded migrations, one directory per backend; the clash uses one of djstripe's versions.
static NOTES_SQLITE: diesel_migrations::EmbeddedMigrations =
    diesel_migrations::embed_migrations!("tests/app_migrations/sqlite");
static NOTES_POSTGRES: diesel_migrations::EmbeddedMigrations =
    diesel_migrations::embed_migrations!("tests/app_migrations/postgres");
static CLASH: diesel_migrations::EmbeddedMigrations =
    diesel_migrations::embed_migrations!("tests/app_migrations/clash");

fn embedded_migrations_apply_once(backend: Backend) {
    let migrations = AppMigrations::per_backend(&NOTES_SQLITE, &NOTES_POSTGRES);
    let app = TestApp::builder().backend(backend).migrations(migrations).handlers(HandlerSet::none()).start();
    app.database().execute("INSERT INTO notes (body) VALUES ('hello')");
    assert_eq!(app.database().count("SELECT COUNT(*) AS n FROM notes"), 1);
    // Started again on the same database: nothing pending, the row stays.
    assert_eq!(migrations.run(app.engine().database()).unwrap(), 0);
    assert_eq!(app.djstripe().migrate().unwrap(), 0);
    assert_eq!(app.database().count("SELECT COUNT(*) AS n FROM notes"), 1);

    let err = TestApp::builder().backend(backend).migrations(AppMigrations::embedded(&CLASH)).try_start().unwrap_err();
    assert!(err.to_string().contains("also one of djstripe's"), "{err}");
}

both_backends!(
    wait_on_commit_sees_every_answered_callback,
    only_the_chosen_handlers_run,
    raw_deliveries_get_clear_answers,
    start_errors_are_clear,
    embedded_migrations_apply_once,
);
