#![allow(missing_docs)]
//! Webhook endpoints created at Stripe (a stateful fake on loopback), on both backends: the URL's
//! UUID routes deliveries signed with the secret Stripe returned; every error path; rotation;
//! sync; update; delete.

mod support;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use djstripe_core::Error;
use djstripe_core::db::{Backend, Database, NewWebhookEndpoint};
use djstripe_core::endpoints::{AtStripe, CreateEndpoint, DeletedAt, EndpointManager, EndpointStatus, UpdateEndpoint};
use djstripe_core::engine::{Engine, EngineConfig, Receipt};
use djstripe_core::stripe_api::StripeClient;
use djstripe_core::testing::{FakeStripe, TestDatabase};
use serde_json::json;
use support::*;

const TEST_KEY: &str = FakeStripe::TEST_KEY;
const LIVE_KEY: &str = FakeStripe::LIVE_KEY;
/// The own test-mode key of [`OWN_ACCOUNT`].
const OWN_KEY: &str = "sk_test_ownaccount";
const OWN_ACCOUNT: &str = "acct_own";
const CONNECTED: &str = "acct_connected";

/// The fake Stripe API: its platform keys, [`OWN_ACCOUNT`]'s own key, list pages of two.
fn fake() -> FakeStripe {
    let fake = FakeStripe::start();
    fake.accept_account_key(OWN_ACCOUNT, OWN_KEY).max_page_size(2);
    fake
}

fn client(base: &str) -> StripeClient {
    StripeClient::new(base).test_key(TEST_KEY).live_key(LIVE_KEY).backoff(Duration::from_millis(1)).max_retries(2)
}

fn manager(db: &Database, fake: &FakeStripe) -> EndpointManager {
    EndpointManager::new(db.clone(), client(fake.base_url()))
}

/// Delivers a fresh `customer.created` event to `uuid` signed with `secret`.
fn deliver(db: &Database, uuid: &str, secret: &str) -> Result<Receipt, Error> {
    let engine = Engine::new(db.clone(), EngineConfig::default()).unwrap();
    let body = event_body(&event_id(), "customer.created", json!({}));
    engine.receive(&delivery(uuid, &body, Some(&sign(secret, &body))))
}

fn label(receipt: Result<Receipt, Error>) -> String {
    match receipt {
        Ok(receipt) => receipt.outcome.as_str().to_owned(),
        Err(e) => format!("error: {e}"),
    }
}

fn create_in_both_modes_with_and_without_account(backend: Backend) {
    let db = TestDatabase::builder(backend).pool_size(4).build();
    let fake = fake();
    let manager = manager(&db, &fake);
    db.set_account_key(OWN_ACCOUNT, false, OWN_KEY).unwrap();

    let cases: [(bool, Option<&str>, &str, Option<&str>); 4] = [
        (false, None, TEST_KEY, None),
        (true, None, LIVE_KEY, None),
        (false, Some(CONNECTED), TEST_KEY, Some(CONNECTED)), // platform key + Stripe-Account
        (false, Some(OWN_ACCOUNT), OWN_KEY, None),           // the account's own key
    ];
    for (i, (livemode, account, key, header)) in cases.into_iter().enumerate() {
        let mut request = CreateEndpoint::new("https://shop.example.com/");
        request.livemode = livemode;
        request.account = account.map(str::to_owned);
        if i == 0 {
            request.enabled_events = vec!["customer.created".into(), "invoice.paid".into()];
            request.description = Some("orders".into());
            request.connect = true;
        }
        let created = manager.create(&request).unwrap();
        let endpoint = &created.endpoint;
        let uuid = &endpoint.djstripe_uuid;
        assert_eq!(endpoint.url, format!("https://shop.example.com/stripe/webhook/{uuid}/"));
        assert_eq!(uuid::Uuid::parse_str(uuid).unwrap().get_version_num(), 4);
        assert!(created.secret.starts_with("whsec_fake"), "{}", created.secret);
        assert_eq!(endpoint.secret, created.secret, "the secret is stored");
        assert_eq!(endpoint.livemode, livemode);
        assert_eq!(endpoint.account.as_deref(), account);
        assert!(!format!("{created:?}").contains(&created.secret), "Debug never shows the secret");

        let seen = fake.seen();
        let request_seen = seen.last().unwrap();
        assert_eq!((request_seen.method.as_str(), request_seen.path.as_str()), ("POST", "/v1/webhook_endpoints"));
        assert_eq!(request_seen.header("authorization"), Some(format!("Bearer {key}").as_str()), "case {i}");
        assert_eq!(request_seen.header("stripe-account"), header, "case {i}");
        assert_eq!(request_seen.header("idempotency-key"), Some(format!("djstripe-create-{uuid}").as_str()));
        assert_eq!(request_seen.header("stripe-version"), Some(djstripe_core::stripe_api::API_VERSION));
        assert_eq!(request_seen.field("url").as_deref(), Some(endpoint.url.as_str()));
        assert_eq!(request_seen.field("metadata[djstripe_uuid]").as_deref(), Some(uuid.as_str()));
        let stripe = fake.endpoint(endpoint.stripe_id.as_deref().unwrap()).expect("created at Stripe");
        assert_eq!(stripe["metadata"]["djstripe_uuid"], uuid.as_str());
        if i == 0 {
            assert_eq!(request_seen.fields("enabled_events[]"), vec!["customer.created", "invoice.paid"]);
            assert_eq!(request_seen.field("connect").as_deref(), Some("true"));
            assert_eq!(endpoint.description, "orders");
            assert!(endpoint.connect);
            assert_eq!(endpoint.enabled_events, r#"["customer.created","invoice.paid"]"#);
        } else {
            assert_eq!(request_seen.fields("enabled_events[]"), vec!["*"]);
            assert_eq!(request_seen.field("connect"), None);
        }

        // The URL's uuid routes deliveries signed with the returned secret.
        assert_eq!(label(deliver(&db, uuid, &created.secret)), "processed", "case {i}");
        assert_eq!(label(deliver(&db, uuid, "whsec_someone_else")), "invalid", "case {i}");
    }
    assert_eq!(db.endpoints().unwrap().len(), 4);
}

fn refused_base_urls_make_no_call(backend: Backend) {
    let db = TestDatabase::builder(backend).pool_size(2).build();
    let fake = fake();
    let manager = manager(&db, &fake);
    for (base, live) in [
        ("http://localhost:8000", false),
        ("http://127.0.0.1:8000", false),
        ("http://[::1]:8000", false),
        ("http://192.168.1.5", false),
        ("http://10.0.0.7", false),
        ("https://shop.local", false),
        ("http://shop.example.com", true),
        ("ftp://shop.example.com", false),
    ] {
        let mut request = CreateEndpoint::new(base);
        request.livemode = live;
        let err = manager.create(&request).unwrap_err();
        assert!(matches!(err, Error::BaseUrlRejected { .. }), "{base}: {err:?}");
        assert!(err.to_string().contains("tunnel"), "{err}");
    }
    assert!(fake.seen().is_empty(), "no HTTP call for a refused base URL");
    assert!(db.endpoints().unwrap().is_empty());
}

fn stripe_errors_are_clear_and_store_nothing(backend: Backend) {
    let db = TestDatabase::builder(backend).pool_size(2).build();
    let fake = fake();
    let request = CreateEndpoint::new("https://shop.example.com");

    // 401: a wrong key.
    let wrong = EndpointManager::new(db.clone(), StripeClient::new(fake.base_url()).test_key("sk_test_wrong"));
    let err = wrong.create(&request).unwrap_err().to_string();
    assert!(
        err.contains("401")
            && err.contains("refused the API key in STRIPE_TEST_SECRET_KEY")
            && err.contains("Invalid API Key"),
        "{err}"
    );

    // No key configured for the mode: refused before any call.
    let before = fake.seen().len();
    let mut live = request.clone();
    live.livemode = true;
    let err = EndpointManager::new(db.clone(), StripeClient::new(fake.base_url()).test_key(TEST_KEY))
        .create(&live)
        .unwrap_err();
    assert!(err.to_string().contains("STRIPE_LIVE_SECRET_KEY"), "{err}");
    assert_eq!(fake.seen().len(), before);

    let manager = manager(&db, &fake);
    // 400 with Stripe's message.
    fake.fail_next(400, r#"{"error":{"message":"Invalid URL: must be publicly accessible."}}"#);
    let err = manager.create(&request).unwrap_err().to_string();
    assert!(err.contains("400") && err.contains("Invalid URL: must be publicly accessible."), "{err}");

    // 5xx on every attempt: retried, then one clear error.
    let before = fake.seen().len();
    for _ in 0..3 {
        fake.fail_next(503, r#"{"error":{"message":"overloaded"}}"#);
    }
    let err = manager.create(&request).unwrap_err();
    assert!(matches!(err, Error::CreationUnfinished { .. }), "a 5xx: Stripe may have created it: {err:?}");
    let err = err.to_string();
    assert!(err.contains("503") && err.contains("retries exhausted"), "{err}");
    assert_eq!(fake.seen().len() - before, 3, "one try and two retries");
    assert_eq!(db.endpoints().unwrap()[0].status, "pending", "kept, to be resumed");

    // 429 on every attempt: resuming the pending one, whose fate is unknown: it stays pending.
    for _ in 0..3 {
        fake.fail_next(429, r#"{"error":{"message":"Too many requests"}}"#);
    }
    let err = manager.create(&request).unwrap_err().to_string();
    assert!(err.contains("429") && err.contains("rate limited"), "{err}");
    assert_eq!(db.endpoints().unwrap().len(), 1);
    assert!(fake.endpoints().is_empty());
    // A fresh creation refused with 429 (other base URL): Stripe made nothing, nothing is kept.
    for _ in 0..3 {
        fake.fail_next(429, r#"{"error":{"message":"Too many requests"}}"#);
    }
    assert!(manager.create(&CreateEndpoint::new("https://other.example.com")).is_err());
    assert_eq!(db.endpoints().unwrap().len(), 1, "nothing stored after a refused creation");

    // 429 then success: one endpoint, same idempotency key on both attempts.
    let before = fake.seen().len();
    fake.fail_next(429, r#"{"error":{"message":"Too many requests"}}"#);
    let created = manager.create(&request).unwrap();
    let seen = fake.seen();
    let attempts = &seen[before..];
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].header("idempotency-key"), attempts[1].header("idempotency-key"));
    assert_eq!(db.endpoints().unwrap().len(), 1);
    assert_eq!(label(deliver(&db, &created.endpoint.djstripe_uuid, &created.secret)), "processed");

    // Network failure: a closed port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let offline = EndpointManager::new(db.clone(), client(&format!("http://127.0.0.1:{port}")));
    let err = offline.create(&request).unwrap_err();
    assert!(matches!(err, Error::CreationUnfinished { .. }), "{err:?}");
    let err = err.to_string();
    assert!(err.contains("could not be reached") && err.contains("run the same `endpoints create` again"), "{err}");
    let rows = db.endpoints().unwrap();
    assert_eq!(rows.len(), 2, "the created one, and the pending one, which the next create resumes");
    assert_eq!((rows[0].status.as_str(), rows[0].stripe_id.as_deref(), rows[0].secret.as_str()), ("pending", None, ""));
}

/// Makes storing a signing secret fail (the pending row is written before Stripe is called, so
/// the write that fails is the one after Stripe answered).
fn break_storing_secrets(db: &Database) {
    let sql = match db.backend() {
        Backend::Sqlite => {
            "CREATE TRIGGER no_secret BEFORE UPDATE OF secret ON djstripe_webhookendpoint WHEN NEW.secret <> '' \
             BEGIN SELECT RAISE(ABORT, 'disk full'); END;"
        }
        Backend::Postgres => {
            "CREATE FUNCTION no_secret() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER no_secret BEFORE UPDATE OF secret ON djstripe_webhookendpoint FOR EACH ROW \
             WHEN (NEW.secret <> '') EXECUTE FUNCTION no_secret();"
        }
    };
    db.get().unwrap().batch_execute(sql).unwrap();
}

fn storing_failure_deletes_at_stripe_or_says_what_to_clean(backend: Backend) {
    let db = TestDatabase::builder(backend).pool_size(2).build();
    let fake = fake();
    let manager = manager(&db, &fake);
    break_storing_secrets(&db);

    let err = manager.create(&CreateEndpoint::new("https://shop.example.com")).unwrap_err();
    assert!(matches!(err, Error::Database(_) | Error::DatabaseUnavailable { .. }), "{err:?}");
    let seen = fake.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[1].method, "DELETE");
    assert!(fake.endpoints().is_empty(), "no orphan endpoint at Stripe");
    assert!(db.endpoints().unwrap().is_empty(), "nor a pending row");

    fake.fail_deletes(true);
    let err = manager.create(&CreateEndpoint::new("https://shop.example.com")).unwrap_err();
    assert!(matches!(err, Error::CleanupNeeded { .. }), "{err:?}");
    let message = err.to_string();
    let orphan = fake.endpoints()[0]["id"].as_str().unwrap().to_owned();
    assert!(message.contains(&orphan), "{message}");
    assert!(
        message.contains(&format!("curl -X DELETE {}/v1/webhook_endpoints/{orphan}", fake.base_url())),
        "{message}"
    );
    assert!(message.contains("Nothing was stored locally"), "{message}");
    assert!(db.endpoints().unwrap().is_empty());
}

fn rotation_keeps_the_old_secret_until_dropped(backend: Backend) {
    let db = TestDatabase::builder(backend).pool_size(2).build();
    let fake = fake();
    let manager = manager(&db, &fake);
    let created = manager.create(&CreateEndpoint::new("https://shop.example.com")).unwrap();
    let uuid = &created.endpoint.djstripe_uuid;
    let old = created.secret.clone();

    let err = manager.add_secret(uuid, "not-a-secret", Duration::from_secs(60)).unwrap_err();
    assert!(err.to_string().contains("whsec_"), "{err}");

    let rotated = manager.add_secret(uuid, "whsec_rolled", djstripe_core::endpoints::DEFAULT_SECRET_OVERLAP).unwrap();
    assert_eq!(rotated.secret, "whsec_rolled");
    let previous = rotated.previous();
    assert_eq!(previous.len(), 1);
    let in_a_day = chrono::Utc::now().timestamp() + 24 * 3600;
    assert!((previous[0].expires - in_a_day).abs() < 60, "{previous:?}");
    assert_eq!(label(deliver(&db, uuid, &old)), "processed", "the old secret still verifies");
    assert_eq!(label(deliver(&db, uuid, "whsec_rolled")), "processed");

    assert_eq!(manager.drop_secret(uuid).unwrap(), 1);
    assert_eq!(label(deliver(&db, uuid, &old)), "invalid", "the old secret no longer verifies");
    assert_eq!(label(deliver(&db, uuid, "whsec_rolled")), "processed");

    // Without overlap the replaced secret stops at once.
    manager.add_secret(&created.endpoint.id.to_string(), "whsec_third", Duration::ZERO).unwrap();
    assert_eq!(label(deliver(&db, uuid, "whsec_rolled")), "invalid");
    assert_eq!(label(deliver(&db, uuid, "whsec_third")), "processed");
    assert!(fake.seen().len() == 1, "rotation is local: Stripe's roll happens in the Dashboard");
}

fn sync_pulls_endpoints_without_secrets(backend: Backend) {
    let db = TestDatabase::builder(backend).pool_size(2).build();
    let fake = fake();
    let manager = manager(&db, &fake);
    let mine = manager.create(&CreateEndpoint::new("https://shop.example.com")).unwrap();
    let known = uuid::Uuid::new_v4().to_string();
    let with_uuid = fake.insert_endpoint(
        &format!("https://shop.example.com/stripe/webhook/{known}/"),
        json!({"djstripe_uuid": known}),
        false,
        None,
    );
    let without = fake.insert_endpoint("https://other.example.com/hooks", json!({}), false, None);
    fake.insert_endpoint("https://live.example.com/hooks", json!({}), true, None); // another mode: not pulled
    fake.insert_endpoint("https://acct.example.com/hooks", json!({}), false, Some(CONNECTED)); // another account
    // Changed at Stripe since: the local row is refreshed.
    assert!(fake.update_endpoint(mine.endpoint.stripe_id.as_deref().unwrap(), json!({"status": "disabled"})));

    let report = manager.sync(false, None).unwrap();
    assert_eq!(report.created.len(), 2, "{report:?}");
    assert_eq!(report.updated.len(), 1);
    assert!(report.missing.is_empty());
    let flagged: Vec<_> = report.without_secret.iter().map(|e| e.stripe_id.clone().unwrap()).collect();
    assert_eq!(flagged, std::slice::from_ref(&with_uuid), "made by djstripe (a djstripe_uuid), no secret: flagged");
    let pages = fake.seen().iter().filter(|r| r.method == "GET").count();
    assert_eq!(pages, 2, "three endpoints in pages of two");
    assert!(fake.seen().iter().any(|r| r.path.contains("starting_after=we_")));
    assert_eq!(report.updated[0].id, mine.endpoint.id);
    assert_eq!(report.updated[0].status, "disabled");
    assert_eq!(report.updated[0].secret, mine.secret, "a sync keeps the stored secret");

    let synced = db.endpoint_by_stripe_id(&with_uuid).unwrap().unwrap();
    assert_eq!(synced.djstripe_uuid, known, "the uuid comes from the metadata");
    assert!(synced.secret.is_empty());
    let other = db.endpoint_by_stripe_id(&without).unwrap().unwrap();
    assert_eq!(uuid::Uuid::parse_str(&other.djstripe_uuid).unwrap().get_version_num(), 4);

    // Without a secret: 400 with a trigger row saying why.
    let outcome = deliver(&db, &known, "whsec_anything").unwrap();
    assert_eq!(outcome.outcome, djstripe_core::db::Outcome::Invalid);
    assert!(matches!(outcome.error, Some(Error::NoSecret)), "{outcome:?}");
    assert_eq!(outcome.http_status(), 400);
    let trigger = db.trigger(outcome.trigger_id).unwrap();
    assert!(!trigger.valid && trigger.exception.contains("no signing secret"), "{}", trigger.exception);
    assert_eq!(trigger.webhook_endpoint_id, Some(synced.id));
    // A disabled endpoint: 404.
    assert!(matches!(deliver(&db, &mine.endpoint.djstripe_uuid, &mine.secret), Err(Error::NotFound { .. })));

    // Setting the secret makes it verify.
    manager.add_secret(&with_uuid, "whsec_from_dashboard", Duration::from_secs(3600)).unwrap();
    assert_eq!(label(deliver(&db, &known, "whsec_from_dashboard")), "processed");

    // A second sync changes nothing; an endpoint deleted at Stripe is reported missing.
    assert!(fake.remove_endpoint(&without));
    let again = manager.sync(false, None).unwrap();
    assert!(again.created.is_empty());
    assert_eq!(again.updated.len(), 2);
    assert_eq!(again.missing.iter().map(|e| e.stripe_id.clone().unwrap()).collect::<Vec<_>>(), vec![without.clone()]);
    assert_eq!(db.endpoints().unwrap().len(), 3);

    // The connected account's endpoints, with the platform key and Stripe-Account.
    let connected = manager.sync(false, Some(CONNECTED)).unwrap();
    assert_eq!(connected.created.len(), 1);
    assert_eq!(connected.created[0].account.as_deref(), Some(CONNECTED));
    assert_eq!(fake.seen().last().unwrap().header("stripe-account"), Some(CONNECTED));
}

fn update_and_delete(backend: Backend) {
    let db = TestDatabase::builder(backend).pool_size(2).build();
    let fake = fake();
    let manager = manager(&db, &fake);
    let mut request = CreateEndpoint::new("https://shop.example.com");
    request.account = Some(CONNECTED.into());
    let created = manager.create(&request).unwrap();
    let stripe_id = created.endpoint.stripe_id.clone().unwrap();
    let uuid = created.endpoint.djstripe_uuid.clone();

    let disable = UpdateEndpoint { status: Some(EndpointStatus::Disabled), ..Default::default() };
    let updated = manager.update(&stripe_id, &disable).unwrap();
    assert!(!updated.is_enabled());
    let seen = fake.seen();
    let last = seen.last().unwrap();
    assert_eq!(
        (last.method.as_str(), last.path.as_str()),
        ("POST", format!("/v1/webhook_endpoints/{stripe_id}").as_str())
    );
    assert_eq!(last.form(), vec![("disabled".to_string(), "true".to_string())]);
    assert_eq!(last.header("stripe-account"), Some(CONNECTED));
    assert_eq!(fake.endpoint(&stripe_id).unwrap()["status"], "disabled");
    assert!(matches!(deliver(&db, &uuid, &created.secret), Err(Error::NotFound { .. })), "disabled: 404");

    let change = UpdateEndpoint {
        status: Some(EndpointStatus::Enabled),
        enabled_events: Some(vec!["customer.created".into(), "customer.deleted".into()]),
        description: Some("customers".into()),
        ..Default::default()
    };
    let updated = manager.update(&uuid, &change).unwrap();
    assert!(updated.is_enabled());
    assert_eq!(updated.enabled_events, r#"["customer.created","customer.deleted"]"#);
    assert_eq!(updated.description, "customers");
    assert_eq!(fake.endpoint(&stripe_id).unwrap()["enabled_events"], json!(["customer.created", "customer.deleted"]));
    assert_eq!(label(deliver(&db, &uuid, &created.secret)), "processed");

    // Listing shows Stripe's view of each row.
    let local = db.insert_endpoint(&NewWebhookEndpoint::local(SECRET)).unwrap();
    let other = manager.create(&CreateEndpoint::new("https://shop.example.com")).unwrap();
    assert!(fake.remove_endpoint(other.endpoint.stripe_id.as_deref().unwrap()));
    let listed = manager.list().unwrap();
    let status = |id: i64| listed.iter().find(|l| l.endpoint.id == id).unwrap().at_stripe.clone();
    assert_eq!(status(created.endpoint.id), AtStripe::Status("enabled".into()));
    assert_eq!(status(local.id), AtStripe::LocalOnly);
    assert_eq!(status(other.endpoint.id), AtStripe::Missing);

    // Stripe refuses the delete: nothing deleted locally.
    fake.fail_deletes(true);
    let err = manager.delete(&stripe_id).unwrap_err();
    assert!(err.to_string().contains("500"), "{err}");
    assert!(db.endpoint_by_stripe_id(&stripe_id).unwrap().is_some());
    fake.fail_deletes(false);

    let deleted = manager.delete(&stripe_id).unwrap();
    assert_eq!(deleted.endpoint.id, created.endpoint.id);
    assert_eq!(deleted.at_stripe, DeletedAt::Stripe);
    assert!(fake.endpoint(&stripe_id).is_none(), "deleted at Stripe");
    assert!(db.endpoint_by_stripe_id(&stripe_id).unwrap().is_none(), "deleted locally");
    let err = deliver(&db, &uuid, &created.secret).unwrap_err();
    assert_eq!(err.http_status(), 404);

    // Already deleted at Stripe: the local row goes all the same, and the answer says so (issue 15,
    // item 12: it said "deleted at Stripe" after Stripe answered 404).
    let gone = manager.delete(&other.endpoint.id.to_string()).unwrap();
    assert_eq!(gone.at_stripe, DeletedAt::NotFoundAtStripe);
    assert_eq!(gone.at_stripe.to_string(), "not found at Stripe; removed locally");
    assert!(matches!(manager.find(&other.endpoint.djstripe_uuid), Err(Error::NotFound { .. })));
    assert!(matches!(manager.find("nonsense"), Err(Error::InvalidInput { field: "endpoint", .. })));
}

/// Issue 15, item 12: no way to change an endpoint's URL (moving domains meant a new UUID and
/// secret). Now the URL moves at Stripe, with the same UUID and secret.
fn update_moves_the_url(backend: Backend) {
    let db = TestDatabase::builder(backend).pool_size(2).build();
    let fake = fake();
    let manager = manager(&db, &fake);
    let created = manager.create(&CreateEndpoint::new("https://old.example.com")).unwrap();
    let (uuid, stripe_id) = (created.endpoint.djstripe_uuid.clone(), created.endpoint.stripe_id.clone().unwrap());
    let refused = UpdateEndpoint { base_url: Some("http://10.1".into()), ..Default::default() };
    assert!(matches!(manager.update(&uuid, &refused), Err(Error::BaseUrlRejected { .. })));
    let moved = UpdateEndpoint { base_url: Some("https://New.Example.com/shop/".into()), ..Default::default() };
    let updated = manager.update(&uuid, &moved).unwrap();
    let expected = format!("https://new.example.com/shop/stripe/webhook/{uuid}/");
    assert_eq!(updated.url, expected);
    assert_eq!(fake.endpoint(&stripe_id).unwrap()["url"], expected.as_str(), "moved at Stripe");
    assert_eq!(fake.seen().last().unwrap().field("url").as_deref(), Some(expected.as_str()));
    assert_eq!((updated.djstripe_uuid.as_str(), updated.secret.as_str()), (uuid.as_str(), created.secret.as_str()));
    assert_eq!(label(deliver(&db, &uuid, &created.secret)), "processed");
    // Bad events are refused before any call: `*` mixed with others, unknown names.
    let before = fake.seen().len();
    for events in [vec!["*".to_owned(), "invoice.paid".to_owned()], vec!["invoice.payed".to_owned()]] {
        let update = UpdateEndpoint { enabled_events: Some(events), ..Default::default() };
        assert!(matches!(manager.update(&uuid, &update), Err(Error::InvalidInput { .. })));
    }
    let mut request = CreateEndpoint::new("https://shop.example.com");
    request.api_version = Some("latest".into());
    assert!(manager.create(&request).unwrap_err().to_string().contains("not a Stripe API version"));
    assert_eq!(fake.seen().len(), before, "nothing sent");
}

/// Issue 15, item 9: killed while Stripe answered, a creation left an endpoint at Stripe that
/// `sync` imported without a secret (every delivery 400), and `create` again made a second one.
/// Now the pending row's idempotency key is reused: one endpoint at Stripe, and its secret.
fn an_interrupted_create_is_resumed_not_repeated(backend: Backend) {
    let db = TestDatabase::builder(backend).pool_size(2).build();
    let fake = fake();
    let manager = manager(&db, &fake);
    let once = EndpointManager::new(db.clone(), client(fake.base_url()).max_retries(0));
    let mut request = CreateEndpoint::new("https://shop.example.com");
    request.enabled_events = vec!["invoice.paid".into()];

    // Stripe creates the endpoint, but its answer never arrives.
    fake.hold_next_answer(None);
    let err = once.create(&request).unwrap_err();
    assert!(matches!(err, Error::CreationUnfinished { .. }), "{err:?}");
    let at_stripe = fake.endpoints();
    assert_eq!(at_stripe.len(), 1, "created at Stripe");
    let stripe_id = at_stripe[0]["id"].as_str().unwrap().to_owned();
    let pending = db.endpoints().unwrap().remove(0);
    assert_eq!((pending.status.as_str(), pending.secret.as_str()), ("pending", ""));
    assert!(matches!(deliver(&db, &pending.djstripe_uuid, "whsec_x"), Err(Error::NotFound { .. })), "not live yet");
    assert_eq!(manager.list().unwrap()[0].at_stripe, AtStripe::Pending);

    // sync does not import it as an endpoint without a secret: it reports the unfinished creation.
    let report = manager.sync(false, None).unwrap();
    assert!(report.created.is_empty() && report.without_secret.is_empty(), "{report:?}");
    assert_eq!(report.unfinished.len(), 1);
    assert_eq!((report.unfinished[0].0.id, report.unfinished[0].1.as_str()), (pending.id, stripe_id.as_str()));

    // The same create again (other events even): resumed with the same key and parameters.
    request.enabled_events = vec!["customer.created".into()];
    let created = manager.create(&request).unwrap();
    assert!(created.resumed);
    assert_eq!(fake.endpoints().len(), 1, "no second endpoint at Stripe");
    assert_eq!(created.endpoint.id, pending.id);
    assert_eq!(created.endpoint.stripe_id.as_deref(), Some(stripe_id.as_str()));
    assert_eq!(Some(created.secret.clone()), fake.secret(&stripe_id), "Stripe's secret, replayed");
    assert_eq!(created.endpoint.enabled_events, r#"["invoice.paid"]"#, "the first attempt's parameters");
    let posts: Vec<_> = fake.seen().into_iter().filter(|r| r.method == "POST").collect();
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0].header("idempotency-key"), posts[1].header("idempotency-key"));
    assert_eq!(label(deliver(&db, &created.endpoint.djstripe_uuid, &created.secret)), "processed");
    // Nothing pending any more: the next create is a new endpoint.
    assert!(!manager.create(&request).unwrap().resumed);
    assert_eq!(fake.endpoints().len(), 2);

    // Cut off, then retried by the client itself: the same key, one endpoint.
    fake.hold_next_answer(None);
    let retried = manager.create(&CreateEndpoint::new("https://retried.example.com")).unwrap();
    assert!(!retried.resumed);
    assert_eq!(fake.endpoints().len(), 3);
    assert_eq!(Some(retried.secret), fake.secret(retried.endpoint.stripe_id.as_deref().unwrap()));

    // Pending for longer than Stripe keeps keys (24 h): its endpoint at Stripe, whose secret
    // cannot be had again, is deleted; the creation starts afresh.
    fake.hold_next_answer(None);
    let stale_request = CreateEndpoint::new("https://stale.example.com");
    assert!(once.create(&stale_request).is_err());
    let stale = db.endpoints().unwrap().remove(0);
    let stale_at_stripe = fake.endpoints().last().unwrap()["id"].as_str().unwrap().to_owned();
    db.get()
        .unwrap()
        .batch_execute(&format!(
            "UPDATE djstripe_webhookendpoint SET created = '2000-01-01 00:00:00' WHERE id = {}",
            stale.id
        ))
        .unwrap();
    let fresh = manager.create(&stale_request).unwrap();
    assert!(!fresh.resumed && fresh.endpoint.id != stale.id);
    assert!(fake.endpoint(&stale_at_stripe).is_none(), "the unusable one deleted at Stripe");
    assert!(db.endpoint(stale.id).is_err(), "and its row");
    assert_eq!(fake.endpoints().len(), 4);
}

/// Issue 15, item 12: `list` asked Stripe about each endpoint in turn (10 s for 230). Now a
/// few calls run at once, never more than `LIST_PARALLELISM`.
fn list_asks_stripe_in_parallel(backend: Backend) {
    let db = TestDatabase::builder(backend).pool_size(4).build();
    let fake = fake();
    let manager = manager(&db, &fake);
    for _ in 0..20 {
        manager.create(&CreateEndpoint::new("https://shop.example.com")).unwrap();
    }
    assert_eq!(fake.max_in_flight(), 1, "creations one at a time");
    fake.delay_answers(Duration::from_millis(50));
    let listed = manager.list().unwrap();
    assert_eq!(listed.len(), 20);
    assert!(listed.iter().all(|l| l.at_stripe == AtStripe::Status("enabled".into())), "{listed:?}");
    let ids: Vec<i64> = listed.iter().map(|l| l.endpoint.id).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "still newest first: {ids:?}");
    let parallel = fake.max_in_flight();
    assert!((2..=djstripe_core::endpoints::LIST_PARALLELISM).contains(&parallel), "{parallel} at once");
}

fn account_keys(backend: Backend) {
    let db = TestDatabase::builder(backend).pool_size(2).build();
    db.set_account_key("acct_a", false, "sk_test_a1").unwrap();
    db.set_account_key("acct_a", false, "sk_test_a2").unwrap(); // replaces
    db.set_account_key("acct_a", true, "rk_live_a").unwrap();
    assert_eq!(db.account_key("acct_a", false).unwrap().as_deref(), Some("sk_test_a2"));
    assert_eq!(db.account_keys().unwrap().len(), 2);
    assert!(!format!("{:?}", db.account_keys().unwrap()).contains("sk_test_a2"));
    assert!(db.set_account_key("cus_1", false, "sk_test_x").is_err());
    assert!(db.set_account_key("acct_a", false, "sk_live_x").is_err());
    db.delete_account_key("acct_a", true).unwrap();
    assert!(matches!(db.delete_account_key("acct_a", true), Err(Error::NotFound { .. })));
    assert!(db.account_key("acct_a", true).unwrap().is_none());
}

both_backends!(
    list_asks_stripe_in_parallel,
    update_moves_the_url,
    an_interrupted_create_is_resumed_not_repeated,
    create_in_both_modes_with_and_without_account,
    refused_base_urls_make_no_call,
    stripe_errors_are_clear_and_store_nothing,
    storing_failure_deletes_at_stripe_or_says_what_to_clean,
    rotation_keeps_the_old_secret_until_dropped,
    sync_pulls_endpoints_without_secrets,
    update_and_delete,
    account_keys,
);
