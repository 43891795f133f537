//! The database layer: SQLite's durability settings, migrations on both backends.
#![allow(missing_docs)]

mod support;

use djstripe_core::db::{Backend, Database};
use djstripe_core::testing::TestDatabase;

/// A SQLite pragma's value, as text.
#[cfg(feature = "sqlite")]
fn pragma(conn: &mut djstripe_core::db::DbConnection, name: &str) -> String {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Pragma {
        #[diesel(sql_type = diesel::sql_types::Text)]
        value: String,
    }
    let column = if name == "busy_timeout" { "timeout" } else { name };
    let rows: Vec<Pragma> =
        diesel::sql_query(format!("SELECT CAST({column} AS TEXT) AS value FROM pragma_{name}")).load(conn).unwrap();
    rows[0].value.clone()
}

#[cfg(feature = "sqlite")]
#[test]
fn sqlite_is_wal_durable_and_waits_for_locks() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::connect(dir.path().join("p.sqlite3").to_str().unwrap()).unwrap();
    let mut conn = db.get().unwrap();
    assert_eq!(pragma(&mut conn, "journal_mode"), "wal");
    assert_eq!(pragma(&mut conn, "synchronous"), "2", "FULL by default");
    assert_eq!(pragma(&mut conn, "busy_timeout"), "10000");
    assert_eq!(pragma(&mut conn, "foreign_keys"), "1");
}

#[cfg(feature = "sqlite")]
#[test]
fn sqlite_normal_sync_is_an_explicit_choice() {
    let dir = tempfile::tempdir().unwrap();
    let options =
        djstripe_core::db::DatabaseOptions { sqlite_sync: djstripe_core::db::SqliteSync::Normal, ..Default::default() };
    let db = Database::connect_with(dir.path().join("n.sqlite3").to_str().unwrap(), options).unwrap();
    assert_eq!(pragma(&mut db.get().unwrap(), "synchronous"), "1");
}

fn migrations_apply_once(backend: Backend) {
    // The test database is migrated already; a second run applies nothing.
    let db = TestDatabase::builder(backend).pool_size(4).build();
    assert_eq!(db.migrate().unwrap(), 0);
    assert_eq!(db.counts().unwrap(), (0, 0));
}

both_backends!(migrations_apply_once);

#[cfg(feature = "postgres")]
#[test]
fn concurrent_migrations_on_postgres_are_serialized() {
    // Several instances starting at once against a new database.
    let db = TestDatabase::builder(Backend::Postgres).pool_size(1).build();
    let url = db.url().to_owned();
    // Drop the schema so that every instance finds work to do.
    db.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
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
