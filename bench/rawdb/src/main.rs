//! `djstripe-bench`: the benchmark suite's own database program (see `bench/run.sh`).
//!
//! - `limit --database-url URL --events N [--clients C]`: the one-transaction-per-event limit of
//!   the database: each event is one durable transaction writing an audit row (trigger), an event
//!   row and a handler row, with the same tables and row sizes as djstripe-rs. SQLite: WAL,
//!   `synchronous=FULL`, one writer. PostgreSQL: `synchronous_commit=on`, C clients (default 16).
//!   Prints `{"tx_per_s": ...}` and details as one JSON line.
//! - `count --database-url URL`: row counts for the suite's correctness check, as one JSON line.
//! - `fill --database-url URL --events N`: pre-fills N processed events (trigger + event + handler
//!   row each) in bulk, for the "flat in the number of stored events" check.
//! - `storage --database-url URL --events N`: bytes stored per delivery. N signed deliveries of
//!   Stripe's fixture events (every type of the catalog in turn) through the real engine
//!   (`Djstripe::start`, `Engine::receive`, no handlers), into a new database; prints the
//!   database's growth per delivery (SQLite: file + WAL after a checkpoint; PostgreSQL:
//!   `pg_total_relation_size` of the trigger and event tables), then the same after
//!   `triggers prune --older-than 0` (what retention frees for reuse), as one JSON line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use djstripe_core::db::schema::{djstripe_event, djstripe_webhookeventtrigger};
use djstripe_core::db::{Backend, Database, DatabaseOptions, DbConnection, SqliteSync};
use djstripe_core::testing::EventBuilder;
use serde_json::json;

// The example shop's handler table and schema, reused so the baseline writes what the shop writes.
use shop::shop_customer_event;

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const USAGE: &str = "usage: djstripe-bench (limit|count|fill|storage) --database-url URL [--events N] [--clients C] \
                     [--since-trigger ID]";

struct Args {
    command: String,
    url: String,
    events: u64,
    clients: Option<usize>,
    since_trigger: i64,
}

fn parse_args() -> Res<Args> {
    let mut it = std::env::args().skip(1);
    let command = it.next().ok_or(USAGE)?;
    let mut args = Args {
        command,
        url: std::env::var("DATABASE_URL").unwrap_or_default(),
        events: 20_000,
        clients: None,
        since_trigger: 0,
    };
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--database-url" => args.url = value,
            "--events" => args.events = value.parse()?,
            "--clients" => args.clients = Some(value.parse()?),
            "--since-trigger" => args.since_trigger = value.parse()?,
            _ => return Err(format!("unknown option {flag}\n{USAGE}").into()),
        }
    }
    if args.url.is_empty() {
        return Err(format!("no database: pass --database-url or set DATABASE_URL\n{USAGE}").into());
    }
    Ok(args)
}

fn main() -> std::process::ExitCode {
    let result = parse_args().and_then(|args| match args.command.as_str() {
        "limit" => limit(&args),
        "count" => count(&args),
        "fill" => fill(&args),
        "storage" => storage(&args),
        other => Err(format!("unknown command {other}\n{USAGE}").into()),
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("djstripe-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn open(url: &str, pool_size: u32) -> Res<Database> {
    let options = DatabaseOptions { pool_size, sqlite_sync: SqliteSync::Full, ..DatabaseOptions::default() };
    let db = Database::connect_with(url, options)?;
    db.migrate()?;
    shop::MIGRATIONS.run(&db)?;
    Ok(db)
}

/// One prepared event: what the engine would store for it.
struct Prepared {
    id: String,
    body: Vec<u8>,
    data: String,
}

const HEADERS: &str = r#"{"content-type":"application/json","host":"127.0.0.1","stripe-signature":"[redacted]","user-agent":"Stripe/1.0 (+https://stripe.com/docs/webhooks)"}"#;

/// The three inserts of one event, in one transaction, on either backend's connection.
macro_rules! one_event_tx {
    ($conn:expr, $txn:ident, $p:expr) => {{
        let p: &Prepared = $p;
        let now = chrono::Utc::now().naive_utc();
        $conn.$txn::<_, diesel::result::Error, _>(|c| {
            diesel::insert_into(djstripe_webhookeventtrigger::table)
                .values((
                    djstripe_webhookeventtrigger::created.eq(now),
                    djstripe_webhookeventtrigger::updated.eq(now),
                    djstripe_webhookeventtrigger::remote_ip.eq("127.0.0.1"),
                    djstripe_webhookeventtrigger::headers.eq(HEADERS),
                    djstripe_webhookeventtrigger::body.eq(&p.body),
                    djstripe_webhookeventtrigger::valid.eq(true),
                    djstripe_webhookeventtrigger::processed.eq(true),
                    djstripe_webhookeventtrigger::outcome.eq("processed"),
                    djstripe_webhookeventtrigger::event_id.eq(Some(&p.id)),
                    djstripe_webhookeventtrigger::event_type.eq(Some("customer.created")),
                    djstripe_webhookeventtrigger::djstripe_version.eq("0.1.0"),
                ))
                .execute(c)?;
            diesel::insert_into(djstripe_event::table)
                .values((
                    djstripe_event::id.eq(&p.id),
                    djstripe_event::type_.eq("customer.created"),
                    djstripe_event::api_version.eq(Some("2024-06-20")),
                    djstripe_event::created.eq(now),
                    djstripe_event::livemode.eq(false),
                    djstripe_event::data.eq(&p.data),
                    djstripe_event::received.eq(now),
                    djstripe_event::processed.eq(now),
                    djstripe_event::times_processed.eq(1),
                ))
                .execute(c)?;
            diesel::insert_into(shop_customer_event::table)
                .values((
                    shop_customer_event::event_id.eq(&p.id),
                    shop_customer_event::event_type.eq("customer.created"),
                    shop_customer_event::customer_id.eq("cus_bench"),
                ))
                .execute(c)?;
            Ok(())
        })
    }};
}

fn limit(args: &Args) -> Res<()> {
    let probe = Database::connect(&args.url)?;
    let backend = probe.backend();
    let clients = match backend {
        Backend::Sqlite => 1,
        Backend::Postgres => args.clients.unwrap_or(16).max(1),
    };
    let db = open(&args.url, clients as u32)?;
    // The payloads are built before the clock starts: only the database is measured.
    let events: Vec<Prepared> = (0..args.events)
        .map(|_| {
            let event = EventBuilder::new("customer.created");
            let built = event.build();
            let body = event.to_json();
            let data = serde_json::to_string(&built.data).unwrap_or_default();
            Prepared { id: built.id, body, data }
        })
        .collect();
    let mut conns = Vec::new();
    for _ in 0..clients {
        let mut conn = db.get()?;
        if let DbConnection::Pg(c) = &mut *conn {
            c.batch_execute("SET synchronous_commit = on")?;
        }
        conns.push(conn);
    }
    let next = AtomicU64::new(0);
    let started = Instant::now();
    let results: Vec<Res<u64>> = std::thread::scope(|s| {
        let handles: Vec<_> = conns
            .iter_mut()
            .map(|conn| {
                let (next, events) = (&next, &events);
                s.spawn(move || -> Res<u64> {
                    let mut done = 0;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                        let Some(p) = events.get(i) else { break };
                        match &mut **conn {
                            DbConnection::Sqlite(c) => one_event_tx!(c, immediate_transaction, p)?,
                            DbConnection::Pg(c) => one_event_tx!(c, transaction, p)?,
                        }
                        done += 1;
                    }
                    Ok(done)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("a client panicked".into()))).collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut done = 0;
    for r in results {
        done += r?;
    }
    let sync = match backend {
        Backend::Sqlite => "WAL, synchronous=FULL, 1 writer",
        Backend::Postgres => "synchronous_commit=on",
    };
    println!(
        "{}",
        json!({
            "backend": format!("{backend:?}").to_lowercase(), "events": done, "clients": clients,
            "durability": sync, "elapsed_s": elapsed, "tx_per_s": done as f64 / elapsed,
        })
    );
    Ok(())
}

#[derive(QueryableByName)]
struct OutcomeCount {
    #[diesel(sql_type = Text)]
    outcome: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Counts {
    #[diesel(sql_type = BigInt)]
    triggers: i64,
    #[diesel(sql_type = BigInt)]
    events: i64,
    #[diesel(sql_type = BigInt)]
    events_processed_more_than_once: i64,
    #[diesel(sql_type = BigInt)]
    shop_rows: i64,
    #[diesel(sql_type = BigInt)]
    shop_distinct_events: i64,
    #[diesel(sql_type = BigInt)]
    shop_rows_without_event: i64,
    #[diesel(sql_type = BigInt)]
    customer_events_without_shop_row: i64,
    #[diesel(sql_type = BigInt)]
    max_trigger_id: i64,
}

#[derive(QueryableByName)]
struct RunCounts {
    #[diesel(sql_type = BigInt)]
    run_triggers: i64,
    #[diesel(sql_type = BigInt)]
    run_event_ids: i64,
    #[diesel(sql_type = BigInt)]
    run_event_ids_not_stored: i64,
    #[diesel(sql_type = BigInt)]
    run_event_ids_only_failed: i64,
}

const COUNTS: &str = "SELECT \
    (SELECT count(*) FROM djstripe_webhookeventtrigger) AS triggers, \
    (SELECT count(*) FROM djstripe_event) AS events, \
    (SELECT count(*) FROM djstripe_event WHERE times_processed > 1) AS events_processed_more_than_once, \
    (SELECT count(*) FROM shop_customer_event) AS shop_rows, \
    (SELECT count(DISTINCT event_id) FROM shop_customer_event) AS shop_distinct_events, \
    (SELECT count(*) FROM shop_customer_event s WHERE NOT EXISTS \
        (SELECT 1 FROM djstripe_event e WHERE e.id = s.event_id)) AS shop_rows_without_event, \
    (SELECT count(*) FROM (SELECT id FROM djstripe_event WHERE type LIKE 'customer.%' \
        EXCEPT SELECT event_id FROM shop_customer_event) x) AS customer_events_without_shop_row, \
    (SELECT coalesce(max(id), 0) FROM djstripe_webhookeventtrigger) AS max_trigger_id";

/// The triggers of one run (ids above the previous maximum): deliveries, distinct events, events
/// not stored, and events whose every delivery failed (those must not be stored).
const RUN_COUNTS_SQLITE: &str = "WITH r AS (SELECT * FROM djstripe_webhookeventtrigger WHERE id > ?) SELECT \
    (SELECT count(*) FROM r) AS run_triggers, \
    (SELECT count(DISTINCT event_id) FROM r) AS run_event_ids, \
    (SELECT count(DISTINCT event_id) FROM r WHERE NOT EXISTS \
        (SELECT 1 FROM djstripe_event e WHERE e.id = r.event_id)) AS run_event_ids_not_stored, \
    (SELECT count(*) FROM (SELECT event_id FROM r GROUP BY event_id \
        HAVING sum(CASE WHEN outcome = 'failed' THEN 0 ELSE 1 END) = 0) x) AS run_event_ids_only_failed";

const RUN_OUTCOMES_SQLITE: &str =
    "SELECT outcome, count(*) AS n FROM djstripe_webhookeventtrigger WHERE id > ? GROUP BY outcome";

const OUTCOMES: &str = "SELECT outcome, count(*) AS n FROM djstripe_webhookeventtrigger GROUP BY outcome";

fn count(args: &Args) -> Res<()> {
    let db = open(&args.url, 1)?;
    let mut conn = db.get()?;
    let (counts, outcomes): (Counts, Vec<OutcomeCount>) = match &mut *conn {
        DbConnection::Sqlite(c) => (diesel::sql_query(COUNTS).get_result(c)?, diesel::sql_query(OUTCOMES).load(c)?),
        DbConnection::Pg(c) => (diesel::sql_query(COUNTS).get_result(c)?, diesel::sql_query(OUTCOMES).load(c)?),
    };
    let (run, run_outcomes): (RunCounts, Vec<OutcomeCount>) = match &mut *conn {
        DbConnection::Sqlite(c) => (
            diesel::sql_query(RUN_COUNTS_SQLITE).bind::<BigInt, _>(args.since_trigger).get_result(c)?,
            diesel::sql_query(RUN_OUTCOMES_SQLITE).bind::<BigInt, _>(args.since_trigger).load(c)?,
        ),
        DbConnection::Pg(c) => (
            diesel::sql_query(RUN_COUNTS_SQLITE.replace('?', "$1"))
                .bind::<BigInt, _>(args.since_trigger)
                .get_result(c)?,
            diesel::sql_query(RUN_OUTCOMES_SQLITE.replace('?', "$1")).bind::<BigInt, _>(args.since_trigger).load(c)?,
        ),
    };
    let to_map = |v: Vec<OutcomeCount>| -> serde_json::Map<String, serde_json::Value> {
        v.into_iter().map(|o| (o.outcome, json!(o.n))).collect()
    };
    let (outcomes, run_outcomes) = (to_map(outcomes), to_map(run_outcomes));
    println!(
        "{}",
        json!({
            "triggers": counts.triggers, "events": counts.events,
            "events_processed_more_than_once": counts.events_processed_more_than_once,
            "shop_rows": counts.shop_rows, "shop_distinct_events": counts.shop_distinct_events,
            "shop_rows_without_event": counts.shop_rows_without_event,
            "customer_events_without_shop_row": counts.customer_events_without_shop_row,
            "trigger_outcomes": outcomes, "max_trigger_id": counts.max_trigger_id,
            "since_trigger": args.since_trigger, "run_triggers": run.run_triggers,
            "run_event_ids": run.run_event_ids, "run_event_ids_not_stored": run.run_event_ids_not_stored,
            "run_event_ids_only_failed": run.run_event_ids_only_failed, "run_outcomes": run_outcomes,
        })
    );
    Ok(())
}

fn fill(args: &Args) -> Res<()> {
    let db = open(&args.url, 1)?;
    let mut conn = db.get()?;
    let template = EventBuilder::new("customer.created");
    let body = String::from_utf8(template.to_json())?;
    let data = serde_json::to_string(&template.build().data)?;
    let started = Instant::now();
    // Random-looking ids (as Stripe's are), so the primary-key and event_id indexes grow as in
    // production rather than append-only. Chunks of 100,000 keep each transaction bounded.
    let chunk = 100_000u64;
    let mut left = args.events;
    while left > 0 {
        let n = left.min(chunk) as i64;
        match &mut *conn {
            DbConnection::Sqlite(c) => c.immediate_transaction::<_, diesel::result::Error, _>(|c| {
                c.batch_execute("CREATE TEMP TABLE IF NOT EXISTS fill_ids (id TEXT PRIMARY KEY); DELETE FROM fill_ids;")?;
                diesel::sql_query(
                    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?) \
                     INSERT INTO fill_ids SELECT 'evt_fill_' || lower(hex(randomblob(16))) FROM n",
                )
                .bind::<BigInt, _>(n)
                .execute(c)?;
                diesel::sql_query(
                    "INSERT INTO djstripe_webhookeventtrigger (created, updated, remote_ip, headers, body, valid, \
                     processed, outcome, event_id, event_type, djstripe_version) SELECT datetime('now'), \
                     datetime('now'), '127.0.0.1', ?, CAST(? AS BLOB), 1, 1, 'processed', id, 'customer.created', \
                     '0.1.0' FROM fill_ids",
                )
                .bind::<Text, _>(HEADERS)
                .bind::<Text, _>(&body)
                .execute(c)?;
                diesel::sql_query(
                    "INSERT INTO djstripe_event (id, type, api_version, created, livemode, data, received, processed, \
                     times_processed) SELECT id, 'customer.created', '2024-06-20', datetime('now'), 0, ?, \
                     datetime('now'), datetime('now'), 1 FROM fill_ids",
                )
                .bind::<Text, _>(&data)
                .execute(c)?;
                diesel::sql_query(
                    "INSERT INTO shop_customer_event (event_id, type, customer_id) \
                     SELECT id, 'customer.created', 'cus_fill' FROM fill_ids",
                )
                .execute(c)?;
                Ok(())
            })?,
            DbConnection::Pg(c) => c.transaction::<_, diesel::result::Error, _>(|c| {
                c.batch_execute("CREATE TEMP TABLE IF NOT EXISTS fill_ids (id TEXT PRIMARY KEY); TRUNCATE fill_ids;")?;
                diesel::sql_query(
                    "INSERT INTO fill_ids SELECT 'evt_fill_' || md5(random()::text || g::text) \
                     FROM generate_series(1, $1) g",
                )
                .bind::<BigInt, _>(n)
                .execute(c)?;
                diesel::sql_query(
                    "INSERT INTO djstripe_webhookeventtrigger (created, updated, remote_ip, headers, body, valid, \
                     processed, outcome, event_id, event_type, djstripe_version) SELECT now(), now(), '127.0.0.1', \
                     $1, convert_to($2, 'UTF8'), true, true, 'processed', id, 'customer.created', '0.1.0' FROM fill_ids",
                )
                .bind::<Text, _>(HEADERS)
                .bind::<Text, _>(&body)
                .execute(c)?;
                diesel::sql_query(
                    "INSERT INTO djstripe_event (id, type, api_version, created, livemode, data, received, processed, \
                     times_processed) SELECT id, 'customer.created', '2024-06-20', now(), false, $1, now(), now(), 1 \
                     FROM fill_ids",
                )
                .bind::<Text, _>(&data)
                .execute(c)?;
                diesel::sql_query(
                    "INSERT INTO shop_customer_event (event_id, type, customer_id) \
                     SELECT id, 'customer.created', 'cus_fill' FROM fill_ids",
                )
                .execute(c)?;
                Ok(())
            })?,
        }
        left -= n as u64;
    }
    if let DbConnection::Pg(c) = &mut *conn {
        c.batch_execute("ANALYZE")?;
    }
    println!("{}", json!({ "filled": args.events, "elapsed_s": started.elapsed().as_secs_f64() }));
    Ok(())
}

/// Sizes in bytes: `(sqlite file + WAL, trigger table, event table)`; on SQLite the tables'
/// sizes come from `dbstat`, on PostgreSQL `pg_total_relation_size` (heap, TOAST, indexes).
fn sizes(db: &Database, url: &str) -> Res<(i64, i64, i64)> {
    #[derive(QueryableByName)]
    struct Size {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut conn = db.get()?;
    let one = |conn: &mut DbConnection, sql: &str| -> Res<i64> {
        Ok(diesel::sql_query(sql).load::<Size>(conn)?.first().map_or(0, |s| s.n))
    };
    match db.backend() {
        Backend::Sqlite => {
            conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)")?;
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            let file = |p: String| std::fs::metadata(p).map_or(0, |m| m.len() as i64);
            let total = file(path.to_owned()) + file(format!("{path}-wal"));
            let table = |conn: &mut DbConnection, t: &str| {
                one(
                    conn,
                    &format!(
                        "SELECT CAST(COALESCE(SUM(pgsize), 0) AS BIGINT) AS n FROM dbstat WHERE name = '{t}' OR name IN \
                         (SELECT name FROM sqlite_master WHERE tbl_name = '{t}' AND type = 'index')"
                    ),
                )
            };
            Ok((total, table(&mut conn, "djstripe_webhookeventtrigger")?, table(&mut conn, "djstripe_event")?))
        }
        Backend::Postgres => {
            let table = |conn: &mut DbConnection, t: &str| {
                one(conn, &format!("SELECT pg_total_relation_size('{t}')::BIGINT AS n"))
            };
            let (t, e) = (table(&mut conn, "djstripe_webhookeventtrigger")?, table(&mut conn, "djstripe_event")?);
            Ok((t + e, t, e))
        }
    }
}

fn storage(args: &Args) -> Res<()> {
    use djstripe_core::app::{Djstripe, PruneRequest, Settings};
    use djstripe_core::engine::{Delivery, Target};
    use djstripe_core::registry::HandlerSet;
    let mut settings = Settings::new(&args.url).handlers(HandlerSet::none());
    settings.database.sqlite_sync = SqliteSync::Normal; // the size is the same; the run is shorter
    let djstripe = Djstripe::start(settings)?;
    let db = djstripe.engine().database().clone();
    let secret = "whsec_bench_storage";
    let endpoint = db.insert_endpoint(&djstripe_core::db::NewWebhookEndpoint::local(secret))?;
    let before = sizes(&db, &args.url)?;
    let types = djstripe_core::testing::event_types();
    let (mut body_bytes, started) = (0u64, Instant::now());
    for i in 0..args.events {
        let event = EventBuilder::new(types[i as usize % types.len()]);
        let signed = event.signed(secret);
        body_bytes += signed.body.len() as u64;
        let receipt = djstripe.engine().receive(&Delivery {
            target: Target::Endpoint(&endpoint.djstripe_uuid),
            body: &signed.body,
            signature: Some(signed.header.as_bytes()),
            headers: HEADERS.into(),
            remote_ip: "127.0.0.1".into(),
        })?;
        if !receipt.is_success() {
            return Err(format!("delivery {i} was {}: {:?}", receipt.outcome, receipt.error).into());
        }
    }
    let after = sizes(&db, &args.url)?;
    let pruned = djstripe.prune(&PruneRequest::older_than_days(0))?;
    let after_prune = sizes(&db, &args.url)?;
    // What the deletes freed for reuse: SQLite's free pages (the file keeps its size until a
    // VACUUM); PostgreSQL's trigger table after a plain VACUUM (what autovacuum does later).
    let freed = match &mut *db.get()? {
        DbConnection::Sqlite(c) => {
            #[derive(QueryableByName)]
            struct Free {
                #[diesel(sql_type = BigInt)]
                n: i64,
            }
            let sql = "SELECT CAST(f.freelist_count * p.page_size AS BIGINT) AS n FROM pragma_freelist_count f, pragma_page_size p";
            diesel::sql_query(sql).load::<Free>(c)?.first().map_or(0, |f| f.n)
        }
        DbConnection::Pg(c) => {
            c.batch_execute("VACUUM djstripe_webhookeventtrigger")?;
            after.1 - sizes(&db, &args.url)?.1
        }
    };
    let n = args.events.max(1) as f64;
    let per = |a: i64, b: i64| ((a - b) as f64 / n).round();
    println!(
        "{}",
        json!({
            "backend": format!("{:?}", db.backend()),
            "deliveries": args.events,
            "event_types": types.len(),
            "body_bytes_per_delivery": (body_bytes as f64 / n).round(),
            "total_bytes_per_delivery": per(after.0, before.0),
            "trigger_table_bytes_per_delivery": per(after.1, before.1),
            "event_table_bytes_per_delivery": per(after.2, before.2),
            "pruned_triggers": pruned.triggers_total(),
            "trigger_table_bytes_per_delivery_after_prune": per(after_prune.1, before.1),
            "total_bytes_per_delivery_after_prune": per(after_prune.0, before.0),
            "freed_bytes_per_delivery_after_prune": (freed as f64 / n).round(),
            "elapsed_s": started.elapsed().as_secs_f64(),
        })
    );
    Ok(())
}
