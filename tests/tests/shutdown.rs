#![allow(missing_docs)]
//! Stopping and crashing handlers, end to end: the example shop as a process on every stack
//! (actix-web and axum, SQLite and PostgreSQL).
//!
//! - SIGTERM under load: what a deploy does while Stripe is sending. Every delivery the server
//!   accepted is answered 200 and committed exactly once, the `on_commit` callbacks of the last
//!   ones run (the shop's outbox), and the process exits 0 within `DJSTRIPE_SHUTDOWN_GRACE`.
//! - A panic storm: half of 200 concurrent deliveries make the shop's handler panic; each of
//!   them is its own 500 `failed`, the others are processed, and the server stays up.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use djstripe_core::testing::EventBuilder;
use djstripe_tests::{Server, Stack, TestDb, every_stack, post};
use serde_json::Value;

/// What became of one delivery: its HTTP answer (status, JSON), or the transport error.
type Sent = Result<(u16, Value), String>;

/// POSTs a signed delivery; unlike the harness's `post`, a transport error (refused, reset,
/// empty answer) is returned, not a panic: during a shutdown some are expected.
fn try_post(url: &str, body: &[u8], signature: &str) -> Sent {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut answer = agent
        .post(url)
        .header("Content-Type", "application/json")
        .header("Stripe-Signature", signature)
        .send(body)
        .map_err(|e| format!("sending: {e}"))?;
    let status = answer.status().as_u16();
    let json = answer.body_mut().read_json::<Value>().map_err(|e| format!("reading the answer ({status}): {e}"))?;
    Ok((status, json))
}

fn count(db: &TestDb, sql: &str) -> i64 {
    db.count(sql)
}

/// SIGTERM while 16 threads keep sending `customer.subscription.trial_will_end` deliveries
/// (each writes a shop row and queues a reminder e-mail with `on_commit`, which takes 20 ms:
/// a backlog of them waits at the signal).
fn sigterm_under_load(stack: Stack) {
    const THREADS: usize = 16;
    const GRACE: Duration = Duration::from_secs(20);
    let db = TestDb::new(stack);
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox.txt");
    let mut server = Server::start(
        &db,
        &[
            ("SHOP_OUTBOX", outbox.to_str().unwrap()),
            ("SHOP_OUTBOX_DELAY_MS", "20"),
            ("DJSTRIPE_SHUTDOWN_GRACE", &GRACE.as_secs().to_string()),
            ("RUST_LOG", "warn,djstripe_core::shutdown=info"),
        ],
    );
    let secret = server.secret(&db);
    let url = server.endpoint_url();

    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..THREADS)
        .map(|_| {
            let (secret, url, stop, answered) = (secret.clone(), url.clone(), stop.clone(), answered.clone());
            std::thread::spawn(move || {
                let mut sent: Vec<(String, Sent, Instant)> = Vec::new();
                // Until the listener is gone (an error), or the test gives up.
                while !stop.load(Ordering::SeqCst) {
                    let signed = EventBuilder::new("customer.subscription.trial_will_end").signed(&secret);
                    let result = try_post(&url, &signed.body, &signed.header);
                    let failed = result.is_err();
                    if !failed {
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                    sent.push((signed.event.id.clone(), result, Instant::now()));
                    if failed {
                        break;
                    }
                }
                sent
            })
        })
        .collect();

    // Load first: the writers busy and on_commit callbacks queued behind the 20 ms mailer.
    let started = Instant::now();
    while answered.load(Ordering::SeqCst) < 150 {
        assert!(started.elapsed() < Duration::from_secs(60), "the load never got going");
        std::thread::sleep(Duration::from_millis(5));
    }
    let signalled = Instant::now();
    server.terminate();
    let status = server.wait_exit(GRACE + Duration::from_secs(10));
    let took = signalled.elapsed();
    stop.store(true, Ordering::SeqCst);
    let sent: Vec<(String, Sent, Instant)> = senders.into_iter().flat_map(|t| t.join().unwrap()).collect();

    let status = status.unwrap_or_else(|| panic!("the server still runs {took:?} after SIGTERM"));
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM: {status}");
    assert!(took < GRACE, "stopped in {took:?}, past the grace period of {GRACE:?}");

    let mut processed = Vec::new();
    let mut after_signal = 0;
    let mut errors = 0;
    for (id, result, at) in &sent {
        let triggers =
            count(&db, &format!("SELECT COUNT(*) AS n FROM djstripe_webhookeventtrigger WHERE event_id = '{id}'"));
        match result {
            Ok((status, json)) => {
                assert_eq!((*status, json["status"].as_str()), (200, Some("processed")), "{id}: {json}");
                processed.push(id.clone());
                if *at > signalled {
                    after_signal += 1;
                }
            }
            // Refused, or reset in the listen queue when the listener closed: Stripe retries
            // it. Never one the engine had taken: it would have been answered.
            Err(error) => {
                errors += 1;
                assert_eq!(triggers, 0, "{id} was recorded, yet got no answer: {error}");
            }
        }
    }
    assert!(after_signal > 0, "no delivery was in flight at SIGTERM: the test proves nothing ({} sent)", sent.len());
    assert!(errors <= THREADS, "each sender stops at its first error");

    // Exactly once: one event row, one shop row, one e-mail per processed event.
    let mailed = std::fs::read_to_string(&outbox).unwrap_or_default();
    let mut mails: HashMap<&str, usize> = HashMap::new();
    for line in mailed.lines() {
        *mails.entry(line.split(' ').nth(1).unwrap()).or_default() += 1;
    }
    for id in &processed {
        assert_eq!(count(&db, &format!("SELECT COUNT(*) AS n FROM djstripe_event WHERE id = '{id}'")), 1, "{id}");
        assert_eq!(
            count(&db, &format!("SELECT COUNT(*) AS n FROM shop_customer_event WHERE event_id = '{id}'")),
            1,
            "{id}: handled once"
        );
        assert_eq!(mails.get(id.as_str()), Some(&1), "{id}: its on_commit e-mail was sent once");
    }
    // Nothing processed that nobody was told about (all deliveries were answered or refused).
    let events = count(&db, "SELECT COUNT(*) AS n FROM djstripe_event");
    assert_eq!(events, processed.len() as i64, "events stored vs answered 200");
    assert_eq!(mails.len(), processed.len(), "e-mails vs events");
    eprintln!(
        "{stack:?}: {} processed ({after_signal} answered after SIGTERM), {errors} refused; exit 0 in {took:?}",
        processed.len()
    );
}

/// A request that never completes (a stalled upload, under a body timeout longer than the grace)
/// does not hold the process past `DJSTRIPE_SHUTDOWN_GRACE`: the server drops it at the
/// deadline, on both adapters (axum alone would wait for it).
fn grace_bounds_a_stalled_request(stack: Stack) {
    use std::io::Write;
    const GRACE: Duration = Duration::from_secs(2);
    let db = TestDb::new(stack);
    let mut server = Server::start(&db, &[("DJSTRIPE_SHUTDOWN_GRACE", "2"), ("DJSTRIPE_WEBHOOK_BODY_TIMEOUT", "120")]);
    let mut stalled = std::net::TcpStream::connect(server.address()).unwrap();
    let head = format!(
        "POST /stripe/webhook/{}/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: 1000\r\n\r\n{{\"id\":",
        server.uuid
    );
    stalled.write_all(head.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(300)); // the server is reading its body
    let signalled = Instant::now();
    server.terminate();
    let status = server.wait_exit(Duration::from_secs(30));
    let took = signalled.elapsed();
    let status = status.unwrap_or_else(|| panic!("still running {took:?} after SIGTERM"));
    assert_eq!(status.code(), Some(0), "{status}");
    assert!(took < GRACE + Duration::from_secs(2), "stopped in {took:?}, the grace is {GRACE:?}");
    // Nothing was accepted from it: no trigger row (its body never came).
    assert_eq!(db.count("SELECT COUNT(*) AS n FROM djstripe_webhookeventtrigger"), 0);
    use std::io::Read;
    let mut answer = String::new();
    let _ = stalled.read_to_string(&mut answer);
    eprintln!("{stack:?}: stopped in {took:?}; the stalled request got {answer:?}");
}

/// 200 concurrent deliveries, every other one asking the shop's handler to panic.
fn panic_storm(stack: Stack) {
    const DELIVERIES: usize = 200;
    let db = TestDb::new(stack);
    let server = Server::start(&db, &[]);
    let secret = server.secret(&db);
    let url = server.endpoint_url();
    let signed: Vec<_> = (0..DELIVERIES)
        .map(|n| {
            let event = EventBuilder::new("customer.created");
            if n % 2 == 0 { event.metadata("panic", "yes") } else { event }.signed(&secret)
        })
        .collect();
    let signed = Arc::new(signed);

    let storm = |round: &str| -> Vec<Sent> {
        let barrier = Arc::new(Barrier::new(DELIVERIES));
        let threads: Vec<_> = (0..DELIVERIES)
            .map(|n| {
                let (signed, barrier, url) = (signed.clone(), barrier.clone(), url.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    try_post(&url, &signed[n].body, &signed[n].header)
                })
            })
            .collect();
        let answers: Vec<Sent> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        for (n, answer) in answers.iter().enumerate() {
            assert!(answer.is_ok(), "{round}: delivery {n}: {answer:?}");
        }
        answers
    };

    for (round, good_status) in [("first", "processed"), ("re-sent", "duplicate")] {
        for (n, answer) in storm(round).into_iter().enumerate() {
            let (status, json) = answer.unwrap();
            let id = &signed[n].event.id;
            assert_eq!(json["event_id"], id.as_str(), "{round} {n}: {json}");
            if n % 2 == 0 {
                assert_eq!((status, json["status"].as_str()), (500, Some("failed")), "{round} {n}: {json}");
                assert!(
                    !json["error"].as_str().unwrap_or_default().contains("panic"),
                    "{round} {n}: no handler detail sent: {json}"
                );
            } else {
                assert_eq!((status, json["status"].as_str()), (200, Some(good_status)), "{round} {n}: {json}");
            }
        }
        let failed = count(
            &db,
            "SELECT COUNT(*) AS n FROM djstripe_webhookeventtrigger WHERE outcome = 'failed' AND valid = true \
             AND processed = false AND exception LIKE '%panicking on purpose%'",
        );
        let rounds = if round == "first" { 1 } else { 2 };
        assert_eq!(failed, (DELIVERIES / 2 * rounds) as i64, "{round}: one failed trigger row naming the panic each");
        assert_eq!(
            count(&db, "SELECT COUNT(*) AS n FROM djstripe_webhookeventtrigger"),
            (DELIVERIES * rounds) as i64,
            "{round}: a trigger row per delivery"
        );
        assert_eq!(count(&db, "SELECT COUNT(*) AS n FROM djstripe_event"), (DELIVERIES / 2) as i64, "{round}");
        assert_eq!(
            count(&db, "SELECT COUNT(*) AS n FROM shop_customer_event"),
            (DELIVERIES / 2) as i64,
            "{round}: one shop row per good event, none for a panicking one"
        );
        for (n, delivery) in signed.iter().enumerate() {
            let id = &delivery.event.id;
            let rows = count(&db, &format!("SELECT COUNT(*) AS n FROM shop_customer_event WHERE event_id = '{id}'"));
            assert_eq!(rows, if n % 2 == 0 { 0 } else { 1 }, "{round} {n}: shop rows of {id}");
        }
    }

    // Still up, and well.
    let fresh = EventBuilder::new("customer.created").signed(&secret);
    let answer = post(&url, &fresh.body, Some(&fresh.header));
    assert_eq!((answer.status, answer.json["status"].as_str()), (200, Some("processed")), "{answer:?}");
}

every_stack!(sigterm_under_load, grace_bounds_a_stalled_request, panic_storm);
