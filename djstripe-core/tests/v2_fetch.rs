//! Fetching v2 events from Stripe, end to end on both backends, against `FakeStripe` over
//! loopback HTTP: an endpoint that opts in (`fetch_thin_events`) completes every thin
//! notification with the full event (`GET /v2/core/events/{id}`, the mode's key,
//! `Stripe-Context`) before its transaction opens, so handlers see its `data`; Stripe's answers
//! map by cause (404: the delivery is refused, 400; 5xx: 503 and Stripe's retry is processed
//! once; a refused key: 500); an endpoint that does not opt in never calls Stripe. And
//! `fetch_related_object` fetches a notification's object, refusing any url that is not a
//! relative API path.
#![allow(missing_docs)]

mod support;

use std::sync::Mutex;

use djstripe_core::app::{Limits, Settings};
use djstripe_core::db::{Backend, EndpointChanges, Outcome};
use djstripe_core::engine::Target;
use djstripe_core::registry::HandlerSet;
use djstripe_core::stripe_api::StripeClient;
use djstripe_core::testing::{EventBuilder, FakeStripe, TestApp};
use djstripe_core::{Error, Event, webhook_handler};
use serde_json::{Value, json};

const CONTEXT: &str = "acct_1Nv0FGQ9RKHgCVdK";

/// (event id, the `data` the handler saw) of every call.
static CALLS: Mutex<Vec<(String, Option<Value>)>> = Mutex::new(Vec::new());

#[webhook_handler("v1.billing.meter.error_report_triggered")]
fn meter_error(event: &Event) {
    CALLS.lock().unwrap().push((event.id.clone(), event.v2_data().cloned()));
}

/// Events whose handler fails (until removed), with the `data` it saw each time.
static FAIL: Mutex<Vec<String>> = Mutex::new(Vec::new());
static FAILED_WITH: Mutex<Vec<(String, Option<Value>)>> = Mutex::new(Vec::new());

#[derive(Debug)]
struct Asked;

impl std::fmt::Display for Asked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("asked to fail")
    }
}

impl std::error::Error for Asked {}

#[webhook_handler("v2.core.account")]
fn account_updated(event: &Event) -> Result<(), Asked> {
    if FAIL.lock().unwrap().contains(&event.id) {
        FAILED_WITH.lock().unwrap().push((event.id.clone(), event.v2_data().cloned()));
        return Err(Asked);
    }
    CALLS.lock().unwrap().push((event.id.clone(), event.v2_data().cloned()));
    Ok(())
}

fn calls_for(id: &str) -> Vec<Option<Value>> {
    CALLS.lock().unwrap().iter().filter(|c| c.0 == id).map(|c| c.1.clone()).collect()
}

fn settings(stripe: &FakeStripe) -> Settings {
    Settings::new("").stripe_api(stripe.base_url(), Some(FakeStripe::TEST_KEY), Some(FakeStripe::LIVE_KEY))
}

/// A test app whose Stripe is `stripe`, its endpoint fetching thin events or not.
fn app_with(backend: Backend, settings: Settings, fetch: bool) -> TestApp {
    let app = TestApp::builder()
        .backend(backend)
        .settings(settings)
        .handlers(HandlerSet::only(["meter_error", "account_updated"]))
        .start();
    if fetch {
        let changes = EndpointChanges { fetch_thin_events: Some(true), ..Default::default() };
        let updated = app.engine().database().update_endpoint(app.endpoint().id, &changes).unwrap();
        assert!(updated.fetch_thin_events);
    }
    app
}

fn app(backend: Backend, stripe: &FakeStripe, fetch: bool) -> TestApp {
    app_with(backend, settings(stripe), fetch)
}

/// A notification in an account's context (no `data`, as event destinations send it).
fn notification() -> EventBuilder {
    EventBuilder::v2("v1.billing.meter.error_report_triggered").account(CONTEXT)
}

/// The `data` Stripe's full event has.
fn data() -> Value {
    json!({"developer_message_summary": "There is 1 invalid event", "reason": {"error_count": 1,
           "error_types": [{"code": "meter_event_no_customer_defined", "error_count": 1}]},
           "validation_start": "2026-11-30T06:00:00.000Z", "validation_end": "2026-11-30T06:20:00.000Z"})
}

/// The full v2 event of `thin` as `GET /v2/core/events/{id}` answers it: the notification's
/// fields, `data`, and a field only the full event has.
fn full(thin: &Event) -> Value {
    let mut full = serde_json::to_value(thin).unwrap();
    full["data"] = data();
    full["reason"] = json!({"type": "request", "request": {"id": "req_v2_1", "idempotency_key": null}});
    full
}

fn v2_requests(stripe: &FakeStripe) -> Vec<djstripe_core::testing::Request> {
    stripe.seen().into_iter().filter(|r| r.path.starts_with("/v2/core/events/")).collect()
}

/// Opt-in on: the handler sees the fetched `data`; Stripe saw one GET of the event with the
/// mode's key and the event's context; the trigger keeps the delivered body byte for byte, the
/// event row the delivered fields plus the fetched ones.
fn opt_in_hands_handlers_the_fetched_data(backend: Backend) {
    let stripe = FakeStripe::start();
    let app = app(backend, &stripe, true);
    let builder = notification();
    let thin = builder.build();
    stripe.add_v2_event(full(&thin));

    let signed = builder.signed(app.secret());
    let answer = app.send_raw(&signed.body, &[("Stripe-Signature", &signed.header)]);
    assert_eq!((answer.status, answer.outcome()), (200, Some(Outcome::Processed)), "{:?}", answer.error());
    assert_eq!(calls_for(&thin.id), [Some(data())], "the handler saw the full event's data");

    let requests = v2_requests(&stripe);
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = &requests[0];
    assert_eq!((request.method.as_str(), request.path.clone()), ("GET", format!("/v2/core/events/{}", thin.id)));
    assert_eq!(request.header("authorization"), Some(format!("Bearer {}", FakeStripe::TEST_KEY).as_str()));
    assert_eq!(request.header("stripe-context"), Some(CONTEXT));
    assert_eq!(request.header("stripe-account"), None);
    assert_eq!(request.status, 200);

    let trigger = app.trigger(answer.trigger_id().unwrap()).unwrap();
    assert_eq!(trigger.body, signed.body, "the delivered body is kept as delivered");
    let stored = app.event(&thin.id).unwrap().to_event().unwrap();
    assert_eq!(stored.v2_data(), Some(&data()));
    let mut expected: Value = serde_json::from_slice(&signed.body).unwrap();
    expected["data"] = data();
    expected["reason"] = full(&thin)["reason"].clone();
    assert_eq!(serde_json::to_value(&stored).unwrap(), expected, "delivered fields plus fetched ones");

    // Inline preparation would block an async worker on Stripe: never with the opt-in on.
    assert!(!app.engine().prepare_is_cheap(Target::Endpoint(&app.endpoint().djstripe_uuid), signed.body.len()));

    // A live-mode notification is fetched with the live key.
    let live = notification().livemode(true);
    let live_event = live.build();
    stripe.add_v2_event(full(&live_event));
    let answer = app.send(&live);
    assert_eq!(answer.status, 200, "{:?}", answer.error());
    let last = v2_requests(&stripe).pop().unwrap();
    assert_eq!(last.path, format!("/v2/core/events/{}", live_event.id));
    assert_eq!(last.header("authorization"), Some(format!("Bearer {}", FakeStripe::LIVE_KEY).as_str()));
    assert_eq!(calls_for(&live_event.id), [Some(data())]);
}

/// Stripe has no such event (a forged notification, or one of another account): 400, recorded
/// as invalid, no handler call.
fn stripe_404_refuses_the_delivery(backend: Backend) {
    let stripe = FakeStripe::start();
    let app = app(backend, &stripe, true);
    let builder = notification();
    let id = builder.build().id;
    let answer = app.send(&builder);
    assert_eq!((answer.status, answer.outcome()), (400, Some(Outcome::Invalid)), "{:?}", answer.error());
    assert!(calls_for(&id).is_empty(), "no handler call");
    assert!(app.event(&id).is_err(), "no event stored");
    let requests = v2_requests(&stripe);
    assert_eq!((requests.len(), requests[0].status), (1, 404));
}

/// Stripe failing: 503 (Stripe delivers again), no handler call; the retry is processed, once.
fn stripe_500_is_503_and_the_retry_is_processed_once(backend: Backend) {
    let stripe = FakeStripe::start();
    let app = app(backend, &stripe, true);
    let builder = notification();
    let thin = builder.build();
    stripe.add_v2_event(full(&thin));
    // Stripe says its 500 is not worth retrying now: the delivery gets it at once.
    stripe.fail_next_with(500, &[("Stripe-Should-Retry", "false")], r#"{"error":{"message":"boom"}}"#);

    let answer = app.send(&builder);
    assert_eq!(answer.status, 503, "{:?}", answer.error());
    assert!(calls_for(&thin.id).is_empty(), "no handler call");
    assert!(app.event(&thin.id).is_err(), "no event stored");

    let retry = app.send(&builder);
    assert_eq!((retry.status, retry.outcome()), (200, Some(Outcome::Processed)), "{:?}", retry.error());
    let again = app.send(&builder);
    assert_eq!((again.status, again.outcome()), (200, Some(Outcome::Duplicate)));
    assert_eq!(calls_for(&thin.id), [Some(data())], "exactly one handler call");
    assert_eq!(v2_requests(&stripe).iter().map(|r| r.status).collect::<Vec<_>>(), [500, 200, 200]);
}

/// Stripe's retries of a 5xx exhausted, and a 429: still 503.
fn stripe_unavailable_after_retries_is_503(backend: Backend) {
    let stripe = FakeStripe::start();
    let app = app(backend, &stripe, true);
    let builder = notification();
    stripe.add_v2_event(full(&builder.build()));
    for _ in 0..4 {
        stripe.fail_next_with(429, &[("Retry-After", "0")], r#"{"error":{"message":"slow down"}}"#);
    }
    let answer = app.send(&builder);
    assert_eq!(answer.status, 503, "{:?}", answer.error());
    assert_eq!(v2_requests(&stripe).len(), 4, "one call and three retries");
}

/// Stripe unreachable (nothing listens; retried within the engine's budget): 503, no handler.
fn stripe_unreachable_is_503(backend: Backend) {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let settings = Settings::new("").stripe_api(format!("http://{closed}"), Some(FakeStripe::TEST_KEY), None);
    let app = app_with(backend, settings, true);
    let builder = notification();
    let answer = app.send(&builder);
    assert_eq!(answer.status, 503, "{:?}", answer.error());
    let trigger = app.trigger(answer.trigger_id().unwrap()).unwrap();
    assert!(trigger.exception.contains("could not be reached"), "{}", trigger.exception);
    assert!(calls_for(&builder.build().id).is_empty());
}

/// A key Stripe refuses is a configuration fault: 500, naming the key's setting; no call.
fn refused_key_is_a_configuration_error(backend: Backend) {
    let stripe = FakeStripe::start();
    let settings = Settings::new("").stripe_api(stripe.base_url(), Some("sk_test_rolled"), None);
    let app = app_with(backend, settings, true);
    let builder = notification();
    stripe.add_v2_event(full(&builder.build()));
    let answer = app.send(&builder);
    assert_eq!(answer.status, 500, "{:?}", answer.error());
    let trigger = app.trigger(answer.trigger_id().unwrap()).unwrap();
    assert!(trigger.exception.contains("STRIPE_TEST_SECRET_KEY"), "{}", trigger.exception);
    assert!(calls_for(&builder.build().id).is_empty());
}

/// Opt-in off: the notification is processed as delivered, Stripe is never called.
fn opt_in_off_calls_no_stripe(backend: Backend) {
    let stripe = FakeStripe::start();
    let app = app(backend, &stripe, false);
    let builder = notification();
    let thin = builder.build();
    stripe.add_v2_event(full(&thin));
    let answer = app.send(&builder);
    assert_eq!((answer.status, answer.outcome()), (200, Some(Outcome::Processed)), "{:?}", answer.error());
    assert_eq!(calls_for(&thin.id), [None], "the notification as delivered, no data");
    assert!(stripe.seen().is_empty(), "no call to Stripe: {:?}", stripe.seen());
    assert!(app.engine().prepare_is_cheap(Target::Endpoint(&app.endpoint().djstripe_uuid), 1000));
}

/// The fetches of one endpoint share `retrieve_event`'s rate limit: past it, 503 and no call.
fn fetches_are_rate_limited(backend: Backend) {
    let stripe = FakeStripe::start();
    let settings = settings(&stripe).limits(Limits { retrieve_per_second: 1, ..Limits::default() });
    let app = app_with(backend, settings, true);
    let mut statuses = Vec::new();
    // Three at once span at most two one-second windows: at least one is over the limit.
    for _ in 0..3 {
        let builder = notification();
        stripe.add_v2_event(full(&builder.build()));
        statuses.push(app.send(&builder).status);
    }
    assert!(statuses.contains(&503), "{statuses:?}");
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(v2_requests(&stripe).len(), ok, "a refused delivery calls no Stripe: {statuses:?}");
}

/// The legacy endpoint follows `DJSTRIPE_WEBHOOK_FETCH_THIN_EVENTS`.
fn legacy_endpoint_fetches_with_its_setting(backend: Backend) {
    let stripe = FakeStripe::start();
    let secret = "whsec_legacy_v2_fetch";
    let settings = settings(&stripe).webhook_secrets([secret]).fetch_thin_events(true);
    let app = app_with(backend, settings, false);
    let builder = notification();
    let thin = builder.build();
    stripe.add_v2_event(full(&thin));
    let signed = builder.signed(secret);
    assert!(!app.engine().prepare_is_cheap(Target::Legacy, signed.body.len()));
    let answer = app.post("/stripe/webhook/", &signed.body, &[("Stripe-Signature", &signed.header)]);
    assert_eq!((answer.status, answer.outcome()), (200, Some(Outcome::Processed)), "{:?}", answer.error());
    assert_eq!(calls_for(&thin.id), [Some(data())]);
    assert_eq!(v2_requests(&stripe)[0].header("stripe-context"), Some(CONTEXT));
}

/// A failed delivery's trigger keeps the notification as delivered; reprocessing it fetches the
/// full event again, so the handler sees `data` the second time too.
fn reprocessing_fetches_again(backend: Backend) {
    let stripe = FakeStripe::start();
    let app = app(backend, &stripe, true);
    let builder = EventBuilder::v2("v2.core.account.updated").account(CONTEXT);
    let thin = builder.build();
    stripe.add_v2_event(full(&thin));
    FAIL.lock().unwrap().push(thin.id.clone());
    let answer = app.send(&builder);
    assert_eq!((answer.status, answer.outcome()), (500, Some(Outcome::Failed)), "{:?}", answer.error());
    let failed: Vec<_> = FAILED_WITH.lock().unwrap().iter().filter(|f| f.0 == thin.id).cloned().collect();
    assert_eq!(failed, [(thin.id.clone(), Some(data()))], "the failing attempt saw the data too");

    FAIL.lock().unwrap().retain(|id| *id != thin.id);
    let receipt = app.engine().process_trigger(answer.trigger_id().unwrap()).unwrap();
    assert_eq!(receipt.outcome, Outcome::Processed, "{:?}", receipt.error);
    assert_eq!(calls_for(&thin.id), [Some(data())], "the reprocessed event has its data");
    assert_eq!(v2_requests(&stripe).len(), 2, "fetched for the delivery and for the reprocessing");
    assert_eq!(app.event(&thin.id).unwrap().to_event().unwrap().v2_data(), Some(&data()));
}

/// `retrieve_event` validation of a thin notification asks Stripe's v2 API for it (before:
/// `GET /v1/events/{id}`, which has no v2 events: every v2 delivery was refused as forged).
fn retrieve_event_validation_uses_the_v2_api_for_thin_events(backend: Backend) {
    let stripe = FakeStripe::start();
    let app = app(backend, &stripe, false);
    let mut new = djstripe_core::db::NewWebhookEndpoint::local("whsec_unused");
    new.validation_method = djstripe_core::db::ValidationMethod::RetrieveEvent.as_str().into();
    let endpoint = app.engine().database().insert_endpoint(&new).unwrap();
    let builder = notification();
    let thin = builder.build();
    stripe.add_v2_event(full(&thin));
    let path = format!("/stripe/webhook/{}/", endpoint.djstripe_uuid);
    let answer = app.post(&path, &builder.to_json(), &[]);
    assert_eq!((answer.status, answer.outcome()), (200, Some(Outcome::Processed)), "{:?}", answer.error());
    assert_eq!(calls_for(&thin.id), [Some(data())], "Stripe's copy, with its data");
    let requests = stripe.seen();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].path, format!("/v2/core/events/{}", thin.id));
    assert_eq!(requests[0].header("stripe-context"), Some(CONTEXT));
}

both_backends!(
    stripe_unreachable_is_503,
    retrieve_event_validation_uses_the_v2_api_for_thin_events,
    reprocessing_fetches_again,
    opt_in_hands_handlers_the_fetched_data,
    stripe_404_refuses_the_delivery,
    stripe_500_is_503_and_the_retry_is_processed_once,
    stripe_unavailable_after_retries_is_503,
    refused_key_is_a_configuration_error,
    opt_in_off_calls_no_stripe,
    fetches_are_rate_limited,
    legacy_endpoint_fetches_with_its_setting,
);

/// `fetch_related_object` GETs `related_object.url` with the key and `Stripe-Context`, and
/// refuses a url that is not a relative API path, sending nothing.
#[test]
fn fetch_related_object_gets_the_object_and_refuses_other_urls() {
    let stripe = FakeStripe::start();
    let client = StripeClient::new(stripe.base_url()).test_key(FakeStripe::TEST_KEY).max_retries(0);
    let thin = notification().build();
    let url = thin.related_object.as_ref().unwrap().url.clone().unwrap();
    let meter = json!({"id": thin.related_object.as_ref().unwrap().id, "object": "billing.meter", "status": "active"});
    stripe.add_object(&url, meter.clone());

    assert_eq!(client.fetch_related_object(&thin).unwrap(), meter);
    let request = stripe.seen().pop().unwrap();
    assert_eq!((request.method.as_str(), request.path.as_str()), ("GET", url.as_str()));
    assert_eq!(request.header("stripe-context"), Some(CONTEXT));
    assert_eq!(request.header("authorization"), Some(format!("Bearer {}", FakeStripe::TEST_KEY).as_str()));

    for refused in ["https://evil/", "/v1/../x", "//evil/v1/x", "/v1//x", "/v3/x", "/v1/%2e%2e/x"] {
        let mut forged = thin.clone();
        forged.related_object.as_mut().unwrap().url = Some(refused.to_owned());
        match client.fetch_related_object(&forged) {
            Err(error @ Error::RelatedObjectUrlRefused { .. }) => {
                assert_eq!(error.http_status(), 400);
                let Error::RelatedObjectUrlRefused { event, url } = &error else { unreachable!() };
                assert_eq!((event.as_str(), url.as_str()), (thin.id.as_str(), refused));
            }
            other => panic!("{refused}: {other:?}"),
        }
    }
    assert_eq!(stripe.seen().len(), 1, "nothing sent for a refused url");

    // An object Stripe does not have: the same errors by cause as every call.
    let mut missing = thin.clone();
    missing.related_object.as_mut().unwrap().url = Some("/v1/billing/meters/mtr_missing".into());
    assert!(matches!(client.fetch_related_object(&missing), Err(Error::StripeNotFound { .. })));
    // A v1 event has no related object.
    let v1 = djstripe_core::testing::event("customer.created");
    assert!(matches!(client.fetch_related_object(&v1), Err(Error::InvalidInput { .. })));
}
