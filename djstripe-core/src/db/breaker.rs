//! The circuit breaker in front of the pool: while the database is known to be unreachable,
//! [`super::Database::get`] fails at once instead of waiting its `connect_timeout`.
//!
//! Without it every caller waits the pool's full timeout for a connection that cannot be made: a
//! writer lane, then the batch's audit retry, then each endpoint lookup, one after the other, so
//! the time to answer grew with the queue (10, 20, … 40 s with PostgreSQL stopped, issue 14).
//!
//! The breaker **opens** when opening a connection fails (the pool's own attempts and the
//! first-connection probe). While it is open, a background thread tries to connect every
//! [`RETRY`]; the first connection that succeeds is handed to the pool and **closes** the breaker:
//! recovery needs no restart. Errors of statements on an open connection never open it (a
//! connection that died with a restarted server is replaced at its next checkout; a locked SQLite
//! file is not an outage).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use crate::Error;
use crate::error::ConnectFailure;

/// How often the background thread tries to connect while the breaker is open.
pub(crate) const RETRY: Duration = Duration::from_millis(500);

/// The breaker's state; one per [`super::Database`] (shared by its clones and its pool).
#[derive(Default)]
pub(crate) struct Breaker {
    /// Whether it is open: the hot path's one atomic load.
    open: AtomicBool,
    /// Why it opened (the last failed attempt's message and cause), and since when.
    outage: Mutex<Option<Outage>>,
    /// Whether the reconnecting thread runs.
    retrying: AtomicBool,
}

struct Outage {
    reason: String,
    cause: Option<ConnectFailure>,
    since: Instant,
}

impl std::fmt::Debug for Breaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Breaker").field("open", &self.is_open()).finish_non_exhaustive()
    }
}

impl Breaker {
    /// Whether the database is known to be unreachable now.
    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// `Ok` while closed; while open, the last failure as [`Error::DatabaseUnavailable`].
    pub(crate) fn check(&self) -> Result<(), Error> {
        if !self.is_open() {
            return Ok(());
        }
        let outage = self.outage.lock().unwrap_or_else(PoisonError::into_inner);
        match &*outage {
            Some(outage) => {
                Err(Error::DatabaseUnavailable { reason: outage.reason.clone(), cause: outage.cause.clone() })
            }
            None => Ok(()),
        }
    }

    /// Records a failed connection attempt and opens the breaker (if it was closed, the caller
    /// starts the reconnecting thread: [`Breaker::start_retrying`] says whether to).
    pub(crate) fn trip(&self, error: &Error) {
        let Error::DatabaseUnavailable { reason, cause } = error else { return };
        let mut outage = self.outage.lock().unwrap_or_else(PoisonError::into_inner);
        let since = outage.as_ref().map_or_else(Instant::now, |o| o.since);
        if outage.is_none() {
            tracing::warn!(error = %error, "the database is unreachable: answering 503 at once until it is back");
        }
        *outage = Some(Outage { reason: reason.clone(), cause: cause.clone(), since });
        self.open.store(true, Ordering::Release);
    }

    /// Closes the breaker after a successful connection.
    pub(crate) fn close(&self) {
        let mut outage = self.outage.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(outage) = outage.take() {
            tracing::warn!(
                after_ms = outage.since.elapsed().as_millis() as u64,
                "the database is reachable again: deliveries are processed"
            );
        }
        self.open.store(false, Ordering::Release);
    }

    /// Starts the thread that tries `connect` every [`RETRY`] until it succeeds (then `connected`
    /// gets the connection and the breaker closes) or `alive` is gone (every handle of the
    /// database was dropped). At most one such thread runs.
    pub(crate) fn start_retrying<C: Send + 'static>(
        self: &Arc<Self>,
        alive: Weak<()>,
        connect: impl Fn() -> Result<C, Error> + Send + 'static,
        connected: impl FnOnce(C) + Send + 'static,
    ) {
        if self.retrying.swap(true, Ordering::AcqRel) {
            return;
        }
        let breaker = Arc::downgrade(self);
        let spawned = std::thread::Builder::new().name("djstripe-db-retry".into()).spawn(move || {
            loop {
                std::thread::sleep(RETRY);
                let (Some(breaker), Some(_alive)) = (breaker.upgrade(), alive.upgrade()) else { return };
                match connect() {
                    Ok(conn) => {
                        connected(conn);
                        breaker.retrying.store(false, Ordering::Release);
                        breaker.close();
                        return;
                    }
                    Err(error) => breaker.trip(&error),
                }
            }
        });
        if spawned.is_err() {
            // No thread: the next caller's own attempt (the probe) will try again.
            self.retrying.store(false, Ordering::Release);
            self.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_on_a_failure_and_closes_when_a_retry_connects() {
        let breaker = Arc::new(Breaker::default());
        assert!(breaker.check().is_ok());
        breaker.trip(&Error::unavailable("connection refused"));
        let err = breaker.check().unwrap_err();
        assert!(err.to_string().contains("connection refused"), "{err}");
        let alive = Arc::new(());
        let attempts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (tries, got) = (attempts.clone(), Arc::new(Mutex::new(None)));
        let got2 = got.clone();
        breaker.start_retrying(
            Arc::downgrade(&alive),
            move || {
                if tries.fetch_add(1, Ordering::SeqCst) < 2 { Err(Error::unavailable("still down")) } else { Ok(7) }
            },
            move |conn| *got2.lock().unwrap() = Some(conn),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while breaker.is_open() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(breaker.check().is_ok(), "closed after the third attempt");
        assert_eq!(attempts.load(Ordering::SeqCst), 3);
        assert_eq!(*got.lock().unwrap(), Some(7), "the connection is handed over");
    }

    #[test]
    fn the_retrying_thread_ends_with_the_database() {
        let breaker = Arc::new(Breaker::default());
        breaker.trip(&Error::unavailable("down"));
        let alive = Arc::new(());
        let attempts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tries = attempts.clone();
        breaker.start_retrying(
            Arc::downgrade(&alive),
            move || -> Result<(), Error> {
                tries.fetch_add(1, Ordering::SeqCst);
                Err(Error::unavailable("down"))
            },
            |_| {},
        );
        drop(alive);
        std::thread::sleep(RETRY * 3);
        assert_eq!(attempts.load(Ordering::SeqCst), 0, "no attempt once the database is gone");
        assert!(breaker.is_open());
    }
}
