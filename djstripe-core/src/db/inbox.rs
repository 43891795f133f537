//! The inbox's tables (`djstripe_inbox`, `djstripe_object_watermark`): what inbox mode stores
//! between a delivery's answer and its processing. The engine enqueues in the delivery's batch;
//! [`crate::inbox`]'s workers claim, process and settle rows here. Operators list and retry them.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::database::classify;
use super::schema::djstripe_inbox as ib;
use super::schema::djstripe_object_watermark as wm;
use super::{Database, DbConnection};
use crate::Error;
use crate::error::Resource;

/// `djstripe_inbox.state` of a row waiting, claimed or between retries.
pub const PENDING: &str = "pending";
/// `djstripe_inbox.state` of a row given up on (dead-lettered): kept until retried.
pub const DEAD: &str = "dead";

/// One `djstripe_inbox` row: a verified event waiting for (or given up by) the inbox's workers.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = djstripe_core::db::Database::connect(dir.path().join("i.sqlite3").to_str().unwrap()).unwrap();
/// # db.migrate().unwrap();
/// let waiting = db.inbox_entries(&Default::default(), 50).unwrap();
/// assert!(waiting.is_empty(), "a new database has an empty inbox");
/// ```
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = ib)]
pub struct InboxEntry {
    /// Stripe's event id (`evt_...`): one row per event.
    pub event_id: String,
    /// The trigger row of the delivery that queued it (outcome `queued` until processed).
    pub trigger_id: i64,
    /// Stripe's event type.
    pub event_type: String,
    /// The object the event is about (`data.object.id`; a v2 notification's
    /// `related_object.id`): events of one object are processed one at a time, oldest first.
    pub object_id: Option<String>,
    /// Stripe's `created` (UTC): the order among one object's events (ties by event id).
    pub event_created: NaiveDateTime,
    /// The verified event, JSON (as [`crate::Event`] serializes: lossless).
    pub event: String,
    /// [`PENDING`] or [`DEAD`].
    pub state: String,
    /// Failed processing attempts so far.
    pub attempts: i32,
    /// Not claimed before this (UTC): now for a new row, later after a failure (backoff).
    pub next_attempt: NaiveDateTime,
    /// The claiming worker's random token, while claimed.
    pub lease_token: Option<String>,
    /// The claim holds until this (UTC); after it another worker may take the row over.
    pub lease_until: Option<NaiveDateTime>,
    /// The last attempt's error (empty before the first failure).
    pub last_error: String,
    /// Enqueued (UTC).
    pub received: NaiveDateTime,
    /// Last changed (UTC).
    pub updated: NaiveDateTime,
}

impl InboxEntry {
    /// Whether it was given up on (dead-lettered).
    ///
    /// ```no_run
    /// # fn f(entry: djstripe_core::db::InboxEntry) {
    /// if entry.is_dead() { println!("{}: {}", entry.event_id, entry.last_error); }
    /// # }
    /// ```
    pub fn is_dead(&self) -> bool {
        self.state == DEAD
    }
}

/// Which inbox rows to list (see [`Database::inbox_entries`]).
///
/// ```
/// let dead = djstripe_core::db::InboxFilter { dead: Some(true), ..Default::default() };
/// assert!(dead.event_type.is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct InboxFilter {
    /// `Some(true)`: dead-lettered rows only; `Some(false)`: pending rows only; `None`: both.
    pub dead: Option<bool>,
    /// Events of this exact type only.
    pub event_type: Option<String>,
}

/// How many rows the inbox holds, and how old its oldest pending one is.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = djstripe_core::db::Database::connect(dir.path().join("s.sqlite3").to_str().unwrap()).unwrap();
/// # db.migrate().unwrap();
/// let stats = db.inbox_stats().unwrap();
/// assert_eq!((stats.pending, stats.dead), (0, 0));
/// assert!(stats.oldest_pending.is_none());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InboxStats {
    /// Rows waiting, claimed or between retries.
    pub pending: i64,
    /// Rows given up on.
    pub dead: i64,
    /// When the oldest pending row was enqueued (UTC).
    pub oldest_pending: Option<NaiveDateTime>,
}

impl Database {
    /// Inbox rows, oldest first, at most `limit`.
    ///
    /// # Errors
    /// [`Error::DatabaseUnavailable`].
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// use djstripe_core::db::InboxFilter;
    /// for entry in db.inbox_entries(&InboxFilter { dead: Some(true), ..Default::default() }, 20).unwrap() {
    ///     println!("{} {} after {} attempts: {}", entry.event_id, entry.event_type, entry.attempts, entry.last_error);
    /// }
    /// ```
    pub fn inbox_entries(&self, filter: &InboxFilter, limit: i64) -> Result<Vec<InboxEntry>, Error> {
        self.read(|c| {
            let mut query = ib::table.select(InboxEntry::as_select()).into_boxed();
            match filter.dead {
                Some(true) => query = query.filter(ib::state.eq(DEAD)),
                Some(false) => query = query.filter(ib::state.eq(PENDING)),
                None => {}
            }
            if let Some(event_type) = &filter.event_type {
                query = query.filter(ib::event_type.eq(event_type.clone()));
            }
            query.order((ib::received, ib::event_id)).limit(limit).load(c)
        })
    }

    /// One inbox row by event id.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the event is not in the inbox, [`Error::DatabaseUnavailable`].
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// println!("{:?}", db.inbox_entry("evt_1").unwrap().state);
    /// ```
    pub fn inbox_entry(&self, event_id: &str) -> Result<InboxEntry, Error> {
        let mut conn = self.get()?;
        ib::table
            .find(event_id)
            .select(InboxEntry::as_select())
            .first(&mut *conn)
            .optional()
            .map_err(classify)?
            .ok_or_else(|| Error::not_found(Resource::Event, event_id))
    }

    /// Counts of the inbox's rows (for the CLI, the admin and the metrics).
    ///
    /// # Errors
    /// [`Error::DatabaseUnavailable`].
    pub fn inbox_stats(&self) -> Result<InboxStats, Error> {
        let mut conn = self.get()?;
        let pending: i64 = ib::table.filter(ib::state.eq(PENDING)).count().get_result(&mut *conn).map_err(classify)?;
        let dead: i64 = ib::table.filter(ib::state.eq(DEAD)).count().get_result(&mut *conn).map_err(classify)?;
        let oldest_pending = ib::table
            .filter(ib::state.eq(PENDING))
            .select(diesel::dsl::min(ib::received))
            .first::<Option<NaiveDateTime>>(&mut *conn)
            .map_err(classify)?;
        Ok(InboxStats { pending, dead, oldest_pending })
    }

    /// Gives a dead-lettered event (or, with `None`, every dead-lettered event) another round of
    /// attempts: pending again, attempts reset, due now, its trigger `queued` again. Returns the
    /// event ids it revived. A pending event is left as it is.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an event id that is not in the inbox, [`Error::DatabaseUnavailable`].
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// let revived = db.retry_inbox(None).unwrap();
    /// println!("{} dead-lettered events queued again", revived.len());
    /// ```
    pub fn retry_inbox(&self, event_id: Option<&str>) -> Result<Vec<String>, Error> {
        use super::schema::djstripe_webhookeventtrigger as tr;
        if let Some(id) = event_id {
            self.inbox_entry(id)?;
        }
        let now = chrono::Utc::now().naive_utc();
        let _writer = self.writer_lock();
        let mut conn = self.get()?;
        conn.transaction(|c| {
            let mut dead = ib::table.filter(ib::state.eq(DEAD)).into_boxed();
            if let Some(id) = event_id {
                dead = dead.filter(ib::event_id.eq(id.to_owned()));
            }
            let rows: Vec<(String, i64)> = dead.select((ib::event_id, ib::trigger_id)).load(c)?;
            for (id, trigger) in &rows {
                diesel::update(ib::table.find(id))
                    .set((
                        ib::state.eq(PENDING),
                        ib::attempts.eq(0),
                        ib::next_attempt.eq(now),
                        ib::lease_token.eq(None::<String>),
                        ib::lease_until.eq(None::<NaiveDateTime>),
                        ib::updated.eq(now),
                    ))
                    .execute(c)?;
                diesel::update(tr::table.find(trigger))
                    .set((tr::outcome.eq(super::Outcome::Queued), tr::processed.eq(false), tr::updated.eq(now)))
                    .execute(c)?;
            }
            Ok(rows.into_iter().map(|(id, _)| id).collect())
        })
        .map_err(classify)
    }
}

// ------------------------------------------------------------------ the engine's and workers' side

/// Enqueues `rows` unless their event is already in the inbox or already processed
/// (`djstripe_event`); says for each row whether it was stored (`false`: a duplicate, also of an
/// earlier row of the same call). Runs in the delivery batch's transaction: the rows commit with
/// their trigger rows, or not at all.
pub(crate) fn enqueue(conn: &mut DbConnection, rows: &[InboxEntry]) -> Result<Vec<bool>, Error> {
    use super::schema::djstripe_event as ev;
    use std::collections::HashSet;
    let ids: Vec<&str> = rows.iter().map(|r| r.event_id.as_str()).collect();
    // Two statements per batch, whatever its size (on PostgreSQL each is a round trip).
    let processed: HashSet<String> =
        ev::table.filter(ev::id.eq_any(&ids)).select(ev::id).load(conn).map_err(classify)?.into_iter().collect();
    let mut seen = HashSet::new();
    let fresh: Vec<&InboxEntry> =
        rows.iter().filter(|r| !processed.contains(&r.event_id) && seen.insert(r.event_id.as_str())).collect();
    let inserted: HashSet<String> = if fresh.is_empty() {
        HashSet::new()
    } else {
        match conn {
            // One statement for the batch.
            #[cfg(feature = "postgres")]
            DbConnection::Pg(c) => diesel::insert_into(ib::table)
                .values(fresh)
                .on_conflict(ib::event_id)
                .do_nothing()
                .returning(ib::event_id)
                .get_results::<String>(c)
                .map_err(classify)?
                .into_iter()
                .collect(),
            // In process, a statement is cheap; diesel runs a batch row by row here anyway, and a
            // row `DO NOTHING` skipped would return no id.
            #[cfg(feature = "sqlite")]
            DbConnection::Sqlite(c) => {
                let mut inserted = HashSet::new();
                for row in fresh {
                    let insert = diesel::insert_into(ib::table).values(row).on_conflict(ib::event_id).do_nothing();
                    if insert.execute(c).map_err(classify)? == 1 {
                        inserted.insert(row.event_id.clone());
                    }
                }
                inserted
            }
        }
    };
    // A row counts as stored once: a second row of the same event in the call is a duplicate.
    let mut taken = HashSet::new();
    Ok(rows.iter().map(|r| inserted.contains(&r.event_id) && taken.insert(r.event_id.as_str())).collect())
}

/// Claims up to `limit` due rows for the token's worker until `lease_until`, oldest first, at
/// most one per object: a row is due when pending, past its `next_attempt`, not under another
/// worker's unexpired lease, and no older pending row of the same object exists (per-object
/// order; a dead-lettered one does not hold the object back). PostgreSQL skips rows another
/// worker's transaction has locked (`FOR UPDATE SKIP LOCKED`), so instances never wait on each
/// other; on SQLite the claim is one short write.
pub(crate) fn claim(
    conn: &mut DbConnection,
    token: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<InboxEntry>, Error> {
    use diesel::sql_types::{BigInt, Text, Timestamp};
    // The same statement on both backends but for its placeholders and the row lock.
    const DUE: &str = "SELECT i.event_id FROM djstripe_inbox i \
        WHERE i.state = 'pending' AND i.next_attempt <= {now} \
          AND (i.lease_until IS NULL OR i.lease_until < {now}) \
          AND NOT EXISTS (SELECT 1 FROM djstripe_inbox j \
              WHERE j.object_id = i.object_id AND j.state = 'pending' \
                AND (j.event_created, j.event_id) < (i.event_created, i.event_id)) \
        ORDER BY i.event_created, i.event_id LIMIT {limit}";
    let statement = |now: &str, limit: &str, token: &str, until: &str, lock: &str| {
        format!(
            "UPDATE djstripe_inbox SET lease_token = {token}, lease_until = {until}, updated = {now} \
             WHERE event_id IN ({}{lock}) RETURNING *",
            DUE.replace("{now}", now).replace("{limit}", limit)
        )
    };
    match conn {
        #[cfg(feature = "postgres")]
        DbConnection::Pg(c) => diesel::sql_query(statement("$1", "$2", "$3", "$4", " FOR UPDATE OF i SKIP LOCKED"))
            .bind::<Timestamp, _>(now)
            .bind::<BigInt, _>(limit)
            .bind::<Text, _>(token)
            .bind::<Timestamp, _>(lease_until)
            .load(c),
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => diesel::sql_query(statement("?1", "?2", "?3", "?4", ""))
            .bind::<Timestamp, _>(now)
            .bind::<BigInt, _>(limit)
            .bind::<Text, _>(token)
            .bind::<Timestamp, _>(lease_until)
            .load(c),
    }
    .map_err(classify)
}

/// Whether the token still holds the row; on PostgreSQL also locks it for the transaction, so
/// that no other worker claims it while its handlers run, even past the lease. (SQLite has one
/// writer at a time; its check is the settling statement's own `lease_token` condition.)
pub(crate) fn hold(conn: &mut DbConnection, event_id: &str, token: &str) -> Result<bool, Error> {
    match conn {
        #[cfg(feature = "postgres")]
        DbConnection::Pg(c) => ib::table
            .filter(ib::event_id.eq(event_id).and(ib::lease_token.eq(token)))
            .select(ib::event_id)
            .for_update()
            .first::<String>(c)
            .optional()
            .map(|row| row.is_some())
            .map_err(classify),
        // SQLite: one writer at a time; the settling statement checks the token.
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(_) => {
            let _ = (event_id, token);
            Ok(true)
        }
    }
}

/// Removes a processed event's row, if the token still holds it (`false`: the lease was lost,
/// and the caller rolls back).
pub(crate) fn settle_processed(conn: &mut DbConnection, event_id: &str, token: &str) -> Result<bool, Error> {
    diesel::delete(ib::table.filter(ib::event_id.eq(event_id).and(ib::lease_token.eq(token))))
        .execute(conn)
        .map(|n| n == 1)
        .map_err(classify)
}

/// What a failed attempt leaves in the row: counted, and either due again later or dead.
pub(crate) struct Failure<'a> {
    pub attempts: i32,
    pub dead: bool,
    pub next_attempt: NaiveDateTime,
    pub error: &'a str,
    pub now: NaiveDateTime,
}

/// Records a failed attempt and ends the claim, if the token still holds the row.
pub(crate) fn settle_failed(
    conn: &mut DbConnection,
    event_id: &str,
    token: &str,
    failure: &Failure<'_>,
) -> Result<bool, Error> {
    diesel::update(ib::table.filter(ib::event_id.eq(event_id).and(ib::lease_token.eq(token))))
        .set((
            ib::attempts.eq(failure.attempts),
            ib::state.eq(if failure.dead { DEAD } else { PENDING }),
            ib::next_attempt.eq(failure.next_attempt),
            ib::last_error.eq(failure.error),
            ib::lease_token.eq(None::<String>),
            ib::lease_until.eq(None::<NaiveDateTime>),
            ib::updated.eq(failure.now),
        ))
        .execute(conn)
        .map(|n| n == 1)
        .map_err(classify)
}

/// Ends the token's claims without an attempt (a worker stopping before it began them).
pub(crate) fn release(conn: &mut DbConnection, token: &str) -> Result<usize, Error> {
    diesel::update(ib::table.filter(ib::lease_token.eq(token)))
        .set((ib::lease_token.eq(None::<String>), ib::lease_until.eq(None::<NaiveDateTime>)))
        .execute(conn)
        .map_err(classify)
}

/// When the next pending row falls due (the earliest `next_attempt`), if any.
pub(crate) fn next_due(conn: &mut DbConnection) -> Result<Option<NaiveDateTime>, Error> {
    ib::table
        .filter(ib::state.eq(PENDING))
        .select(diesel::dsl::min(ib::next_attempt))
        .first::<Option<NaiveDateTime>>(conn)
        .map_err(classify)
}

/// The newest event processed for `object_id` through the inbox: `(created, event id)`.
pub(crate) fn watermark(conn: &mut DbConnection, object_id: &str) -> Result<Option<(NaiveDateTime, String)>, Error> {
    wm::table.find(object_id).select((wm::event_created, wm::event_id)).first(conn).optional().map_err(classify)
}

/// Raises `object_id`'s watermark to this event unless a newer one is recorded.
pub(crate) fn raise_watermark(
    conn: &mut DbConnection,
    object_id: &str,
    created: NaiveDateTime,
    event_id: &str,
    now: NaiveDateTime,
) -> Result<(), Error> {
    match watermark(conn, object_id)? {
        Some(newest) if newest >= (created, event_id.to_owned()) => Ok(()),
        Some(_) => diesel::update(wm::table.find(object_id))
            .set((wm::event_created.eq(created), wm::event_id.eq(event_id), wm::updated.eq(now)))
            .execute(conn)
            .map(drop)
            .map_err(classify),
        None => diesel::insert_into(wm::table)
            .values((
                wm::object_id.eq(object_id),
                wm::event_created.eq(created),
                wm::event_id.eq(event_id),
                wm::updated.eq(now),
            ))
            .execute(conn)
            .map(drop)
            .map_err(classify),
    }
}
