//! The reads and writes that operators (CLI, admin) and the engine need.

use diesel::prelude::*;

use super::database::classify;
use super::models::{NewTrigger, NewWebhookEndpoint, StoredEvent, WebhookEndpoint, WebhookEventTrigger};
use super::schema::{djstripe_event as ev, djstripe_webhookendpoint as ep, djstripe_webhookeventtrigger as tr};
use super::{Database, DbConnection, Outcome};
use crate::Error;
use crate::error::Resource;

diesel::define_sql_function! {
    /// SQL's `substr(text, start, length)`: `length` characters from `start` (1-based), the same
    /// on SQLite and PostgreSQL.
    fn substr(text: diesel::sql_types::Text, start: diesel::sql_types::Integer, length: diesel::sql_types::Integer) -> diesel::sql_types::Text;
}

/// Which deliveries to list.
///
/// ```
/// let failed = djstripe_core::db::TriggerFilter { failed: true, ..Default::default() };
/// assert!(failed.valid.is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct TriggerFilter {
    /// Only valid (`Some(true)`) or invalid (`Some(false)`) deliveries.
    pub valid: Option<bool>,
    /// Only processed or unprocessed ones.
    pub processed: Option<bool>,
    /// Only valid deliveries whose processing failed.
    pub failed: bool,
    /// Only deliveries to this endpoint (local id).
    pub endpoint: Option<i64>,
    /// Only this event type.
    pub event_type: Option<String>,
}

/// Inserts trigger rows and returns their ids, in the order of `rows`.
///
/// On PostgreSQL in one prepared statement (see `unnest.rs`): there every statement is a round
/// trip, and the writer inserts the whole batch's audit rows at once. Ids come from one sequence,
/// assigned in the rows' order, so sorting what `RETURNING` gives back restores that order. On SQLite a statement costs
/// no round trip, and one cached single-row statement per row is cheaper than preparing a
/// multi-row one for every batch size (diesel does not cache those).
pub(crate) fn insert_triggers(conn: &mut DbConnection, rows: &[NewTrigger<'_>]) -> Result<Vec<i64>, Error> {
    match conn {
        _ if rows.is_empty() => Ok(Vec::new()),
        #[cfg(feature = "postgres")]
        DbConnection::Pg(c) => super::unnest::InsertTriggers::new(rows).load(c).map(|mut ids: Vec<i64>| {
            ids.sort_unstable();
            ids
        }),
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => {
            rows.iter().map(|row| diesel::insert_into(tr::table).values(row).returning(tr::id).get_result(c)).collect()
        }
    }
    .map_err(classify)
}

/// Inserts the events that are not stored yet and returns the ids of those it inserted: the
/// others are duplicates (stored before, or by a concurrent transaction this one waited for).
/// `rows` must not repeat an id. One statement on PostgreSQL, cached ones on SQLite (as above).
pub(crate) fn claim_events(conn: &mut DbConnection, rows: &[StoredEvent]) -> Result<Vec<String>, Error> {
    match conn {
        _ if rows.is_empty() => Ok(Vec::new()),
        #[cfg(feature = "postgres")]
        DbConnection::Pg(c) => super::unnest::ClaimEvents::new(rows).load(c),
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => {
            let mut inserted = Vec::with_capacity(rows.len());
            for row in rows {
                // `ON CONFLICT (id) DO NOTHING`, as on PostgreSQL: not `INSERT OR IGNORE`, which
                // would also skip a row that breaks a CHECK or NOT NULL constraint, silently, so
                // that an unstorable event would count as a duplicate.
                if diesel::insert_into(ev::table).values(row).on_conflict(ev::id).do_nothing().execute(c)? == 1 {
                    inserted.push(row.id.clone());
                }
            }
            Ok(inserted)
        }
    }
    .map_err(classify)
}

/// Inserts the event unless a row with its id exists (committed, or committed by a concurrent
/// transaction this one waited for). Returns whether it inserted: `false` means "duplicate".
pub(crate) fn insert_event_if_new(conn: &mut DbConnection, row: &StoredEvent) -> Result<bool, Error> {
    Ok(!claim_events(conn, std::slice::from_ref(row))?.is_empty())
}

/// Deletes an event row this transaction inserted, when its handlers failed: Stripe's retry
/// must find it unprocessed.
pub(crate) fn forget_event(conn: &mut DbConnection, event_id: &str) -> Result<(), Error> {
    diesel::delete(ev::table.find(event_id)).execute(conn).map_err(classify)?;
    Ok(())
}

/// Marks a stored event processed once more (a deliberate replay). `false` if it is not stored.
pub(crate) fn mark_replayed(
    conn: &mut DbConnection,
    event_id: &str,
    now: chrono::NaiveDateTime,
) -> Result<bool, Error> {
    let updated = diesel::update(ev::table.find(event_id))
        .set((ev::processed.eq(now), ev::times_processed.eq(ev::times_processed + 1)))
        .execute(conn)
        .map_err(classify)?;
    Ok(updated == 1)
}

/// Marks a failed trigger as superseded by a successful reprocessing attempt.
pub(crate) fn mark_reprocessed(conn: &mut DbConnection, id: i64) -> Result<(), Error> {
    diesel::update(tr::table.find(id))
        .set((tr::outcome.eq(Outcome::Reprocessed), tr::updated.eq(chrono::Utc::now().naive_utc())))
        .execute(conn)
        .map_err(classify)?;
    Ok(())
}

/// Sets the final state of a trigger.
pub(crate) fn finish_trigger(
    conn: &mut DbConnection,
    id: i64,
    outcome: Outcome,
    exception: &str,
    traceback: &str,
) -> Result<(), Error> {
    diesel::update(tr::table.find(id))
        .set((
            tr::processed.eq(outcome.is_processed()),
            tr::outcome.eq(outcome),
            tr::exception.eq(exception),
            tr::traceback.eq(traceback),
            tr::updated.eq(chrono::Utc::now().naive_utc()),
        ))
        .execute(conn)
        .map_err(classify)?;
    Ok(())
}

impl Database {
    /// Runs `f` with a pooled connection, mapping diesel's errors.
    pub(super) fn read<T>(&self, f: impl FnOnce(&mut DbConnection) -> QueryResult<T>) -> Result<T, Error> {
        let mut conn = self.get()?;
        f(&mut conn).map_err(classify)
    }

    /// Every endpoint, newest first.
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// println!("{} endpoints", db.endpoints().unwrap().len());
    /// ```
    pub fn endpoints(&self) -> Result<Vec<WebhookEndpoint>, Error> {
        self.read(|c| ep::table.order(ep::id.desc()).select(WebhookEndpoint::as_select()).load(c))
    }

    /// The endpoint whose URL holds `uuid`, if any.
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// let found = db.endpoint_by_uuid("6f1c1d0e-0000-4000-8000-000000000000").unwrap();
    /// # let _ = found;
    /// ```
    pub fn endpoint_by_uuid(&self, uuid: &str) -> Result<Option<WebhookEndpoint>, Error> {
        self.read(|c| {
            ep::table.filter(ep::djstripe_uuid.eq(uuid)).select(WebhookEndpoint::as_select()).first(c).optional()
        })
    }

    /// The endpoint whose URL holds `uuid`, served from a one-second cache (see `db/cache.rs`):
    /// what the delivery hot path uses.
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// let found = db.endpoint_by_uuid_cached("6f1c1d0e-0000-4000-8000-000000000000").unwrap();
    /// # let _ = found;
    /// ```
    pub fn endpoint_by_uuid_cached(&self, uuid: &str) -> Result<Option<WebhookEndpoint>, Error> {
        if let Some(hit) = self.endpoint_cache.get(uuid) {
            return Ok(hit);
        }
        let found = self.endpoint_by_uuid(uuid)?;
        self.endpoint_cache.put(uuid, found.clone());
        Ok(found)
    }

    /// Whether [`Database::endpoint_by_uuid_cached`] would answer without a query.
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// assert!(!db.endpoint_is_cached("not-looked-up-yet"));
    /// ```
    pub fn endpoint_is_cached(&self, uuid: &str) -> bool {
        self.endpoint_cache.contains(uuid)
    }

    /// Forgets cached endpoint lookups; every endpoint write calls it.
    pub(crate) fn invalidate_endpoints(&self) {
        self.endpoint_cache.clear();
    }

    /// Stores a new endpoint and returns it.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = djstripe_core::db::Database::connect(dir.path().join("e.sqlite3").to_str().unwrap()).unwrap();
    /// # db.migrate().unwrap();
    /// let endpoint = db.insert_endpoint(&djstripe_core::db::NewWebhookEndpoint::local("whsec_1")).unwrap();
    /// assert_eq!(endpoint.valid_secrets(0), vec!["whsec_1".to_string()]);
    /// ```
    pub fn insert_endpoint(&self, new: &NewWebhookEndpoint) -> Result<WebhookEndpoint, Error> {
        let _writer = self.writer_lock();
        let inserted = self.read(|c| {
            diesel::insert_into(ep::table).values(new).execute(c)?;
            ep::table.filter(ep::djstripe_uuid.eq(&new.djstripe_uuid)).select(WebhookEndpoint::as_select()).first(c)
        });
        self.invalidate_endpoints();
        inserted
    }

    /// Replaces the endpoint's secrets: `secret` becomes current, `previous` the still-valid old ones.
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// db.set_endpoint_secrets(1, "whsec_new", &[]).unwrap();
    /// ```
    pub fn set_endpoint_secrets(&self, id: i64, secret: &str, previous: &[super::PreviousSecret]) -> Result<(), Error> {
        let previous = serde_json::to_string(previous).expect("a list of (string, integer) pairs serializes");
        let _writer = self.writer_lock();
        let n = self.read(|c| {
            diesel::update(ep::table.find(id))
                .set((
                    ep::secret.eq(secret),
                    ep::previous_secrets.eq(previous),
                    ep::updated.eq(chrono::Utc::now().naive_utc()),
                ))
                .execute(c)
        })?;
        self.invalidate_endpoints();
        if n == 0 { Err(Error::not_found(Resource::WebhookEndpoint, id)) } else { Ok(()) }
    }

    /// Sets an endpoint's status (`enabled` / `disabled`).
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// db.set_endpoint_status(1, "disabled").unwrap();
    /// ```
    pub fn set_endpoint_status(&self, id: i64, status: &str) -> Result<(), Error> {
        let _writer = self.writer_lock();
        let n = self.read(|c| {
            diesel::update(ep::table.find(id))
                .set((ep::status.eq(status), ep::updated.eq(chrono::Utc::now().naive_utc())))
                .execute(c)
        })?;
        self.invalidate_endpoints();
        if n == 0 { Err(Error::not_found(Resource::WebhookEndpoint, id)) } else { Ok(()) }
    }

    /// Deletes an endpoint locally (its deliveries stay, unlinked).
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// db.delete_endpoint(1).unwrap();
    /// ```
    pub fn delete_endpoint(&self, id: i64) -> Result<(), Error> {
        let _writer = self.writer_lock();
        let n = self.read(|c| diesel::delete(ep::table.find(id)).execute(c))?;
        self.invalidate_endpoints();
        if n == 0 { Err(Error::not_found(Resource::WebhookEndpoint, id)) } else { Ok(()) }
    }

    /// The newest deliveries, at most `limit`.
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// for t in db.recent_triggers(10).unwrap() { println!("{} {}", t.id, t.outcome); }
    /// ```
    pub fn recent_triggers(&self, limit: i64) -> Result<Vec<WebhookEventTrigger>, Error> {
        self.triggers(&TriggerFilter::default(), 0, limit)
    }

    /// Deliveries matching `filter`, newest first, paginated.
    ///
    /// ```no_run
    /// # use djstripe_core::db::TriggerFilter;
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// let failed = db.triggers(&TriggerFilter { failed: true, ..Default::default() }, 0, 50).unwrap();
    /// # let _ = failed;
    /// ```
    pub fn triggers(&self, filter: &TriggerFilter, offset: i64, limit: i64) -> Result<Vec<WebhookEventTrigger>, Error> {
        self.read(|c| {
            let mut q = tr::table.into_boxed();
            if let Some(valid) = filter.valid {
                q = q.filter(tr::valid.eq(valid));
            }
            if let Some(processed) = filter.processed {
                q = q.filter(tr::processed.eq(processed));
            }
            if filter.failed {
                q = q
                    .filter(tr::valid.eq(true))
                    .filter(tr::processed.eq(false))
                    .filter(tr::outcome.eq(Outcome::Failed));
            }
            if let Some(endpoint) = filter.endpoint {
                q = q.filter(tr::webhook_endpoint_id.eq(endpoint));
            }
            if let Some(t) = &filter.event_type {
                q = q.filter(tr::event_type.eq(t.clone()));
            }
            q.order(tr::id.desc()).offset(offset).limit(limit).select(WebhookEventTrigger::as_select()).load(c)
        })
    }

    /// One delivery by id.
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// let t = db.trigger(1).unwrap();
    /// # let _ = t;
    /// ```
    pub fn trigger(&self, id: i64) -> Result<WebhookEventTrigger, Error> {
        self.read(|c| tr::table.find(id).select(WebhookEventTrigger::as_select()).first(c).optional())?
            .ok_or_else(|| Error::not_found(Resource::Trigger, id))
    }

    /// Stored events, newest first, optionally those whose type matches `pattern` by the handler
    /// registry's rule ([`crate::registry::pattern_matches`]): `*` (every event), an exact type
    /// (`invoice.paid`) or a prefix on dot boundaries (`customer` matches `customer.created` and
    /// `customer.subscription.updated`, not `customer_cash_balance_transaction.created`).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = djstripe_core::db::Database::connect(dir.path().join("e.sqlite3").to_str().unwrap()).unwrap();
    /// # db.migrate().unwrap();
    /// let invoices = db.events(Some("invoice"), 0, 20).unwrap();
    /// assert!(invoices.is_empty());
    /// ```
    pub fn events(&self, pattern: Option<&str>, offset: i64, limit: i64) -> Result<Vec<StoredEvent>, Error> {
        self.read(|c| {
            let mut q = ev::table.into_boxed();
            if let Some(p) = pattern.filter(|p| *p != "*") {
                // `type = p OR substr(type, 1, len(p) + 1) = 'p.'`: exact and case-sensitive on
                // both backends (SQLite's LIKE is not), and no wildcard to escape in `p`.
                let dotted = format!("{p}.");
                let length = i32::try_from(dotted.chars().count()).unwrap_or(i32::MAX);
                q = q.filter(ev::type_.eq(p.to_owned()).or(substr(ev::type_, 1, length).eq(dotted)));
            }
            q.order((ev::received.desc(), ev::id.desc()))
                .offset(offset)
                .limit(limit)
                .select(StoredEvent::as_select())
                .load(c)
        })
    }

    /// One stored event by Stripe id.
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// let e = db.event("evt_1").unwrap();
    /// # let _ = e;
    /// ```
    pub fn event(&self, id: &str) -> Result<StoredEvent, Error> {
        self.read(|c| ev::table.find(id).select(StoredEvent::as_select()).first(c).optional())?
            .ok_or_else(|| Error::not_found(Resource::Event, id))
    }

    /// Row counts `(triggers, events)`: for operators and the benchmark's correctness check.
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// let (triggers, events) = db.counts().unwrap();
    /// # let _ = (triggers, events);
    /// ```
    pub fn counts(&self) -> Result<(i64, i64), Error> {
        self.read(|c| Ok((tr::table.count().get_result(c)?, ev::table.count().get_result(c)?)))
    }
}

/// Fields of an endpoint to change; `None` leaves a field as it is (see [`Database::update_endpoint`]).
///
/// ```
/// let changes = djstripe_core::db::EndpointChanges { status: Some("disabled".into()), ..Default::default() };
/// assert!(changes.description.is_none());
/// ```
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = ep)]
pub struct EndpointChanges {
    /// See [`WebhookEndpoint::stripe_id`] (set when a pending creation completes).
    pub stripe_id: Option<Option<String>>,
    /// See [`WebhookEndpoint::url`].
    pub url: Option<String>,
    /// See [`WebhookEndpoint::enabled_events`] (a JSON list).
    pub enabled_events: Option<String>,
    /// See [`WebhookEndpoint::status`].
    pub status: Option<String>,
    /// See [`WebhookEndpoint::description`].
    pub description: Option<String>,
    /// See [`WebhookEndpoint::api_version`].
    pub api_version: Option<Option<String>>,
    /// See [`WebhookEndpoint::metadata`] (a JSON object).
    pub metadata: Option<String>,
    /// See [`WebhookEndpoint::fetch_thin_events`].
    pub fetch_thin_events: Option<bool>,
    /// See [`WebhookEndpoint::processing`] (`Some(None)`: follow `DJSTRIPE_WEBHOOK_PROCESSING`).
    pub processing: Option<Option<String>>,
}

impl Database {
    /// One endpoint by local id.
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// let endpoint = db.endpoint(1).unwrap();
    /// # let _ = endpoint;
    /// ```
    pub fn endpoint(&self, id: i64) -> Result<WebhookEndpoint, Error> {
        self.read(|c| ep::table.find(id).select(WebhookEndpoint::as_select()).first(c).optional())?
            .ok_or_else(|| Error::not_found(Resource::WebhookEndpoint, id))
    }

    /// The endpoint with Stripe id `stripe_id` (`we_...`), if any.
    ///
    /// ```no_run
    /// # let db = djstripe_core::db::Database::connect("app.sqlite3").unwrap();
    /// let found = db.endpoint_by_stripe_id("we_123").unwrap();
    /// # let _ = found;
    /// ```
    pub fn endpoint_by_stripe_id(&self, stripe_id: &str) -> Result<Option<WebhookEndpoint>, Error> {
        self.read(|c| {
            ep::table.filter(ep::stripe_id.eq(stripe_id)).select(WebhookEndpoint::as_select()).first(c).optional()
        })
    }

    /// Applies `changes` to an endpoint (and bumps `updated`); returns the new row.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = djstripe_core::db::Database::connect(dir.path().join("u.sqlite3").to_str().unwrap()).unwrap();
    /// # db.migrate().unwrap();
    /// use djstripe_core::db::{EndpointChanges, NewWebhookEndpoint};
    /// let endpoint = db.insert_endpoint(&NewWebhookEndpoint::local("whsec_1")).unwrap();
    /// let changes = EndpointChanges { description: Some("orders".into()), ..Default::default() };
    /// assert_eq!(db.update_endpoint(endpoint.id, &changes).unwrap().description, "orders");
    /// ```
    pub fn update_endpoint(&self, id: i64, changes: &EndpointChanges) -> Result<WebhookEndpoint, Error> {
        let _writer = self.writer_lock();
        let updated = self.read(|c| {
            diesel::update(ep::table.find(id))
                .set((changes, ep::updated.eq(chrono::Utc::now().naive_utc())))
                .execute(c)?;
            ep::table.find(id).select(WebhookEndpoint::as_select()).first(c).optional()
        });
        self.invalidate_endpoints();
        updated?.ok_or_else(|| Error::not_found(Resource::WebhookEndpoint, id))
    }
}

/// Retention: counting and deleting old rows in small batches (see `app/retention.rs`). Each
/// deletion is one short statement that removes at most `limit` rows, so that on SQLite the
/// writer lock it takes is held for milliseconds and deliveries never wait long behind it; on
/// PostgreSQL a small delete holds few row locks and a short transaction.
impl Database {
    /// How many triggers created before `cutoff` (UTC) have one of `outcomes`, per outcome (in
    /// [`Outcome::ALL`]'s order, outcomes with no row left out): what a dry run of
    /// `triggers prune` prints.
    ///
    /// ```
    /// # let db = djstripe_core::testing::TestDatabase::new(djstripe_core::db::Backend::Sqlite);
    /// use djstripe_core::db::Outcome;
    /// let now = chrono::Utc::now().naive_utc();
    /// assert!(db.count_triggers_before(now, &[Outcome::Processed]).unwrap().is_empty());
    /// ```
    pub fn count_triggers_before(
        &self,
        cutoff: chrono::NaiveDateTime,
        outcomes: &[Outcome],
    ) -> Result<Vec<(Outcome, i64)>, Error> {
        let counted: Vec<(Outcome, i64)> = self.read(|c| {
            tr::table
                .filter(tr::created.lt(cutoff))
                .filter(tr::outcome.eq_any(outcomes.to_vec()))
                .group_by(tr::outcome)
                .select((tr::outcome, diesel::dsl::count(tr::id)))
                .load(c)
        })?;
        Ok(Outcome::ALL
            .into_iter()
            .filter_map(|o| counted.iter().find(|(found, _)| *found == o).copied())
            .filter(|(_, n)| *n > 0)
            .collect())
    }

    /// Deletes at most `limit` triggers created before `cutoff` (UTC) that have one of
    /// `outcomes`; returns how many it deleted (fewer than `limit`: none are left). One
    /// statement, under the SQLite writer lock.
    ///
    /// ```
    /// # let db = djstripe_core::testing::TestDatabase::new(djstripe_core::db::Backend::Sqlite);
    /// use djstripe_core::db::Outcome;
    /// let month_ago = chrono::Utc::now().naive_utc() - chrono::Duration::days(30);
    /// assert_eq!(db.delete_triggers_before(month_ago, &[Outcome::Processed], 500).unwrap(), 0);
    /// ```
    pub fn delete_triggers_before(
        &self,
        cutoff: chrono::NaiveDateTime,
        outcomes: &[Outcome],
        limit: i64,
    ) -> Result<usize, Error> {
        let mut conn = self.get()?;
        let _writer = self.writer_lock();
        let old = tr::created.lt(cutoff).and(tr::outcome.eq_any(outcomes.to_vec()));
        // Two statements (diesel has no `DELETE ... WHERE id IN (SELECT ... FROM the same table
        // LIMIT n)`): the ids, then those rows, the conditions checked again in case a row
        // changed in between (a failed trigger reprocessed on PostgreSQL).
        let batch: Vec<i64> =
            tr::table.filter(old.clone()).select(tr::id).limit(limit).load(&mut *conn).map_err(classify)?;
        if batch.is_empty() {
            return Ok(0);
        }
        diesel::delete(tr::table.filter(tr::id.eq_any(batch)).filter(old)).execute(&mut *conn).map_err(classify)
    }

    /// How many events received before `cutoff` (UTC) no trigger refers to: those
    /// [`Database::delete_events_before`] would delete.
    ///
    /// ```
    /// # let db = djstripe_core::testing::TestDatabase::new(djstripe_core::db::Backend::Sqlite);
    /// assert_eq!(db.count_events_before(chrono::Utc::now().naive_utc()).unwrap(), 0);
    /// ```
    pub fn count_events_before(&self, cutoff: chrono::NaiveDateTime) -> Result<i64, Error> {
        self.read(|c| {
            ev::table
                .left_join(tr::table.on(tr::event_id.eq(ev::id.nullable())))
                .filter(tr::id.is_null())
                .filter(ev::received.lt(cutoff))
                .count()
                .get_result(c)
        })
    }

    /// Deletes at most `limit` events received before `cutoff` (UTC) that no trigger row refers
    /// to; returns how many. An event row is what makes a redelivery a duplicate, and a kept
    /// trigger may be reprocessed (a failed one whose event later succeeded would run its
    /// handlers a second time if the event row were gone): so an event goes only after every
    /// trigger of it. One statement, under the SQLite writer lock.
    ///
    /// ```
    /// # let db = djstripe_core::testing::TestDatabase::new(djstripe_core::db::Backend::Sqlite);
    /// let two_months_ago = chrono::Utc::now().naive_utc() - chrono::Duration::days(60);
    /// assert_eq!(db.delete_events_before(two_months_ago, 500).unwrap(), 0);
    /// ```
    pub fn delete_events_before(&self, cutoff: chrono::NaiveDateTime, limit: i64) -> Result<usize, Error> {
        let mut conn = self.get()?;
        let _writer = self.writer_lock();
        let batch: Vec<String> = ev::table
            .left_join(tr::table.on(tr::event_id.eq(ev::id.nullable())))
            .filter(tr::id.is_null())
            .filter(ev::received.lt(cutoff))
            .select(ev::id)
            .limit(limit)
            .load(&mut *conn)
            .map_err(classify)?;
        if batch.is_empty() {
            return Ok(0);
        }
        // Checked again: a redelivery may have recorded a trigger of one of them in between
        // (PostgreSQL; on SQLite the writer lock excludes it).
        let referenced = tr::table.filter(tr::event_id.eq_any(batch.clone())).select(tr::event_id);
        diesel::delete(ev::table.filter(ev::id.eq_any(batch)).filter(ev::id.nullable().ne_all(referenced)))
            .execute(&mut *conn)
            .map_err(classify)
    }
}
