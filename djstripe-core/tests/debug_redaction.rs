//! No secret in any `Debug` output (issue 15, 6: `LegacyEndpoint` and `PreviousSecret` printed
//! `whsec_` secrets in full): every public type that holds a signing secret, an API key or a
//! password hash is formatted, plain and pretty, and the output searched for the secret.

use djstripe_core::app::{Djstripe, Settings};
use djstripe_core::db::{AccountKey, AdminUser, NewWebhookEndpoint, PreviousSecret};
use djstripe_core::engine::{EngineConfig, LegacyEndpoint};
use djstripe_core::signature::{Secret, Verifier};
use djstripe_core::stripe_api::StripeClient;
use djstripe_core::stripe_api::webhook_endpoints::WebhookEndpointObject;

/// Every secret below contains this; no `Debug` output may.
const MARK: &str = "S3NTINEL";

fn assert_redacted(what: &str, value: &impl std::fmt::Debug) {
    for out in [format!("{value:?}"), format!("{value:#?}")] {
        assert!(!out.contains(MARK), "{what} shows a secret: {out}");
    }
}

#[test]
fn no_debug_output_shows_a_secret() {
    let whsec = format!("whsec_{MARK}abc");
    let sk = format!("sk_test_{MARK}abc");
    let now = chrono::Utc::now().naive_utc();

    let legacy = LegacyEndpoint::new([whsec.clone(), format!("whsec_old{MARK}")]);
    assert_redacted("LegacyEndpoint", &legacy);
    let previous = PreviousSecret { secret: whsec.clone(), expires: 1 };
    assert_redacted("PreviousSecret", &previous);
    assert_redacted("Vec<PreviousSecret>", &vec![previous.clone()]);
    let mut new = NewWebhookEndpoint::local(whsec.clone());
    new.previous_secrets = serde_json::to_string(&[previous]).unwrap();
    assert_redacted("NewWebhookEndpoint", &new);
    let stripe = StripeClient::new("http://127.0.0.1:1").test_key(sk.clone()).live_key(format!("sk_live_{MARK}"));
    assert_redacted("StripeClient", &stripe);
    let config = EngineConfig { legacy: Some(legacy.clone()), stripe: Some(stripe), ..Default::default() };
    assert_redacted("EngineConfig", &config);
    assert_redacted("Secret", &Secret::new(whsec.clone()));
    assert_redacted("Verifier", &Verifier::new([whsec.clone()]));
    let key = AccountKey {
        id: 1,
        account: "acct_1".into(),
        livemode: false,
        secret_key: sk.clone(),
        created: now,
        updated: now,
    };
    assert_redacted("AccountKey", &key);
    let user = AdminUser {
        id: 1,
        username: "ops".into(),
        password_hash: format!("$argon2id${MARK}"),
        created: now,
        updated: now,
    };
    assert_redacted("AdminUser", &user);
    let object: WebhookEndpointObject = serde_json::from_value(serde_json::json!({
        "id": "we_1", "url": "https://shop.example/stripe/webhook/x/", "enabled_events": ["*"],
        "status": "enabled", "livemode": false, "metadata": {}, "api_version": null, "secret": whsec,
    }))
    .unwrap();
    assert_redacted("WebhookEndpointObject", &object);

    // Whichever backend this build has (each is tested alone too).
    let backend = if cfg!(feature = "sqlite") {
        djstripe_core::db::Backend::Sqlite
    } else {
        djstripe_core::db::Backend::Postgres
    };
    let database = djstripe_core::testing::TestDatabase::new(backend);
    let settings = Settings::new(database.url()).webhook_secrets([whsec.clone()]).stripe_api(
        "http://127.0.0.1:1",
        Some(&sk),
        Some(&format!("sk_live_{MARK}")),
    );
    assert_redacted("Settings", &settings);
    let djstripe = Djstripe::start(settings).unwrap();
    assert_redacted("Djstripe", &djstripe);
    let db = djstripe.engine().database();
    let stored = db.insert_endpoint(&new).unwrap();
    assert_redacted("WebhookEndpoint", &stored);
    assert_redacted("Engine", djstripe.engine());
}
