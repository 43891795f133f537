#![allow(missing_docs)]
//! The engine under faults (issue 14; RELIABILITY.md quotes these tests): a PostgreSQL server
//! stopped mid-load, and the bounds that keep answers fast whatever the queue.
//!
//! The server here is a private one (`support::private_postgres`): stopping it must not disturb
//! the other tests' databases. The full disk is a small tmpfs mounted by the test (as root).

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use djstripe_core::app::{AppMigrations, Djstripe, Settings};
use djstripe_core::db::NewWebhookEndpoint;
use djstripe_core::engine::{Delivery, Target};
use djstripe_core::testing::{EventBuilder, SignedEvent};
use djstripe_core::{Event, HandlerContext, HandlerResult, webhook_handler};
#[cfg(feature = "postgres")]
use support::private_postgres::PrivatePostgres;

/// Runs of `on_commit` per event id. At most one each: a commit whose answer the stopped server
/// never sent (committed, but the connection broke during `COMMIT`) is a 503 whose callbacks do
/// not run, and Stripe's re-send is then a duplicate (README, "Transaction guarantees").
static ON_COMMIT: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);

/// Writes one `faults_handled` row per run in the event's transaction (what "handled exactly
/// once" counts: a rolled-back batch leaves none), and counts its `on_commit`.
#[webhook_handler("invoice.paid")]
fn count_invoice(event: &Event, ctx: &mut HandlerContext) -> HandlerResult {
    ctx.connection()?.batch_execute(&format!("INSERT INTO faults_handled (event_id) VALUES ('{}')", event.id))?;
    let id = event.id.clone();
    ctx.on_commit(move || *ON_COMMIT.lock().unwrap().get_or_insert_with(HashMap::new).entry(id).or_default() += 1);
    Ok(())
}

const SECRET: &str = "whsec_faults";
/// `DJSTRIPE_DB_TIMEOUT` of these tests.
const DB_TIMEOUT: Duration = Duration::from_secs(4);
/// What an answer may take beyond the database timeout.
const MARGIN: Duration = Duration::from_millis(1500);

#[cfg(feature = "postgres")]
fn start(server: &PrivatePostgres) -> (Djstripe, String) {
    start_on(server.url("127.0.0.1", "sslmode=disable"))
}

fn start_on(url: String) -> (Djstripe, String) {
    let mut settings = Settings::new(url)
        .handlers(djstripe_core::registry::HandlerSet::only(["count_invoice"]))
        .app_migrations(AppMigrations::function(|conn| {
            Ok(conn.batch_execute("CREATE TABLE IF NOT EXISTS faults_handled (event_id TEXT NOT NULL)")?)
        }));
    settings.database.connect_timeout = DB_TIMEOUT;
    settings.database.pool_size = 8;
    let djstripe = Djstripe::start(settings).unwrap();
    let uuid = djstripe.engine().database().insert_endpoint(&NewWebhookEndpoint::local(SECRET)).unwrap().djstripe_uuid;
    (djstripe, uuid)
}

/// One delivery through the engine: its HTTP status and how long the answer took.
fn deliver(djstripe: &Djstripe, uuid: &str, signed: &SignedEvent) -> (u16, Duration) {
    let started = Instant::now();
    let delivery = Delivery {
        target: Target::Endpoint(uuid),
        body: &signed.body,
        signature: Some(signed.header.as_bytes()),
        headers: "{}".into(),
        remote_ip: "127.0.0.1".into(),
    };
    let status = match djstripe.engine().receive(&delivery) {
        Ok(receipt) => receipt.http_status(),
        Err(error) => error.http_status(),
    };
    (status, started.elapsed())
}

/// PostgreSQL stopped (`-m immediate`) under load from 16 threads: every answer while it is
/// down is a 503 within the database timeout plus a margin, however many deliveries wait (before
/// the circuit breaker: 10, 20, … 40 s, growing with the queue); once it is back, deliveries
/// succeed again without a restart, and after a full re-send every acknowledged event is stored
/// and was handled exactly once.
#[cfg(feature = "postgres")]
#[test]
fn postgres_stopped_mid_load_answers_503_in_time_and_loses_nothing() {
    let mut server = PrivatePostgres::plain();
    let (djstripe, uuid) = start(&server);
    let events: Vec<SignedEvent> = (0..2400).map(|_| EventBuilder::new("invoice.paid").signed(SECRET)).collect();
    let events = Arc::new(events);
    let answers = Arc::new(Mutex::new(Vec::<(usize, u16, Duration, bool)>::new()));
    let down = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let (djstripe, uuid, events, answers, down) =
                (djstripe.clone(), uuid.clone(), events.clone(), answers.clone(), down.clone());
            std::thread::spawn(move || {
                for n in (t..events.len()).step_by(16) {
                    let was_down = down.load(Ordering::SeqCst);
                    let (status, took) = deliver(&djstripe, &uuid, &events[n]);
                    answers.lock().unwrap().push((n, status, took, was_down));
                    // Paced, so that the load spans the outage.
                    std::thread::sleep(Duration::from_millis(30));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    server.stop_immediate();
    down.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1200));
    server.start_again();
    down.store(false, Ordering::SeqCst);
    for thread in threads {
        thread.join().unwrap();
    }
    let answers = answers.lock().unwrap().clone();
    let during: Vec<_> = answers.iter().filter(|a| a.3).collect();
    assert!(during.len() >= 16, "deliveries were answered while the server was down: {}", during.len());
    let slowest = answers.iter().map(|a| a.2).max().unwrap();
    let slowest_down = during.iter().map(|a| a.2).max().unwrap();
    eprintln!(
        "{} deliveries, {} answered while down (slowest {slowest_down:?}); slowest overall {slowest:?}",
        answers.len(),
        during.len()
    );
    assert!(slowest <= DB_TIMEOUT + MARGIN, "the slowest answer took {slowest:?} (bound {:?})", DB_TIMEOUT + MARGIN);
    for (n, status, took, _) in &answers {
        assert!([200, 503].contains(status), "event {n}: {status} after {took:?}");
    }
    assert!(during.iter().filter(|a| a.1 == 503).count() >= 16, "the outage was seen: {during:?}");
    let acknowledged: Vec<usize> = answers.iter().filter(|a| a.1 == 200).map(|a| a.0).collect();
    assert!(acknowledged.len() > 100, "deliveries succeeded before and after the outage: {}", acknowledged.len());

    // Recovery, without a restart of the app: within a few breaker retries of the server's return.
    let deadline = Instant::now() + Duration::from_secs(10);
    while deliver(&djstripe, &uuid, &EventBuilder::new("invoice.paid").signed(SECRET)).0 != 200 {
        assert!(Instant::now() < deadline, "deliveries succeed again within 10 s of the restart");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Stripe re-sends everything not acknowledged (and, here, everything): nothing is lost,
    // nothing is handled twice.
    for signed in events.iter() {
        let (status, _) = deliver(&djstripe, &uuid, signed);
        assert_eq!(status, 200);
    }
    djstripe.engine().flush_on_commit();
    let handled = handled_rows(&server);
    let on_commit = ON_COMMIT.lock().unwrap().clone().unwrap_or_default();
    for signed in events.iter() {
        let id = &signed.event.id;
        assert!(djstripe.engine().database().event(id).is_ok(), "{id} is stored");
        assert_eq!(handled.get(id), Some(&1), "{id} handled exactly once");
        assert!(on_commit.get(id).copied().unwrap_or(0) <= 1, "{id}: on_commit ran twice");
    }
    let skipped = events.iter().filter(|e| !on_commit.contains_key(&e.event.id)).count();
    eprintln!("on_commit skipped for {skipped} events (commits whose answer was lost)");
}

/// `faults_handled` rows per event id.
#[cfg(feature = "postgres")]
fn handled_rows(server: &PrivatePostgres) -> HashMap<String, i64> {
    use diesel::{Connection, QueryableByName, RunQueryDsl, sql_types};
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = sql_types::Text)]
        event_id: String,
        #[diesel(sql_type = sql_types::BigInt)]
        n: i64,
    }
    let mut conn = diesel::PgConnection::establish(&server.url("127.0.0.1", "sslmode=disable")).unwrap();
    let rows: Vec<Row> = diesel::sql_query("SELECT event_id, count(*) AS n FROM faults_handled GROUP BY event_id")
        .load(&mut conn)
        .unwrap();
    rows.into_iter().map(|r| (r.event_id, r.n)).collect()
}

/// While the server is down, a burst of deliveries (more than the writers' batches) is answered
/// at once: the circuit breaker answers without waiting for a connection.
#[cfg(feature = "postgres")]
#[test]
fn a_burst_while_postgres_is_down_is_answered_at_once() {
    let mut server = PrivatePostgres::plain();
    let (djstripe, uuid) = start(&server);
    let warm = EventBuilder::new("invoice.paid").signed(SECRET);
    assert_eq!(deliver(&djstripe, &uuid, &warm).0, 200);
    server.stop_immediate();
    let started = Instant::now();
    let answers: Vec<(u16, Duration)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..64)
            .map(|_| {
                let (djstripe, uuid) = (&djstripe, &uuid);
                scope.spawn(move || deliver(djstripe, uuid, &EventBuilder::new("invoice.paid").signed(SECRET)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all = started.elapsed();
    eprintln!("64 deliveries while down: all answered in {all:?}");
    assert!(answers.iter().all(|a| a.0 == 503), "{answers:?}");
    assert!(all <= DB_TIMEOUT + MARGIN, "64 deliveries took {all:?} in all");
    assert!(djstripe.engine().database().is_unreachable(), "the breaker is open");
    // Once open, an answer takes no wait at all.
    let (status, took) = deliver(&djstripe, &uuid, &EventBuilder::new("invoice.paid").signed(SECRET));
    assert_eq!(status, 503);
    assert!(took < Duration::from_millis(200), "answered in {took:?}");
    let Err(djstripe_core::Error::DatabaseUnavailable { cause, .. }) = djstripe.engine().database().get() else {
        panic!("the database is down")
    };
    assert!(cause.is_some(), "the cause is named (refused connection)");

    server.start_again();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = deliver(&djstripe, &uuid, &EventBuilder::new("invoice.paid").signed(SECRET));
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "recovered within 10 s of the restart");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!djstripe.engine().database().is_unreachable());
}

/// A small tmpfs, unmounted when dropped.
#[cfg(feature = "sqlite")]
struct SmallDisk(tempfile::TempDir);

#[cfg(feature = "sqlite")]
impl SmallDisk {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("running mount");
        assert!(status.success(), "this test mounts a small tmpfs to fill it: it needs root (mount -t tmpfs)");
        Self(dir)
    }
}

#[cfg(feature = "sqlite")]
impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: the engine's writer threads may still hold the file for a moment.
        let _ = std::process::Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

/// SQLite on a disk that fills up: deliveries are answered 503 (Stripe retries; never 500, never
/// a lost acknowledged event), the file stays intact (`PRAGMA integrity_check`), and once space is
/// freed deliveries succeed again without a restart.
#[cfg(feature = "sqlite")]
#[test]
fn sqlite_on_a_full_disk_answers_503_and_stays_intact() {
    let disk = SmallDisk::mount("6m");
    let filler = disk.0.path().join("filler");
    std::fs::write(&filler, vec![0u8; 1 << 20]).unwrap();
    let path = disk.0.path().join("shop.sqlite3");
    let (djstripe, uuid) = start_on(format!("sqlite://{}", path.display()));
    let big = || {
        EventBuilder::new("invoice.paid")
            .merge_object(serde_json::json!({"description": "x".repeat(100_000)}))
            .signed(SECRET)
    };
    let mut acknowledged = Vec::new();
    let mut refused = 0;
    for _ in 0..200 {
        let signed = big();
        match deliver(&djstripe, &uuid, &signed).0 {
            200 => acknowledged.push(signed.event.id.clone()),
            503 => refused += 1,
            other => panic!("a full disk answered {other}"),
        }
        if refused >= 5 {
            break;
        }
    }
    assert!(refused >= 5, "the disk filled up ({} acknowledged)", acknowledged.len());
    assert!(acknowledged.len() >= 10, "deliveries succeeded before: {}", acknowledged.len());
    {
        use diesel::{Connection, RunQueryDsl};
        #[derive(diesel::QueryableByName)]
        struct Check {
            #[diesel(sql_type = diesel::sql_types::Text)]
            integrity_check: String,
        }
        let mut conn = diesel::SqliteConnection::establish(path.to_str().unwrap()).unwrap();
        let rows: Vec<Check> = diesel::sql_query("PRAGMA integrity_check").load(&mut conn).unwrap();
        assert_eq!(rows.iter().map(|r| r.integrity_check.as_str()).collect::<Vec<_>>(), ["ok"]);
    }
    for id in &acknowledged {
        assert!(djstripe.engine().database().event(id).is_ok(), "acknowledged {id} is stored");
    }
    std::fs::remove_file(&filler).unwrap();
    let (status, _) = deliver(&djstripe, &uuid, &EventBuilder::new("invoice.paid").signed(SECRET));
    assert_eq!(status, 200, "space freed: deliveries succeed again");
    eprintln!("full disk: {} acknowledged, then {refused} × 503; integrity ok; recovered", acknowledged.len());
}
