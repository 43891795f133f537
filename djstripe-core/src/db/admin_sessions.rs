//! The admin pages' login sessions (`djstripe_admin_session`, Django's `django_session`): a
//! session is a row, so logout and a credential change end it on every instance that shares the
//! database. The cookie holds a random key; the row is found by the key's SHA-256, so the table
//! itself logs no one in. `djstripe-admin` draws the keys and checks the rows; this module stores.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Database;
use super::database::classify;
use super::schema::djstripe_admin_session as s;
use crate::Error;

/// A `djstripe_admin_session` row: one login of the admin pages.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = djstripe_core::db::Database::connect(dir.path().join("s.sqlite3").to_str().unwrap()).unwrap();
/// # db.migrate().unwrap();
/// use djstripe_core::db::AdminSession;
/// let now = chrono::Utc::now().naive_utc();
/// let session = AdminSession {
///     id: "9f86d081884c7d65...".into(), // SHA-256 of the cookie's key, never the key
///     source: "d".into(),
///     username: "ops".into(),
///     credential: "2c26b46b68ffc68f...".into(),
///     created: now,
///     expires: now + chrono::Duration::hours(12),
/// };
/// db.insert_admin_session(&session).unwrap();
/// assert_eq!(db.admin_session(&session.id).unwrap().unwrap().username, "ops");
/// db.delete_admin_session(&session.id).unwrap();
/// assert!(db.admin_session(&session.id).unwrap().is_none(), "logged out");
/// ```
#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = s)]
pub struct AdminSession {
    /// The SHA-256 (hex) of the session cookie's random key.
    pub id: String,
    /// Where the credential is kept (`djstripe-admin`'s letter: environment, database, token).
    pub source: String,
    /// Who logged in (empty for the token).
    pub username: String,
    /// A digest of the credential as it was at login: a session made with an old password or
    /// token no longer matches.
    pub credential: String,
    /// Logged in (UTC).
    pub created: NaiveDateTime,
    /// Ends (UTC).
    pub expires: NaiveDateTime,
}

/// Shows who and until when; the key's digest and the credential's are left out.
impl std::fmt::Debug for AdminSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminSession")
            .field("source", &self.source)
            .field("username", &self.username)
            .field("created", &self.created)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Stores a new session; expired ones are deleted on the way (the table stays small).
    ///
    /// # Errors
    /// [`Error::DatabaseUnavailable`], or a unique violation for an id already stored.
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// # let session: djstripe_core::db::AdminSession = unimplemented!();
    /// db.insert_admin_session(&session).unwrap();
    /// ```
    pub fn insert_admin_session(&self, session: &AdminSession) -> Result<(), Error> {
        let now = chrono::Utc::now().naive_utc();
        let _writer = self.writer_lock();
        let mut conn = self.get()?;
        conn.transaction(|c| {
            diesel::delete(s::table.filter(s::expires.le(now))).execute(c)?;
            diesel::insert_into(s::table).values(session).execute(c)?;
            Ok(())
        })
        .map_err(classify)
    }

    /// The session whose id is `id`, unless it has expired.
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// let session = db.admin_session("9f86d081884c7d65...").unwrap();
    /// # let _ = session;
    /// ```
    pub fn admin_session(&self, id: &str) -> Result<Option<AdminSession>, Error> {
        let now = chrono::Utc::now().naive_utc();
        let mut conn = self.get()?;
        s::table
            .filter(s::id.eq(id).and(s::expires.gt(now)))
            .select(AdminSession::as_select())
            .first(&mut *conn)
            .optional()
            .map_err(classify)
    }

    /// Ends one session (logout); ending one that is gone is no error.
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// db.delete_admin_session("9f86d081884c7d65...").unwrap();
    /// ```
    pub fn delete_admin_session(&self, id: &str) -> Result<(), Error> {
        let _writer = self.writer_lock();
        let mut conn = self.get()?;
        diesel::delete(s::table.filter(s::id.eq(id))).execute(&mut *conn).map_err(classify)?;
        Ok(())
    }

    /// Ends every session of `username` (a new password, a removed user); returns how many.
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// println!("{} sessions ended", db.delete_admin_sessions("ops").unwrap());
    /// ```
    pub fn delete_admin_sessions(&self, username: &str) -> Result<usize, Error> {
        let _writer = self.writer_lock();
        let mut conn = self.get()?;
        diesel::delete(s::table.filter(s::username.eq(username))).execute(&mut *conn).map_err(classify)
    }
}
