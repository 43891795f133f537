//! SQLite WAL checkpoints off the commit path.
//!
//! Left to itself, SQLite checkpoints inside the commit that grows the WAL past 1,000 pages: that
//! one writer copies the pages into the database file and fsyncs it while every delivery queued
//! behind it waits (8% of the server's CPU, all of it on the single writer thread, in the
//! profile of `BENCHMARKS.md`). Instead, a thread per [`super::Database`] runs a `PASSIVE`
//! checkpoint every [`INTERVAL`]: it never takes a lock a writer or reader waits for, and the
//! next writer restarts the WAL from its beginning once everything is copied. The connections
//! keep an automatic checkpoint at [`SAFETY_NET_PAGES`], in case this thread falls behind (a
//! long reader holding old pages, another process).

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::Duration;

use diesel::RunQueryDsl;
use diesel::sql_types::Integer;

/// How often the WAL is copied back into the database file.
pub(super) const INTERVAL: Duration = Duration::from_millis(200);

/// Writers still checkpoint themselves past this many WAL pages (16 MiB of 4 KiB pages).
pub(super) const SAFETY_NET_PAGES: u32 = 4000;

#[derive(diesel::QueryableByName, Debug)]
struct Checkpointed {
    #[diesel(sql_type = Integer)]
    busy: i32,
    #[diesel(sql_type = Integer)]
    log: i32,
    #[diesel(sql_type = Integer)]
    checkpointed: i32,
}

/// Keeps the checkpoint thread alive; it stops when the last clone of its database is dropped.
#[derive(Debug)]
pub(super) struct Checkpointer {
    _alive: Sender<()>,
}

impl Checkpointer {
    /// Starts the thread; `connect` opens its own connection (not one of the pool's), lazily and
    /// again after an error.
    pub(super) fn start<C>(connect: C) -> Self
    where
        C: Fn() -> Result<diesel::SqliteConnection, String> + Send + 'static,
    {
        let (alive, stopped) = channel();
        let spawned =
            std::thread::Builder::new().name("djstripe-checkpoint".into()).spawn(move || run(&stopped, connect));
        if let Err(error) = spawned {
            tracing::warn!(%error, "no checkpoint thread: SQLite's writers will checkpoint themselves");
        }
        Self { _alive: alive }
    }
}

fn run<C>(stopped: &Receiver<()>, connect: C)
where
    C: Fn() -> Result<diesel::SqliteConnection, String>,
{
    let mut conn = None;
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
        if conn.is_none() {
            conn = connect().map_err(|error| tracing::debug!(%error, "checkpoint connection")).ok();
        }
        let Some(c) = conn.as_mut() else { continue };
        match diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result::<Checkpointed>(c) {
            Ok(done) => tracing::trace!(busy = done.busy, log = done.log, copied = done.checkpointed, "checkpoint"),
            Err(error) => {
                tracing::debug!(%error, "checkpoint failed; reconnecting next time");
                conn = None;
            }
        }
    }
}
