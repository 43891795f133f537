//! Persistence: diesel connections to SQLite or PostgreSQL, chosen at run time.

mod multi {
    #![allow(missing_docs)]
    /// A connection to either backend, chosen at run time from `DATABASE_URL`; user code written
    /// against it stays backend-neutral.
    #[derive(diesel::MultiConnection)]
    pub enum DbConnection {
        /// PostgreSQL.
        Pg(diesel::PgConnection),
        /// SQLite.
        Sqlite(diesel::SqliteConnection),
    }
}
pub use multi::DbConnection;
