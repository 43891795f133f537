//! Connected accounts' own secret API keys (`djstripe_account_key`), per mode.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::Database;
use super::database::classify;
use super::schema::djstripe_account_key as ak;
use crate::Error;

/// A `djstripe_account_key` row: the key used for calls made for `account` in one mode.
///
/// ```no_run
/// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
/// for key in db.account_keys().unwrap() {
///     println!("{} live={} {}", key.account, key.livemode, key.redacted());
/// }
/// ```
#[derive(Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = ak)]
pub struct AccountKey {
    /// Local primary key.
    pub id: i64,
    /// The connected account, `acct_...`.
    pub account: String,
    /// Live or test mode.
    pub livemode: bool,
    /// The secret key (`sk_...` or restricted `rk_...`).
    #[serde(skip)]
    pub secret_key: String,
    /// Created (UTC).
    pub created: NaiveDateTime,
    /// Last replaced (UTC).
    pub updated: NaiveDateTime,
}

impl std::fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountKey")
            .field("account", &self.account)
            .field("livemode", &self.livemode)
            .field("secret_key", &self.redacted())
            .finish_non_exhaustive()
    }
}

impl AccountKey {
    /// The key with all but its prefix and last four characters hidden, for listings.
    ///
    /// ```
    /// let now = chrono::Utc::now().naive_utc();
    /// let key = djstripe_core::db::AccountKey { id: 1, account: "acct_1".into(), livemode: false,
    ///     secret_key: "sk_test_abcdefgh1234".into(), created: now, updated: now };
    /// assert_eq!(key.redacted(), "sk_test_…1234");
    /// ```
    pub fn redacted(&self) -> String {
        let prefix: String = self.secret_key.splitn(3, '_').take(2).map(|p| format!("{p}_")).collect();
        let tail: String = self.secret_key.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
        format!("{prefix}…{tail}")
    }
}

/// Checks that `key` is a secret or restricted key of the mode.
fn check_key(key: &str, livemode: bool) -> Result<(), Error> {
    let mode = if livemode { "live" } else { "test" };
    if key.starts_with(&format!("sk_{mode}_")) || key.starts_with(&format!("rk_{mode}_")) {
        Ok(())
    } else {
        Err(Error::input("key", format!("expected a {mode} key starting with sk_{mode}_ or rk_{mode}_")))
    }
}

impl Database {
    /// Stores (or replaces) `account`'s own key for a mode.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = djstripe_core::db::Database::connect(dir.path().join("k.sqlite3").to_str().unwrap()).unwrap();
    /// # db.migrate().unwrap();
    /// db.set_account_key("acct_1", false, "sk_test_acct1").unwrap();
    /// assert_eq!(db.account_key("acct_1", false).unwrap().as_deref(), Some("sk_test_acct1"));
    /// assert!(db.account_key("acct_1", true).unwrap().is_none());
    /// assert!(db.set_account_key("acct_1", true, "sk_test_x").is_err(), "a test key for live mode");
    /// ```
    pub fn set_account_key(&self, account: &str, livemode: bool, key: &str) -> Result<(), Error> {
        if !account.starts_with("acct_") {
            return Err(Error::input("account", format!("`{account}` is not a Stripe account id (acct_...)")));
        }
        check_key(key, livemode)?;
        let now = chrono::Utc::now().naive_utc();
        let _writer = self.writer_lock();
        let mut conn = self.get()?;
        conn.transaction(|c| {
            let updated = diesel::update(ak::table.filter(ak::account.eq(account)).filter(ak::livemode.eq(livemode)))
                .set((ak::secret_key.eq(key), ak::updated.eq(now)))
                .execute(c)?;
            if updated == 0 {
                diesel::insert_into(ak::table)
                    .values((
                        ak::account.eq(account),
                        ak::livemode.eq(livemode),
                        ak::secret_key.eq(key),
                        ak::created.eq(now),
                        ak::updated.eq(now),
                    ))
                    .execute(c)?;
            }
            Ok(())
        })
        .map_err(classify)
    }

    /// `account`'s own key for a mode, if one is stored.
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// let key = db.account_key("acct_1", true).unwrap();
    /// # let _ = key;
    /// ```
    pub fn account_key(&self, account: &str, livemode: bool) -> Result<Option<String>, Error> {
        let mut conn = self.get()?;
        ak::table
            .filter(ak::account.eq(account))
            .filter(ak::livemode.eq(livemode))
            .select(ak::secret_key)
            .first(&mut *conn)
            .optional()
            .map_err(classify)
    }

    /// Every stored account key, by account then mode.
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// println!("{} keys", db.account_keys().unwrap().len());
    /// ```
    pub fn account_keys(&self) -> Result<Vec<AccountKey>, Error> {
        let mut conn = self.get()?;
        ak::table.order((ak::account, ak::livemode)).select(AccountKey::as_select()).load(&mut *conn).map_err(classify)
    }

    /// Removes `account`'s key for a mode; its calls use the platform key with `Stripe-Account` again.
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// db.delete_account_key("acct_1", false).unwrap();
    /// ```
    pub fn delete_account_key(&self, account: &str, livemode: bool) -> Result<(), Error> {
        let _writer = self.writer_lock();
        let mut conn = self.get()?;
        let n = diesel::delete(ak::table.filter(ak::account.eq(account)).filter(ak::livemode.eq(livemode)))
            .execute(&mut *conn)
            .map_err(classify)?;
        if n == 0 {
            let mode = if livemode { "live" } else { "test" };
            Err(Error::not_found(crate::error::Resource::AccountKey, format_args!("{account} ({mode})")))
        } else {
            Ok(())
        }
    }
}
