#![allow(missing_docs)]
//! `kill -9` under load (issue 14; RELIABILITY.md quotes this test): the example app is killed
//! while 8 clients deliver; restarted on the same database, it gets every event again (Stripe
//! re-sends what it was not told succeeded, and here everything): each event answered 200 before
//! the kill is stored, and the shop's handler ran exactly once for every event.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use djstripe_core::testing::{EventBuilder, SignedEvent};
use djstripe_tests::*;

every_stack!(kill_9_under_load_loses_nothing_and_handles_each_event_once);

fn shop_rows(db: &TestDb, event_id: &str) -> i64 {
    db.count(&format!("SELECT COUNT(*) AS n FROM shop_customer_event WHERE event_id = '{event_id}'"))
}

fn kill_9_under_load_loses_nothing_and_handles_each_event_once(stack: Stack) {
    let db = TestDb::new(stack);
    let server = Server::start(&db, &[]);
    let secret = server.secret(&db);
    let events: Arc<Vec<SignedEvent>> =
        Arc::new((0..1200).map(|_| EventBuilder::new("customer.created").signed(&secret)).collect());
    let acknowledged = Arc::new(Mutex::new(Vec::<usize>::new()));
    let url = server.endpoint_url();
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let (events, acknowledged, url) = (events.clone(), acknowledged.clone(), url.clone());
            std::thread::spawn(move || {
                for n in (c..events.len()).step_by(8) {
                    // After the kill every request fails to connect: the client stops.
                    let Some(status) = try_post(&url, &events[n]) else { return };
                    if status == 200 {
                        acknowledged.lock().unwrap().push(n);
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    while acknowledged.lock().unwrap().len() < 200 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(server); // SIGKILL, mid-load
    for client in clients {
        client.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 200, "deliveries were acknowledged before the kill: {}", acknowledged.len());
    assert!(acknowledged.len() < events.len(), "the kill came mid-load");
    for &n in &acknowledged {
        assert_eq!(shop_rows(&db, &events[n].event.id), 1, "acknowledged event {n} survived the kill");
    }

    let server = Server::start(&db, &[]);
    let url = server.endpoint_url();
    std::thread::scope(|scope| {
        for c in 0..8 {
            let (events, url) = (&events, &url);
            scope.spawn(move || {
                for n in (c..events.len()).step_by(8) {
                    let answer = post(url, &events[n].body, Some(&events[n].header));
                    assert_eq!(answer.status, 200, "re-sent event {n}: {answer:?}");
                }
            });
        }
    });
    let handled = db.count("SELECT COUNT(*) AS n FROM shop_customer_event");
    let distinct = db.count("SELECT COUNT(DISTINCT event_id) AS n FROM shop_customer_event");
    assert_eq!((handled, distinct), (events.len() as i64, events.len() as i64), "each event handled exactly once");
    assert_eq!(db.count("SELECT COUNT(*) AS n FROM djstripe_event"), events.len() as i64);
    eprintln!(
        "{stack:?}: {} acknowledged before the kill; all {} once after the re-send",
        acknowledged.len(),
        events.len()
    );
}

/// POSTs a signed event; `None` when the connection fails (the server is gone).
fn try_post(url: &str, signed: &SignedEvent) -> Option<u16> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let response = agent
        .post(url)
        .header("Content-Type", "application/json")
        .header("Stripe-Signature", &signed.header)
        .send(&signed.body[..]);
    response.ok().map(|r| r.status().as_u16())
}

both_backends!(
    two_instances_on_one_database_handle_concurrent_duplicates_once,
    kill_9_with_pending_and_claimed_inbox_events
);

/// Two app instances on one database (the way PostgreSQL is deployed; SQLite shares the file),
/// every event delivered to both at the same moment, several times: each is handled exactly once.
fn two_instances_on_one_database_handle_concurrent_duplicates_once(backend: Backend) {
    let db = TestDb::new(Stack { backend, adapter: Adapter::Actix });
    let first = Server::start(&db, &[]);
    let second = Server::start(&db, &[]);
    assert_eq!(first.uuid, second.uuid, "one development endpoint, shared");
    let secret = first.secret(&db);
    let events: Vec<SignedEvent> = (0..150).map(|_| EventBuilder::new("customer.created").signed(&secret)).collect();
    let urls = [first.endpoint_url(), second.endpoint_url()];
    std::thread::scope(|scope| {
        for t in 0..8 {
            let (events, url) = (&events, &urls[t % 2]);
            scope.spawn(move || {
                for signed in events {
                    let answer = post(url, &signed.body, Some(&signed.header));
                    assert_eq!(answer.status, 200, "{answer:?}");
                }
            });
        }
    });
    let handled = db.count("SELECT COUNT(*) AS n FROM shop_customer_event");
    let distinct = db.count("SELECT COUNT(DISTINCT event_id) AS n FROM shop_customer_event");
    assert_eq!((handled, distinct), (150, 150), "each event handled exactly once across both instances");
    assert_eq!(db.count("SELECT COUNT(*) AS n FROM djstripe_webhookeventtrigger"), 8 * 150, "every delivery recorded");
    assert_eq!(
        db.count("SELECT COUNT(*) AS n FROM djstripe_webhookeventtrigger WHERE outcome = 'processed'"),
        150,
        "one processed, the rest duplicates"
    );
}

/// Inbox mode under `kill -9` (issue 17): the server is killed while its workers are inside
/// events (claimed) and others wait (pending). Restarted on the same database, with no event
/// sent again, it processes every one of them exactly once: a claim dies with its process and is
/// taken over once its lease has passed.
fn kill_9_with_pending_and_claimed_inbox_events(backend: Backend) {
    let db = TestDb::new(backend);
    let env = [("DJSTRIPE_WEBHOOK_PROCESSING", "inbox"), ("DJSTRIPE_INBOX_LEASE", "2")];
    let server = Server::start(&db, &env);
    let secret = server.secret(&db);
    let events: Vec<SignedEvent> =
        (0..60).map(|_| EventBuilder::new("customer.created").metadata("sleep_ms", "100").signed(&secret)).collect();
    let url = server.endpoint_url();
    for signed in &events {
        let answer = post(&url, &signed.body, Some(&signed.header));
        assert_eq!((answer.status, answer.json["status"].as_str()), (200, Some("queued")), "{answer:?}");
    }
    let started = Instant::now();
    while db.count("SELECT COUNT(*) AS n FROM shop_customer_event") < 2 {
        assert!(started.elapsed() < Duration::from_secs(30), "the workers did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(server); // SIGKILL while workers hold claims
    let waiting = db.count("SELECT COUNT(*) AS n FROM djstripe_inbox");
    let claimed = db.count("SELECT COUNT(*) AS n FROM djstripe_inbox WHERE lease_token IS NOT NULL");
    assert!(waiting > 0 && claimed > 0, "killed with events pending ({waiting}) and claimed ({claimed})");
    let done_before = db.count("SELECT COUNT(*) AS n FROM shop_customer_event");

    let _server = Server::start(&db, &env);
    let started = Instant::now();
    while db.count("SELECT COUNT(*) AS n FROM djstripe_inbox") > 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "the restarted server did not drain the inbox");
        std::thread::sleep(Duration::from_millis(20));
    }
    for signed in &events {
        assert_eq!(shop_rows(&db, &signed.event.id), 1, "{} handled exactly once", signed.event.id);
    }
    let processed = db.count("SELECT COUNT(*) AS n FROM djstripe_webhookeventtrigger WHERE outcome = 'processed'");
    assert_eq!(processed, 60, "every trigger row ends processed");
    assert!(done_before < 60, "the kill came before the inbox was drained ({done_before} done)");
}
