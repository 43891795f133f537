//! Persistence: diesel connections to SQLite or PostgreSQL chosen at run time from
//! `DATABASE_URL`, the tables (dj-stripe's names), embedded migrations and typed rows.
//!
//! | file | what it holds |
//! |---|---|
//! | `breaker.rs` | the circuit breaker: fail at once while the database is unreachable |
//! | `cache.rs` | a one-second cache of endpoint lookups for the hot path |
//! | `database.rs` | [`Database`]: URL parsing, the connection pool, SQLite pragmas, migrations |
//! | `diagnose.rs` | what a failed connection means: the driver's message and its [`crate::error::ConnectFailure`] |
//! | `schema.rs` | diesel `table!`s |
//! | `models.rs` | row structs |
//! | `outcome.rs` | [`Outcome`]: what became of a trigger, stored as its word |
//! | `queries.rs` | the reads and writes operators and the engine need |
//! | `unnest.rs` | PostgreSQL batch inserts as one prepared statement, whatever the batch size |
//! | `keys.rs` | connected accounts' own API keys ([`AccountKey`]) |
//! | `admin_users.rs` | the admin pages' users and their password hashes ([`AdminUser`]) |
//! | `admin_sessions.rs` | the admin pages' login sessions ([`AdminSession`]) |
//! | `inbox.rs` | inbox mode's waiting events ([`InboxEntry`]) and per-object watermarks |

mod admin_sessions;
mod admin_users;
mod breaker;
mod cache;
mod database;
mod diagnose;
pub(crate) mod inbox;
mod keys;
mod models;
mod outcome;
pub(crate) mod queries;
pub mod schema;
#[cfg(feature = "postgres")]
mod unnest;

pub use admin_sessions::AdminSession;
pub use admin_users::{AdminUser, PasswordChange, check_username};
pub use cache::TTL as ENDPOINT_CACHE_TTL;
#[cfg(feature = "postgres")]
pub(crate) use database::POSTGRES_MIGRATIONS;
#[cfg(feature = "sqlite")]
pub(crate) use database::SQLITE_MIGRATIONS;
pub use database::{Backend, Database, DatabaseOptions, PooledConnection, SqliteSync};
pub(crate) use database::{classify, classify_error, refusal};
pub use inbox::{InboxEntry, InboxFilter, InboxStats};
pub use keys::AccountKey;
pub(crate) use models::NewTrigger;
pub use models::{
    NewWebhookEndpoint, PreviousSecret, Processing, StoredEvent, ValidationMethod, WebhookEndpoint, WebhookEventTrigger,
};
pub use outcome::{Outcome, UnknownOutcome};
pub use queries::{EndpointChanges, TriggerFilter};

mod multi {
    #![allow(missing_docs)]
    /// A connection to either backend, chosen at run time from `DATABASE_URL`. Code written
    /// against it (diesel's query builder, `sql_query` with portable SQL) stays backend-neutral;
    /// match on the variants for backend-specific SQL.
    ///
    /// ```no_run
    /// use diesel::prelude::*;
    /// # fn handler(ctx: &mut djstripe_core::HandlerContext) -> djstripe_core::HandlerResult {
    /// let conn: &mut djstripe_core::db::DbConnection = ctx.connection()?;
    /// diesel::sql_query("UPDATE accounts SET paid = TRUE").execute(conn)?;
    /// # Ok(()) }
    /// ```
    ///
    /// Each variant exists only with its cargo feature (`postgres`, `sqlite`): a `match` on it
    /// names the same `#[cfg(feature = ...)]` on its arms, or uses [`super::Database::backend`].
    #[derive(diesel::MultiConnection)]
    pub enum DbConnection {
        /// PostgreSQL (feature `postgres`).
        #[cfg(feature = "postgres")]
        Pg(diesel::PgConnection),
        /// SQLite (feature `sqlite`).
        #[cfg(feature = "sqlite")]
        Sqlite(diesel::SqliteConnection),
    }
}
pub use multi::DbConnection;
