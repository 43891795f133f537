#![allow(missing_docs)]
//! The shop's command line as a process: `migrate`, `handlers`, `triggers`, `events`, `trigger`,
//! and `serve` refusing a bad configuration. On SQLite and on PostgreSQL.

use std::time::Duration;

use djstripe_core::testing::EventBuilder;
use djstripe_tests::{Backend, Server, TestDb, both_backends, post, shop, shop_within};

fn count(db: &TestDb, table_and_filter: &str) -> i64 {
    db.count(&format!("SELECT COUNT(*) AS n FROM {table_and_filter}"))
}

/// The non-empty lines of stderr.
fn error_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| !l.trim().is_empty()).collect()
}

/// A failed command: exit code 1 and exactly one `shop: error: ...` line on stderr, mentioning `needle`.
fn assert_one_error_line(result: &(i32, String, String), needle: &str) {
    let (code, _, stderr) = result;
    assert_eq!(*code, 1, "{result:?}");
    let lines = error_lines(stderr);
    assert_eq!(lines.len(), 1, "one line on stderr: {stderr:?}");
    assert!(
        lines[0].starts_with("shop: error: ") && lines[0].contains(needle),
        "`{}` should mention `{needle}`",
        lines[0]
    );
}

/// `migrate` applies djstripe's migration and the shop's table; the second run applies none.
fn migrate_twice(backend: Backend) {
    let db = TestDb::new(backend);
    let first = shop(&db, &[], &["migrate"]);
    assert_eq!(first.0, 0, "{first:?}");
    let migrations_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../djstripe-core/migrations/sqlite");
    let migrations = std::fs::read_dir(migrations_dir).unwrap().count();
    assert!(migrations >= 2, "{migrations_dir}");
    assert_eq!(first.1.trim(), format!("{migrations} migration(s) applied"));
    assert_eq!(count(&db, "shop_customer_event"), 0, "the shop's own table exists");
    assert_eq!(count(&db, "djstripe_webhookeventtrigger"), 0);
    let second = shop(&db, &[], &["migrate"]);
    assert_eq!(second.0, 0, "{second:?}");
    assert_eq!(second.1.trim(), "0 migration(s) applied");
}

/// `handlers` lists the shop's three handlers: patterns, path, and where they are defined.
#[test]
fn handlers_lists_the_three_shop_handlers() {
    let db = TestDb::new(Backend::Sqlite);
    let (code, stdout, stderr) = shop(&db, &[], &["handlers"]);
    assert_eq!(code, 0, "{stderr}");
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/shop/src/lib.rs")).unwrap();
    let line_of = |f: &str| source.lines().position(|l| l.starts_with(&format!("pub fn {f}("))).unwrap() + 1;
    let lines: Vec<Vec<&str>> = stdout.lines().map(|l| l.split_whitespace().collect()).collect();
    let expected = [
        (vec!["price,", "product"], "catalog_changed"),
        (vec!["customer"], "record_customer_event"),
        (vec!["customer.subscription.trial_will_end"], "remind_trial_ending"),
    ];
    assert_eq!(lines.len(), expected.len(), "{stdout}");
    for (patterns, function) in expected {
        let location = format!("examples/shop/src/lib.rs:{}", line_of(function));
        let mut want = patterns.clone();
        let path = format!("shop::{function}");
        want.push(&path);
        want.push(&location);
        assert!(lines.contains(&want), "{want:?} in {stdout}");
    }
}

/// `triggers list [--failed]`, `events list`, `events show` (found and missing) and the three
/// kinds of `events reprocess`, after real deliveries: processed, failed, invalid.
fn inspect_and_reprocess(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db, &[]);
    let secret = server.secret(&db);
    let url = server.endpoint_url();
    let ok = EventBuilder::new("customer.created").signed(&secret);
    let failing = EventBuilder::new("customer.updated").metadata("fail", "yes").signed(&secret);
    let invalid = EventBuilder::new("customer.deleted").signed("whsec_wrong");
    assert_eq!(post(&url, &ok.body, Some(&ok.header)).status, 200);
    let failed = post(&url, &failing.body, Some(&failing.header));
    assert_eq!(failed.status, 500);
    let failed_trigger = failed.json["trigger_id"].as_i64().unwrap();
    assert_eq!(post(&url, &invalid.body, Some(&invalid.header)).status, 400);
    let (ok_id, failing_id) = (ok.event.id.as_str(), failing.event.id.as_str());

    // triggers list: a header and one row per delivery, newest first.
    let (code, stdout, stderr) = shop(&db, &[], &["triggers", "list"]);
    assert_eq!(code, 0, "{stderr}");
    let rows: Vec<&str> = stdout.lines().skip(1).collect();
    assert!(
        stdout
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .eq(["id", "created", "remote", "ip", "event", "type", "outcome", "error"])
    );
    assert_eq!(rows.len(), 3, "{stdout}");
    assert!(rows[0].contains("invalid") && rows[0].contains("no signature"), "{}", rows[0]);
    assert!(
        rows[1].contains(failing_id)
            && rows[1].contains("failed")
            && rows[1].contains("handler `shop::record_customer_event` failed"),
        "{}",
        rows[1]
    );
    assert!(
        rows[2].contains(ok_id) && rows[2].contains("customer.created") && rows[2].contains("processed"),
        "{}",
        rows[2]
    );
    assert!(rows.iter().all(|r| r.contains("127.0.0.1")), "{stdout}");

    let (code, stdout, _) = shop(&db, &[], &["triggers", "list", "--failed"]);
    assert_eq!(code, 0);
    let rows: Vec<&str> = stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{stdout}");
    assert!(
        rows[0].trim_start().starts_with(&format!("{failed_trigger} ")) && rows[0].contains(failing_id),
        "{stdout}"
    );

    // events list: only the processed event (the failed one was rolled back).
    let (code, stdout, _) = shop(&db, &[], &["events", "list"]);
    assert_eq!(code, 0);
    let rows: Vec<Vec<&str>> = stdout.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 1, "{stdout}");
    assert_eq!((rows[0][0], rows[0][1], *rows[0].last().unwrap()), (ok_id, "customer.created", "1"), "{stdout}");

    // events show: the event as pretty JSON, then the handlers its type matches.
    let (code, stdout, stderr) = shop(&db, &[], &["events", "show", ok_id]);
    assert_eq!(code, 0, "{stderr}");
    let (json, handlers) = stdout.split_once("handlers for customer.created:\n").expect(&stdout);
    assert!(json.starts_with("{\n  \""), "pretty JSON: {json}");
    let shown: serde_json::Value = serde_json::from_str(json).unwrap();
    let mut expected = serde_json::to_value(&ok.event).unwrap();
    expected.as_object_mut().unwrap().remove("pending_webhooks"); // a delivery detail, not stored
    assert_eq!(shown, expected);
    assert_eq!(handlers.trim(), "shop::record_customer_event (customer)");

    assert_one_error_line(&shop(&db, &[], &["events", "show", "evt_missing"]), "evt_missing");

    // Reprocessing the failed delivery fails again (metadata.fail is in the body).
    let again = shop(&db, &[], &["events", "reprocess", &failed_trigger.to_string()]);
    assert_one_error_line(&again, "failed again");
    let line = again.1.trim();
    assert!(line.starts_with("trigger ") && line.contains(&format!("{failing_id} failed: handler")), "{again:?}");
    assert_eq!(count(&db, &format!("shop_customer_event WHERE event_id = '{failing_id}'")), 0);
    assert_eq!(
        count(
            &db,
            &format!("djstripe_webhookeventtrigger WHERE reprocess_of = {failed_trigger} AND outcome = 'failed'")
        ),
        1
    );

    // A trigger id that is not a number nor an event id: a clear line.
    assert_one_error_line(&shop(&db, &[], &["events", "reprocess", "abc"]), "neither a trigger id");

    // Replaying a stored event runs its handlers again, on purpose.
    let (code, stdout, stderr) = shop(&db, &[], &["events", "reprocess", ok_id]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.trim().ends_with(&format!("{ok_id} replayed")), "{stdout}");
    assert_eq!(count(&db, &format!("shop_customer_event WHERE event_id = '{ok_id}'")), 2, "a second row");
    assert_eq!(count(&db, "djstripe_webhookeventtrigger WHERE outcome = 'replayed'"), 1);
    assert_eq!(count(&db, &format!("djstripe_event WHERE id = '{ok_id}' AND times_processed = 2")), 1);
}

/// `events reprocess --failed`: a delivery that failed, whose event Stripe's retry then
/// delivered successfully, is reprocessed as a duplicate — a success that clears it from
/// `triggers list --failed`.
fn reprocess_failed(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db, &[]);
    let secret = server.secret(&db);
    let url = server.endpoint_url();
    let failing = EventBuilder::new("customer.created").id("evt_flaky").metadata("fail", "yes").signed(&secret);
    let answer = post(&url, &failing.body, Some(&failing.header));
    assert_eq!(answer.status, 500, "{answer:?}");
    let fixed = EventBuilder::new("customer.created").id("evt_flaky").signed(&secret);
    let answer = post(&url, &fixed.body, Some(&fixed.header));
    assert_eq!((answer.status, answer.json["status"].as_str()), (200, Some("processed")), "{answer:?}");

    let (code, stdout, stderr) = shop(&db, &[], &["events", "reprocess", "--failed"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(lines[0].ends_with("evt_flaky duplicate"), "{stdout}");
    assert_eq!(count(&db, "shop_customer_event WHERE event_id = 'evt_flaky'"), 1, "the handler did not run again");

    let (_, stdout, _) = shop(&db, &[], &["triggers", "list", "--failed"]);
    assert_eq!(stdout.lines().count(), 1, "only the header: {stdout}");
    let (code, stdout, _) = shop(&db, &[], &["events", "reprocess", "--failed"]);
    assert_eq!((code, stdout.trim()), (0, "nothing to reprocess"));
}

/// A delivery that keeps failing: each `events reprocess --failed` makes one new attempt at it
/// (the latest), not one per earlier failed attempt — a nightly cron does not double the work.
fn reprocess_failed_repeatedly(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db, &[]);
    let secret = server.secret(&db);
    let failing = EventBuilder::new("customer.created").metadata("fail", "yes").signed(&secret);
    assert_eq!(post(&server.endpoint_url(), &failing.body, Some(&failing.header)).status, 500);
    for run in 1..=3 {
        let (code, stdout, stderr) = shop(&db, &[], &["events", "reprocess", "--failed"]);
        assert_one_error_line(&(code, stdout.clone(), stderr), "failed again");
        assert_eq!(stdout.lines().count(), 1, "run {run}: one attempt: {stdout}");
        assert_eq!(count(&db, "djstripe_webhookeventtrigger"), 1 + run, "run {run}");
    }
    assert_eq!(count(&db, &format!("shop_customer_event WHERE event_id = '{}'", failing.event.id)), 0);
}

/// `trigger`, the local `stripe trigger`: five signed events, one after the other, each answer
/// printed; all processed and stored.
fn trigger_sends_signed_events(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db, &[]);
    let (code, stdout, stderr) = shop(
        &db,
        &[],
        &["trigger", "customer.created", "--endpoint", &server.uuid, "--base-url", &server.base, "--count", "5"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    for line in lines {
        assert!(line.starts_with("200 evt_") && line.contains(r#""status":"processed""#), "{line}");
    }
    assert_eq!(count(&db, "djstripe_event"), 5);
    assert_eq!(count(&db, "shop_customer_event"), 5);
    assert_eq!(count(&db, "djstripe_webhookeventtrigger"), 5);
}

/// Bad `trigger` arguments: exit 1 and one clear line, nothing sent.
#[test]
fn trigger_bad_arguments() {
    let db = TestDb::new(Backend::Sqlite);
    assert_eq!(shop(&db, &[], &["migrate"]).0, 0);
    let base = ["--endpoint", "6f1c1d0e-8a4b-4c43-9d7e-2f0a6f1c1d0e", "--base-url", "http://127.0.0.1:9"];
    for (args, needle) in [
        (vec!["trigger", "customer.nope"], "unknown Stripe event type `customer.nope`"),
        (vec!["trigger", "customer.created", "--count", "0"], "--count"),
        (vec!["trigger", "customer.created", "--count", "1001"], "--count"),
        (vec!["trigger", "customer.created"], "no webhook endpoint with uuid"),
    ] {
        let mut args = args.clone();
        args.extend(base);
        let result = shop(&db, &[], &args);
        assert_one_error_line(&result, needle);
        assert_eq!(result.1, "", "nothing on stdout: {args:?}");
    }
    // A server that is not there: exit 1, the first network error named.
    let server_less = shop(
        &db,
        &[],
        &["trigger", "customer.created", "--secret", "whsec_x", "--url", "http://127.0.0.1:9/stripe/webhook/x/"],
    );
    assert_eq!(server_less.0, 1, "{server_less:?}");
    assert!(error_lines(&server_less.2).last().unwrap().contains("got no answer"), "{server_less:?}");
}

/// `serve` refuses a bad configuration at once: exit 1, stderr names the variable.
fn serve_bad_environment(backend: Backend) {
    let db = TestDb::new(backend);
    for (var, value) in [
        ("DJSTRIPE_WEBHOOK_TOLERANCE", "abc"),
        ("DJSTRIPE_DB_TIMEOUT", "soon"),
        ("DJSTRIPE_WEBHOOK_SECRET", "not_a_secret"),
        ("DJSTRIPE_WEBHOOK_MAX_BODY", "12"),
        ("DATABASE_URL", "mysql://x"),
    ] {
        let result = shop_within(&db, &[(var, value)], &["serve", "--bind", "127.0.0.1:0"], Duration::from_secs(10))
            .unwrap_or_else(|| panic!("serve with {var}={value} is still running after 10 s"));
        assert_one_error_line(&result, &format!("shop: error: {var}: "));
        assert_eq!(result.1, "", "{var}: no banner");
    }
}

/// The promise of the banner: the `cargo run -p shop -- trigger ...` line it prints works as is.
fn banner_trigger_line(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db, &[]);
    let line = server
        .banner
        .iter()
        .find(|l| l.trim_start().starts_with("cargo run -p shop -- trigger "))
        .expect("a trigger line");
    let args: Vec<&str> = line.split_once(" -- ").unwrap().1.split_whitespace().collect();
    assert!(args.contains(&server.uuid.as_str()) && args.contains(&server.base.as_str()), "{line}");
    let (code, stdout, stderr) = shop(&db, &[], &args);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let sent: usize = args[args.iter().position(|a| *a == "--count").unwrap() + 1].parse().unwrap();
    let ok = stdout.lines().filter(|l| l.starts_with("200 evt_") && l.contains(r#""status":"processed""#)).count();
    assert_eq!((ok, stdout.lines().count()), (sent, sent), "{stdout}");
    assert_eq!(count(&db, "djstripe_event"), sent as i64);
}

both_backends!(
    migrate_twice,
    inspect_and_reprocess,
    reprocess_failed,
    reprocess_failed_repeatedly,
    trigger_sends_signed_events,
    serve_bad_environment,
    banner_trigger_line,
);
