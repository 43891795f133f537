//! [`TestDatabase`]: a throwaway database on either backend, gone when the value is dropped.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl};

use crate::db::{Backend, Database, DatabaseOptions, DbConnection};

/// The environment variable naming the PostgreSQL server test databases are created on.
pub const POSTGRES_SERVER_VAR: &str = "DJSTRIPE_TEST_PG";

/// The PostgreSQL server of [`POSTGRES_SERVER_VAR`], by default
/// `postgres://postgres@127.0.0.1:5432` (no database name: [`TestDatabase`] adds its own).
///
/// ```
/// let server = djstripe_core::testing::postgres_server();
/// assert!(server.starts_with("postgres"));
/// ```
pub fn postgres_server() -> String {
    std::env::var(POSTGRES_SERVER_VAR).unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// The SQLite file's name inside its temporary directory.
const SQLITE_FILE: &str = "test.sqlite3";

/// A throwaway database for one test: a SQLite file in a temporary directory, or a fresh
/// database on the PostgreSQL server of [`postgres_server`]. Dropping it deletes the file or
/// drops the database `WITH (FORCE)` (connections still open are closed).
///
/// It derefs to its migrated [`Database`] (a pool with the chosen [`DatabaseOptions`]); `count`,
/// `execute` and `admin_execute` run SQL on connections of their own, outside that pool.
///
/// A PostgreSQL server that cannot be reached panics with a message saying so: a test that
/// needs the database fails, it is never skipped.
///
/// ```
/// use djstripe_core::db::{Backend, NewWebhookEndpoint};
/// use djstripe_core::testing::TestDatabase;
///
/// let db = TestDatabase::new(Backend::Sqlite); // or Backend::Postgres
/// db.insert_endpoint(&NewWebhookEndpoint::local("whsec_test")).unwrap(); // a `Database` method
/// assert_eq!(db.count("SELECT COUNT(*) AS n FROM djstripe_webhookendpoint"), 1);
/// ```
#[derive(Debug)]
pub struct TestDatabase {
    database: Database,
    url: String,
    /// The PostgreSQL server the database was created on (read only with PostgreSQL built in).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    server: String,
    backend: Backend,
    pg_name: Option<String>,
    dir: Option<tempfile::TempDir>,
}

/// How a [`TestDatabase`] is made: see [`TestDatabase::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct TestDatabaseBuilder {
    backend: Backend,
    options: DatabaseOptions,
    migrated: bool,
    server: String,
}

impl TestDatabaseBuilder {
    /// The PostgreSQL server to create the database on, `postgres://user[:password]@host:port`
    /// without a database name (default: [`postgres_server`]). Ignored for SQLite.
    ///
    /// ```
    /// use djstripe_core::db::Backend;
    /// let db = djstripe_core::testing::TestDatabase::builder(Backend::Postgres)
    ///     .server("postgres://postgres@127.0.0.1:5432")
    ///     .build();
    /// assert!(db.url().starts_with("postgres://postgres@127.0.0.1:5432/djstripe_test_"));
    /// ```
    pub fn server(mut self, server: impl Into<String>) -> Self {
        self.server = server.into().trim_end_matches('/').to_owned();
        self
    }

    /// The options of the [`Database`] pool (default: [`DatabaseOptions::default`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use djstripe_core::db::{Backend, DatabaseOptions};
    /// let options = DatabaseOptions { busy_timeout: Duration::from_millis(200), ..Default::default() };
    /// let db = djstripe_core::testing::TestDatabase::builder(Backend::Sqlite).options(options).build();
    /// # let _ = db;
    /// ```
    pub fn options(mut self, options: DatabaseOptions) -> Self {
        self.options = options;
        self
    }

    /// The pool's size alone (the other options stay as they are).
    ///
    /// ```
    /// use djstripe_core::db::Backend;
    /// let db = djstripe_core::testing::TestDatabase::builder(Backend::Sqlite).pool_size(2).build();
    /// assert_eq!(db.pool_size(), 2);
    /// ```
    pub fn pool_size(mut self, pool_size: u32) -> Self {
        self.options.pool_size = pool_size;
        self
    }

    /// Whether djstripe's migrations are applied (default `true`); `false` leaves the database
    /// empty, e.g. for a test of `migrate` itself.
    ///
    /// ```
    /// use djstripe_core::db::Backend;
    /// let db = djstripe_core::testing::TestDatabase::builder(Backend::Sqlite).migrated(false).build();
    /// assert!(db.migrate().unwrap() > 0, "an empty database gets every migration");
    /// ```
    pub fn migrated(mut self, migrated: bool) -> Self {
        self.migrated = migrated;
        self
    }

    /// Creates the database. Panics when it cannot: a backend not compiled in, a PostgreSQL
    /// server that is down, a migration that fails.
    ///
    /// ```
    /// use djstripe_core::db::Backend;
    /// let db = djstripe_core::testing::TestDatabase::builder(Backend::Postgres).pool_size(4).build();
    /// assert_eq!(db.backend(), Backend::Postgres);
    /// ```
    pub fn build(self) -> TestDatabase {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let (url, pg_name, dir) = match self.backend {
            Backend::Sqlite => {
                if !cfg!(feature = "sqlite") {
                    panic!("TestDatabase: djstripe-core is built without its `sqlite` feature");
                }
                let dir = tempfile::tempdir().expect("TestDatabase: a temporary directory for the SQLite file");
                (format!("sqlite://{}", dir.path().join(SQLITE_FILE).display()), None, Some(dir))
            }
            Backend::Postgres => {
                let n = COUNTER.fetch_add(1, Ordering::SeqCst);
                let micros = chrono::Utc::now().timestamp_micros();
                let name = format!("djstripe_test_{}_{micros}_{n}", std::process::id());
                on_server(&self.server, &format!("CREATE DATABASE {name}"));
                (format!("{}/{name}", self.server), Some(name), None)
            }
        };
        let database = Database::connect_with(&url, self.options)
            .unwrap_or_else(|e| panic!("TestDatabase: connecting to {url}: {e}"));
        // Built before migrating, so that a failed migration still drops the database.
        let test = TestDatabase { database, url, server: self.server, backend: self.backend, pg_name, dir };
        if self.migrated {
            test.database.migrate().unwrap_or_else(|e| panic!("TestDatabase: migrating {}: {e}", test.url));
        }
        test
    }
}

impl TestDatabase {
    /// A new, migrated database on `backend` with default options.
    ///
    /// ```
    /// use djstripe_core::db::Backend;
    /// let db = djstripe_core::testing::TestDatabase::new(Backend::Sqlite);
    /// assert_eq!(db.migrate().unwrap(), 0, "already migrated");
    /// ```
    pub fn new(backend: Backend) -> Self {
        Self::builder(backend).build()
    }

    /// A builder for a database on `backend` with other options, or not migrated.
    ///
    /// ```
    /// use djstripe_core::db::Backend;
    /// let db = djstripe_core::testing::TestDatabase::builder(Backend::Sqlite).pool_size(1).migrated(false).build();
    /// # let _ = db;
    /// ```
    pub fn builder(backend: Backend) -> TestDatabaseBuilder {
        TestDatabaseBuilder { backend, options: DatabaseOptions::default(), migrated: true, server: postgres_server() }
    }

    /// Its `DATABASE_URL`: `sqlite:///tmp/.../test.sqlite3` or `postgres://.../djstripe_test_...`.
    ///
    /// ```
    /// use djstripe_core::db::{Backend, Database};
    /// let db = djstripe_core::testing::TestDatabase::new(Backend::Sqlite);
    /// assert!(db.url().starts_with("sqlite://"));
    /// let another_pool = Database::connect(db.url()).unwrap(); // as a second app instance would
    /// # let _ = another_pool;
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The backend.
    ///
    /// ```
    /// use djstripe_core::db::Backend;
    /// assert_eq!(djstripe_core::testing::TestDatabase::new(Backend::Sqlite).backend(), Backend::Sqlite);
    /// ```
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection pool (what `*db` gives too), e.g. to clone into an engine.
    ///
    /// ```
    /// use djstripe_core::db::{Backend, Database};
    /// let db = djstripe_core::testing::TestDatabase::new(Backend::Sqlite);
    /// let pool: Database = db.database().clone();
    /// # let _ = pool;
    /// ```
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// The SQLite file (`None` on PostgreSQL), e.g. to open a second connection that holds its
    /// lock.
    ///
    /// ```
    /// use djstripe_core::db::Backend;
    /// let db = djstripe_core::testing::TestDatabase::new(Backend::Sqlite);
    /// assert!(db.sqlite_path().unwrap().exists());
    /// ```
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|dir| dir.path().join(SQLITE_FILE))
    }

    /// The PostgreSQL database's name (`None` on SQLite), e.g. for `ALTER DATABASE` through
    /// [`admin_execute`](Self::admin_execute).
    ///
    /// ```
    /// use djstripe_core::db::Backend;
    /// let db = djstripe_core::testing::TestDatabase::new(Backend::Postgres);
    /// assert!(db.pg_name().unwrap().starts_with("djstripe_test_"));
    /// assert!(db.url().ends_with(db.pg_name().unwrap()));
    /// ```
    pub fn pg_name(&self) -> Option<&str> {
        self.pg_name.as_deref()
    }

    /// Runs a query returning one row with one integer column named `n` (counts in assertions).
    /// Panics if the query fails.
    ///
    /// ```
    /// use djstripe_core::db::Backend;
    /// let db = djstripe_core::testing::TestDatabase::new(Backend::Sqlite);
    /// assert_eq!(db.count("SELECT COUNT(*) AS n FROM djstripe_event"), 0);
    /// ```
    pub fn count(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let rows: Vec<Count> =
            diesel::sql_query(sql).load(&mut self.connection()).unwrap_or_else(|e| panic!("`{sql}`: {e}"));
        rows.first().unwrap_or_else(|| panic!("`{sql}` returned no row")).n
    }

    /// Runs SQL statements (e.g. a table of the test's own, or breaking one to simulate an
    /// outage). Panics if they fail.
    ///
    /// ```
    /// use djstripe_core::db::Backend;
    /// let db = djstripe_core::testing::TestDatabase::new(Backend::Sqlite);
    /// db.execute("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hi')");
    /// assert_eq!(db.count("SELECT COUNT(*) AS n FROM notes"), 1);
    /// ```
    pub fn execute(&self, sql: &str) {
        self.connection().batch_execute(sql).unwrap_or_else(|e| panic!("`{sql}`: {e}"));
    }

    /// Runs SQL statements on the PostgreSQL server's `postgres` database, as the administrator
    /// (`ALTER DATABASE`, `pg_terminate_backend`). Panics on SQLite, or if they fail.
    ///
    /// ```
    /// use djstripe_core::db::Backend;
    /// let db = djstripe_core::testing::TestDatabase::new(Backend::Postgres);
    /// let name = db.pg_name().unwrap();
    /// db.admin_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"));
    /// db.admin_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"));
    /// ```
    #[cfg(feature = "postgres")]
    pub fn admin_execute(&self, sql: &str) {
        assert_eq!(self.backend, Backend::Postgres, "TestDatabase::admin_execute is for PostgreSQL");
        on_server(&self.server, sql);
    }

    /// A new connection of its own (not from the pool).
    fn connection(&self) -> DbConnection {
        let failed =
            |e: diesel::ConnectionError| -> DbConnection { panic!("TestDatabase: connecting to {}: {e}", self.url) };
        match self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => {
                let path = self.sqlite_path().expect("a SQLite TestDatabase has a file");
                diesel::SqliteConnection::establish(&path.to_string_lossy()).map_or_else(failed, DbConnection::Sqlite)
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres => diesel::PgConnection::establish(&self.url).map_or_else(failed, DbConnection::Pg),
            #[allow(unreachable_patterns)]
            other => unreachable!("a TestDatabase on {other:?} was built without that backend"),
        }
    }
}

impl std::ops::Deref for TestDatabase {
    type Target = Database;
    fn deref(&self) -> &Database {
        &self.database
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        #[cfg(feature = "postgres")]
        if let Some(name) = &self.pg_name
            && let Ok(mut admin) = diesel::PgConnection::establish(&format!("{}/postgres", self.server))
        {
            // A test may have closed it to new connections.
            let _ = admin.batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"));
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// Runs `sql` on the server's `postgres` database; panics with what to do when the server is
/// not there.
fn on_server(server: &str, sql: &str) {
    #[cfg(feature = "postgres")]
    {
        let mut admin = diesel::PgConnection::establish(&format!("{server}/postgres")).unwrap_or_else(|e| {
            panic!(
                "TestDatabase: the PostgreSQL server at {server} cannot be reached ({e}). These tests need it: \
                 start it, or point {POSTGRES_SERVER_VAR} at one (postgres://user@host:port)"
            )
        });
        admin.batch_execute(sql).unwrap_or_else(|e| panic!("TestDatabase: `{sql}` on {server}/postgres: {e}"));
    }
    #[cfg(not(feature = "postgres"))]
    panic!("TestDatabase: djstripe-core is built without its `postgres` feature (could not run `{sql}` on {server})");
}
