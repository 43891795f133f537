//! The database layer: SQLite's durability settings, migrations on both backends.
#![allow(missing_docs)]

mod support;

use diesel::prelude::*;
use djstripe_core::db::{Backend, Database, DatabaseOptions, DbConnection, SqliteSync};

#[derive(QueryableByName)]
struct Pragma {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

fn pragma(conn: &mut DbConnection, name: &str) -> String {
    let column = if name == "busy_timeout" { "timeout" } else { name };
    let rows: Vec<Pragma> =
        diesel::sql_query(format!("SELECT CAST({column} AS TEXT) AS value FROM pragma_{name}")).load(conn).unwrap();
    rows[0].value.clone()
}

#[test]
fn sqlite_is_wal_durable_and_waits_for_locks() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::connect(dir.path().join("p.sqlite3").to_str().unwrap()).unwrap();
    let mut conn = db.get().unwrap();
    assert_eq!(pragma(&mut conn, "journal_mode"), "wal");
    assert_eq!(pragma(&mut conn, "synchronous"), "2", "FULL by default");
    assert_eq!(pragma(&mut conn, "busy_timeout"), "10000");
    assert_eq!(pragma(&mut conn, "foreign_keys"), "1");
    #[derive(QueryableByName)]
    struct Autocheckpoint {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        wal_autocheckpoint: i32,
    }
    let pages = diesel::sql_query("PRAGMA wal_autocheckpoint").get_result::<Autocheckpoint>(&mut *conn).unwrap();
    assert_eq!(pages.wal_autocheckpoint, 4000, "writers checkpoint only past the safety net");
}

/// Committed pages reach the database file without any writer checkpointing: the database's
/// checkpoint thread copies the WAL back, and stops with the database.
#[test]
fn sqlite_wal_is_checkpointed_off_the_commit_path() {
    use diesel::connection::SimpleConnection;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.sqlite3");
    let db = Database::connect(path.to_str().unwrap()).unwrap();
    let file_size = || std::fs::metadata(&path).unwrap().len();
    let mut conn = db.get().unwrap();
    conn.batch_execute("CREATE TABLE blobs (b BLOB)").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let before = file_size();
    // About 2 MiB in one commit: far below the writers' own 4,000-page checkpoint.
    conn.batch_execute("INSERT INTO blobs SELECT randomblob(1024) FROM generate_series(1, 2000)")
        .or_else(|_| {
            conn.batch_execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
                 INSERT INTO blobs SELECT randomblob(1024) FROM n",
            )
        })
        .unwrap();
    assert!(file_size() < before + 1_000_000, "the commit itself did not checkpoint");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while file_size() < before + 2_000_000 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(file_size() >= before + 2_000_000, "the checkpoint thread copied the WAL: {} bytes", file_size());
}

#[test]
fn sqlite_normal_sync_is_an_explicit_choice() {
    let dir = tempfile::tempdir().unwrap();
    let options = DatabaseOptions { sqlite_sync: SqliteSync::Normal, ..Default::default() };
    let db = Database::connect_with(dir.path().join("n.sqlite3").to_str().unwrap(), options).unwrap();
    assert_eq!(pragma(&mut db.get().unwrap(), "synchronous"), "1");
}

fn migrations_apply_once(backend: Backend) {
    // `fresh` migrated already; a second run applies nothing.
    let db = support::fresh(backend, 4);
    assert_eq!(db.migrate().unwrap(), 0);
    assert_eq!(db.counts().unwrap(), (0, 0));
}

both_backends!(migrations_apply_once);

#[test]
fn concurrent_migrations_on_postgres_are_serialized() {
    // Several instances starting at once against a new database.
    let db = support::fresh(Backend::Postgres, 1);
    let url = db.url.clone();
    // Drop the schema so that every instance finds work to do.
    db.get().unwrap().batch_execute_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    let applied: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|_| s.spawn(|| Database::connect(&url).unwrap().migrate().unwrap())).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        applied.iter().filter(|n| **n > 0).count(),
        1,
        "exactly one instance applied the migrations: {applied:?}"
    );
    assert_eq!(Database::connect(&url).unwrap().counts().unwrap(), (0, 0));
}

trait BatchSql {
    fn batch_execute_sql(&mut self, sql: &str);
}

impl BatchSql for DbConnection {
    fn batch_execute_sql(&mut self, sql: &str) {
        use diesel::connection::SimpleConnection;
        self.batch_execute(sql).unwrap();
    }
}
