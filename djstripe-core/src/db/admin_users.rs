//! The admin pages' users (`djstripe_admin_user`): dj-stripe's admin logs in with Django's users,
//! made by `createsuperuser`; here the command line's `admin set-password` makes them. The table
//! holds the argon2 hash of each password (a PHC string, `$argon2id$...`), never the password:
//! `djstripe-admin` hashes and verifies, this module stores.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::Database;
use super::database::classify;
use super::schema::djstripe_admin_session as sessions;
use super::schema::djstripe_admin_user as au;
use crate::Error;
use crate::error::Resource;

/// A `djstripe_admin_user` row: who may log in to the admin pages.
///
/// ```no_run
/// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
/// for user in db.admin_users().unwrap() {
///     println!("{} (password changed {})", user.username, user.updated);
/// }
/// ```
#[derive(Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = au)]
pub struct AdminUser {
    /// Local primary key.
    pub id: i64,
    /// The login name (Django's rule: letters, digits and `@ . + - _`, at most 150).
    pub username: String,
    /// The argon2 hash of the password, a PHC string (`$argon2id$v=19$m=...`).
    #[serde(skip)]
    pub password_hash: String,
    /// Created (UTC).
    pub created: NaiveDateTime,
    /// Password last set (UTC).
    pub updated: NaiveDateTime,
}

impl std::fmt::Debug for AdminUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminUser")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("password_hash", &"…")
            .field("updated", &self.updated)
            .finish_non_exhaustive()
    }
}

/// What [`Database::set_admin_password`] did.
///
/// ```
/// use djstripe_core::db::PasswordChange;
/// assert_eq!(PasswordChange::Created.to_string(), "created");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordChange {
    /// A new user (Django's `createsuperuser`).
    Created,
    /// The password of an existing user (Django's `changepassword`).
    Changed,
}

impl std::fmt::Display for PasswordChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PasswordChange::Created => "created",
            PasswordChange::Changed => "changed",
        })
    }
}

/// The longest user name (Django's `username` column).
const MAX_USERNAME: usize = 150;

/// Checks a user name by Django's rule (ASCII letters, digits and `@ . + - _`): in particular
/// no `:`, which HTTP basic authentication uses to end the name.
///
/// ```
/// assert!(djstripe_core::db::check_username("ops@shop").is_ok());
/// assert!(djstripe_core::db::check_username("a:b").unwrap_err().to_string().starts_with("username:"));
/// ```
pub fn check_username(username: &str) -> Result<(), Error> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "@.+-_".contains(c);
    if username.is_empty() || username.chars().count() > MAX_USERNAME || !username.chars().all(allowed) {
        return Err(Error::input(
            "username",
            format!(
                "`{}` is not a user name: use 1 to {MAX_USERNAME} letters, digits and @ . + - _",
                username.escape_debug()
            ),
        ));
    }
    Ok(())
}

impl Database {
    /// Sets `username`'s password hash, creating the user if there is none: both
    /// `createsuperuser` and `changepassword` of Django. `password_hash` is an argon2 PHC string
    /// (`djstripe_admin::hash_password` makes one); the password itself never reaches the database.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a user name outside Django's rule or a hash that is no argon2
    /// PHC string; [`Error::DatabaseUnavailable`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = djstripe_core::db::Database::connect(dir.path().join("u.sqlite3").to_str().unwrap()).unwrap();
    /// # db.migrate().unwrap();
    /// use djstripe_core::db::PasswordChange;
    /// let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
    /// assert_eq!(db.set_admin_password("ops", hash).unwrap(), PasswordChange::Created);
    /// assert_eq!(db.set_admin_password("ops", hash).unwrap(), PasswordChange::Changed);
    /// assert_eq!(db.admin_user("ops").unwrap().unwrap().password_hash, hash);
    /// assert!(db.set_admin_password("ops", "hunter2").is_err(), "a password is not a hash");
    /// ```
    pub fn set_admin_password(&self, username: &str, password_hash: &str) -> Result<PasswordChange, Error> {
        check_username(username)?;
        if !password_hash.starts_with("$argon2") || password_hash.chars().any(char::is_whitespace) {
            return Err(Error::input(
                "password_hash",
                "expected an argon2 PHC string ($argon2id$...), as djstripe_admin::hash_password makes",
            ));
        }
        let now = chrono::Utc::now().naive_utc();
        let _writer = self.writer_lock();
        let mut conn = self.get()?;
        conn.transaction(|c| {
            let updated = diesel::update(au::table.filter(au::username.eq(username)))
                .set((au::password_hash.eq(password_hash), au::updated.eq(now)))
                .execute(c)?;
            if updated > 0 {
                // A new password ends the user's sessions on every instance.
                diesel::delete(sessions::table.filter(sessions::username.eq(username))).execute(c)?;
                return Ok(PasswordChange::Changed);
            }
            diesel::insert_into(au::table)
                .values((
                    au::username.eq(username),
                    au::password_hash.eq(password_hash),
                    au::created.eq(now),
                    au::updated.eq(now),
                ))
                .execute(c)?;
            Ok(PasswordChange::Created)
        })
        .map_err(classify)
    }

    /// The admin user named `username`, if there is one.
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// let user = db.admin_user("ops").unwrap();
    /// # let _ = user;
    /// ```
    pub fn admin_user(&self, username: &str) -> Result<Option<AdminUser>, Error> {
        let mut conn = self.get()?;
        au::table
            .filter(au::username.eq(username))
            .select(AdminUser::as_select())
            .first(&mut *conn)
            .optional()
            .map_err(classify)
    }

    /// Every admin user, by name.
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// println!("{} admin users", db.admin_users().unwrap().len());
    /// ```
    pub fn admin_users(&self) -> Result<Vec<AdminUser>, Error> {
        let mut conn = self.get()?;
        au::table.order(au::username).select(AdminUser::as_select()).load(&mut *conn).map_err(classify)
    }

    /// Removes the admin user `username` and ends their sessions.
    ///
    /// # Errors
    /// [`Error::NotFound`] when there is no such user.
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// db.delete_admin_user("ops").unwrap();
    /// ```
    pub fn delete_admin_user(&self, username: &str) -> Result<(), Error> {
        let _writer = self.writer_lock();
        let mut conn = self.get()?;
        let n = conn
            .transaction(|c| {
                diesel::delete(sessions::table.filter(sessions::username.eq(username))).execute(c)?;
                diesel::delete(au::table.filter(au::username.eq(username))).execute(c)
            })
            .map_err(classify)?;
        if n == 0 { Err(Error::not_found(Resource::AdminUser, username)) } else { Ok(()) }
    }
}
