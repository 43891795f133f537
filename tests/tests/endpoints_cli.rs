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
