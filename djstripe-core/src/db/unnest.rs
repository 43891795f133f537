//! PostgreSQL batch inserts as one prepared statement: `INSERT … SELECT * FROM unnest($1, $2, …)`,
//! one array per column.
//!
//! A multi-row `VALUES` list is a new statement text for every batch size: diesel does not cache
//! it, so PostgreSQL parses and plans it on every execution (8% of all CPU in a PostgreSQL run of
//! the benchmark, profile in `BENCHMARKS.md`). With arrays the text is the same for 1 row or 64:
//! diesel keeps it as a named prepared statement and PostgreSQL plans it once per connection.
//! `unnest` yields the arrays in order, so rows are inserted, and ids assigned, in the order given.

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{Array, BigInt, Binary, Bool, HasSqlType, Integer, Nullable, Text, Timestamp};
use diesel::{PgConnection, QueryResult, RunQueryDsl};

use super::models::{NewTrigger, StoredEvent};

/// Writes the bind parameters of `unnest(…)`, comma-separated.
struct Binds<'p, 'b> {
    out: AstPass<'p, 'b, Pg>,
    first: bool,
}

impl<'p, 'b> Binds<'p, 'b> {
    fn new(mut out: AstPass<'p, 'b, Pg>, head: &str) -> Self {
        out.push_sql(head);
        out.push_sql(" SELECT * FROM unnest(");
        Self { out, first: true }
    }

    fn column<ST, T>(mut self, values: &'b Vec<T>) -> QueryResult<Self>
    where
        Pg: HasSqlType<ST>,
        T: ToSql<ST, Pg>,
        ST: 'static,
    {
        if !self.first {
            self.out.push_sql(", ");
        }
        self.first = false;
        self.out.push_bind_param::<Array<ST>, Vec<T>>(values)?;
        Ok(self)
    }

    fn finish(mut self, tail: &str) -> QueryResult<()> {
        self.out.push_sql(") ");
        self.out.push_sql(tail);
        Ok(())
    }
}

/// Implements what makes a fragment a cached, runnable query returning one column of `$st`.
macro_rules! prepared_query {
    ($name:ident, $st:ty) => {
        impl QueryId for $name<'_> {
            type QueryId = $name<'static>;
            const HAS_STATIC_QUERY_ID: bool = true;
        }
        impl Query for $name<'_> {
            type SqlType = $st;
        }
        impl RunQueryDsl<PgConnection> for $name<'_> {}
    };
}

/// New `djstripe_event` rows; inserting returns the ids of those that were not stored yet.
pub(crate) struct ClaimEvents<'a> {
    id: Vec<&'a str>,
    type_: Vec<&'a str>,
    api_version: Vec<Option<&'a str>>,
    created: Vec<NaiveDateTime>,
    livemode: Vec<bool>,
    data: Vec<&'a str>,
    account: Vec<Option<&'a str>>,
    request_id: Vec<Option<&'a str>>,
    idempotency_key: Vec<Option<&'a str>>,
    received: Vec<NaiveDateTime>,
    processed: Vec<NaiveDateTime>,
    times_processed: Vec<i32>,
    extra: Vec<Option<&'a str>>,
}

impl<'a> ClaimEvents<'a> {
    pub(crate) fn new(rows: &'a [StoredEvent]) -> Self {
        Self {
            id: rows.iter().map(|r| r.id.as_str()).collect(),
            type_: rows.iter().map(|r| r.type_.as_str()).collect(),
            api_version: rows.iter().map(|r| r.api_version.as_deref()).collect(),
            created: rows.iter().map(|r| r.created).collect(),
            livemode: rows.iter().map(|r| r.livemode).collect(),
            data: rows.iter().map(|r| r.data.as_str()).collect(),
            account: rows.iter().map(|r| r.account.as_deref()).collect(),
            request_id: rows.iter().map(|r| r.request_id.as_deref()).collect(),
            idempotency_key: rows.iter().map(|r| r.idempotency_key.as_deref()).collect(),
            received: rows.iter().map(|r| r.received).collect(),
            processed: rows.iter().map(|r| r.processed).collect(),
            times_processed: rows.iter().map(|r| r.times_processed).collect(),
            extra: rows.iter().map(|r| r.extra.as_deref()).collect(),
        }
    }
}

impl QueryFragment<Pg> for ClaimEvents<'_> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        Binds::new(
            out,
            "INSERT INTO djstripe_event (id, type, api_version, created, livemode, data, account, request_id, \
             idempotency_key, received, processed, times_processed, extra)",
        )
        .column::<Text, _>(&self.id)?
        .column::<Text, _>(&self.type_)?
        .column::<Nullable<Text>, _>(&self.api_version)?
        .column::<Timestamp, _>(&self.created)?
        .column::<Bool, _>(&self.livemode)?
        .column::<Text, _>(&self.data)?
        .column::<Nullable<Text>, _>(&self.account)?
        .column::<Nullable<Text>, _>(&self.request_id)?
        .column::<Nullable<Text>, _>(&self.idempotency_key)?
        .column::<Timestamp, _>(&self.received)?
        .column::<Timestamp, _>(&self.processed)?
        .column::<Integer, _>(&self.times_processed)?
        .column::<Nullable<Text>, _>(&self.extra)?
        .finish("ON CONFLICT DO NOTHING RETURNING id")
    }
}

prepared_query!(ClaimEvents, Text);

/// New `djstripe_webhookeventtrigger` rows; inserting returns their ids.
pub(crate) struct InsertTriggers<'a> {
    created: Vec<NaiveDateTime>,
    updated: Vec<NaiveDateTime>,
    remote_ip: Vec<&'a str>,
    headers: Vec<&'a str>,
    body: Vec<&'a [u8]>,
    body_truncated: Vec<bool>,
    valid: Vec<bool>,
    processed: Vec<bool>,
    outcome: Vec<&'a str>,
    exception: Vec<&'a str>,
    traceback: Vec<&'a str>,
    event_id: Vec<Option<&'a str>>,
    event_type: Vec<Option<&'a str>>,
    webhook_endpoint_id: Vec<Option<i64>>,
    account: Vec<Option<&'a str>>,
    reprocess_of: Vec<Option<i64>>,
    djstripe_version: Vec<&'a str>,
}

impl<'a> InsertTriggers<'a> {
    pub(crate) fn new(rows: &'a [NewTrigger<'a>]) -> Self {
        Self {
            created: rows.iter().map(|r| r.created).collect(),
            updated: rows.iter().map(|r| r.updated).collect(),
            remote_ip: rows.iter().map(|r| r.remote_ip).collect(),
            headers: rows.iter().map(|r| r.headers).collect(),
            body: rows.iter().map(|r| r.body).collect(),
            body_truncated: rows.iter().map(|r| r.body_truncated).collect(),
            valid: rows.iter().map(|r| r.valid).collect(),
            processed: rows.iter().map(|r| r.processed).collect(),
            outcome: rows.iter().map(|r| r.outcome.as_str()).collect(),
            exception: rows.iter().map(|r| r.exception).collect(),
            traceback: rows.iter().map(|r| r.traceback).collect(),
            event_id: rows.iter().map(|r| r.event_id).collect(),
            event_type: rows.iter().map(|r| r.event_type).collect(),
            webhook_endpoint_id: rows.iter().map(|r| r.webhook_endpoint_id).collect(),
            account: rows.iter().map(|r| r.account).collect(),
            reprocess_of: rows.iter().map(|r| r.reprocess_of).collect(),
            djstripe_version: rows.iter().map(|r| r.djstripe_version).collect(),
        }
    }
}

impl QueryFragment<Pg> for InsertTriggers<'_> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        Binds::new(
            out,
            "INSERT INTO djstripe_webhookeventtrigger (created, updated, remote_ip, headers, body, body_truncated, \
             valid, processed, outcome, exception, traceback, event_id, event_type, webhook_endpoint_id, account, \
             reprocess_of, djstripe_version)",
        )
        .column::<Timestamp, _>(&self.created)?
        .column::<Timestamp, _>(&self.updated)?
        .column::<Text, _>(&self.remote_ip)?
        .column::<Text, _>(&self.headers)?
        .column::<Binary, _>(&self.body)?
        .column::<Bool, _>(&self.body_truncated)?
        .column::<Bool, _>(&self.valid)?
        .column::<Bool, _>(&self.processed)?
        .column::<Text, _>(&self.outcome)?
        .column::<Text, _>(&self.exception)?
        .column::<Text, _>(&self.traceback)?
        .column::<Nullable<Text>, _>(&self.event_id)?
        .column::<Nullable<Text>, _>(&self.event_type)?
        .column::<Nullable<BigInt>, _>(&self.webhook_endpoint_id)?
        .column::<Nullable<Text>, _>(&self.account)?
        .column::<Nullable<BigInt>, _>(&self.reprocess_of)?
        .column::<Text, _>(&self.djstripe_version)?
        .finish("RETURNING id")
    }
}

prepared_query!(InsertTriggers, BigInt);

#[cfg(test)]
mod tests {
    use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};

    use super::{ClaimEvents, InsertTriggers};
    use crate::db::{Backend, NewTrigger, StoredEvent};
    use crate::testing::TestDatabase;

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }

    fn count(conn: &mut PgConnection, sql: &str) -> i64 {
        diesel::sql_query(sql).get_result::<Count>(conn).unwrap().n
    }

    fn trigger(event_id: Option<&str>) -> NewTrigger<'_> {
        let now = chrono::Utc::now().naive_utc();
        NewTrigger {
            created: now,
            updated: now,
            remote_ip: "127.0.0.1",
            headers: "{}",
            body: b"\x00\xffbody",
            body_truncated: false,
            valid: event_id.is_some(),
            processed: false,
            outcome: crate::db::Outcome::Invalid,
            exception: "",
            traceback: "",
            event_id,
            event_type: None,
            webhook_endpoint_id: None,
            account: None,
            reprocess_of: event_id.map(|_| 7),
            djstripe_version: "test",
        }
    }

    /// Batches of 1, 3 and 7 rows: right rows, right order, NULLs and bytes intact, duplicates
    /// skipped — and one prepared statement per table for every size.
    #[test]
    fn one_prepared_statement_for_every_batch_size() {
        let db = TestDatabase::new(Backend::Postgres);
        let mut conn = PgConnection::establish(db.url()).unwrap();
        let now = chrono::Utc::now().naive_utc();
        for size in [1, 3, 7] {
            let rows: Vec<StoredEvent> = (0..size)
                .map(|_| StoredEvent::from_event(&crate::testing::event("customer.created"), now).unwrap())
                .collect();
            let claimed: Vec<String> = ClaimEvents::new(&rows).load(&mut conn).unwrap();
            assert_eq!(claimed, rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>());
            let again: Vec<String> = ClaimEvents::new(&rows[..1]).load(&mut conn).unwrap();
            assert!(again.is_empty(), "a stored event is not claimed twice");

            let triggers: Vec<NewTrigger<'_>> =
                rows.iter().enumerate().map(|(i, r)| trigger((i % 2 == 0).then_some(r.id.as_str()))).collect();
            let mut ids: Vec<i64> = InsertTriggers::new(&triggers).load(&mut conn).unwrap();
            ids.sort_unstable();
            for (id, row) in ids.iter().zip(&triggers) {
                let sql = format!(
                    "SELECT count(*) AS n FROM djstripe_webhookeventtrigger WHERE id = {id} AND body = '\\x00ff626f6479' \
                     AND event_id IS NOT DISTINCT FROM {} AND reprocess_of IS NOT DISTINCT FROM {}",
                    row.event_id.map_or("NULL".into(), |e| format!("'{e}'")),
                    row.reprocess_of.map_or("NULL".into(), |r| r.to_string()),
                );
                assert_eq!(count(&mut conn, &sql), 1, "trigger {id} holds its row, in order");
            }
        }
        for table in ["djstripe_event", "djstripe_webhookeventtrigger"] {
            let prepared = format!(
                "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE 'INSERT INTO {table} %unnest%'"
            );
            assert_eq!(count(&mut conn, &prepared), 1, "{table}: one statement for every batch size");
        }
    }
}
