//! The relay: publishes the outbox's rows to JetStream, each with its event id as the message
//! id, and deletes a row only once JetStream has acknowledged (stored) its message.
//!
//! A crash at any point loses nothing and duplicates nothing downstream:
//! - before the publish: the row is still there; the next pass publishes it;
//! - after JetStream stored the message, before the row's delete: the next pass publishes it
//!   again, with the same `Nats-Msg-Id`, and JetStream drops it as a duplicate (within
//!   [`crate::DUPLICATE_WINDOW`]) — its ack says `duplicate`, and the row is deleted then.
//!
//! So two relays at once (two app instances on one PostgreSQL) are harmless too: both may publish
//! a row, JetStream keeps one message.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage};
use djstripe_core::app::{Djstripe, Ready, ServeOptions, Server};
use djstripe_core::db::Database;
use futures_util::future::join_all;
use tokio::sync::Notify;

use crate::{Handoff, HandoffError, outbox};

/// Rows published per round trip: all sent, then all acks awaited.
const BATCH: i64 = 100;
/// How often the relay looks at the outbox without being woken: rows left by a crash, by a
/// failed pass, or committed while it was stopped.
const POLL: Duration = Duration::from_secs(1);
/// How long the last pass at shutdown may take.
const LAST_PASS: Duration = Duration::from_secs(5);

/// Woken by each committed event (the handler's `on_commit`), so that the relay publishes at
/// once instead of at its next poll.
static WAKE: Notify = Notify::const_new();

/// Wakes the relay (the handler's `on_commit` callback). A wake with nobody waiting is kept for
/// the next wait, so none is lost.
pub fn wake() {
    WAKE.notify_one();
}

/// What one [`publish_pending`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Relayed {
    /// Messages JetStream stored.
    pub stored: usize,
    /// Messages JetStream dropped as duplicates of one it already had (re-published rows).
    pub duplicates: usize,
}

/// Publishes every row of the outbox (oldest first, in batches), waits for JetStream's acks,
/// and deletes the rows it acknowledged — whether it stored the message or dropped it as a
/// duplicate. Returns once it went through the outbox (the rows committed meanwhile included).
///
/// The database calls block: run it on a thread of its own ([`RelayServer`] does), or where
/// blocking for a query is acceptable.
///
/// # Errors
/// [`HandoffError::Publish`] when JetStream does not acknowledge a message of a batch (that
/// batch's acknowledged rows are deleted, the others stay for the next pass, which starts after
/// [`POLL`]); [`HandoffError::Database`] and
/// [`HandoffError::Query`].
pub async fn publish_pending(
    db: &Database,
    js: &jetstream::Context,
    handoff: &Handoff,
) -> Result<Relayed, HandoffError> {
    let mut relayed = Relayed::default();
    // Each row once per pass, even one whose delete did not happen: the next pass retries it.
    let mut after = 0;
    loop {
        let rows = outbox::pending(&mut *db.get()?, after, BATCH)?;
        let Some(last) = rows.last() else {
            return Ok(relayed);
        };
        after = last.id;
        // All sent without waiting, then the acks awaited together (each with its own timeout):
        // one round trip per batch.
        let mut failed = None;
        let mut sent = Vec::with_capacity(rows.len());
        for row in &rows {
            let message = PublishMessage::build().message_id(&row.event_id).payload(row.payload.clone().into());
            match js.send_publish(handoff.subject(&row.event_type), message).await {
                Ok(ack) => sent.push((row, ack)),
                Err(source) => {
                    failed = failed.or_else(|| Some(HandoffError::Publish { event_id: row.event_id.clone(), source }))
                }
            }
        }
        let acks = join_all(sent.into_iter().map(|(row, ack)| async move { (row, ack.await) })).await;
        let mut acknowledged = Vec::with_capacity(acks.len());
        for (row, ack) in acks {
            match ack {
                Ok(ack) => {
                    if ack.duplicate {
                        relayed.duplicates += 1;
                    } else {
                        relayed.stored += 1;
                    }
                    acknowledged.push(row.event_id.clone());
                }
                Err(source) => {
                    failed = failed.or_else(|| Some(HandoffError::Publish { event_id: row.event_id.clone(), source }))
                }
            }
        }
        outbox::delete(&mut *db.get()?, &acknowledged)?;
        // NATS is down or refusing: no point in trying the rest of the outbox now.
        if let Some(error) = failed {
            return Err(error);
        }
    }
}

/// The relay until `stop` resolves: connects (retrying while NATS is down), makes sure the
/// stream exists, then runs [`publish_pending`] at each wake and every second; a failed pass is
/// logged and retried. At `stop`, one last pass (at most 5 s) publishes what was committed
/// meanwhile; what is left then waits in the outbox for the next start.
pub async fn run(db: Database, handoff: Handoff, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    let js = loop {
        let connected = async {
            let js = handoff.connect().await?;
            crate::stream::ensure(&js, &handoff).await?;
            Ok::<_, HandoffError>(js)
        };
        match connected.await {
            Ok(js) => break js,
            Err(error) => tracing::warn!(error = %report(&error), "relay: NATS not ready; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = &mut stop => return,
        }
    };
    tracing::info!(url = %handoff.nats_url, stream = %handoff.stream, "relay: publishing the outbox to JetStream");
    loop {
        pass(&db, &js, &handoff).await;
        tokio::select! {
            _ = WAKE.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = &mut stop => break,
        }
    }
    if tokio::time::timeout(LAST_PASS, pass(&db, &js, &handoff)).await.is_err() {
        tracing::warn!("relay: stopped with rows left in the outbox; they are published at the next start");
    }
}

/// One [`publish_pending`], logged.
async fn pass(db: &Database, js: &jetstream::Context, handoff: &Handoff) {
    match publish_pending(db, js, handoff).await {
        Ok(Relayed { stored: 0, duplicates: 0 }) => {}
        Ok(relayed) => tracing::info!(relayed.stored, relayed.duplicates, "relay: published"),
        Err(error) => tracing::warn!(error = %report(&error), "relay: pass failed; the rows stay for the next one"),
    }
}

/// An error with its sources, for the log.
fn report(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}

/// A web adapter's server with the relay beside it: `serve` starts the relay on a thread of its
/// own (with its own tokio runtime), serves, then stops the relay after a last pass.
///
/// ```no_run
/// use jetstream_handoff::{Handoff, RelayServer};
/// djstripe_cli::Cli::new("jetstream-handoff")
///     .migrations(jetstream_handoff::MIGRATIONS)
///     .server(RelayServer::new(djstripe_actix::Server::new(), Handoff::from_env()))
///     .run();
/// ```
#[derive(Debug, Clone)]
pub struct RelayServer<S> {
    server: S,
    handoff: Handoff,
}

impl<S> RelayServer<S> {
    /// `server` (e.g. `djstripe_actix::Server::new()`) with a relay to `handoff`.
    pub fn new(server: S, handoff: Handoff) -> Self {
        Self { server, handoff }
    }
}

impl<S: Server> Server for RelayServer<S> {
    fn serve(&self, djstripe: Djstripe, options: &ServeOptions, ready: Ready<'_>) -> djstripe_core::Result<()> {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let db = djstripe.engine().database().clone();
        let handoff = self.handoff.clone();
        let relay = std::thread::Builder::new()
            .name("handoff-relay".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
                match runtime {
                    Ok(runtime) => runtime.block_on(run(db, handoff, async { drop(stopped.await) })),
                    Err(error) => tracing::error!(%error, "relay: no runtime; events stay in the outbox"),
                }
            })
            .map_err(|source| djstripe_core::Error::Io { action: "starting the relay's thread".into(), source })?;
        let served = self.server.serve(djstripe, options, ready);
        let _ = stop.send(()); // Err: the relay has stopped already.
        let _ = relay.join();
        served
    }
}
