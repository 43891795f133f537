//! Exponential backoff with jitter: how long to wait before the next attempt of something that
//! failed — a Stripe API call ([`crate::stripe_api::StripeClient`]) or an inbox event whose
//! handler failed ([`crate::engine::inbox`]).
//!
//! The jitter (half to all of the doubled wait) spreads retries of many callers that failed
//! together (an outage ending) instead of sending them back at the same instant.

use std::time::Duration;

/// Doubling waits from `first`, at most `max`, each drawn between half of it and all of it.
///
/// ```
/// use std::time::Duration;
/// use djstripe_core::backoff::Backoff;
/// let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
/// assert_eq!(backoff.ceiling(0), Duration::from_secs(1));
/// assert_eq!(backoff.ceiling(3), Duration::from_secs(8));
/// assert_eq!(backoff.ceiling(30), Duration::from_secs(60), "capped");
/// let wait = backoff.wait(3);
/// assert!(wait >= Duration::from_secs(4) && wait <= Duration::from_secs(8));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait before the first retry (before jitter).
    pub first: Duration,
    /// No wait is longer than this.
    pub max: Duration,
}

impl Backoff {
    /// Waits starting at `first`, doubling, at most `max`.
    pub const fn new(first: Duration, max: Duration) -> Self {
        Self { first, max }
    }

    /// The wait before retry `attempt + 1` without jitter: `first × 2^attempt`, at most `max`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        self.first.saturating_mul(2u32.saturating_pow(attempt.min(31))).min(self.max)
    }

    /// The wait before retry `attempt + 1`: [`Backoff::ceiling`] times a random factor in
    /// [0.5, 1], drawn from the OS's random source (what `Uuid::new_v4` reads).
    pub fn wait(&self, attempt: u32) -> Duration {
        let unit = f64::from((uuid::Uuid::new_v4().as_u128() as u32) >> 8) / f64::from(1u32 << 24);
        self.ceiling(attempt).mul_f64(0.5 + 0.5 * unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_stay_under_the_cap_and_vary() {
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let ceilings: Vec<u128> = (0..8).map(|n| backoff.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        let waits: std::collections::HashSet<Duration> = (0..50).map(|_| backoff.wait(4)).collect();
        assert!(waits.iter().all(|w| *w >= Duration::from_millis(800) && *w <= Duration::from_millis(1600)));
        assert!(waits.len() > 10, "jitter draws different waits: {waits:?}");
    }
}
