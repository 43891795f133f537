//! Retention: how long trigger rows (and, optionally, event rows) are kept, the background task
//! that removes older ones ([`Pruner`]), and the one-off prune of `triggers prune`.
//!
//! A trigger row keeps the raw body of its delivery (about 5 KB, see BENCHMARKS.md): a busy
//! account fills the disk if they are kept forever, which is the default (nothing is deleted
//! unless asked for). With `DJSTRIPE_TRIGGER_RETENTION_DAYS` set, triggers older than that
//! whose outcome [`Outcome::is_prunable`] (final and successful, or `invalid`) are removed;
//! `failed` and `queued` ones stay until reprocessed (or `triggers prune --include-failed`).
//!
//! Events are the exactly-once record: an event row is what makes a redelivery a duplicate.
//! Stripe retries a delivery for up to 3 days, and an event can be resent (from the Dashboard,
//! or fetched from the API) for up to 30 days after it was created: an event row removed before
//! that could let a resent event run its handlers twice. So `DJSTRIPE_EVENT_RETENTION_DAYS`
//! is off by default, refused below [`MIN_EVENT_RETENTION_DAYS`], and removes an event only
//! once no trigger row refers to it (a kept failed trigger may be reprocessed; without the
//! event row its handlers would run again).
//!
//! Deleting never blocks deliveries for long: rows go in batches of [`RetentionPolicy::batch_size`]
//! (500), each one short statement; on SQLite each batch takes the writer lock for that
//! statement only (deliveries queue behind it for milliseconds, not for the whole prune), with
//! a pause between batches ([`RetentionPolicy::pause`]) in which the writers run.
//!
//! ```
//! use djstripe_core::app::{Djstripe, PruneRequest, Settings};
//! let dir = tempfile::tempdir().unwrap();
//! let url = format!("sqlite://{}/app.sqlite3", dir.path().display());
//! let djstripe = Djstripe::start(Settings::new(url).trigger_retention_days(30)).unwrap();
//! assert!(djstripe.pruner().is_some(), "retention is set: the background task runs");
//! let report = djstripe.prune(&PruneRequest::older_than_days(90).dry_run(true)).unwrap();
//! assert_eq!(report.triggers_total(), 0);
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use super::Djstripe;
use crate::Result;
use crate::db::{Database, Outcome};

/// The shortest `DJSTRIPE_EVENT_RETENTION_DAYS` accepted: Stripe keeps events retrievable, and
/// resendable, for 30 days, and a resent event whose row is gone would be processed again.
pub const MIN_EVENT_RETENTION_DAYS: u32 = 30;

/// How long rows are kept, and how the background task removes older ones: part of
/// [`super::Settings`] (`retention`), from `DJSTRIPE_TRIGGER_RETENTION_DAYS`,
/// `DJSTRIPE_EVENT_RETENTION_DAYS` and `DJSTRIPE_PRUNE_INTERVAL`, or set in code. The default
/// keeps everything, as before retention existed.
///
/// ```
/// use djstripe_core::app::RetentionPolicy;
/// let policy = RetentionPolicy { triggers: Some(14), ..RetentionPolicy::default() };
/// assert!(policy.is_enabled() && !RetentionPolicy::default().is_enabled());
/// assert_eq!(policy.interval.as_secs(), 3600);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// `DJSTRIPE_TRIGGER_RETENTION_DAYS`: prunable triggers ([`Outcome::is_prunable`]) older
    /// than this many days are removed; `None` keeps them forever (the default).
    pub triggers: Option<u32>,
    /// `DJSTRIPE_EVENT_RETENTION_DAYS`: events received more than this many days ago that no
    /// trigger refers to any more are removed; `None` keeps them forever (the default). At least
    /// [`MIN_EVENT_RETENTION_DAYS`], and only with `triggers` set (see [`super::Settings::check`]).
    pub events: Option<u32>,
    /// `DJSTRIPE_PRUNE_INTERVAL` (seconds): time between two runs of the background task
    /// (default one hour).
    pub interval: Duration,
    /// Time from the start to the first run (default one minute; code only): a short-lived
    /// process (`events list`) never prunes, a server prunes soon after it starts.
    pub first_run_after: Duration,
    /// Rows per delete statement (default 500; code only).
    pub batch_size: i64,
    /// Pause between two delete statements (default 50 ms; code only): the writers' turn.
    pub pause: Duration,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self {
            triggers: None,
            events: None,
            interval: Duration::from_secs(3600),
            first_run_after: Duration::from_secs(60),
            batch_size: 500,
            pause: Duration::from_millis(50),
        }
    }
}

impl RetentionPolicy {
    /// Whether anything is ever removed (then [`Djstripe::start`] starts a [`Pruner`]).
    ///
    /// ```
    /// assert!(!djstripe_core::app::RetentionPolicy::default().is_enabled());
    /// ```
    pub fn is_enabled(&self) -> bool {
        self.triggers.is_some() || self.events.is_some()
    }
}

/// A one-off prune (`triggers prune`): triggers older than `older_than_days` whose outcome is
/// prunable, and failed ones too with `include_failed`. Queued triggers are never removed.
///
/// ```
/// use djstripe_core::app::PruneRequest;
/// let request = PruneRequest::older_than_days(30).include_failed(true).dry_run(true);
/// assert!(request.include_failed && request.dry_run);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneRequest {
    /// Age in days: rows created before now minus this many days go.
    pub older_than_days: u32,
    /// Also `failed` triggers (their deliveries will not be reprocessed any more).
    pub include_failed: bool,
    /// Count only: remove nothing.
    pub dry_run: bool,
    /// Rows per delete statement (default 500).
    pub batch_size: i64,
    /// Pause between delete statements (default 50 ms).
    pub pause: Duration,
}

impl PruneRequest {
    /// Prunable triggers older than `days`, removed (not a dry run), failed ones kept.
    ///
    /// ```
    /// assert_eq!(djstripe_core::app::PruneRequest::older_than_days(7).older_than_days, 7);
    /// ```
    pub fn older_than_days(days: u32) -> Self {
        let defaults = RetentionPolicy::default();
        Self {
            older_than_days: days,
            include_failed: false,
            dry_run: false,
            batch_size: defaults.batch_size,
            pause: defaults.pause,
        }
    }

    /// Also removes `failed` triggers.
    ///
    /// ```
    /// assert!(djstripe_core::app::PruneRequest::older_than_days(7).include_failed(true).include_failed);
    /// ```
    pub fn include_failed(mut self, on: bool) -> Self {
        self.include_failed = on;
        self
    }

    /// Counts what would be removed, removes nothing.
    ///
    /// ```
    /// assert!(djstripe_core::app::PruneRequest::older_than_days(7).dry_run(true).dry_run);
    /// ```
    pub fn dry_run(mut self, on: bool) -> Self {
        self.dry_run = on;
        self
    }

    /// The outcomes this request removes, in [`Outcome::ALL`]'s order.
    ///
    /// ```
    /// use djstripe_core::{app::PruneRequest, db::Outcome};
    /// assert!(!PruneRequest::older_than_days(1).outcomes().contains(&Outcome::Failed));
    /// assert!(PruneRequest::older_than_days(1).include_failed(true).outcomes().contains(&Outcome::Failed));
    /// ```
    pub fn outcomes(&self) -> Vec<Outcome> {
        Outcome::ALL.into_iter().filter(|o| o.is_prunable() || (self.include_failed && *o == Outcome::Failed)).collect()
    }
}

/// What a prune removed, or (a dry run) would remove.
///
/// ```
/// let report = djstripe_core::app::PruneReport::default();
/// assert_eq!((report.triggers_total(), report.events), (0, 0));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Trigger rows per outcome (outcomes with none left out), in [`Outcome::ALL`]'s order.
    pub triggers: Vec<(Outcome, u64)>,
    /// Event rows.
    pub events: u64,
    /// Delete statements that removed rows (0 for a dry run).
    pub batches: u64,
    /// Whether it was a dry run (nothing removed).
    pub dry_run: bool,
}

impl PruneReport {
    /// Trigger rows of every outcome.
    ///
    /// ```
    /// use djstripe_core::{app::PruneReport, db::Outcome};
    /// let report = PruneReport { triggers: vec![(Outcome::Processed, 3), (Outcome::Invalid, 1)], ..Default::default() };
    /// assert_eq!(report.triggers_total(), 4);
    /// ```
    pub fn triggers_total(&self) -> u64 {
        self.triggers.iter().map(|(_, n)| n).sum()
    }

    /// Trigger rows of `outcome`.
    ///
    /// ```
    /// use djstripe_core::{app::PruneReport, db::Outcome};
    /// let report = PruneReport { triggers: vec![(Outcome::Processed, 3)], ..Default::default() };
    /// assert_eq!((report.triggers_of(Outcome::Processed), report.triggers_of(Outcome::Failed)), (3, 0));
    /// ```
    pub fn triggers_of(&self, outcome: Outcome) -> u64 {
        self.triggers.iter().find(|(o, _)| *o == outcome).map_or(0, |(_, n)| *n)
    }
}

/// How a background prune is told to stop: a flag and a condition variable, so that the task's
/// waits (between batches, between runs) end at once.
#[derive(Debug, Default)]
struct StopSignal {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl StopSignal {
    fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.wake.notify_all();
    }

    fn is_stopped(&self) -> bool {
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits `time` or until stopped; returns whether it was stopped.
    fn wait(&self, time: Duration) -> bool {
        let guard = self.stopped.lock().unwrap_or_else(PoisonError::into_inner);
        let (guard, _) =
            self.wake.wait_timeout_while(guard, time, |stopped| !*stopped).unwrap_or_else(PoisonError::into_inner);
        *guard
    }
}

/// The cut-off for `days`: now (UTC) minus that many days.
fn cutoff(days: u32) -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc() - chrono::Duration::days(i64::from(days))
}

/// Deletes triggers of `outcomes` created before `before` in batches, one outcome after the
/// other (so the report has the count per outcome); stops early when `stop` is triggered.
fn delete_triggers(
    db: &Database,
    before: chrono::NaiveDateTime,
    outcomes: &[Outcome],
    batch_size: i64,
    pause: Duration,
    stop: &StopSignal,
    report: &mut PruneReport,
) -> Result<()> {
    for outcome in outcomes {
        let mut removed = 0u64;
        loop {
            if stop.is_stopped() {
                break;
            }
            let n = db.delete_triggers_before(before, std::slice::from_ref(outcome), batch_size)?;
            if n > 0 {
                removed += n as u64;
                report.batches += 1;
            }
            if (n as i64) < batch_size || stop.wait(pause) {
                break;
            }
        }
        if removed > 0 {
            report.triggers.push((*outcome, removed));
        }
    }
    Ok(())
}

/// Deletes events received before `before` that no trigger refers to, in batches.
fn delete_events(
    db: &Database,
    before: chrono::NaiveDateTime,
    batch_size: i64,
    pause: Duration,
    stop: &StopSignal,
    report: &mut PruneReport,
) -> Result<()> {
    loop {
        if stop.is_stopped() {
            return Ok(());
        }
        let n = db.delete_events_before(before, batch_size)?;
        if n > 0 {
            report.events += n as u64;
            report.batches += 1;
        }
        if (n as i64) < batch_size || stop.wait(pause) {
            return Ok(());
        }
    }
}

/// One run of the background task: what `policy` says, triggers first (which may leave events
/// that no trigger refers to any more), then events.
fn run_policy(db: &Database, policy: &RetentionPolicy, stop: &StopSignal) -> Result<PruneReport> {
    let mut report = PruneReport::default();
    let batch = policy.batch_size.max(1);
    if let Some(days) = policy.triggers {
        let outcomes: Vec<Outcome> = Outcome::ALL.into_iter().filter(|o| o.is_prunable()).collect();
        delete_triggers(db, cutoff(days), &outcomes, batch, policy.pause, stop, &mut report)?;
    }
    if let Some(days) = policy.events {
        delete_events(db, cutoff(days), batch, policy.pause, stop, &mut report)?;
    }
    Ok(report)
}

/// The background pruning task: a thread that applies a [`RetentionPolicy`] every
/// [`RetentionPolicy::interval`], logging one line per run with what it removed. Started by
/// [`Djstripe::start`] when the settings' retention is enabled ([`Djstripe::pruner`]); it stops
/// when the last clone of that [`Djstripe`] is dropped (as the engine's writer threads do), or
/// at [`Pruner::stop`]. A run in progress stops between two batches.
///
/// ```
/// use std::time::Duration;
/// use djstripe_core::app::{Pruner, RetentionPolicy};
/// let db = djstripe_core::testing::TestDatabase::new(djstripe_core::db::Backend::Sqlite);
/// let policy = RetentionPolicy { triggers: Some(30), first_run_after: Duration::ZERO, ..Default::default() };
/// let pruner = Pruner::start(db.database().clone(), policy);
/// while pruner.runs() == 0 { std::thread::sleep(Duration::from_millis(10)); }
/// pruner.stop(); // at once, though the next run is an hour away
/// ```
#[derive(Debug)]
pub struct Pruner {
    stop: Arc<StopSignal>,
    runs: Arc<AtomicU64>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Pruner {
    /// Starts the task's thread on `db` (migrated). The first run is after
    /// [`RetentionPolicy::first_run_after`]. A failed run (database unavailable) is logged as a
    /// warning and tried again at the next interval.
    ///
    /// ```
    /// # let db = djstripe_core::testing::TestDatabase::new(djstripe_core::db::Backend::Sqlite);
    /// use djstripe_core::app::{Pruner, RetentionPolicy};
    /// let pruner = Pruner::start(db.database().clone(), RetentionPolicy { triggers: Some(7), ..Default::default() });
    /// drop(pruner); // stops it
    /// ```
    pub fn start(db: Database, policy: RetentionPolicy) -> Self {
        let stop = Arc::new(StopSignal::default());
        let runs = Arc::new(AtomicU64::new(0));
        let (task_stop, task_runs) = (stop.clone(), runs.clone());
        let thread = std::thread::Builder::new()
            .name("djstripe-prune".into())
            .spawn(move || {
                if task_stop.wait(policy.first_run_after) {
                    return;
                }
                loop {
                    let started = std::time::Instant::now();
                    match run_policy(&db, &policy, &task_stop) {
                        Ok(report) => {
                            let by_outcome: Vec<String> =
                                report.triggers.iter().map(|(o, n)| format!("{o}={n}")).collect();
                            tracing::info!(
                                triggers = report.triggers_total(),
                                events = report.events,
                                batches = report.batches,
                                elapsed_ms = started.elapsed().as_millis() as u64,
                                "retention: removed {} trigger row(s){} and {} event row(s)",
                                report.triggers_total(),
                                if by_outcome.is_empty() {
                                    String::new()
                                } else {
                                    format!(" ({})", by_outcome.join(", "))
                                },
                                report.events,
                            );
                        }
                        Err(error) => {
                            tracing::warn!(%error, "retention: pruning failed; trying again at the next interval")
                        }
                    }
                    task_runs.fetch_add(1, Ordering::SeqCst);
                    if task_stop.wait(policy.interval) {
                        return;
                    }
                }
            })
            .expect("spawning the pruning thread");
        Self { stop, runs, thread: Mutex::new(Some(thread)) }
    }

    /// Runs finished so far (successful or not).
    ///
    /// ```
    /// # let db = djstripe_core::testing::TestDatabase::new(djstripe_core::db::Backend::Sqlite);
    /// # use djstripe_core::app::{Pruner, RetentionPolicy};
    /// let pruner = Pruner::start(db.database().clone(), RetentionPolicy { triggers: Some(7), ..Default::default() });
    /// assert_eq!(pruner.runs(), 0, "the first run is a minute away");
    /// ```
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::SeqCst)
    }

    /// Stops the task and waits for its thread: a wait ends at once, a batch in progress
    /// finishes (one short statement). Calling it again does nothing.
    ///
    /// ```
    /// # let db = djstripe_core::testing::TestDatabase::new(djstripe_core::db::Backend::Sqlite);
    /// # use djstripe_core::app::{Pruner, RetentionPolicy};
    /// let pruner = Pruner::start(db.database().clone(), RetentionPolicy { triggers: Some(7), ..Default::default() });
    /// pruner.stop();
    /// assert!(pruner.is_stopped());
    /// ```
    pub fn stop(&self) {
        self.stop.stop();
        let thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }

    /// Whether [`Pruner::stop`] was called (or the value dropped).
    pub fn is_stopped(&self) -> bool {
        self.stop.is_stopped()
    }
}

impl Drop for Pruner {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Djstripe {
    /// The background pruning task, when the settings' retention is enabled.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let url = format!("sqlite://{}/app.sqlite3", dir.path().display());
    /// let djstripe = djstripe_core::app::Djstripe::start(djstripe_core::app::Settings::new(url)).unwrap();
    /// assert!(djstripe.pruner().is_none(), "no retention set: everything is kept");
    /// ```
    pub fn pruner(&self) -> Option<&Pruner> {
        self.pruner.as_deref()
    }

    /// A one-off prune of trigger rows (`triggers prune`): removes, in batches, the triggers
    /// older than `request.older_than_days` whose outcome is prunable (and failed ones with
    /// `include_failed`); a dry run counts them per outcome. Events are left alone (the
    /// background task removes them, when `DJSTRIPE_EVENT_RETENTION_DAYS` says so).
    ///
    /// # Errors
    /// [`crate::Error::DatabaseUnavailable`], [`crate::Error::Database`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let url = format!("sqlite://{}/app.sqlite3", dir.path().display());
    /// use djstripe_core::app::{Djstripe, PruneRequest, Settings};
    /// let djstripe = Djstripe::start(Settings::new(url)).unwrap();
    /// let report = djstripe.prune(&PruneRequest::older_than_days(30)).unwrap();
    /// assert_eq!(report.triggers_total(), 0);
    /// ```
    pub fn prune(&self, request: &PruneRequest) -> Result<PruneReport> {
        let db = self.engine().database();
        let before = cutoff(request.older_than_days);
        let outcomes = request.outcomes();
        if request.dry_run {
            let triggers =
                db.count_triggers_before(before, &outcomes)?.into_iter().map(|(o, n)| (o, n.max(0) as u64)).collect();
            return Ok(PruneReport { triggers, dry_run: true, ..Default::default() });
        }
        let mut report = PruneReport::default();
        let never = StopSignal::default();
        delete_triggers(db, before, &outcomes, request.batch_size.max(1), request.pause, &never, &mut report)?;
        Ok(report)
    }
}
