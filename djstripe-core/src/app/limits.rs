//! [`Limits`]: what one client without credentials can cost the server — memory, time, disk,
//! log lines and Stripe API calls — and the counters that enforce them.
//!
//! The webhook URL faces the open internet. Before these bounds, 200 connections announcing a
//! 2.5 MiB body and stalling took the server from 10 to 573 MiB, a body trickled at 1 byte/s
//! was never cut off, and a 5-second junk flood grew the SQLite file by 148 MB (issue 14).
//! RELIABILITY.md states the bounds and the tests that show them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::Error;
use crate::error::Limit;

/// The first bytes of every body that the memory budget does not count: real Stripe events are
/// a few KiB, so a real delivery never waits for memory that stalled uploads hold.
pub const FREE_BODY_BYTES: usize = 64 * 1024;

/// Bounds on what unauthenticated traffic can take; part of [`super::Settings`].
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `DJSTRIPE_WEBHOOK_BODY_TIMEOUT` | seconds for the whole body to arrive (408 after) | 10 |
/// | `DJSTRIPE_WEBHOOK_MAX_READERS` | bodies read at once (503 + `Retry-After` past it) | 512 |
/// | `DJSTRIPE_WEBHOOK_BODY_MEMORY` | bytes for bodies beyond their first 64 KiB, all together | 33554432 (32 MiB) |
/// | `DJSTRIPE_WRITER_QUEUE` | deliveries queued per writer thread (503 past it) | 1024 |
/// | `DJSTRIPE_WEBHOOK_REJECTED_PER_MINUTE` | rejected deliveries recorded per client address and minute; the endpoint records at most 10× that | 60 |
/// | `DJSTRIPE_RETRIEVE_EVENT_PER_SECOND` | calls to Stripe's API per endpoint and second in `retrieve_event` mode (503 past it) | 10 |
///
/// Memory for bodies is then at most `max_readers × 64 KiB + body_memory` (64 MiB by default),
/// whatever the number of connections.
///
/// ```
/// let limits = djstripe_core::app::Limits::default();
/// assert_eq!(limits.body_timeout.as_secs(), 10);
/// assert_eq!(limits.max_body_memory(), 512 * 64 * 1024 + 32 * 1024 * 1024);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The whole body must arrive within this time.
    pub body_timeout: Duration,
    /// Bodies read at once, at most.
    pub max_readers: usize,
    /// Bytes for bodies beyond their first [`FREE_BODY_BYTES`], shared by all readers.
    pub body_memory: usize,
    /// Deliveries queued per writer thread, at most.
    pub writer_queue: usize,
    /// Rejected (unauthenticated) deliveries recorded per client address and minute; past it
    /// they are answered the same but counted, not stored, and not logged one by one.
    pub rejected_per_minute: u32,
    /// `retrieve_event` calls to Stripe's API per endpoint and second.
    pub retrieve_per_second: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            body_timeout: Duration::from_secs(10),
            max_readers: 512,
            body_memory: 32 * 1024 * 1024,
            writer_queue: 1024,
            rejected_per_minute: 60,
            retrieve_per_second: 10,
        }
    }
}

impl Limits {
    /// The most memory request bodies can take at once, in bytes.
    ///
    /// ```
    /// let limits = djstripe_core::app::Limits { max_readers: 2, body_memory: 0, ..Default::default() };
    /// assert_eq!(limits.max_body_memory(), 2 * 64 * 1024);
    /// ```
    pub fn max_body_memory(&self) -> usize {
        self.max_readers * FREE_BODY_BYTES + self.body_memory
    }

    /// Reads the variables of the table above over `self`; a bad value is
    /// [`Error::InvalidSetting`] naming the variable.
    ///
    /// ```
    /// use djstripe_core::app::Limits;
    /// let get = |name: &str| (name == "DJSTRIPE_WEBHOOK_MAX_READERS").then(|| "64".to_string());
    /// assert_eq!(Limits::default().from_lookup(get).unwrap().max_readers, 64);
    /// let bad = |name: &str| (name == "DJSTRIPE_WEBHOOK_BODY_TIMEOUT").then(|| "0".to_string());
    /// assert!(Limits::default().from_lookup(bad).unwrap_err().to_string().starts_with("DJSTRIPE_WEBHOOK_BODY_TIMEOUT"));
    /// ```
    pub fn from_lookup(mut self, get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        fn number<T: std::str::FromStr + PartialOrd>(
            get: &impl Fn(&str) -> Option<String>,
            var: &'static str,
            range: std::ops::RangeInclusive<T>,
            what: &str,
        ) -> Result<Option<T>, Error> {
            let Some(v) = get(var) else { return Ok(None) };
            match v.trim().parse::<T>() {
                Ok(n) if range.contains(&n) => Ok(Some(n)),
                _ => Err(Error::setting(var, format!("`{v}` is not {what}"))),
            }
        }
        if let Some(secs) =
            number(&get, "DJSTRIPE_WEBHOOK_BODY_TIMEOUT", 0.1..=600.0, "a number of seconds between 0.1 and 600")?
        {
            self.body_timeout = Duration::from_secs_f64(secs);
        }
        if let Some(n) = number(&get, "DJSTRIPE_WEBHOOK_MAX_READERS", 1..=100_000, "a count between 1 and 100000")? {
            self.max_readers = n;
        }
        if let Some(n) = number(&get, "DJSTRIPE_WEBHOOK_BODY_MEMORY", 0..=1 << 40, "a size in bytes")? {
            self.body_memory = n;
        }
        if let Some(n) = number(&get, "DJSTRIPE_WRITER_QUEUE", 1..=1_000_000, "a count between 1 and 1000000")? {
            self.writer_queue = n;
        }
        if let Some(n) = number(&get, "DJSTRIPE_WEBHOOK_REJECTED_PER_MINUTE", 0..=1_000_000, "a count per minute")? {
            self.rejected_per_minute = n;
        }
        if let Some(n) = number(&get, "DJSTRIPE_RETRIEVE_EVENT_PER_SECOND", 1..=10_000, "a count between 1 and 10000")?
        {
            self.retrieve_per_second = n;
        }
        Ok(self)
    }
}

/// The bodies being read and the memory they hold beyond their free first bytes.
#[derive(Debug, Default)]
pub(crate) struct BodyBudget {
    readers: AtomicUsize,
    large: AtomicUsize,
}

impl BodyBudget {
    /// A reader's slot, or [`Limit::BodyReaders`] when `max` are reading.
    pub(crate) fn reader<'a>(&'a self, limits: &'a Limits) -> Result<BodyReader<'a>, Error> {
        let taken = self.readers.fetch_add(1, Ordering::AcqRel);
        let reader = BodyReader { budget: self, limits, reserved: 0 };
        if taken >= limits.max_readers {
            return Err(Error::Busy { limit: Limit::BodyReaders { max: limits.max_readers } });
        }
        Ok(reader)
    }

    /// Bodies being read now.
    #[cfg(test)]
    pub(crate) fn readers(&self) -> usize {
        self.readers.load(Ordering::Acquire)
    }
}

/// One body being read: holds its slot and its reserved bytes until dropped.
pub(crate) struct BodyReader<'a> {
    budget: &'a BodyBudget,
    limits: &'a Limits,
    /// Bytes reserved from the shared budget (beyond the free first bytes).
    reserved: usize,
}

impl BodyReader<'_> {
    /// Makes room for a body of `len` bytes in all: free up to [`FREE_BODY_BYTES`], the rest
    /// reserved from the shared budget as it arrives; [`Limit::BodyMemory`] when it is spent.
    pub(crate) fn grow_to(&mut self, len: usize) -> Result<(), Error> {
        let needed = len.saturating_sub(FREE_BODY_BYTES);
        if needed <= self.reserved {
            return Ok(());
        }
        let more = needed - self.reserved;
        let before = self.budget.large.fetch_add(more, Ordering::AcqRel);
        if before + more > self.limits.body_memory {
            self.budget.large.fetch_sub(more, Ordering::AcqRel);
            return Err(Error::Busy { limit: Limit::BodyMemory { bytes: self.limits.body_memory } });
        }
        self.reserved = needed;
        Ok(())
    }
}

impl Drop for BodyReader<'_> {
    fn drop(&mut self) {
        self.budget.large.fetch_sub(self.reserved, Ordering::AcqRel);
        self.budget.readers.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Distinct keys a [`RateLimiter`] tracks per window; further keys share one overflow count,
/// so that a flood from many addresses cannot grow the table.
const MAX_KEYS: usize = 4096;

/// Fixed-window counters per key (a client address, an endpoint): at most `per_window` events
/// per key and window. Memory is bounded by [`MAX_KEYS`].
#[derive(Debug)]
pub(crate) struct RateLimiter {
    window: Duration,
    state: Mutex<Window>,
    /// Events refused since the start, for the admin and the logs.
    refused: AtomicU64,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    counts: HashMap<String, u32>,
    overflow: u32,
}

/// What a [`RateLimiter`] says of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Within the limit.
    Admitted,
    /// The first event past the limit in this window (log it once).
    FirstRefused,
    /// Past the limit.
    Refused,
}

impl RateLimiter {
    pub(crate) fn new(window: Duration) -> Self {
        Self {
            window,
            state: Mutex::new(Window { started: Instant::now(), counts: HashMap::new(), overflow: 0 }),
            refused: AtomicU64::new(0),
        }
    }

    /// Counts one event of `key` against `per_window`.
    pub(crate) fn admit(&self, key: &str, per_window: u32) -> Admission {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.started.elapsed() >= self.window {
            state.started = Instant::now();
            state.counts.clear();
            state.overflow = 0;
        }
        let full = state.counts.len() >= MAX_KEYS;
        let count = match state.counts.get_mut(key) {
            Some(count) => count,
            None if full => &mut state.overflow,
            None => state.counts.entry(key.to_owned()).or_insert(0),
        };
        *count = count.saturating_add(1);
        let seen = *count;
        drop(state);
        if seen <= per_window {
            return Admission::Admitted;
        }
        self.refused.fetch_add(1, Ordering::Relaxed);
        if seen == per_window + 1 { Admission::FirstRefused } else { Admission::Refused }
    }

    /// Events refused since the start.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_budget_admits_free_bytes_and_bounds_the_rest() {
        let limits = Limits { max_readers: 2, body_memory: 100_000, ..Default::default() };
        let budget = BodyBudget::default();
        let mut a = budget.reader(&limits).unwrap();
        let mut b = budget.reader(&limits).unwrap();
        assert!(matches!(budget.reader(&limits), Err(Error::Busy { limit: Limit::BodyReaders { max: 2 } })));
        assert_eq!(budget.readers(), 2, "a refused reader gives its slot back");
        a.grow_to(FREE_BODY_BYTES).unwrap();
        a.grow_to(FREE_BODY_BYTES + 60_000).unwrap();
        b.grow_to(FREE_BODY_BYTES + 40_000).unwrap();
        assert!(matches!(b.grow_to(FREE_BODY_BYTES + 40_001), Err(Error::Busy { limit: Limit::BodyMemory { .. } })));
        drop(a);
        b.grow_to(FREE_BODY_BYTES + 100_000).unwrap();
        drop(b);
        assert_eq!((budget.readers(), budget.large.load(Ordering::SeqCst)), (0, 0));
    }

    #[test]
    fn the_rate_limiter_counts_per_key_and_window() {
        let limiter = RateLimiter::new(Duration::from_millis(200));
        assert_eq!(limiter.admit("a", 2), Admission::Admitted);
        assert_eq!(limiter.admit("a", 2), Admission::Admitted);
        assert_eq!(limiter.admit("a", 2), Admission::FirstRefused);
        assert_eq!(limiter.admit("a", 2), Admission::Refused);
        assert_eq!(limiter.admit("b", 2), Admission::Admitted, "another key has its own count");
        assert_eq!(limiter.refused(), 2);
        std::thread::sleep(Duration::from_millis(220));
        assert_eq!(limiter.admit("a", 2), Admission::Admitted, "a new window");
    }

    #[test]
    fn many_keys_share_one_overflow_count() {
        let limiter = RateLimiter::new(Duration::from_secs(60));
        for n in 0..MAX_KEYS {
            assert_eq!(limiter.admit(&n.to_string(), 1), Admission::Admitted);
        }
        assert_eq!(limiter.admit("new-1", 1), Admission::Admitted);
        assert_eq!(limiter.admit("new-2", 1), Admission::FirstRefused, "beyond the table: one shared count");
        assert_eq!(limiter.state.lock().unwrap().counts.len(), MAX_KEYS);
    }
}
