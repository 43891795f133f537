#![allow(missing_docs)]
//! The engine's metrics (`djstripe_core::metrics`) against real databases: deliveries sent with
//! known outcomes are counted exactly, per app (two apps in one process keep their own counts),
//! a handler's histogram counts its runs, batches add up to the deliveries they committed.

mod support;

use std::time::Duration;

use djstripe_core::backoff::Backoff;
use djstripe_core::db::{Backend, Outcome, Processing};
use djstripe_core::engine::inbox::Settled;
use djstripe_core::engine::{Engine, EngineConfig, InboxConfig};
use djstripe_core::registry::HandlerSet;
use djstripe_core::testing::{EventBuilder, TestApp, TestDatabase, metric};
use djstripe_core::{Event, HandlerError, HandlerResult, webhook_handler};
use support::{SECRET, delivery, endpoint};

/// Fails when the customer's `metadata.fail` is `yes`.
#[webhook_handler("customer")]
fn counted(event: &Event) -> HandlerResult {
    if event.data.object["metadata"]["fail"] == "yes" {
        return Err(HandlerError::msg("asked to fail"));
    }
    Ok(())
}

/// Never chosen: its histogram is not in the scrape.
#[webhook_handler("price")]
fn not_chosen(_: &Event) {}

fn app(backend: Backend) -> TestApp {
    TestApp::builder().backend(backend).handlers(HandlerSet::only(["metrics::counted"])).start()
}

fn scrape(app: &TestApp) -> String {
    app.engine().metrics().encode()
}

fn deliveries(scrape: &str, endpoint: &str, outcome: &str, status: &str) -> Option<f64> {
    metric(scrape, "djstripe_deliveries_total", &[("endpoint", endpoint), ("outcome", outcome), ("status", status)])
}

fn known_outcomes_are_counted_exactly_and_per_app(backend: Backend) {
    let (one, other) = (app(backend), app(backend));
    let id = one.endpoint().id.to_string();
    let before = scrape(&one);
    assert_eq!(
        metric(&before, "djstripe_handler_duration_seconds_count", &[("handler", "metrics::counted")]),
        Some(0.0)
    );
    assert!(!before.contains("metrics::not_chosen"), "only the engine's handlers: {before}");
    assert_eq!(deliveries(&before, &id, "processed", "200"), None, "no delivery yet");

    let first = EventBuilder::new("customer.created");
    let answers = [
        one.send(&first),
        one.send(&EventBuilder::new("customer.updated")),
        one.send(&first),
        one.send(&EventBuilder::new("customer.updated").metadata("fail", "yes")),
        one.send_raw(b"{}", &[("Stripe-Signature", "t=1,v1=00")]),
        one.send(&EventBuilder::new("price.created")),
        one.post("/stripe/webhook/6f1c1d0e-8a4b-4c43-9d7e-2f0a6f1c1d0e/", b"{}", &[]),
    ];
    let got: Vec<(u16, Option<Outcome>)> = answers.iter().map(|a| (a.status, a.outcome())).collect();
    use Outcome::*;
    let expected = [
        (200, Some(Processed)),
        (200, Some(Processed)),
        (200, Some(Duplicate)),
        (500, Some(Failed)),
        (400, Some(Invalid)),
        (200, Some(Processed)),
        (404, None),
    ];
    assert_eq!(got, expected);
    other.send(&EventBuilder::new("customer.created"));

    let text = scrape(&one);
    assert_eq!(deliveries(&text, &id, "processed", "200"), Some(3.0), "{text}");
    assert_eq!(deliveries(&text, &id, "duplicate", "200"), Some(1.0), "{text}");
    assert_eq!(deliveries(&text, &id, "failed", "500"), Some(1.0), "{text}");
    assert_eq!(deliveries(&text, &id, "invalid", "400"), Some(1.0), "{text}");
    assert_eq!(deliveries(&text, "unknown", "not_recorded", "404"), Some(1.0), "{text}");
    let runs = metric(&text, "djstripe_handler_duration_seconds_count", &[("handler", "metrics::counted")]);
    assert_eq!(runs, Some(3.0), "two processed, one failed; the duplicate and the price ran nothing: {text}");
    let inf = [("handler", "metrics::counted"), ("le", "+Inf")];
    assert_eq!(metric(&text, "djstripe_handler_duration_seconds_bucket", &inf), Some(3.0));
    // Six deliveries reached the writers (the 404 did not), in however many batches.
    assert_eq!(metric(&text, "djstripe_batch_size_sum", &[]), Some(6.0), "{text}");
    let batches = metric(&text, "djstripe_batch_size_count", &[]).unwrap();
    assert!((1.0..=6.0).contains(&batches), "{text}");
    assert_eq!(metric(&text, "djstripe_commit_duration_seconds_count", &[]), Some(batches));
    assert_eq!(metric(&text, "djstripe_database_unavailable_total", &[]), Some(0.0));
    assert_eq!(metric(&text, "djstripe_rejected_not_recorded_total", &[]), Some(0.0));
    for gauge in ["djstripe_inbox_depth", "djstripe_inbox_oldest_pending_seconds"] {
        assert_eq!(metric(&text, gauge, &[]), Some(0.0), "{gauge}: {text}");
    }

    // The other app counted its own delivery only.
    let theirs = scrape(&other);
    let their_id = other.endpoint().id.to_string();
    assert_eq!(deliveries(&theirs, &their_id, "processed", "200"), Some(1.0), "{theirs}");
    assert_eq!(metric(&theirs, "djstripe_batch_size_sum", &[]), Some(1.0), "{theirs}");
    let their_runs = metric(&theirs, "djstripe_handler_duration_seconds_count", &[("handler", "metrics::counted")]);
    assert_eq!(their_runs, Some(1.0));
}

/// Past `rejected_per_minute`, rejected deliveries are answered and counted, not stored: the
/// counter is the engine's own count.
fn rejected_not_recorded_is_the_engines_count(backend: Backend) {
    let limits = djstripe_core::app::Limits { rejected_per_minute: 2, ..Default::default() };
    let settings = djstripe_core::app::Settings::new("sqlite://unused.sqlite3").limits(limits);
    let app = TestApp::builder().backend(backend).settings(settings).handlers(HandlerSet::none()).start();
    for _ in 0..5 {
        assert_eq!(app.send_raw(b"{}", &[("Stripe-Signature", "t=1,v1=00")]).status, 400);
    }
    assert_eq!(app.engine().rejected_not_recorded(), 3);
    let text = scrape(&app);
    assert_eq!(metric(&text, "djstripe_rejected_not_recorded_total", &[]), Some(3.0), "{text}");
    let id = app.endpoint().id.to_string();
    assert_eq!(deliveries(&text, &id, "invalid", "400"), Some(2.0), "{text}");
    assert_eq!(deliveries(&text, &id, "not_recorded", "400"), Some(3.0), "{text}");
}

/// Inbox mode: the scrape reads the inbox's depth and oldest wait from the database; the
/// workers count each retry and dead letter; the handler's runs are timed as inline.
fn inbox_gauges_retries_and_dead_letters(backend: Backend) {
    let db = TestDatabase::new(backend);
    let endpoint = endpoint(db.database());
    let inbox = InboxConfig {
        workers: Some(0),
        max_attempts: 2,
        backoff: Backoff::new(Duration::ZERO, Duration::ZERO),
        ..Default::default()
    };
    let config = EngineConfig {
        processing: Processing::Inbox,
        inbox,
        handlers: HandlerSet::only(["metrics::counted"]),
        ..Default::default()
    };
    let engine = Engine::new(db.database().clone(), config).unwrap();
    for builder in
        [EventBuilder::new("customer.created"), EventBuilder::new("customer.updated").metadata("fail", "yes")]
    {
        let signed = builder.signed(SECRET);
        let receipt = engine.receive(&delivery(&endpoint.djstripe_uuid, &signed.body, Some(&signed.header))).unwrap();
        assert_eq!(receipt.outcome, Outcome::Queued);
    }
    std::thread::sleep(Duration::from_millis(1100));
    let text = engine.scrape();
    assert_eq!(metric(&text, "djstripe_inbox_depth", &[]), Some(2.0), "{text}");
    let waited = metric(&text, "djstripe_inbox_oldest_pending_seconds", &[]).unwrap();
    assert!((1.0..60.0).contains(&waited), "{text}");

    let settled = engine.process_inbox().unwrap();
    let count = |what: Settled| settled.iter().filter(|s| **s == what).count();
    assert_eq!((count(Settled::Processed), count(Settled::Retried), count(Settled::Dead)), (1, 1, 1), "{settled:?}");
    let text = engine.scrape();
    assert_eq!(metric(&text, "djstripe_inbox_depth", &[]), Some(0.0), "the dead letter is not pending: {text}");
    assert_eq!(metric(&text, "djstripe_inbox_oldest_pending_seconds", &[]), Some(0.0), "{text}");
    assert_eq!(metric(&text, "djstripe_inbox_retries_total", &[]), Some(1.0), "{text}");
    assert_eq!(metric(&text, "djstripe_inbox_dead_letters_total", &[]), Some(1.0), "{text}");
    let runs = metric(&text, "djstripe_handler_duration_seconds_count", &[("handler", "metrics::counted")]);
    assert_eq!(runs, Some(3.0), "one run that committed, two that failed: {text}");
}

both_backends!(
    known_outcomes_are_counted_exactly_and_per_app,
    rejected_not_recorded_is_the_engines_count,
    inbox_gauges_retries_and_dead_letters,
);
