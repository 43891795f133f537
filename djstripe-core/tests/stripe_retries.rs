#![allow(missing_docs)]
//! The Stripe client's retries against the fake Stripe API on loopback (issue 15, item 8): it
//! waits at least the `Retry-After` Stripe asks for, obeys `Stripe-Should-Retry` either way, and
//! never sleeps past its retry budget. Waits are measured on the fake's own clock (when each
//! request arrived), as lower bounds only.

use std::time::Duration;

use djstripe_core::Error;
use djstripe_core::stripe_api::{Caller, StripeClient};
use djstripe_core::testing::FakeStripe;

const RATE_LIMITED: &str = r#"{"error":{"message":"Too many requests","type":"rate_limit_error"}}"#;

fn client(fake: &FakeStripe) -> StripeClient {
    StripeClient::new(fake.base_url()).test_key(FakeStripe::TEST_KEY).backoff(Duration::from_millis(1))
}

fn list(client: &StripeClient) -> Result<usize, Error> {
    client.list_webhook_endpoints(&Caller::mode(false)).map(|l| l.len())
}

/// Before: a 429 with `Retry-After: 2` was retried after 0.1 s and 0.2 s, then given up.
#[test]
fn a_429_is_retried_only_after_retry_after() {
    let fake = FakeStripe::start();
    fake.fail_next_with(429, &[("Retry-After", "1")], RATE_LIMITED);
    fake.fail_next_with(429, &[("Retry-After", "1")], RATE_LIMITED);
    assert_eq!(list(&client(&fake)).unwrap(), 0, "served on the third attempt");
    let seen = fake.seen();
    assert_eq!(seen.iter().map(|r| r.status).collect::<Vec<_>>(), [429, 429, 200]);
    for pair in seen.windows(2) {
        let waited = pair[1].received.duration_since(pair[0].received);
        assert!(waited >= Duration::from_secs(1), "retried after {waited:?}, Stripe asked for 1 s");
    }
}

/// A `Retry-After` beyond the budget ends the retries at once, saying how long Stripe asked for.
#[test]
fn a_retry_after_beyond_the_budget_is_not_slept() {
    let fake = FakeStripe::start();
    fake.fail_next_with(429, &[("Retry-After", "3600")], RATE_LIMITED);
    let err = list(&client(&fake).retry_budget(Duration::from_secs(5))).unwrap_err();
    assert!(matches!(err, Error::StripeUnavailable { status: 429, .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("retry after 3600 s") && message.contains("rate limited"), "{message}");
    assert_eq!(fake.seen().len(), 1);
}

/// `Stripe-Should-Retry: false` is final even on a 5xx or a 409; `true` retries even a 400.
#[test]
fn stripe_should_retry_wins_over_the_status() {
    let fake = FakeStripe::start();
    for status in [500, 503, 409, 429] {
        fake.fail_next_with(status, &[("Stripe-Should-Retry", "false")], r#"{"error":{"message":"final"}}"#);
        let err = list(&client(&fake)).unwrap_err();
        let by_cause = match err {
            Error::StripeUnavailable { status: s, .. } => s == status && status != 409,
            Error::StripeApi { status: s, .. } => s == status && status == 409,
            _ => false,
        };
        assert!(by_cause, "{err:?}");
        assert!(!err.to_string().contains("retries exhausted"), "{err}");
    }
    assert_eq!(fake.seen().len(), 4, "none of them retried");

    fake.fail_next_with(400, &[("Stripe-Should-Retry", "true")], r#"{"error":{"message":"lock_timeout"}}"#);
    assert_eq!(list(&client(&fake)).unwrap(), 0);
    assert_eq!(fake.seen().len(), 6, "the 400 retried once, then served");

    // Without the header: 409 (a locked object) is retried like 429 and 5xx; 400 is not.
    fake.fail_next(409, r#"{"error":{"message":"conflict"}}"#);
    assert_eq!(list(&client(&fake)).unwrap(), 0);
    fake.fail_next(400, r#"{"error":{"message":"bad"}}"#);
    assert!(list(&client(&fake)).is_err());
    assert_eq!(fake.seen().len(), 9);
}

/// Without `Retry-After` the waits grow exponentially (with jitter: at least half of each).
#[test]
fn backoff_grows_without_retry_after() {
    let fake = FakeStripe::start();
    for _ in 0..3 {
        fake.fail_next(503, r#"{"error":{"message":"overloaded"}}"#);
    }
    let client = client(&fake).backoff(Duration::from_millis(100));
    assert_eq!(list(&client).unwrap(), 0);
    let seen = fake.seen();
    let waits: Vec<Duration> = seen.windows(2).map(|p| p[1].received.duration_since(p[0].received)).collect();
    for (wait, backoff) in waits.iter().zip([100, 200, 400]) {
        assert!(*wait >= Duration::from_millis(backoff / 2), "{waits:?}");
    }
}
