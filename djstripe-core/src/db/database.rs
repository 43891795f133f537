//! [`Database`]: one connection pool to SQLite or PostgreSQL, chosen from the URL.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, ConnectionError};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::DbConnection;
use super::breaker::Breaker;
use super::diagnose::{connect_error, url_parameter};
use crate::Error;
use crate::error::ConnectFailure;

#[cfg(feature = "sqlite")]
pub(crate) const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
#[cfg(feature = "postgres")]
pub(crate) const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Which database a [`Database`] talks to.
///
/// ```
/// let db = djstripe_core::db::Database::connect("postgres://localhost/shop").unwrap();
/// assert_eq!(db.backend(), djstripe_core::db::Backend::Postgres);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file (feature `sqlite`).
    Sqlite,
    /// A PostgreSQL server (feature `postgres`).
    Postgres,
}

impl Backend {
    /// The cargo feature of `djstripe-core` that compiles this backend in.
    ///
    /// ```
    /// assert_eq!(djstripe_core::db::Backend::Postgres.feature(), "postgres");
    /// ```
    pub fn feature(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// SQLite's `synchronous` setting: how hard a commit waits for the disk.
///
/// `Full` (the default) makes every commit durable across power loss. `Normal` in WAL mode can
/// lose the last commits on power loss (not on a process crash) — an explicit, documented choice:
/// an event Stripe got a 200 for could then be lost.
///
/// ```
/// use djstripe_core::db::{DatabaseOptions, SqliteSync};
/// let faster = DatabaseOptions { sqlite_sync: SqliteSync::Normal, ..Default::default() };
/// # let _ = faster;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSync {
    /// `PRAGMA synchronous = FULL`: durable commits.
    #[default]
    Full,
    /// `PRAGMA synchronous = NORMAL`: faster, may lose recent commits on power loss.
    Normal,
}

/// Connection settings beyond the URL.
///
/// ```
/// use djstripe_core::db::{DatabaseOptions, SqliteSync};
/// let options = DatabaseOptions { pool_size: 4, ..DatabaseOptions::default() };
/// assert_eq!(options.sqlite_sync, SqliteSync::Full);
/// ```
#[derive(Debug, Clone)]
pub struct DatabaseOptions {
    /// Maximum pooled connections (default 8).
    pub pool_size: u32,
    /// How long to wait for a pooled connection before answering "unavailable" (default 10 s);
    /// on PostgreSQL also libpq's `connect_timeout` (whole seconds, at least 2) when neither the
    /// URL nor `PGCONNECT_TIMEOUT` sets one.
    pub connect_timeout: Duration,
    /// SQLite: how long a writer waits for the lock before failing (default 10 s).
    pub busy_timeout: Duration,
    /// SQLite: commit durability (default [`SqliteSync::Full`]).
    pub sqlite_sync: SqliteSync,
}

impl Default for DatabaseOptions {
    fn default() -> Self {
        Self {
            pool_size: 8,
            connect_timeout: Duration::from_secs(10),
            busy_timeout: Duration::from_secs(10),
            sqlite_sync: SqliteSync::Full,
        }
    }
}

#[derive(Debug, Clone)]
struct Manager {
    backend: Backend,
    /// What diesel's `establish` takes: a file path for SQLite, the URL for PostgreSQL.
    target: String,
    options: DatabaseOptions,
    probe: Arc<Probe>,
    breaker: Arc<Breaker>,
    /// The [`Database`]'s liveness: the breaker's reconnecting thread ends with it.
    alive: Weak<()>,
}

/// The connection [`Database::get`] opens itself while the pool holds none, so that a database
/// that cannot be reached fails at once with the driver's message, instead of after the pool's
/// timeout of retries (each logged). One probe runs at a time; those that waited for it share
/// its answer.
#[derive(Default)]
struct Probe {
    /// The probe's connection, handed to the pool's next `connect`.
    spare: Mutex<Option<DbConnection>>,
    /// Held while probing; how the last probe failed (`None`: it did not).
    last_failure: Mutex<Option<(String, Option<ConnectFailure>)>>,
    /// Probes done.
    done: AtomicU64,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe").field("done", &self.done).finish_non_exhaustive()
    }
}

impl Manager {
    /// Opens a new connection as [`Manager::establish`] does, with the failure explained
    /// ([`connect_error`]); a failure opens the circuit breaker.
    fn open(&self) -> Result<DbConnection, Error> {
        self.establish().map_err(|e| {
            let error = connect_error(self.backend, &self.target, &e.to_string());
            self.trip(&error);
            error
        })
    }

    /// Opens the breaker and starts its reconnecting thread, whose first connection is the
    /// pool's next one.
    fn trip(&self, error: &Error) {
        self.breaker.trip(error);
        let (manager, probe) = (self.clone(), self.probe.clone());
        self.breaker.start_retrying(
            self.alive.clone(),
            move || manager.establish().map_err(|e| connect_error(manager.backend, &manager.target, &e.to_string())),
            move |conn| *probe.spare.lock().unwrap_or_else(PoisonError::into_inner) = Some(conn),
        );
    }

    /// Opens a new connection (the pool's `connect` takes the probe's first, if there is one).
    fn establish(&self) -> Result<DbConnection, ConnectionError> {
        match self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => {
                let mut conn = diesel::SqliteConnection::establish(&self.target)?;
                let sync = match self.options.sqlite_sync {
                    SqliteSync::Full => "FULL",
                    SqliteSync::Normal => "NORMAL",
                };
                // busy_timeout first: switching to WAL itself may need to wait for another process.
                // WAL checkpoints stay SQLite's (in the commit that grows the WAL past 1,000
                // pages): a checkpoint thread was measured and doubled p99 at 16 concurrent
                // deliveries, its database fsync delaying the writers' WAL fsyncs (BENCHMARKS.md).
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; \
                     PRAGMA foreign_keys = ON;",
                    self.options.busy_timeout.as_millis()
                ))
                .map_err(|e| ConnectionError::BadConnection(format!("configuring SQLite: {e}")))?;
                Ok(DbConnection::Sqlite(conn))
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres => Ok(DbConnection::Pg(diesel::PgConnection::establish(&self.target)?)),
            #[allow(unreachable_patterns)]
            other => Err(ConnectionError::BadConnection(format!("{other:?} is not compiled in"))),
        }
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = ConnectionError;

    fn connect(&self) -> Result<DbConnection, ConnectionError> {
        let spare = self.probe.spare.lock().unwrap_or_else(PoisonError::into_inner).take();
        spare.map_or_else(
            || {
                self.establish().inspect_err(|e| {
                    self.trip(&connect_error(self.backend, &self.target, &e.to_string()));
                })
            },
            Ok,
        )
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnectionError> {
        conn.batch_execute("SELECT 1").map_err(|e| ConnectionError::BadConnection(e.to_string()))
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

/// The pool's failed connection attempts, at debug level: r2d2's default handler logs each
/// retry as an error, while the caller gets the failure (with its cause) as the answer of
/// [`Database::get`].
#[derive(Debug)]
struct TraceErrors;

impl r2d2::HandleError<ConnectionError> for TraceErrors {
    fn handle_error(&self, error: ConnectionError) {
        tracing::debug!(%error, "the database pool could not open a connection");
    }
}

/// A connection borrowed from the pool; returns to it when dropped. Derefs to [`DbConnection`].
///
/// ```
/// use diesel::connection::SimpleConnection;
/// let dir = tempfile::tempdir().unwrap();
/// let db = djstripe_core::db::Database::connect(dir.path().join("c.sqlite3").to_str().unwrap()).unwrap();
/// let mut conn = db.get().unwrap();
/// conn.batch_execute("CREATE TABLE notes (body TEXT)").unwrap();
/// ```
pub struct PooledConnection(r2d2::PooledConnection<Manager>);

impl std::fmt::Debug for PooledConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledConnection").finish_non_exhaustive()
    }
}

impl std::ops::Deref for PooledConnection {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        &self.0
    }
}

impl std::ops::DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.0
    }
}

/// The database of djstripe: a pool of connections to SQLite or PostgreSQL.
///
/// `DATABASE_URL` forms: a file path or `sqlite://path` (embedded, the default) and
/// `postgres://user@host/db` or `postgresql://...` (production; several app instances may share one).
///
/// ```
/// use djstripe_core::db::{Backend, Database};
/// let dir = tempfile::tempdir().unwrap();
/// let db = Database::connect(&format!("sqlite://{}/app.sqlite3", dir.path().display())).unwrap();
/// db.migrate().unwrap();
/// assert_eq!(db.backend(), Backend::Sqlite);
/// ```
#[derive(Clone)]
pub struct Database {
    pool: r2d2::Pool<Manager>,
    /// A copy of the pool's manager, for [`Database::probe`].
    manager: Manager,
    backend: Backend,
    /// SQLite has one writer at a time: in-process writers queue here instead of polling the
    /// file lock (whose busy handler sleeps in steps of up to 100 ms). Other processes still wait
    /// on the file lock with the busy timeout.
    writer: Arc<Mutex<()>>,
    /// Endpoint lookups of the hot path.
    pub(crate) endpoint_cache: Arc<super::cache::EndpointCache>,
    /// Held by every handle: when the last is dropped, the breaker's thread ends.
    _alive: Arc<()>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database").field("backend", &self.backend).finish_non_exhaustive()
    }
}

impl Database {
    /// Connects with default [`DatabaseOptions`].
    ///
    /// ```
    /// let err = djstripe_core::db::Database::connect("mysql://localhost/db").unwrap_err();
    /// assert!(err.to_string().contains("DATABASE_URL"));
    /// ```
    pub fn connect(url: &str) -> Result<Self, Error> {
        Self::connect_with(url, DatabaseOptions::default())
    }

    /// Connects with the given options. The pool is created lazily: a server that is down now is
    /// reported at the first use, as [`Error::DatabaseUnavailable`] (at once, not after
    /// `connect_timeout`: see [`Database::get`]).
    ///
    /// ```
    /// use djstripe_core::db::{Database, DatabaseOptions};
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("x.sqlite3");
    /// let db = Database::connect_with(path.to_str().unwrap(), DatabaseOptions { pool_size: 2, ..Default::default() }).unwrap();
    /// # let _ = db;
    /// ```
    pub fn connect_with(url: &str, options: DatabaseOptions) -> Result<Self, Error> {
        let (backend, target) = parse_url(url)?;
        if options.pool_size == 0 {
            return Err(Error::setting("DJSTRIPE_DB_POOL_SIZE", "the database pool size must be at least 1"));
        }
        let target = match backend {
            Backend::Postgres => with_connect_timeout(&target, options.connect_timeout),
            Backend::Sqlite => target,
        };
        let alive = Arc::new(());
        let manager = Manager {
            backend,
            target,
            options: options.clone(),
            probe: Default::default(),
            breaker: Default::default(),
            alive: Arc::downgrade(&alive),
        };
        let pool = r2d2::Pool::builder()
            .max_size(options.pool_size)
            .min_idle(Some(0))
            .connection_timeout(options.connect_timeout)
            .test_on_check_out(backend == Backend::Postgres)
            .error_handler(Box::new(TraceErrors))
            .build_unchecked(manager.clone());
        Ok(Self {
            pool,
            manager,
            backend,
            writer: Arc::new(Mutex::new(())),
            endpoint_cache: Default::default(),
            _alive: alive,
        })
    }

    /// Which backend this is.
    ///
    /// ```
    /// # let db = djstripe_core::db::Database::connect("postgres://localhost/x").unwrap();
    /// assert_eq!(db.backend(), djstripe_core::db::Backend::Postgres);
    /// ```
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The most connections the pool opens.
    ///
    /// ```
    /// use djstripe_core::db::{Database, DatabaseOptions};
    /// let db = Database::connect_with("postgres://localhost/x", DatabaseOptions { pool_size: 3, ..Default::default() }).unwrap();
    /// assert_eq!(db.pool_size(), 3);
    /// ```
    pub fn pool_size(&self) -> u32 {
        self.pool.max_size()
    }

    /// A pooled connection, or [`Error::DatabaseUnavailable`].
    ///
    /// While the pool holds no connection (the first use, or after the server dropped them all),
    /// the connection is opened here directly: a missing database, a refused connection or a
    /// certificate that does not verify fails at once, with the driver's message and a
    /// [`ConnectFailure`] naming the cause. Otherwise a busy pool waits up to `connect_timeout`.
    ///
    /// **Fails fast during an outage**: once opening a connection failed, every call answers that
    /// failure at once (a circuit breaker, no waiting) until a background attempt, every 500 ms,
    /// connects again. So no caller waits longer than `connect_timeout`, however many wait.
    ///
    /// ```
    /// use djstripe_core::{Error, db::Database, error::ConnectFailure};
    /// let db = Database::connect("postgres://postgres@127.0.0.1:1/shop").unwrap();
    /// let Err(Error::DatabaseUnavailable { cause, .. }) = db.get() else { panic!("port 1 answered") };
    /// assert_eq!(cause, Some(ConnectFailure::Refused { address: "127.0.0.1:1".into() }));
    /// assert!(db.is_unreachable(), "the next callers fail at once");
    /// ```
    pub fn get(&self) -> Result<PooledConnection, Error> {
        self.manager.breaker.check()?;
        self.probe()?;
        // Wait in slices, so that an outage found meanwhile (by any caller) ends the wait.
        let deadline = Instant::now() + self.manager.options.connect_timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.pool.get_timeout(left.clamp(Duration::from_millis(1), Duration::from_millis(100))) {
                Ok(conn) => return Ok(PooledConnection(conn)),
                Err(e) => {
                    self.manager.breaker.check()?;
                    if Instant::now() >= deadline {
                        return Err(connect_error(self.backend, &self.manager.target, &e.to_string()));
                    }
                }
            }
        }
    }

    /// Whether the database is known to be unreachable now: the last attempt to open a
    /// connection failed and none has succeeded since ([`Database::get`] then fails at once).
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = djstripe_core::db::Database::connect(dir.path().join("u.sqlite3").to_str().unwrap()).unwrap();
    /// assert!(!db.is_unreachable());
    /// ```
    pub fn is_unreachable(&self) -> bool {
        self.manager.breaker.is_open()
    }

    /// Opens the pool's next connection directly when it holds none (see [`Database::get`]).
    fn probe(&self) -> Result<(), Error> {
        if self.pool.state().connections > 0 {
            return Ok(());
        }
        let probe = &self.manager.probe;
        let seen = probe.done.load(Ordering::Acquire);
        let mut last_failure = probe.last_failure.lock().unwrap_or_else(PoisonError::into_inner);
        if probe.done.load(Ordering::Acquire) != seen {
            // Another probe ended while this one waited: its answer is this one's.
            return match &*last_failure {
                None => Ok(()),
                Some((reason, cause)) => {
                    Err(Error::DatabaseUnavailable { reason: reason.clone(), cause: cause.clone() })
                }
            };
        }
        let spare_ready = probe.spare.lock().unwrap_or_else(PoisonError::into_inner).is_some();
        if spare_ready || self.pool.state().connections > 0 {
            return Ok(());
        }
        let result = self.manager.open();
        probe.done.fetch_add(1, Ordering::Release);
        match result {
            Ok(conn) => {
                *last_failure = None;
                *probe.spare.lock().unwrap_or_else(PoisonError::into_inner) = Some(conn);
                Ok(())
            }
            Err(error) => {
                if let Error::DatabaseUnavailable { reason, cause } = &error {
                    *last_failure = Some((reason.clone(), cause.clone()));
                }
                Err(error)
            }
        }
    }

    /// Takes the in-process writer lock (SQLite only; `None` for PostgreSQL, whose row locks
    /// serialize what must be serialized).
    pub(crate) fn writer_lock(&self) -> Option<MutexGuard<'_, ()>> {
        match self.backend {
            // A poisoned lock only means a writer panicked; the database itself is consistent.
            Backend::Sqlite => Some(self.writer.lock().unwrap_or_else(|p| p.into_inner())),
            Backend::Postgres => None,
        }
    }

    /// Applies pending migrations. Safe to call from several instances at once on PostgreSQL
    /// (an advisory lock serializes them).
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = djstripe_core::db::Database::connect(dir.path().join("m.sqlite3").to_str().unwrap()).unwrap();
    /// let applied = db.migrate().unwrap();
    /// assert!(applied > 0, "a new database gets every migration");
    /// assert_eq!(db.migrate().unwrap(), 0);
    /// ```
    pub fn migrate(&self) -> Result<usize, Error> {
        let mut conn = self.get()?;
        let _guard = self.writer_lock();
        let applied = match &mut *conn {
            #[cfg(feature = "sqlite")]
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
            #[cfg(feature = "postgres")]
            DbConnection::Pg(c) => {
                const LOCK: &str = "SELECT pg_advisory_lock(7346373123)";
                c.batch_execute(LOCK).map_err(classify)?;
                let result = c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|v| v.len());
                c.batch_execute("SELECT pg_advisory_unlock(7346373123)").map_err(classify)?;
                result
            }
        };
        applied.map_err(|e| Error::Migration { set: crate::error::MigrationSet::Djstripe, reason: e.to_string() })
    }
}

/// Splits a `DATABASE_URL` into backend and diesel's connection target.
fn parse_url(url: &str) -> Result<(Backend, String), Error> {
    let url = url.trim();
    if url.is_empty() {
        return Err(Error::setting("DATABASE_URL", "it is empty: use a file path, sqlite://path or postgres://..."));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return compiled_in(Backend::Postgres, url.to_owned());
    }
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    if let Some((scheme, _)) = path.split_once("://") {
        return Err(Error::setting(
            "DATABASE_URL",
            format!("scheme `{scheme}` is not supported: use a file path, sqlite://path or postgres://..."),
        ));
    }
    if path.is_empty() || path == ":memory:" {
        return Err(Error::setting(
            "DATABASE_URL",
            "it must name a SQLite file (an in-memory database would not survive a restart)",
        ));
    }
    compiled_in(Backend::Sqlite, path.to_owned())
}

/// `url` with libpq's `connect_timeout` (whole seconds, at least libpq's minimum of 2) added,
/// unless it or the environment (`PGCONNECT_TIMEOUT`) sets one: without it, a host that drops
/// packets keeps the connection attempt waiting for the operating system's TCP timeout.
fn with_connect_timeout(url: &str, timeout: Duration) -> String {
    if url_parameter(url, "connect_timeout").is_some() || std::env::var_os("PGCONNECT_TIMEOUT").is_some() {
        return url.to_owned();
    }
    let seconds = timeout.as_secs_f64().ceil().max(2.0) as u64;
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}connect_timeout={seconds}")
}

/// `(backend, target)` when this build has the backend's cargo feature, else the error naming it.
fn compiled_in(backend: Backend, target: String) -> Result<(Backend, String), Error> {
    let on = match backend {
        Backend::Sqlite => cfg!(feature = "sqlite"),
        Backend::Postgres => cfg!(feature = "postgres"),
    };
    if on { Ok((backend, target)) } else { Err(Error::BackendNotCompiled { backend }) }
}

/// Maps diesel's errors: a lost connection, a lock past the busy timeout or a server shutting
/// down is "unavailable" (the adapter answers 503 and Stripe retries); the rest is a query error.
pub(crate) fn classify(error: diesel::result::Error) -> Error {
    use diesel::result::{DatabaseErrorKind as K, Error as E};
    match &error {
        E::DatabaseError(K::ClosedConnection | K::SerializationFailure, info) => Error::unavailable(info.message()),
        E::DatabaseError(_, info) if is_unavailable_message(info.message()) => Error::unavailable(info.message()),
        E::BrokenTransactionManager => Error::unavailable(&error),
        _ => Error::Database(error),
    }
}

/// [`classify`] for an error that may already be ours (from `conn.transaction`'s own BEGIN/COMMIT).
pub(crate) fn classify_error(error: Error) -> Error {
    match error {
        Error::Database(e) => classify(e),
        other => other,
    }
}

/// Whether `error` (already through [`classify`]) is the database refusing one row for its
/// content: then it is that delivery's fault, not an outage. `Ok` is the
/// [`Error::UnstorableEvent`] to answer; `Err` gives back anything else unchanged.
///
/// What counts: PostgreSQL's SQLSTATE class 23 (integrity: not null, check, unique, foreign key,
/// which diesel reports as [`DatabaseErrorKind`](diesel::result::DatabaseErrorKind)s) and class
/// 22 (data exceptions). diesel's PostgreSQL backend reads the SQLSTATE but keeps only the
/// codes it maps to a kind: class 22 arrives as `Unknown`, so it is told by the server's
/// primary message (English, PostgreSQL's default `lc_messages`; SQLite's are fixed). An
/// error this does not recognise stays what it was (503 for the delivery, as before, with the
/// rest of its batch committed: see `engine/process.rs`). Also counted: a value diesel could not
/// encode (before any SQL), and a row `StoredEvent::from_event` could not build.
pub(crate) fn refusal(error: Error) -> Result<Error, Error> {
    use crate::error::Refusal;
    use diesel::result::{DatabaseErrorKind as K, Error as E};
    let refused = |field: Option<&str>, refusal, detail: String| Error::UnstorableEvent {
        field: field.map(str::to_owned),
        refusal,
        detail,
    };
    match error {
        error @ Error::UnstorableEvent { .. } => Ok(error),
        Error::InvalidEvent { reason } => Ok(refused(Some("data"), Refusal::BadValue, reason)),
        Error::Database(E::SerializationError(cause)) => Ok(refused(None, Refusal::BadValue, cause.to_string())),
        Error::Database(E::DatabaseError(kind, info)) => {
            let detail = info.message().to_owned();
            let refusal = match kind {
                K::NotNullViolation
                | K::CheckViolation
                | K::UniqueViolation
                | K::ForeignKeyViolation
                | K::RestrictViolation
                | K::ExclusionViolation => Some(Refusal::Constraint),
                _ => data_exception(&detail),
            };
            match refusal {
                Some(refusal) => Ok(refused(info.column_name(), refusal, detail)),
                None => Err(Error::Database(E::DatabaseError(kind, info))),
            }
        }
        other => Err(other),
    }
}

/// The refusal a data-exception message names (PostgreSQL's SQLSTATE class 22 and 54000,
/// SQLite's "string or blob too big" and "datatype mismatch"), if it is one.
fn data_exception(message: &str) -> Option<crate::error::Refusal> {
    use crate::error::Refusal;
    let m = message.to_ascii_lowercase();
    let any = |needles: &[&str]| needles.iter().any(|n| m.contains(n));
    if any(&["0x00", "null character not permitted"]) {
        Some(Refusal::NulCharacter)
    } else if any(&["out of range"]) {
        Some(Refusal::OutOfRange)
    } else if any(&["value too long", "index row size", "index row requires", "string or blob too big"]) {
        Some(Refusal::TooLong)
    } else if any(&[
        "invalid byte sequence",
        "invalid input syntax",
        "unsupported unicode escape",
        "character not in repertoire",
        "untranslatable character",
        "datatype mismatch",
    ]) {
        Some(Refusal::BadValue)
    } else {
        None
    }
}

fn is_unavailable_message(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "database is locked",
        "database is busy",
        "disk i/o error",
        "database or disk is full",
        "server closed",
        "terminating connection",
        "connection",
        "the database system is",
        "could not send",
        "no connection",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(parse_url("sqlite://shop.sqlite3").unwrap(), (Backend::Sqlite, "shop.sqlite3".into()));
        assert_eq!(parse_url("sqlite:///tmp/a.db").unwrap(), (Backend::Sqlite, "/tmp/a.db".into()));
        assert_eq!(parse_url("./x.db").unwrap(), (Backend::Sqlite, "./x.db".into()));
        #[cfg(feature = "postgres")]
        assert_eq!(parse_url("postgresql://u@h/d").unwrap().0, Backend::Postgres);
        #[cfg(not(feature = "postgres"))]
        assert!(matches!(
            parse_url("postgresql://u@h/d"),
            Err(Error::BackendNotCompiled { backend: Backend::Postgres })
        ));
        assert!(parse_url("").unwrap_err().to_string().contains("DATABASE_URL"));
        assert!(parse_url("mysql://x").unwrap_err().to_string().contains("`mysql`"));
        assert!(parse_url("sqlite://:memory:").is_err());
    }
}

#[cfg(test)]
mod connect_timeout_tests {
    use super::*;

    #[test]
    fn connect_timeout_is_added_unless_set() {
        let ten = Duration::from_secs(10);
        assert_eq!(with_connect_timeout("postgres://h/d", ten), "postgres://h/d?connect_timeout=10");
        assert_eq!(
            with_connect_timeout("postgres://h/d?sslmode=require", Duration::from_millis(500)),
            "postgres://h/d?sslmode=require&connect_timeout=2"
        );
        assert_eq!(with_connect_timeout("postgres://h/d?connect_timeout=30", ten), "postgres://h/d?connect_timeout=30");
    }
}
