#![allow(missing_docs)]
//! `shop endpoints ...` and `shop accounts ...` as processes, against djstripe-core's fake of
//! Stripe's API (`testing::FakeStripe`) on loopback. (The thorough API tests are
//! djstripe-core/tests/endpoints.rs.)

use djstripe_core::testing::FakeStripe;
use djstripe_tests::{Backend, TestDb, shop};

#[test]
fn endpoints_from_the_command_line() {
    let db = TestDb::new(Backend::Sqlite);
    let fake = FakeStripe::start();
    let env =
        [("STRIPE_API_BASE", fake.base_url()), ("STRIPE_TEST_SECRET_KEY", FakeStripe::TEST_KEY), ("RUST_LOG", "warn")];
    let run = |args: &[&str]| shop(&db, &env, args);
    assert_eq!(run(&["migrate"]).0, 0, "the commands below need a database");

    // Refused before any call, with the reason and what to do instead.
    let (code, _, err) = run(&["endpoints", "create", "--base-url", "http://localhost:8000"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("localhost") && err.contains("tunnel"), "{err}");
    let (code, _, err) = run(&["endpoints", "create"]);
    assert_eq!(code, 1);
    assert!(err.contains("--base-url") && err.contains("DJSTRIPE_WEBHOOK_BASE_URL"), "{err}");
    assert!(fake.seen().is_empty());

    // Created: the full URL, the secret stored but not printed.
    let (code, out, err) = run(&[
        "endpoints",
        "create",
        "--base-url",
        "https://shop.example.com",
        "--events",
        "customer.created,invoice.paid",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("url: https://shop.example.com/stripe/webhook/") && out.contains("secret: stored"), "{out}");
    assert!(!out.contains("whsec_") && !err.contains("whsec_"), "the secret is not printed: {out}{err}");
    let created = fake.seen()[0].clone();
    assert_eq!(created.fields("enabled_events[]"), ["customer.created", "invoice.paid"], "{created:?}");

    // --show-secret prints it; DJSTRIPE_WEBHOOK_BASE_URL is the default base URL.
    let with_base = [env[0], env[1], env[2], ("DJSTRIPE_WEBHOOK_BASE_URL", "https://other.example.com")];
    let (code, out, _) = shop(&db, &with_base, &["endpoints", "create", "--show-secret"]);
    assert_eq!(code, 0, "{out}");
    let secret = fake.secret("we_fake2").expect("the second endpoint at Stripe");
    assert!(out.contains(&secret) && out.contains("https://other.example.com/stripe/webhook/"), "{out}");

    let (code, out, _) = run(&["endpoints", "list"]);
    assert_eq!(code, 0);
    assert_eq!(out.matches("enabled at Stripe").count(), 2, "{out}");
    assert!(!out.contains("whsec_"), "{out}");
    // Every endpoint's id, UUID and full URL, one row each under the header.
    let stored = djstripe_core::db::Database::connect(db.url()).unwrap().endpoints().unwrap();
    let rows: Vec<Vec<&str>> = out.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 2, "{out}");
    for (row, e) in rows.iter().zip(&stored) {
        assert_eq!(&row[..4], [e.id.to_string().as_str(), &e.djstripe_uuid, &e.url, e.stripe_id.as_deref().unwrap()]);
        assert!(e.url.starts_with("https://") && e.url.ends_with(&format!("/webhook/{}/", e.djstripe_uuid)));
    }

    let (code, out, err) = run(&["endpoints", "update", "we_fake1", "--disable"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(" disabled "), "{out}");

    let (code, out, err) = run(&["endpoints", "add-secret", "we_fake1", "--secret", "whsec_rolled"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 previous still valid") && !out.contains("whsec_rolled"), "{out}");
    let (code, out, _) = run(&["endpoints", "drop-secret", "we_fake1"]);
    assert_eq!(code, 0);
    assert!(out.contains("1 previous secret(s) dropped"), "{out}");

    let (code, out, err) = run(&["endpoints", "delete", "we_fake2"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("deleted at Stripe and locally"), "{out}");
    assert_eq!(db.count("SELECT COUNT(*) AS n FROM djstripe_webhookendpoint"), 1);

    // Connected accounts' own keys.
    let (code, _, err) = run(&["accounts", "set-key", "acct_cli", "--test", "--key", "sk_test_account_own_key"]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = run(&["accounts", "list"]);
    let row: Vec<&str> = out.lines().nth(1).unwrap_or_default().split_whitespace().collect();
    assert_eq!(&row[..3], ["acct_cli", "test", "sk_test_…_key"], "{out}");
    assert!(!out.contains("own_key"), "{out}");
    let (code, _, err) = run(&["accounts", "set-key", "acct_cli", "--live", "--key", "sk_test_wrong_mode"]);
    assert_eq!(code, 1);
    assert!(err.contains("live key"), "{err}");
}

/// Issue 15, item 7: each of these was accepted and an endpoint created (the check read a host
/// that is not four decimal numbers as a name). Now refused before any call, naming the address.
#[test]
fn every_spelling_of_a_private_address_is_refused() {
    let db = TestDb::new(Backend::Sqlite);
    let fake = FakeStripe::start();
    let env = [("STRIPE_API_BASE", fake.base_url()), ("STRIPE_TEST_SECRET_KEY", FakeStripe::TEST_KEY)];
    assert_eq!(shop(&db, &env, &["migrate"]).0, 0);
    for (base, address) in [
        ("http://127.1", "127.0.0.1"),
        ("http://0x7f.0.0.1", "127.0.0.1"),
        ("http://0177.0.0.1", "127.0.0.1"),
        ("http://10.1", "10.0.0.1"),
        ("http://192.168.1", "192.168.0.1"),
        ("http://127.000.000.001", "127.0.0.1"),
        ("http://[::127.0.0.1]", "127.0.0.1"),
        ("http://[64:ff9b::7f00:1]", "127.0.0.1"),
        ("http://localhost.localdomain", "localhost.localdomain"),
        ("https://shop.example.com:0", "port 0"),
    ] {
        let (code, out, err) = shop(&db, &env, &["endpoints", "create", "--base-url", base]);
        assert_eq!(code, 1, "{base}: {out}{err}");
        assert!(err.contains(address) && err.contains("tunnel"), "{base}: {err}");
    }
    assert!(fake.seen().is_empty(), "no call for any of them");
    // A Unicode host name is converted to punycode, not refused.
    let (code, out, err) = shop(&db, &env, &["endpoints", "create", "--base-url", "https://bücher.example"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("url: https://xn--bcher-kva.example/stripe/webhook/"), "{out}");
}

/// Issue 15, item 9: `endpoints create` killed while Stripe answers. Before: `sync` imported the
/// endpoint with "NO SECRET" and `create` again made a second one. Now `sync` says how to finish
/// it, and `create` again resumes it: one endpoint at Stripe, its secret stored.
#[test]
fn a_killed_create_is_resumed_by_running_it_again() {
    let db = TestDb::new(Backend::Sqlite);
    let fake = FakeStripe::start();
    let env = [("STRIPE_API_BASE", fake.base_url()), ("STRIPE_TEST_SECRET_KEY", FakeStripe::TEST_KEY)];
    let run = |args: &[&str]| shop(&db, &env, args);
    assert_eq!(run(&["migrate"]).0, 0);
    let create = ["endpoints", "create", "--base-url", "https://shop.example.com", "--events", "invoice.paid"];

    fake.hold_next_answer(Some(std::time::Duration::from_secs(20)));
    let mut child = djstripe_tests::shop_spawn(&db, &env, &create);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while fake.endpoints().is_empty() {
        assert!(std::time::Instant::now() < deadline, "the create never reached Stripe");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // while Stripe's answer is on its way
    child.wait().unwrap();
    let stripe_id = fake.endpoints()[0]["id"].as_str().unwrap().to_owned();

    let (code, out, err) = run(&["endpoints", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("pending") && out.contains("creation unfinished"), "{out}");
    let (code, out, err) = run(&["endpoints", "sync"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("unfinished: #1 is an interrupted `endpoints create`, and Stripe has it ({stripe_id})"))
    );
    assert!(out.contains("run `endpoints create` again") && !out.contains("NO SECRET"), "{out}");
    assert!(out.contains("0 new"), "not imported as an endpoint without a secret: {out}");

    let (code, out, err) = run(&create);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("resumed the interrupted creation of #1") && out.contains(&stripe_id), "{out}");
    assert_eq!(fake.endpoints().len(), 1, "one endpoint at Stripe");
    let stored = djstripe_core::db::Database::connect(db.url()).unwrap().endpoints().unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(Some(stored[0].secret.clone()), fake.secret(&stripe_id), "its secret, usable");
    assert_eq!(stored[0].status, "enabled");
}

/// Issue 15, item 12: unchecked events and API versions, `delete` after a 404, no `--url`.
#[test]
fn parameters_are_checked_and_answers_are_honest() {
    let db = TestDb::new(Backend::Sqlite);
    let fake = FakeStripe::start();
    let env = [("STRIPE_API_BASE", fake.base_url()), ("STRIPE_TEST_SECRET_KEY", FakeStripe::TEST_KEY)];
    let run = |args: &[&str]| shop(&db, &env, args);
    assert_eq!(run(&["migrate"]).0, 0);
    let base = ["endpoints", "create", "--base-url", "https://shop.example.com"];
    for (extra, why) in [
        (&["--events", "*,invoice.paid"][..], "stands alone"),
        (&["--events", "invoice.payed"][..], "did you mean `invoice.paid`"),
        (&["--api-version", "2024-13-45"][..], "not a Stripe API version"),
        (&["--account", "acct_1'x"][..], "not a Stripe account id"),
    ] {
        let (code, _, err) = run(&[&base[..], extra].concat());
        assert_eq!(code, 1, "{extra:?}: {err}");
        assert!(err.contains(why), "{extra:?}: {err}");
    }
    assert!(fake.seen().is_empty(), "nothing sent to Stripe");

    let (code, out, err) = run(&[&base[..], &["--api-version", "2026-07-29.dahlia"]].concat());
    assert_eq!(code, 0, "{err}");
    assert_eq!(fake.seen()[0].field("api_version").as_deref(), Some("2026-07-29.dahlia"), "{out}");

    // The URL moves at Stripe; the UUID and secret stay.
    let (code, out, err) = run(&["endpoints", "update", "we_fake1", "--url", "https://moved.example.com"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("https://moved.example.com/stripe/webhook/"), "{out}");
    assert!(fake.endpoint("we_fake1").unwrap()["url"].as_str().unwrap().starts_with("https://moved.example.com/"));
    let (code, _, err) = run(&["endpoints", "update", "we_fake1", "--url", "http://127.1"]);
    assert_eq!(code, 1);
    assert!(err.contains("loopback"), "{err}");

    // Deleted at Stripe behind our back: the CLI says so instead of "deleted at Stripe".
    assert!(fake.remove_endpoint("we_fake1"));
    let (code, out, err) = run(&["endpoints", "delete", "we_fake1"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("not found at Stripe; removed locally") && !out.contains("deleted at Stripe"), "{out}");
}
