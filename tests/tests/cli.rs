#![allow(missing_docs)]
//! The shop's command line as a process: `migrate`, `handlers`, `triggers`, `events`, `trigger`,
//! `admin`, which database a command uses, and `serve` refusing a bad configuration. On SQLite
//! and on PostgreSQL.

use std::time::Duration;

use djstripe_core::testing::EventBuilder;
use djstripe_tests::{
    Adapter, Backend, Server, TestDb, both_backends, post, shop, shop_binary, shop_in, shop_with_stdin, shop_within,
};

fn count(db: &TestDb, table_and_filter: &str) -> i64 {
    db.count(&format!("SELECT COUNT(*) AS n FROM {table_and_filter}"))
}

/// The non-empty lines of stderr, but the `shop: database: ...` line every database command
/// prints first and the alert the shop's own `processing_error` hook logs when a reprocessed
/// event fails again (the app's line, not the command's).
fn error_lines(stderr: &str) -> Vec<&str> {
    let alert = |l: &str| {
        l.split_whitespace().next().is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok())
            && l.contains(" shop: ALERT: an event could not be processed")
    };
    stderr.lines().filter(|l| !l.trim().is_empty() && !l.starts_with("shop: database: ") && !alert(l)).collect()
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
    let dir = |d: &str| std::fs::read_dir(format!("{}/../{d}", env!("CARGO_MANIFEST_DIR"))).unwrap().count();
    // djstripe's and the shop's own (both counted).
    let migrations = dir("djstripe-core/migrations/sqlite") + dir("examples/shop/migrations/sqlite");
    assert!(migrations >= 3);
    assert_eq!(first.1.trim(), format!("{migrations} migration(s) applied"));
    assert_eq!(count(&db, "shop_customer_event"), 0, "the shop's own table exists");
    assert_eq!(count(&db, "djstripe_webhookeventtrigger"), 0);
    let second = shop(&db, &[], &["migrate"]);
    assert_eq!(second.0, 0, "{second:?}");
    assert_eq!(second.1.trim(), "0 migration(s) applied");
}

/// `handlers` lists the shop's handlers (patterns, path, and where they are defined), then its
/// hook (stage, path, where).
#[test]
fn handlers_lists_the_three_shop_handlers() {
    let db = TestDb::new(Backend::Sqlite);
    let (code, stdout, stderr) = shop(&db, &[], &["handlers"]);
    assert_eq!(code, 0, "{stderr}");
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/shop/src/lib.rs")).unwrap();
    let line_of = |f: &str| source.lines().position(|l| l.starts_with(&format!("pub fn {f}("))).unwrap() + 1;
    // The handlers, then (after a blank line) the hooks.
    let (handlers, hooks) = stdout.split_once("\n\n").unwrap_or_else(|| panic!("two tables: {stdout}"));
    let line_of_hook = source.lines().position(|l| l.starts_with("pub fn alert_on_failure(")).unwrap() + 1;
    let hooks: Vec<Vec<&str>> = hooks.lines().map(|l| l.split_whitespace().collect()).collect();
    let hook_location = format!("examples/shop/src/lib.rs:{line_of_hook}");
    assert_eq!(
        hooks,
        [vec!["stage", "hook", "defined", "at"], vec!["processing_error", "shop::alert_on_failure", &hook_location]],
        "{stdout}"
    );
    let mut lines: Vec<Vec<&str>> = handlers.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines.remove(0), ["patterns", "handler", "defined", "at"], "a header: {stdout}");
    let expected = [
        (vec!["price,", "product"], "catalog_changed"),
        (vec!["v2.core.account"], "record_account_event"),
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
    // The event as delivered, field for field (`pending_webhooks` included).
    assert_eq!(shown, serde_json::to_value(&ok.event).unwrap());
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
    // Each about a new customer (a handler keyed on the object would otherwise meet the same one).
    let customers = db.count("SELECT COUNT(DISTINCT customer_id) AS n FROM shop_customer_event");
    assert_eq!(customers, 5, "one fresh customer per event");

    // A v2 notification type is sent as a thin event, each about a fresh account.
    let (code, stdout, stderr) = shop(
        &db,
        &[],
        &[
            "trigger",
            "v2.core.account[identity].updated",
            "--endpoint",
            &server.uuid,
            "--base-url",
            &server.base,
            "--count",
            "2",
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.lines().all(|l| l.starts_with("200 evt_test_") && l.contains(r#""status":"processed""#)),
        "{stdout}"
    );
    assert_eq!(count(&db, "djstripe_event"), 7);
    assert_eq!(db.count("SELECT COUNT(DISTINCT account_id) AS n FROM shop_account_event"), 2);
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

/// Every database command names its database on stderr; only `serve` and `migrate` create a
/// SQLite file: the others refuse, with the fix, and leave no file behind. `--database-url` wins
/// over `DATABASE_URL`, and `--help` names both.
#[test]
fn the_database_is_named_and_never_created_by_mistake() {
    let dir = tempfile::tempdir().unwrap();
    let default_file = dir.path().join("shop.sqlite3");
    for args in [
        &["events", "list"][..],
        &["triggers", "list"],
        &["endpoints", "list"],
        &["accounts", "list"],
        &["admin", "users"],
        &["events", "show", "evt_1"],
        &["trigger", "customer.created", "--endpoint", "6f1c1d0e-8a4b-4c43-9d7e-2f0a6f1c1d0e"],
    ] {
        let (code, stdout, stderr) = shop_in(dir.path(), Adapter::Actix, args);
        assert_eq!((code, stdout.as_str()), (1, ""), "{args:?}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(
            lines,
            [
                "shop: database: sqlite://shop.sqlite3 (the default; set DATABASE_URL or --database-url for another)",
                "shop: error: no database at ./shop.sqlite3: run `shop migrate` first (or `shop serve`), or set \
                 DATABASE_URL / --database-url to your database",
            ],
            "{args:?}"
        );
        assert!(!default_file.exists(), "{args:?} created {}", default_file.display());
    }
    // `handlers` needs no database, and says nothing about one.
    let (code, _, stderr) = shop_in(dir.path(), Adapter::Actix, &["handlers"]);
    assert_eq!((code, stderr.as_str()), (0, ""));

    // migrate creates it; then the others use it.
    let (code, stdout, stderr) = shop_in(dir.path(), Adapter::Actix, &["migrate"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.ends_with("migration(s) applied\n") && default_file.exists(), "{stdout}");
    let (code, stdout, _) = shop_in(dir.path(), Adapter::Actix, &["events", "list"]);
    assert_eq!(
        (code, stdout.split_whitespace().collect::<Vec<_>>()),
        (0, vec!["id", "type", "received", "context", "related", "object", "times"])
    );

    // --database-url over DATABASE_URL (set by `shop`): the flag's missing file is refused.
    let db = TestDb::new(Backend::Sqlite);
    assert_eq!(shop(&db, &[], &["migrate"]).0, 0);
    let other = dir.path().join("other.sqlite3");
    let other_url = format!("sqlite://{}", other.display());
    let (code, _, stderr) = shop(&db, &[], &["events", "list", "--database-url", &other_url]);
    assert_eq!(code, 1);
    assert!(stderr.starts_with(&format!("shop: database: {other_url} (--database-url)\n")), "{stderr}");
    assert!(stderr.contains(&format!("no database at {}", other.display())) && !other.exists(), "{stderr}");
    let (code, _, stderr) = shop(&db, &[], &["--database-url", &other_url, "migrate"]);
    assert_eq!(code, 0, "a global flag, before the command too: {stderr}");
    assert!(other.exists());
    let (code, _, stderr) = shop(&db, &[], &["events", "list"]);
    assert_eq!(code, 0);
    assert_eq!(stderr, format!("shop: database: {} (DATABASE_URL)\n", db.url()));

    let (code, help, _) = shop_in(dir.path(), Adapter::Actix, &["--help"]);
    assert_eq!(code, 0);
    assert!(
        help.contains("--database-url <URL>")
            && help.contains("[env: DATABASE_URL")
            && help.contains("sqlite://shop.sqlite3"),
        "{help}"
    );
    let (_, help, _) = shop_in(dir.path(), Adapter::Actix, &["events", "list", "--help"]);
    assert!(help.contains("--database-url") && help.contains("customer_cash_balance_transaction"), "{help}");
}

/// On PostgreSQL nothing is created by a command (the server has the database or not); the
/// password never reaches the `database:` line.
#[test]
fn the_postgres_url_is_named_without_its_password() {
    let db = TestDb::new(Backend::Postgres);
    let with_password = db.url().replacen("postgres://postgres@", "postgres://postgres:hunter2@", 1);
    assert_ne!(with_password, db.url(), "the test server's URL names the user postgres: {}", db.url());
    let (code, stdout, stderr) = shop(&db, &[("DATABASE_URL", &with_password)], &["migrate"]);
    assert_eq!(code, 0, "trust authentication ignores the password: {stderr}");
    assert!(stdout.ends_with("migration(s) applied\n"));
    assert!(stderr.contains("postgres:***@") && !stderr.contains("hunter2"), "{stderr}");
}

/// `shop events show ... | head`: a reader that goes away ends the command quietly (exit 0, no
/// panic), like other Unix tools.
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let db = TestDb::new(Backend::Sqlite);
    let server = Server::start(&db, &[]);
    let signed = EventBuilder::new("customer.created").signed(&server.secret(&db));
    assert_eq!(post(&server.endpoint_url(), &signed.body, Some(&signed.header)).status, 200);
    for args in [&["events", "show", signed.event.id.as_str()][..], &["events", "list"], &["triggers", "list"]] {
        let mut child = std::process::Command::new(shop_binary(db.adapter))
            .args(args)
            .env_clear()
            .env("DATABASE_URL", db.url())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader is gone before the first line is written
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked") && !stderr.contains("error"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
}

/// `events list --type` matches like `#[webhook_handler]`: `customer` is every `customer.*`
/// event (not `customer_cash_balance_transaction.*`), a dotted prefix, an exact type, `*`.
fn events_list_type_matches_like_handlers(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db, &[]);
    let secret = server.secret(&db);
    let types = [
        "customer.created",
        "customer.subscription.updated",
        "customer_cash_balance_transaction.created",
        "price.created",
    ];
    for (n, event_type) in types.iter().enumerate() {
        let signed = EventBuilder::new(*event_type).id(format!("evt_type_{n}")).signed(&secret);
        assert_eq!(post(&server.endpoint_url(), &signed.body, Some(&signed.header)).status, 200, "{event_type}");
    }
    let listed = |pattern: &str| {
        let (code, stdout, stderr) = shop(&db, &[], &["events", "list", "--type", pattern]);
        assert_eq!(code, 0, "{pattern}: {stderr}");
        let mut lines = stdout.lines();
        assert_eq!(
            lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
            ["id", "type", "received", "context", "related", "object", "times"]
        );
        let mut found: Vec<String> = lines.map(|l| l.split_whitespace().nth(1).unwrap().to_owned()).collect();
        found.sort();
        found
    };
    assert_eq!(listed("customer"), ["customer.created", "customer.subscription.updated"]);
    assert_eq!(listed("customer.subscription"), ["customer.subscription.updated"]);
    assert_eq!(listed("customer.created"), ["customer.created"]);
    assert_eq!(listed("customer_cash_balance_transaction"), ["customer_cash_balance_transaction.created"]);
    assert_eq!(listed("cust"), Vec::<String>::new(), "not a prefix on a dot boundary");
    assert_eq!(listed("*").len(), 4);
    assert_one_error_line(&shop(&db, &[], &["events", "list", "--type", "customer.*"]), "write `customer`");
}

/// `endpoints list`: one header, one row per endpoint with its id, UUID and URL (what `trigger
/// --endpoint` takes) in columns that fit them.
#[test]
fn endpoints_list_shows_id_uuid_and_url_in_columns() {
    let db = TestDb::new(Backend::Sqlite);
    let server = Server::start(&db, &[]);
    let (code, stdout, stderr) = shop(&db, &[], &["endpoints", "list"]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "id",
            "uuid",
            "url",
            "stripe",
            "id",
            "mode",
            "status",
            "at",
            "stripe",
            "secret",
            "account",
            "events",
            "fetch",
            "thin",
            "processing"
        ]
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    let path = format!("/stripe/webhook/{}/", server.uuid);
    assert_eq!(&row[..6], ["1", server.uuid.as_str(), path.as_str(), "-", "test", "enabled"], "{stdout}");
    // Each value starts under its title.
    for (title, value) in [("uuid", server.uuid.as_str()), ("url", path.as_str()), ("mode", "test")] {
        assert_eq!(lines[0].find(&format!("  {title} ")), lines[1].find(&format!("  {value} ")), "{title}: {stdout}");
    }
}

/// `admin set-password` (Django's createsuperuser / changepassword): the password from stdin,
/// stored as an argon2 hash in `djstripe_admin_user`; `serve` then mounts the admin pages, which
/// let that user in (HTTP basic) and no one else. An old `sha256:` setting stops `serve` with
/// the way out.
fn admin_set_password(backend: Backend) {
    let db = TestDb::new(backend);
    let passphrase = "correct horse battery staple";
    if backend == Backend::Sqlite {
        let refused = shop_with_stdin(
            &db,
            &[],
            &["admin", "set-password", "--user", "ops"],
            "pw
",
        );
        assert_one_error_line(&refused, "no database at");
    }
    assert_eq!(shop(&db, &[], &["migrate"]).0, 0);
    let short = shop_with_stdin(
        &db,
        &[],
        &["admin", "set-password", "--user", "ops"],
        "short
",
    );
    assert_one_error_line(&short, "at least 8 characters");
    assert_one_error_line(&shop_with_stdin(&db, &[], &["admin", "set-password"], ""), "no password given");
    assert_one_error_line(
        &shop_with_stdin(
            &db,
            &[],
            &["admin", "set-password", "--user", "a:b"],
            &format!(
                "{passphrase}
"
            ),
        ),
        "not a user name",
    );
    assert_eq!(count(&db, "djstripe_admin_user"), 0);

    let (code, stdout, stderr) = shop_with_stdin(
        &db,
        &[],
        &["admin", "set-password", "--user", "ops"],
        &format!(
            "{passphrase}
"
        ),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("admin user `ops` created"), "{stdout}");
    assert_eq!(count(&db, "djstripe_admin_user WHERE username = 'ops' AND password_hash LIKE '$argon2id$%'"), 1);
    assert_eq!(count(&db, &format!("djstripe_admin_user WHERE password_hash LIKE '%{passphrase}%'")), 0);
    let (code, stdout, _) = shop_with_stdin(
        &db,
        &[],
        &["admin", "set-password"],
        "another passphrase
",
    );
    assert!(code == 0 && stdout.starts_with("admin user `admin` created"), "{stdout}");
    let (code, stdout, _) = shop(&db, &[], &["admin", "users"]);
    let users: Vec<&str> = stdout.lines().skip(1).map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!((code, users), (0, vec!["admin", "ops"]), "{stdout}");

    let server = Server::start(&db, &[]);
    let status = |user: &str, password: &str| {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let basic = base64_basic(user, password);
        agent
            .get(format!("{}/stripe/admin/triggers/", server.base))
            .header("Authorization", basic)
            .call()
            .unwrap()
            .status()
    };
    assert_eq!(status("ops", passphrase), 200);
    assert_eq!(status("admin", "another passphrase"), 200, "\r\n is the line's end, not the password's");
    assert_eq!(status("ops", "wrong passphrase"), 401);
    assert_eq!(status("nobody", passphrase), 401);
    // A new password: the old one is refused at once.
    let (code, stdout, _) = shop_with_stdin(
        &db,
        &[],
        &["admin", "set-password", "--user", "ops"],
        "a new passphrase
",
    );
    assert!(code == 0 && stdout.starts_with("password of admin user `ops` changed"), "{stdout}");
    assert_eq!(status("ops", passphrase), 401);
    assert_eq!(status("ops", "a new passphrase"), 200);
    let (code, stdout, _) = shop(&db, &[], &["admin", "delete-user", "ops"]);
    assert!(code == 0 && stdout.contains("deleted"), "{stdout}");
    assert_eq!(status("ops", "a new passphrase"), 401);
    drop(server);

    // hash-password prints what DJSTRIPE_ADMIN_PASSWORD_HASH takes; sha256: is refused with advice.
    let (code, hash, _) = shop_with_stdin(
        &db,
        &[],
        &["admin", "hash-password"],
        "env passphrase
",
    );
    assert!(code == 0 && hash.starts_with("$argon2id$v=19$"), "{hash}");
    let server = Server::start(&db, &[("DJSTRIPE_ADMIN_PASSWORD_HASH", hash.trim()), ("DJSTRIPE_ADMIN_USER", "env")]);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let answer = agent
        .get(format!("{}/stripe/admin/triggers/", server.base))
        .header("Authorization", base64_basic("env", "env passphrase"))
        .call()
        .unwrap();
    assert_eq!(answer.status(), 200);
    drop(server);
    let old =
        [("DJSTRIPE_ADMIN_PASSWORD_HASH", "sha256:30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4")];
    let result = shop_within(&db, &old, &["serve", "--bind", "127.0.0.1:0"], Duration::from_secs(10)).expect("stops");
    assert_one_error_line(&result, "DJSTRIPE_ADMIN_PASSWORD_HASH: unsalted SHA-256");
    assert!(result.2.contains("admin set-password") && result.2.contains("admin hash-password"), "{result:?}");
}

/// On a terminal (a pseudo-terminal from util-linux's `script`), `admin set-password` asks twice
/// and echoes neither; two different entries change nothing.
#[test]
fn admin_set_password_on_a_terminal_asks_twice_without_echo() {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    let db = TestDb::new(Backend::Sqlite);
    assert_eq!(shop(&db, &[], &["migrate"]).0, 0);
    let on_terminal = |first: &str, second: &str| -> (i32, String) {
        let command = format!("'{}' admin set-password --user tty", shop_binary(db.adapter).display());
        let mut child = std::process::Command::new("script")
            .args(["-q", "-e", "-c", &command, "/dev/null"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", db.url())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("util-linux's `script` runs the command on a pseudo-terminal");
        let screen = Arc::new(Mutex::new(String::new()));
        let mut stdout = child.stdout.take().unwrap();
        let reader = {
            let screen = screen.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 256];
                while let Ok(n @ 1..) = stdout.read(&mut buf) {
                    screen.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            })
        };
        let wait_for = |needle: &str| {
            let started = std::time::Instant::now();
            while !screen.lock().unwrap().contains(needle) {
                assert!(started.elapsed() < Duration::from_secs(20), "no `{needle}` in {:?}", screen.lock().unwrap());
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        let mut stdin = child.stdin.take().unwrap();
        wait_for("Password for tty: ");
        stdin.write_all(format!("{first}\n").as_bytes()).unwrap();
        wait_for("Password (again): ");
        stdin.write_all(format!("{second}\n").as_bytes()).unwrap();
        let status = child.wait().unwrap();
        drop(stdin);
        reader.join().unwrap();
        let screen = screen.lock().unwrap().clone();
        (status.code().unwrap_or(-1), screen)
    };
    let (code, screen) = on_terminal("terminal passphrase", "another passphrase");
    assert_eq!(code, 1, "{screen}");
    assert!(screen.contains("the two passwords differ"), "{screen}");
    assert_eq!(count(&db, "djstripe_admin_user"), 0);
    let (code, screen) = on_terminal("terminal passphrase", "terminal passphrase");
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("admin user `tty` created") && !screen.contains("terminal passphrase"),
        "no echo: {screen}"
    );
    assert_eq!(count(&db, "djstripe_admin_user WHERE username = 'tty'"), 1);
}

/// `Authorization: Basic ...` for `user:password`.
fn base64_basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// Settings that contradict each other stop `serve`, naming both.
fn serve_contradictory_environment(backend: Backend) {
    let db = TestDb::new(backend);
    for (env, first, second) in [
        (&[("DJSTRIPE_WEBHOOK_VALIDATION", "none")][..], "DJSTRIPE_WEBHOOK_VALIDATION", "DJSTRIPE_WEBHOOK_SECRET"),
        (&[("DJSTRIPE_WEBHOOK_TOLERANCE", "60")], "DJSTRIPE_WEBHOOK_TOLERANCE", "DJSTRIPE_WEBHOOK_SECRET"),
        (
            &[("DJSTRIPE_DB_POOL_SIZE", "2"), ("DJSTRIPE_DB_WRITERS", "2")],
            "DJSTRIPE_DB_WRITERS",
            "DJSTRIPE_DB_POOL_SIZE",
        ),
        (
            &[("DJSTRIPE_TRIGGER_RETENTION_DAYS", "7"), ("DJSTRIPE_EVENT_RETENTION_DAYS", "3")],
            "DJSTRIPE_EVENT_RETENTION_DAYS",
            "duplicate",
        ),
        (
            &[("DJSTRIPE_EVENT_RETENTION_DAYS", "60")],
            "DJSTRIPE_EVENT_RETENTION_DAYS",
            "DJSTRIPE_TRIGGER_RETENTION_DAYS",
        ),
    ] {
        let result = shop_within(&db, env, &["serve", "--bind", "127.0.0.1:0"], Duration::from_secs(10))
            .unwrap_or_else(|| panic!("serve with {env:?} is still running after 10 s"));
        assert_one_error_line(&result, &format!("shop: error: {first}: "));
        assert!(result.2.contains(second), "{env:?}: {}", result.2);
        assert_eq!(result.1, "", "{env:?}: no banner");
    }
}

/// `triggers prune`: a dry run counts per outcome and removes nothing; the real run removes old
/// final and invalid deliveries in batches and says how many; failed ones go only with
/// `--include-failed`; recent ones and the events stay.
fn triggers_prune(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db, &[]);
    let secret = server.secret(&db);
    let url = server.endpoint_url();
    let trigger_of = |event: &EventBuilder, secret: &str, status: u16| {
        let signed = event.signed(secret);
        let answer = post(&url, &signed.body, Some(&signed.header));
        assert_eq!(answer.status, status, "{answer:?}");
        answer.json["trigger_id"].as_i64().unwrap()
    };
    let old: Vec<i64> = vec![
        trigger_of(&EventBuilder::new("customer.created"), &secret, 200),
        trigger_of(&EventBuilder::new("customer.created"), &secret, 200),
        trigger_of(&EventBuilder::new("customer.updated").metadata("fail", "yes"), &secret, 500),
        trigger_of(&EventBuilder::new("customer.deleted"), "whsec_wrong", 400),
    ];
    let recent = trigger_of(&EventBuilder::new("customer.created"), &secret, 200);
    let ids: Vec<String> = old.iter().map(i64::to_string).collect();
    db.execute(&format!(
        "UPDATE djstripe_webhookeventtrigger SET created = '2020-01-01 00:00:00' WHERE id IN ({})",
        ids.join(", ")
    ));
    let lines = |stdout: &str| -> Vec<Vec<String>> {
        stdout.lines().map(|l| l.split_whitespace().map(str::to_owned).collect()).collect()
    };

    let (code, stdout, stderr) = shop(&db, &[], &["triggers", "prune", "--older-than", "30", "--dry-run"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.starts_with("shop: database: "), "names the database: {stderr}");
    assert_eq!(
        lines(&stdout),
        [
            vec!["outcome", "triggers"],
            vec!["processed", "2"],
            vec!["invalid", "1"],
            vec!["total", "3"],
            vec!["dry", "run:", "nothing", "removed", "(trigger", "rows", "older", "than", "30", "day(s))"],
        ],
        "{stdout}"
    );
    assert_eq!(count(&db, "djstripe_webhookeventtrigger"), 5, "a dry run removes nothing");

    let (code, stdout, stderr) = shop(&db, &[], &["triggers", "prune", "--older-than", "30"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "removed 3 trigger row(s) older than 30 day(s): processed 2, invalid 1");
    assert_eq!(count(&db, "djstripe_webhookeventtrigger"), 2);
    assert_eq!(count(&db, &format!("djstripe_webhookeventtrigger WHERE id IN ({}, {recent})", old[2])), 2);
    assert_eq!(count(&db, "djstripe_event"), 3, "events stay");

    let (code, stdout, stderr) = shop(&db, &[], &["triggers", "prune", "--older-than", "30", "--include-failed"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "removed 1 trigger row(s) older than 30 day(s): failed 1");
    let (code, stdout, _) = shop(&db, &[], &["triggers", "prune", "--older-than", "30", "--include-failed"]);
    assert_eq!((code, stdout.trim()), (0, "removed 0 trigger row(s) older than 30 day(s)"));
    assert_eq!(count(&db, &format!("djstripe_webhookeventtrigger WHERE id = {recent}")), 1, "the recent one stays");

    let (code, _, stderr) = shop(&db, &[], &["triggers", "prune"]);
    assert_eq!(code, 2, "--older-than is required: {stderr}");
    assert!(stderr.contains("--older-than"), "{stderr}");
}

/// v2 event notifications in the operator's view, and the opt-in that fetches them, through the
/// served shop: `endpoints update --fetch-thin-events` is local (no call to Stripe) and shown by
/// `endpoints list`; with it on, the server fetches the full event from (fake) Stripe with the
/// key and `Stripe-Context`; `events list` shows the context and related object columns, `events
/// show` a line saying what the notification refers to and whether its data was fetched.
fn v2_events_and_fetching_them(backend: Backend) {
    let db = TestDb::new(backend);
    let fake = djstripe_core::testing::FakeStripe::start();
    let key = djstripe_core::testing::FakeStripe::TEST_KEY;
    let env = [("STRIPE_API_BASE", fake.base_url()), ("STRIPE_TEST_SECRET_KEY", key)];
    let server = Server::start(&db, &env);
    let secret = server.secret(&db);
    let account = "acct_1Nv0FGQ9RKHgCVdK";

    // Off: delivered as is, no call to Stripe.
    let plain = EventBuilder::v2("v1.billing.meter.error_report_triggered").account(account).signed(&secret);
    assert_eq!(post(&server.endpoint_url(), &plain.body, Some(&plain.header)).status, 200);
    assert!(fake.seen().is_empty(), "{:?}", fake.seen());
    let (code, stdout, stderr) = shop(&db, &env, &["events", "show", &plain.event.id]);
    assert_eq!(code, 0, "{stderr}");
    let related = plain.event.related_object.clone().unwrap();
    let line = format!(
        "v2 event notification (thin): related object billing.meter {} ({}); context {account}; data not fetched",
        related.id,
        related.url.as_deref().unwrap()
    );
    assert!(stdout.lines().any(|l| l == line), "{line}\n{stdout}");

    // The opt-in: a local setting, no call to Stripe; shown by `endpoints list`.
    let (code, stdout, stderr) = shop(&db, &env, &["endpoints", "update", "1", "--fetch-thin-events", "true"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("fetch-thin-events") && !stdout.contains("warning"), "{stdout}");
    assert!(fake.seen().is_empty(), "a local setting: {:?}", fake.seen());
    let (code, stdout, _) = shop(&db, &env, &["endpoints", "update", "1", "--fetch-thin-events", "maybe"]);
    assert_eq!(code, 2, "{stdout}");
    let (code, stdout, stderr) = shop(&db, &env, &["endpoints", "list"]);
    assert_eq!(code, 0, "{stderr}");
    let row: Vec<&str> = stdout.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[row.len() - 2..], ["yes", "default"], "fetch thin, processing: {stdout}");
    // Without the mode's key the command says what deliveries will get.
    let (code, stdout, _) = shop(&db, &[], &["endpoints", "update", "1", "--fetch-thin-events", "true"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("warning: STRIPE_TEST_SECRET_KEY is not set"), "{stdout}");

    // The server reads endpoints again after a second.
    std::thread::sleep(Duration::from_millis(1500));
    let builder = EventBuilder::v2("v1.billing.meter.error_report_triggered").account(account);
    let mut full = serde_json::to_value(builder.build()).unwrap();
    full["data"] = serde_json::json!({"developer_message_summary": "1 invalid event"});
    fake.add_v2_event(full);
    let fetched = builder.signed(&secret);
    let answer = post(&server.endpoint_url(), &fetched.body, Some(&fetched.header));
    assert_eq!(answer.status, 200, "{:?}", answer.json);
    let request = fake.seen().pop().expect("the server fetched the event");
    assert_eq!(request.path, format!("/v2/core/events/{}", fetched.event.id));
    assert_eq!(request.header("stripe-context"), Some(account));
    assert_eq!(request.header("authorization"), Some(format!("Bearer {key}").as_str()));
    let (code, stdout, stderr) = shop(&db, &env, &["events", "show", &fetched.event.id]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("\"developer_message_summary\": \"1 invalid event\""), "{stdout}");
    assert!(stdout.contains("; data fetched from Stripe (or sent)"), "{stdout}");

    // A notification Stripe does not have is refused.
    let forged = EventBuilder::v2("v1.billing.meter.error_report_triggered").account(account).signed(&secret);
    assert_eq!(post(&server.endpoint_url(), &forged.body, Some(&forged.header)).status, 400);

    // events list: the context and the related object of each v2 event.
    let (code, stdout, stderr) = shop(&db, &env, &["events", "list"]);
    assert_eq!(code, 0, "{stderr}");
    let rows: Vec<&str> = stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    for (row, event) in rows.iter().zip([&fetched.event, &plain.event]) {
        let related = event.related_object.as_ref().unwrap();
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[0], event.id, "{stdout}");
        assert_eq!(&cells[4..], [account, "billing.meter", related.id.as_str(), "1"], "{stdout}");
    }
}

/// Inbox mode through the shop's server and command line: a delivery is answered `queued` and
/// processed by the server's workers right after; a failing one is retried, then dead-lettered,
/// shown by `inbox list --dead` and queued again by `inbox retry`; an endpoint can be switched
/// back to inline processing.
fn inbox_mode_end_to_end(backend: Backend) {
    let db = TestDb::new(backend);
    let env = [("DJSTRIPE_WEBHOOK_PROCESSING", "inbox"), ("DJSTRIPE_INBOX_MAX_ATTEMPTS", "2")];
    let server = Server::start(&db, &env);
    let secret = server.secret(&db);
    let url = server.endpoint_url();
    let good = EventBuilder::new("customer.created").signed(&secret);
    let answer = post(&url, &good.body, Some(&good.header));
    assert_eq!((answer.status, answer.json["status"].as_str()), (200, Some("queued")), "{answer:?}");
    let shop_row = format!("shop_customer_event WHERE event_id = '{}'", good.event.id);
    let processed = || count(&db, &shop_row) == 1;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !processed() {
        assert!(std::time::Instant::now() < deadline, "the server's workers did not process the event");
        std::thread::sleep(Duration::from_millis(50));
    }
    let again = post(&url, &good.body, Some(&good.header));
    assert_eq!(again.json["status"].as_str(), Some("duplicate"), "{again:?}");

    let failing = EventBuilder::new("customer.created").metadata("fail", "yes").signed(&secret);
    assert_eq!(post(&url, &failing.body, Some(&failing.header)).status, 200, "answered before the handler fails");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (code, stdout, stderr) = shop(&db, &[], &["inbox", "list", "--dead"]);
        assert_eq!(code, 0, "{stderr}");
        if stdout.contains(&failing.event.id) {
            let row = stdout.lines().find(|l| l.starts_with(&failing.event.id)).unwrap();
            assert!(row.contains(" dead ") && row.contains("shop::record_customer_event"), "{stdout}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not dead-lettered after two attempts: {stdout}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, stdout, _) = shop(&db, &[], &["inbox", "stats"]);
    assert_eq!((code, stdout.starts_with("pending 0, dead 1,")), (0, true), "{stdout}");
    let (code, stdout, _) = shop(&db, &[], &["triggers", "list", "--failed"]);
    assert!(code == 0 && stdout.contains(&failing.event.id), "its trigger is failed: {stdout}");
    let (code, stdout, stderr) = shop(&db, &[], &["inbox", "retry", &failing.event.id]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(&format!("{} queued again", failing.event.id)), "{stdout}");
    let (code, _, stderr) = shop(&db, &[], &["inbox", "retry", &good.event.id]);
    assert!(code != 0 && stderr.contains("evt_"), "a processed event is not in the inbox: {stderr}");

    let (code, stdout, stderr) = shop(&db, &[], &["endpoints", "update", "1", "--processing", "inline"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("processing=inline"), "{stdout}");
    let (code, _, _) = shop(&db, &[], &["endpoints", "update", "1", "--processing", "later"]);
    assert_eq!(code, 2, "clap refuses an unknown mode");
    std::thread::sleep(Duration::from_millis(1500)); // the server's endpoint cache
    let inline = EventBuilder::new("customer.created").signed(&secret);
    let answer = post(&url, &inline.body, Some(&inline.header));
    assert_eq!(answer.json["status"].as_str(), Some("processed"), "inline again: {answer:?}");
}

both_backends!(
    inbox_mode_end_to_end,
    v2_events_and_fetching_them,
    triggers_prune,
    events_list_type_matches_like_handlers,
    admin_set_password,
    serve_contradictory_environment,
    migrate_twice,
    inspect_and_reprocess,
    reprocess_failed,
    reprocess_failed_repeatedly,
    trigger_sends_signed_events,
    serve_bad_environment,
    banner_trigger_line,
);
