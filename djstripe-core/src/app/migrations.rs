//! [`AppMigrations`]: the app's own schema, applied after djstripe's on the same database.

use diesel::migration::MigrationSource;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

use crate::db::{Database, DbConnection};
use crate::error::MigrationSet;
use crate::{Error, Result};

/// A migration function: gets a connection of whichever backend the app runs on.
pub type MigrationFn = fn(&mut DbConnection) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// The app's own migrations, run after djstripe's by [`super::Djstripe::start`] (when
/// [`super::Settings::app_migrations`] is set), [`super::Djstripe::migrate_app`], the command
/// line's `migrate` and `serve`, and [`crate::testing::TestApp`].
///
/// Three forms, none of which needs to match on the backend:
/// - [`AppMigrations::embedded`]: diesel's `embed_migrations!` of one directory whose SQL both
///   backends accept;
/// - [`AppMigrations::per_backend`]: one embedded directory per backend (SQLite and PostgreSQL
///   DDL differ: `INTEGER PRIMARY KEY AUTOINCREMENT` vs `BIGSERIAL`);
/// - [`AppMigrations::function`]: a function of the connection (`CREATE TABLE IF NOT EXISTS`).
///
/// Embedded migrations are recorded in diesel's `__diesel_schema_migrations`, beside
/// djstripe's: their versions (the directory names' leading timestamps) must differ from
/// djstripe's, which is checked. On PostgreSQL they run under the same advisory lock as
/// djstripe's, so app instances starting together apply each migration once.
///
/// ```
/// use diesel::connection::SimpleConnection;
/// use djstripe_core::app::AppMigrations;
/// let migrations = AppMigrations::function(|conn| {
///     conn.batch_execute("CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY)")?;
///     Ok(())
/// });
/// # let _ = migrations;
/// ```
///
/// With diesel's migrations (`diesel_migrations = "2.3"` in the app's dependencies):
///
/// ```ignore
/// static SQLITE: diesel_migrations::EmbeddedMigrations = diesel_migrations::embed_migrations!("migrations/sqlite");
/// static POSTGRES: diesel_migrations::EmbeddedMigrations = diesel_migrations::embed_migrations!("migrations/postgres");
/// let migrations = djstripe_core::app::AppMigrations::per_backend(&SQLITE, &POSTGRES);
/// ```
#[derive(Clone, Copy)]
pub struct AppMigrations {
    kind: Kind,
}

#[derive(Clone, Copy)]
enum Kind {
    Embedded { sqlite: &'static EmbeddedMigrations, postgres: &'static EmbeddedMigrations },
    Function(MigrationFn),
}

impl std::fmt::Debug for AppMigrations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.kind {
            Kind::Embedded { .. } => "AppMigrations::Embedded",
            Kind::Function(_) => "AppMigrations::Function",
        })
    }
}

impl AppMigrations {
    /// Embedded migrations whose SQL both backends accept.
    ///
    /// ```ignore
    /// static MIGRATIONS: diesel_migrations::EmbeddedMigrations = diesel_migrations::embed_migrations!();
    /// let migrations = djstripe_core::app::AppMigrations::embedded(&MIGRATIONS);
    /// ```
    pub const fn embedded(migrations: &'static EmbeddedMigrations) -> Self {
        Self::per_backend(migrations, migrations)
    }

    /// Embedded migrations per backend.
    ///
    /// ```ignore
    /// static SQLITE: diesel_migrations::EmbeddedMigrations = diesel_migrations::embed_migrations!("migrations/sqlite");
    /// static POSTGRES: diesel_migrations::EmbeddedMigrations = diesel_migrations::embed_migrations!("migrations/postgres");
    /// let migrations = djstripe_core::app::AppMigrations::per_backend(&SQLITE, &POSTGRES);
    /// ```
    pub const fn per_backend(sqlite: &'static EmbeddedMigrations, postgres: &'static EmbeddedMigrations) -> Self {
        Self { kind: Kind::Embedded { sqlite, postgres } }
    }

    /// A function of the connection; it must be idempotent (it runs at every start).
    ///
    /// ```
    /// use diesel::connection::SimpleConnection;
    /// let migrations = djstripe_core::app::AppMigrations::function(|conn| Ok(conn.batch_execute("SELECT 1")?));
    /// # let _ = migrations;
    /// ```
    pub const fn function(migrate: MigrationFn) -> Self {
        Self { kind: Kind::Function(migrate) }
    }

    /// Applies the pending migrations on `db`; returns how many were applied (a function counts 0).
    ///
    /// # Errors
    /// [`Error::Migration`] (set [`MigrationSet::App`]) with diesel's or the function's message,
    /// or when an embedded version is one of djstripe's; [`Error::DatabaseUnavailable`] when no
    /// connection can be had.
    ///
    /// ```
    /// # let db = djstripe_core::testing::TestDatabase::new(djstripe_core::db::Backend::Sqlite);
    /// use diesel::connection::SimpleConnection;
    /// let migrations = djstripe_core::app::AppMigrations::function(|conn| {
    ///     Ok(conn.batch_execute("CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY)")?)
    /// });
    /// assert_eq!(migrations.run(db.database()).unwrap(), 0);
    /// ```
    pub fn run(&self, db: &Database) -> Result<usize> {
        let failed = |reason: String| Error::Migration { set: MigrationSet::App, reason };
        let mut conn = db.get()?;
        let _writer = db.writer_lock();
        match self.kind {
            Kind::Function(migrate) => migrate(&mut conn).map(|()| 0).map_err(|e| failed(e.to_string())),
            Kind::Embedded { sqlite, postgres } => match &mut *conn {
                #[cfg(feature = "sqlite")]
                DbConnection::Sqlite(c) => {
                    check_versions::<diesel::sqlite::Sqlite>(sqlite, &crate::db::SQLITE_MIGRATIONS)?;
                    let _ = postgres;
                    c.run_pending_migrations(Static(sqlite)).map(|v| v.len()).map_err(|e| failed(e.to_string()))
                }
                #[cfg(feature = "postgres")]
                DbConnection::Pg(c) => {
                    use diesel::connection::SimpleConnection;
                    check_versions::<diesel::pg::Pg>(postgres, &crate::db::POSTGRES_MIGRATIONS)?;
                    let _ = sqlite;
                    c.batch_execute("SELECT pg_advisory_lock(7346373123)")?;
                    let result = c.run_pending_migrations(Static(postgres)).map(|v| v.len());
                    c.batch_execute("SELECT pg_advisory_unlock(7346373123)")?;
                    result.map_err(|e| failed(e.to_string()))
                }
            },
        }
    }
}

/// A `&'static` set of embedded migrations as the owned source diesel's harness takes.
struct Static(&'static EmbeddedMigrations);

impl<DB: diesel::backend::Backend> MigrationSource<DB> for Static {
    fn migrations(&self) -> diesel::migration::Result<Vec<Box<dyn diesel::migration::Migration<DB>>>> {
        MigrationSource::<DB>::migrations(self.0)
    }
}

/// That no version of the app's is one of djstripe's: diesel would take it as applied.
fn check_versions<DB: diesel::backend::Backend>(
    app: &impl MigrationSource<DB>,
    ours: &impl MigrationSource<DB>,
) -> Result<()> {
    let failed = |reason: String| Error::Migration { set: MigrationSet::App, reason };
    let versions = |source: &dyn MigrationSource<DB>| -> Result<Vec<String>> {
        let migrations = source.migrations().map_err(|e| failed(e.to_string()))?;
        Ok(migrations.iter().map(|m| m.name().version().to_string()).collect())
    };
    let ours = versions(ours)?;
    if let Some(clash) = versions(app)?.into_iter().find(|v| ours.contains(v)) {
        return Err(failed(format!(
            "version {clash} is also one of djstripe's migrations: rename the app's directory with another timestamp"
        )));
    }
    Ok(())
}
