//! [`Engine::drain`]: the end of a graceful shutdown. Once the HTTP server has stopped
//! accepting and returned, the writers may still hold deliveries (a request whose connection
//! the server dropped at its own deadline keeps its place in the queue) and the `on_commit`
//! thread may still hold callbacks of committed events (mail, cache, enqueue): exiting then
//! would lose the callbacks, whose events Stripe will not send again.

use std::time::{Duration, Instant};

use super::Engine;

/// What [`Engine::drain`] waited for, and whether it all finished within the grace period.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = djstripe_core::db::Database::connect(dir.path().join("d.sqlite3").to_str().unwrap()).unwrap();
/// # db.migrate().unwrap();
/// let engine = djstripe_core::engine::Engine::new(db, Default::default()).unwrap();
/// let drained = engine.drain(std::time::Duration::from_secs(5));
/// assert!(drained.is_complete());
/// assert_eq!((drained.deliveries, drained.callbacks), (0, 0));
/// println!("{drained}"); // "drained 0 deliveries and 0 on_commit callbacks in 0.000s"
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Drained {
    /// Deliveries the writers answered (committed, or failed) during the drain.
    pub deliveries: usize,
    /// `on_commit` callbacks that ran during the drain.
    pub callbacks: usize,
    /// Deliveries still unanswered at the deadline (0 when complete).
    pub deliveries_left: usize,
    /// Callbacks still not run at the deadline (0 when complete).
    pub callbacks_left: usize,
    /// Inbox events still being processed at the deadline (0 when complete): their
    /// transactions did not commit, so they stay queued for the next start.
    pub inbox_left: usize,
    /// How long the drain took.
    pub took: Duration,
}

impl Drained {
    /// Whether every delivery was answered and every callback ran before the deadline.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = djstripe_core::db::Database::connect(dir.path().join("d.sqlite3").to_str().unwrap()).unwrap();
    /// # db.migrate().unwrap();
    /// # let engine = djstripe_core::engine::Engine::new(db, Default::default()).unwrap();
    /// assert!(engine.drain(std::time::Duration::ZERO).is_complete()); // nothing to wait for
    /// ```
    pub fn is_complete(&self) -> bool {
        self.deliveries_left == 0 && self.callbacks_left == 0 && self.inbox_left == 0
    }
}

impl std::fmt::Display for Drained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "drained {} deliveries and {} on_commit callbacks in {:.3}s",
            self.deliveries,
            self.callbacks,
            self.took.as_secs_f64()
        )?;
        if !self.is_complete() {
            write!(
                f,
                "; the grace period ended with {} deliveries unanswered, {} callbacks not run and {} inbox events \
                 unfinished (they stay queued)",
                self.deliveries_left, self.callbacks_left, self.inbox_left
            )?;
        }
        Ok(())
    }
}

impl Engine {
    /// Waits, at most `grace`, until every delivery handed to the writers so far is committed
    /// and answered and every `on_commit` callback queued by then has run. Call it once the HTTP
    /// server has stopped accepting and returned (see the README, "Graceful shutdown"); the
    /// engine keeps working afterwards, so a delivery that still arrives is not lost either.
    /// Unlike [`Engine::flush_on_commit`] it never blocks past its deadline: an orchestrator
    /// kills the process at its own (Kubernetes: 30 s after SIGTERM).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = djstripe_core::db::Database::connect(dir.path().join("d.sqlite3").to_str().unwrap()).unwrap();
    /// # db.migrate().unwrap();
    /// # let engine = djstripe_core::engine::Engine::new(db, Default::default()).unwrap();
    /// let drained = engine.drain(std::time::Duration::from_secs(30));
    /// if !drained.is_complete() {
    ///     eprintln!("{drained}");
    /// }
    /// ```
    pub fn drain(&self, grace: Duration) -> Drained {
        let started = Instant::now();
        let before = self.committer.unfinished();
        let complete = self.committer.drain(started + grace);
        // The inbox's workers finish the event each is running and release what they had not
        // begun (it stays queued).
        let inbox_left = match self.inbox() {
            Some(inbox) if !inbox.stop(started + grace) => inbox.busy().max(1),
            _ => 0,
        };
        let after = self.committer.unfinished();
        let (deliveries_left, callbacks_left) = if complete { (0, 0) } else { (after.deliveries, after.callbacks) };
        Drained {
            deliveries: after.answered - before.answered,
            callbacks: after.ran - before.ran,
            deliveries_left,
            callbacks_left,
            inbox_left,
            took: started.elapsed(),
        }
    }
}
