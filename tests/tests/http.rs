#![allow(missing_docs)]
//! The webhook endpoint over real HTTP on loopback: the example shop as a process, served by
//! actix-web and by axum, on SQLite and on PostgreSQL — one suite, every stack. One server per
//! test; every answer's status and label are asserted, and so are the rows it left (trigger
//! rows, events, the shop's own table).

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use djstripe_core::testing::{EventBuilder, header, header_now};
use djstripe_tests::{Backend, Server, Stack, TestDb, every_stack, get, post, post_while_sending, request};

fn triggers(db: &TestDb) -> i64 {
    db.count("SELECT COUNT(*) AS n FROM djstripe_webhookeventtrigger")
}

fn triggers_with(db: &TestDb, outcome: &str) -> i64 {
    db.count(&format!("SELECT COUNT(*) AS n FROM djstripe_webhookeventtrigger WHERE outcome = '{outcome}'"))
}

fn events(db: &TestDb) -> i64 {
    db.count("SELECT COUNT(*) AS n FROM djstripe_event")
}

fn event_rows(db: &TestDb, id: &str) -> i64 {
    db.count(&format!("SELECT COUNT(*) AS n FROM djstripe_event WHERE id = '{id}'"))
}

fn shop_rows(db: &TestDb, event_id: &str) -> i64 {
    db.count(&format!("SELECT COUNT(*) AS n FROM shop_customer_event WHERE event_id = '{event_id}'"))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A fresh `customer.created` posted to the server must be processed: the server is alive and well.
fn assert_alive(server: &Server, secret: &str) {
    let signed = EventBuilder::new("customer.created").signed(secret);
    let answer = post(&server.endpoint_url(), &signed.body, Some(&signed.header));
    assert_eq!((answer.status, answer.json["status"].as_str()), (200, Some("processed")), "{answer:?}");
}

/// 200: processed, duplicate (same delivery again, and re-signed later like Stripe's retries),
/// the Dashboard's test event discarded; the price/product handler; the URL without its slash.
fn ok_answers(stack: Stack) {
    let db = TestDb::new(stack);
    let server = Server::start(&db, &[]);
    let secret = server.secret(&db);
    let url = server.endpoint_url();

    let signed = EventBuilder::new("customer.created").signed(&secret);
    let id = signed.event.id.clone();
    let first = post(&url, &signed.body, Some(&signed.header));
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.json["status"], "processed");
    assert_eq!(first.json["event_id"], id.as_str());
    assert!(first.json["trigger_id"].as_i64().is_some(), "{first:?}");
    assert_eq!(shop_rows(&db, &id), 1);

    let again = post(&url, &signed.body, Some(&signed.header));
    assert_eq!((again.status, again.json["status"].as_str()), (200, Some("duplicate")), "{again:?}");
    assert_eq!(again.json["event_id"], id.as_str());
    assert_ne!(again.json["trigger_id"], first.json["trigger_id"], "each delivery has its own trigger row");
    let resigned = header(&secret, now() + 1, &signed.body);
    let retry = post(&url, &signed.body, Some(&resigned));
    assert_eq!((retry.status, retry.json["status"].as_str()), (200, Some("duplicate")), "{retry:?}");
    assert_eq!(shop_rows(&db, &id), 1, "the handler ran once");

    let test = EventBuilder::new("customer.created").id("evt_00000000000000").signed(&secret);
    let answer = post(&url, &test.body, Some(&test.header));
    assert_eq!((answer.status, answer.json["status"].as_str()), (200, Some("test_event")), "{answer:?}");
    assert_eq!(event_rows(&db, "evt_00000000000000"), 0, "the test event is not stored");
    assert_eq!(shop_rows(&db, "evt_00000000000000"), 0, "nor handled");

    let price = EventBuilder::new("price.updated").signed(&secret);
    let answer = post(&url, &price.body, Some(&price.header));
    assert_eq!((answer.status, answer.json["status"].as_str()), (200, Some("processed")), "{answer:?}");

    let no_slash = EventBuilder::new("customer.updated").signed(&secret);
    let answer = post(url.trim_end_matches('/'), &no_slash.body, Some(&no_slash.header));
    assert_eq!((answer.status, answer.json["status"].as_str()), (200, Some("processed")), "{answer:?}");

    assert_eq!(triggers(&db), 6);
    assert_eq!(triggers_with(&db, "processed"), 3);
    assert_eq!(triggers_with(&db, "duplicate"), 2);
    assert_eq!(triggers_with(&db, "test_event"), 1);
    assert_eq!(events(&db), 3);
}

/// 400: no signature, a wrong one, a malformed header, a stale timestamp, a signed body that is
/// not a Stripe event. Each is recorded as an invalid trigger row; nothing is processed.
fn bad_requests(stack: Stack) {
    let db = TestDb::new(stack);
    let server = Server::start(&db, &[]);
    let secret = server.secret(&db);
    let url = server.endpoint_url();
    let event = EventBuilder::new("customer.created");
    let signed = event.signed(&secret);

    let stale = event.signed_at(&secret, now() - 600);
    let not_an_event = br#"{"hello":"world"}"#;
    let cases: Vec<(&str, Vec<u8>, Option<String>, &str)> = vec![
        ("missing signature", signed.body.clone(), None, "missing"),
        ("wrong secret", signed.body.clone(), Some(header("whsec_someone_else", now(), &signed.body)), "matches"),
        ("malformed header", signed.body.clone(), Some("garbage".into()), "Stripe-Signature"),
        (
            "tampered body",
            signed.body.iter().map(|b| if *b == b'1' { b'2' } else { *b }).collect(),
            Some(signed.header.clone()),
            "matches",
        ),
        ("stale timestamp", stale.body.clone(), Some(stale.header.clone()), "tolerance"),
        ("not an event", not_an_event.to_vec(), Some(header_now(&secret, not_an_event)), "not a Stripe event"),
    ];
    for (what, body, signature, needle) in &cases {
        let answer = post(&url, body, signature.as_deref());
        assert_eq!(answer.status, 400, "{what}: {answer:?}");
        assert_eq!(answer.json["status"], "invalid", "{what}: {answer:?}");
        let error = answer.json["error"].as_str().unwrap_or_default();
        assert!(error.contains(needle), "{what}: `{error}` should mention `{needle}`");
        assert!(!error.contains('\n'), "{what}: one line: {error}");
        assert!(answer.json["trigger_id"].as_i64().is_some(), "{what}: {answer:?}");
    }
    assert_eq!(triggers(&db), cases.len() as i64, "every request left a trigger row");
    assert_eq!(triggers_with(&db, "invalid"), cases.len() as i64);
    assert_eq!(events(&db), 0);
    assert_eq!(shop_rows(&db, &signed.event.id), 0);

    // The event itself, correctly signed, is still processed: rejections did not poison it.
    let answer = post(&url, &signed.body, Some(&signed.header));
    assert_eq!((answer.status, answer.json["status"].as_str()), (200, Some("processed")), "{answer:?}");
}

/// Garbage bodies, signed and unsigned: a clear 400 each, a trigger row each, the server stays
/// up. Unsigned bodies are stored truncated to 4 KiB; signed ones (from Stripe) whole.
fn garbage_bodies(stack: Stack) {
    let db = TestDb::new(stack);
    let server = Server::start(&db, &[]);
    let secret = server.secret(&db);
    let url = server.endpoint_url();

    let mut random = Vec::with_capacity(10_000);
    let mut x: u32 = 0x1234_5678;
    for _ in 0..10_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        random.push(x as u8);
    }
    let nested = format!("{}{}", "[".repeat(500_000), "]".repeat(500_000)).into_bytes();
    let deep_object = format!(
        r#"{{"id":"evt_deep","object":"event","type":"customer.created","data":{}}}"#,
        "{\"a\":".repeat(1000) + "1" + &"}".repeat(1000)
    )
    .into_bytes();
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("random bytes", random),
        ("non-UTF-8", b"{\"id\":\"evt_\xff\xfe\",\"object\":\"event\"}".to_vec()),
        ("empty", Vec::new()),
        ("JSON array", b"[1,2,3]".to_vec()),
        ("JSON null", b"null".to_vec()),
        ("JSON string", b"\"evt_1\"".to_vec()),
        ("truncated JSON", b"{\"id\":\"evt_1\",\"type\":".to_vec()),
        ("event without data", br#"{"id":"evt_1","object":"event","type":"customer.created","created":1}"#.to_vec()),
        ("huge nested array", nested.clone()),
        ("deeply nested object", deep_object),
    ];
    for (what, body) in &bodies {
        let unsigned = post(&url, body, None);
        assert_eq!(
            (unsigned.status, unsigned.json["status"].as_str()),
            (400, Some("invalid")),
            "{what} unsigned: {unsigned:?}"
        );
        let signed = post(&url, body, Some(&header_now(&secret, body)));
        assert_eq!(
            (signed.status, signed.json["status"].as_str()),
            (400, Some("invalid")),
            "{what} signed: {signed:?}"
        );
        let error = signed.json["error"].as_str().unwrap_or_default();
        assert!(error.starts_with("the body is not a Stripe event"), "{what}: {error}");
        assert!(!error.contains('\n') && error.len() < 500, "{what}: a short, one-line error: {error}");
    }
    let n = bodies.len() as i64;
    assert_eq!(triggers(&db), 2 * n, "every request left a trigger row");
    assert_eq!(triggers_with(&db, "invalid"), 2 * n);
    assert_eq!(events(&db), 0);

    // An unauthenticated sender cannot fill the disk; Stripe's own (signed) body is kept whole.
    let big = nested.len();
    let stored = |truncated: bool| {
        db.count(&format!(
            "SELECT COUNT(*) AS n FROM djstripe_webhookeventtrigger WHERE body_truncated = {truncated} AND CAST(length(body) AS BIGINT) = {}",
            if truncated { 4096 } else { big }
        ))
    };
    assert_eq!(stored(true), 3, "the unsigned random bytes, nested array and deep object are truncated to 4 KiB");
    assert_eq!(stored(false), 1, "the signed nested array is stored whole");

    assert_alive(&server, &secret);
}

/// 404: unknown endpoint and malformed uuid, nothing recorded. 405: other methods.
fn not_found_and_method_not_allowed(stack: Stack) {
    let db = TestDb::new(stack);
    let server = Server::start(&db, &[]);
    let secret = server.secret(&db);
    let signed = EventBuilder::new("customer.created").signed(&secret);

    for path in ["6f1c1d0e-8a4b-4c43-9d7e-2f0a6f1c1d0e", "not-a-uuid", "1", "'%20OR%201=1", &server.uuid[..35], "a/b"] {
        let url = format!("{}/stripe/webhook/{path}/", server.base);
        let answer = post(&url, &signed.body, Some(&signed.header));
        assert_eq!(answer.status, 404, "{url}: {answer:?}");
        assert_eq!(answer.json["error"], "not found", "reveals nothing: {answer:?}");
    }
    assert_eq!(triggers(&db), 0, "no trigger row for an unknown endpoint");

    let url = server.endpoint_url();
    assert_eq!(get(&url).status, 405);
    for method in ["PUT", "DELETE", "PATCH"] {
        let answer = request(method, &url, &signed.body, Some(&signed.header));
        assert_eq!(answer.status, 405, "{method}: {answer:?}");
        assert_eq!(answer.json["error"], "only POST is allowed");
    }
    assert_eq!(triggers(&db), 0, "a wrong method is refused before the endpoint");
    assert_eq!(events(&db), 0);

    assert_alive(&server, &secret);
}

/// 413: a 3 MiB body (limit 2.5 MiB) is refused, recorded with a truncated body; the server
/// stays up.
fn too_large(stack: Stack) {
    let db = TestDb::new(stack);
    let server = Server::start(&db, &[]);
    let secret = server.secret(&db);
    let body = EventBuilder::new("customer.created")
        .merge_object(serde_json::json!({"description": "x".repeat(3 << 20)}))
        .to_json();
    assert!(body.len() > 3 << 20);
    let header = header_now(&secret, &body);
    let answer = post_while_sending(&server, &format!("/stripe/webhook/{}/", server.uuid), body, &header);
    assert_eq!(answer.status, 413, "{answer:?}");
    assert_eq!(answer.json["status"], "invalid");
    assert!(answer.json["error"].as_str().unwrap_or_default().contains("2621440 bytes"), "{answer:?}");
    let trigger_id = answer.json["trigger_id"].as_i64().expect("a trigger row");
    assert_eq!(triggers(&db), 1);
    assert_eq!(
        db.count(&format!(
            "SELECT COUNT(*) AS n FROM djstripe_webhookeventtrigger WHERE id = {trigger_id} AND outcome = 'invalid' \
             AND body_truncated = true AND CAST(length(body) AS BIGINT) <= 4096 AND exception LIKE '%exceeds the limit%'"
        )),
        1,
        "the trigger row holds a truncated body"
    );
    assert_eq!(events(&db), 0);
    assert_alive(&server, &secret);
}

/// 500: the shop's handler writes its row, then fails (`metadata.fail`): the row and the event
/// are rolled back, the trigger keeps the error, and a retry fails again (not a duplicate).
fn handler_failure(stack: Stack) {
    let db = TestDb::new(stack);
    let server = Server::start(&db, &[]);
    let secret = server.secret(&db);
    let url = server.endpoint_url();
    let signed = EventBuilder::new("customer.created").metadata("fail", "yes").signed(&secret);
    let id = &signed.event.id;

    for attempt in 1..=2 {
        let answer = post(&url, &signed.body, Some(&signed.header));
        assert_eq!(answer.status, 500, "attempt {attempt}: {answer:?}");
        assert_eq!(answer.json["status"], "failed");
        assert_eq!(answer.json["event_id"], id.as_str());
        assert!(
            !answer.json["error"].as_str().unwrap_or_default().contains("metadata"),
            "no handler detail sent: {answer:?}"
        );
        assert_eq!(shop_rows(&db, id), 0, "attempt {attempt}: the handler's row is rolled back");
        assert_eq!(event_rows(&db, id), 0, "attempt {attempt}: the event row is rolled back");
    }
    assert_eq!(triggers(&db), 2);
    assert_eq!(
        db.count(&format!(
            "SELECT COUNT(*) AS n FROM djstripe_webhookeventtrigger WHERE event_id = '{id}' AND outcome = 'failed' \
             AND valid = true AND processed = false AND exception LIKE '%failing on purpose%'"
        )),
        2,
        "both trigger rows hold the handler's error"
    );

    // A subscription event: the customer handler and the trial reminder both run.
    let trial = EventBuilder::new("customer.subscription.trial_will_end").signed(&secret);
    let answer = post(&url, &trial.body, Some(&trial.header));
    assert_eq!((answer.status, answer.json["status"].as_str()), (200, Some("processed")), "{answer:?}");
    let customer = trial.event.data.object["customer"].as_str().unwrap();
    assert_eq!(
        db.count(&format!(
            "SELECT COUNT(*) AS n FROM shop_customer_event WHERE event_id = '{}' AND customer_id = '{customer}' \
             AND type = 'customer.subscription.trial_will_end'",
            trial.event.id
        )),
        1
    );
}

/// `metadata.sleep_ms` (a string of digits, as Stripe's metadata holds, or a number): the shop's
/// customer handler sleeps that long before writing its row, so the delivery is answered no
/// sooner (a lower bound: not timing-flaky), processed, with the row written.
fn handler_sleeps(stack: Stack) {
    let db = TestDb::new(stack);
    let server = Server::start(&db, &[]);
    let secret = server.secret(&db);
    let url = server.endpoint_url();
    for sleep_ms in [serde_json::json!("400"), serde_json::json!(400)] {
        let signed = EventBuilder::new("customer.created")
            .merge_object(serde_json::json!({"metadata": {"sleep_ms": sleep_ms}}))
            .signed(&secret);
        let started = Instant::now();
        let answer = post(&url, &signed.body, Some(&signed.header));
        let took = started.elapsed();
        assert_eq!((answer.status, answer.json["status"].as_str()), (200, Some("processed")), "{answer:?}");
        assert!(took >= Duration::from_millis(400), "sleep_ms {sleep_ms}: answered after {took:?}");
        assert_eq!(shop_rows(&db, &signed.event.id), 1, "sleep_ms {sleep_ms}: the row is written after the sleep");
    }
}

/// 503: the database is unavailable (SQLite: another process holds the write lock; PostgreSQL:
/// connections are refused). Nothing is written; once it is back, the same delivery succeeds.
fn database_unavailable(stack: Stack) {
    let db = TestDb::new(stack);
    let server = Server::start(&db, &[("DJSTRIPE_DB_TIMEOUT", "0.5")]);
    let secret = server.secret(&db);
    let url = server.endpoint_url();
    assert_alive(&server, &secret);
    let before = triggers(&db);

    let signed = EventBuilder::new("customer.created").signed(&secret);
    let answer = match stack.backend {
        Backend::Sqlite => {
            use diesel::Connection;
            use diesel::connection::SimpleConnection;
            let mut lock = diesel::SqliteConnection::establish(db.url().trim_start_matches("sqlite://")).unwrap();
            lock.batch_execute("BEGIN EXCLUSIVE").unwrap();
            let started = Instant::now();
            let answer = post(&url, &signed.body, Some(&signed.header));
            assert!(started.elapsed() < Duration::from_secs(5), "answered within the timeout: {:?}", started.elapsed());
            lock.batch_execute("ROLLBACK").unwrap();
            answer
        }
        Backend::Postgres => {
            let name = db.pg_name().unwrap();
            db.admin_execute(&format!(
                "ALTER DATABASE {name} ALLOW_CONNECTIONS false; \
                 SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid();"
            ));
            let started = Instant::now();
            let answer = post(&url, &signed.body, Some(&signed.header));
            assert!(started.elapsed() < Duration::from_secs(5), "answered within the timeout: {:?}", started.elapsed());
            db.admin_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"));
            answer
        }
    };
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.json["error"], "database unavailable, retry later");
    assert_eq!(triggers(&db), before, "nothing was written");
    assert_eq!(event_rows(&db, &signed.event.id), 0);

    assert_eq!(answer.retry_after.as_deref(), Some("5"), "{answer:?}");
    // Recovery without a restart: once a background attempt connects again (every 500 ms), the
    // retry is processed.
    let deadline = Instant::now() + Duration::from_secs(5);
    let retry = loop {
        let retry = post(&url, &signed.body, Some(&signed.header));
        if retry.status != 503 || Instant::now() > deadline {
            break retry;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!((retry.status, retry.json["status"].as_str()), (200, Some("processed")), "{retry:?}");
    assert_eq!(shop_rows(&db, &signed.event.id), 1);
    assert_eq!(triggers(&db), before + 1);
}

/// Many deliveries of one event at the same moment: exactly one is processed.
fn concurrent_duplicates(stack: Stack) {
    const THREADS: usize = 12;
    let db = TestDb::new(stack);
    let server = Server::start(&db, &[]);
    let secret = server.secret(&db);
    let url = server.endpoint_url();
    let signed = Arc::new(EventBuilder::new("customer.created").signed(&secret));
    let barrier = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (url, signed, barrier) = (url.clone(), signed.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                post(&url, &signed.body, Some(&signed.header))
            })
        })
        .collect();
    let answers: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(answers.iter().all(|a| a.status == 200), "{answers:?}");
    let label = |l: &str| answers.iter().filter(|a| a.json["status"] == l).count();
    assert_eq!((label("processed"), label("duplicate")), (1, THREADS - 1), "{answers:?}");
    assert_eq!(shop_rows(&db, &signed.event.id), 1);
    assert_eq!(events(&db), 1);
    assert_eq!(triggers(&db), THREADS as i64);
    assert_eq!(triggers_with(&db, "duplicate"), THREADS as i64 - 1);
}

/// The legacy endpoint `POST /stripe/webhook/` is off without `DJSTRIPE_WEBHOOK_SECRET`.
fn legacy_off(stack: Stack) {
    let db = TestDb::new(stack);
    let server = Server::start(&db, &[]);
    let secret = server.secret(&db);
    assert!(!server.banner.iter().any(|l| l.contains("legacy")), "{:?}", server.banner);
    let signed = EventBuilder::new("customer.created").signed(&secret);
    for url in [format!("{}/stripe/webhook/", server.base), format!("{}/stripe/webhook", server.base)] {
        let answer = post(&url, &signed.body, Some(&signed.header));
        assert_eq!(answer.status, 404, "{url}: {answer:?}");
    }
    assert_eq!(triggers(&db), 0);
}

/// With `DJSTRIPE_WEBHOOK_SECRET=whsec_a,whsec_b` (a rotation) both secrets verify, a third
/// does not; the per-endpoint URL keeps working.
fn legacy_rotation(stack: Stack) {
    let db = TestDb::new(stack);
    let server = Server::start(&db, &[("DJSTRIPE_WEBHOOK_SECRET", "whsec_a,whsec_b")]);
    assert!(server.banner.iter().any(|l| l.contains("/stripe/webhook/   (legacy endpoint")), "{:?}", server.banner);
    let url = format!("{}/stripe/webhook/", server.base);
    for secret in ["whsec_a", "whsec_b"] {
        let signed = EventBuilder::new("customer.created").signed(secret);
        let answer = post(&url, &signed.body, Some(&signed.header));
        assert_eq!((answer.status, answer.json["status"].as_str()), (200, Some("processed")), "{secret}: {answer:?}");
        assert_eq!(shop_rows(&db, &signed.event.id), 1);
    }
    let signed = EventBuilder::new("customer.created").signed("whsec_c");
    let answer = post(&url, &signed.body, Some(&signed.header));
    assert_eq!((answer.status, answer.json["status"].as_str()), (400, Some("invalid")), "{answer:?}");
    assert_eq!(shop_rows(&db, &signed.event.id), 0);
    assert_eq!(db.count("SELECT COUNT(*) AS n FROM djstripe_webhookeventtrigger WHERE webhook_endpoint_id IS NULL"), 3);

    // The legacy secrets do not open the per-endpoint URL, whose own secret still works.
    let wrong = EventBuilder::new("customer.created").signed("whsec_a");
    assert_eq!(post(&server.endpoint_url(), &wrong.body, Some(&wrong.header)).status, 400);
    assert_alive(&server, &server.secret(&db));
    assert_eq!(triggers(&db), 5);
}

/// A v2 event notification ("thin" event, issue 16: answered 400 "not a Stripe event" before):
/// 200 processed, stored, the shop's `v2.core.account` handler called once (a bracketed type
/// included); the duplicate 200 without a second call.
fn thin_events(stack: Stack) {
    let db = TestDb::new(stack);
    let server = Server::start(&db, &[]);
    let secret = server.secret(&db);
    let url = server.endpoint_url();
    let account_rows =
        |id: &str| db.count(&format!("SELECT COUNT(*) AS n FROM shop_account_event WHERE event_id = '{id}'"));

    for event_type in ["v2.core.account.updated", "v2.core.account[requirements].updated"] {
        let signed = EventBuilder::v2(event_type).signed(&secret);
        let id = signed.event.id.as_str();
        let first = post(&url, &signed.body, Some(&signed.header));
        assert_eq!((first.status, first.json["status"].as_str()), (200, Some("processed")), "{first:?}");
        assert_eq!(first.json["event_id"], id);
        assert_eq!(event_rows(&db, id), 1);
        assert_eq!(account_rows(id), 1, "{event_type}: handled once");
        let again = post(&url, &signed.body, Some(&header(&secret, now() + 1, &signed.body)));
        assert_eq!((again.status, again.json["status"].as_str()), (200, Some("duplicate")), "{again:?}");
        assert_eq!(account_rows(id), 1, "{event_type}: not handled again");
    }
    // A notification no handler takes is stored all the same (as dj-stripe stores every event).
    let meter = EventBuilder::v2("v1.billing.meter.error_report_triggered").signed(&secret);
    let answer = post(&url, &meter.body, Some(&meter.header));
    assert_eq!((answer.status, answer.json["status"].as_str()), (200, Some("processed")), "{answer:?}");
    assert_eq!(event_rows(&db, &meter.event.id), 1);
    assert_eq!(triggers_with(&db, "processed"), 3);
    assert_eq!(triggers_with(&db, "duplicate"), 2);
}

every_stack!(
    thin_events,
    ok_answers,
    bad_requests,
    garbage_bodies,
    not_found_and_method_not_allowed,
    too_large,
    handler_failure,
    handler_sleeps,
    database_unavailable,
    concurrent_duplicates,
    legacy_off,
    legacy_rotation,
);
