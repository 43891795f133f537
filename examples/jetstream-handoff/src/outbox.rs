//! The outbox: the app's table of events not yet in JetStream, the handler that fills it in the
//! event's transaction, and the reads and deletes of the relay.

use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use djstripe_core::app::AppMigrations;
use djstripe_core::db::DbConnection;
use djstripe_core::{Event, HandlerContext, HandlerResult, webhook_handler};

diesel::table! {
    /// Events waiting for the relay: one row per event, deleted once JetStream stored it.
    handoff_outbox (id) {
        /// Insertion order: the relay publishes in this order.
        id -> BigInt,
        /// Stripe's event id (`evt_...`): unique, and the message's `Nats-Msg-Id`.
        event_id -> Text,
        /// The event type, for the subject (`stripe.events.customer.created`).
        #[sql_name = "type"]
        event_type -> Text,
        /// The event as JSON: the message's payload.
        payload -> Text,
    }
}

/// The app's schema (`handoff_outbox`): one migrations directory per backend, applied after
/// djstripe's by `migrate` and `serve` (and by `TestApp`).
pub static MIGRATIONS: AppMigrations = AppMigrations::per_backend(&SQLITE, &POSTGRES);
static SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
static POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Every event: into the outbox, in the event's transaction — committed with the event row, or
/// rolled back with it. Nothing talks to NATS here: a handler that published directly would
/// publish events whose transaction then rolls back, and lose those whose commit is followed by
/// a crash. `on_commit` only wakes the relay, which would otherwise find the row at its next
/// poll.
#[webhook_handler("*")]
pub fn hand_off(event: &Event, ctx: &mut HandlerContext) -> HandlerResult {
    insert(ctx.connection()?, event)?;
    ctx.on_commit(crate::relay::wake);
    Ok(())
}

/// One pending row, as the relay reads it.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = handoff_outbox)]
pub struct Pending {
    /// Insertion order.
    pub id: i64,
    /// The Stripe event id: the message id.
    pub event_id: String,
    /// The event type.
    pub event_type: String,
    /// The event as JSON.
    pub payload: String,
}

/// Writes `event` into the outbox through `conn` (inside the caller's transaction). An event
/// already waiting there (`events reprocess` before the relay ran) stays as it is.
///
/// # Errors
/// The database's, and [`diesel::result::Error::SerializationError`] if the event does not
/// serialize (it always does).
pub fn insert(conn: &mut DbConnection, event: &Event) -> QueryResult<()> {
    let payload = serde_json::to_string(event).map_err(|e| diesel::result::Error::SerializationError(e.into()))?;
    let insert = diesel::insert_into(handoff_outbox::table)
        .values((
            handoff_outbox::event_id.eq(&event.id),
            handoff_outbox::event_type.eq(event.event_type()),
            handoff_outbox::payload.eq(payload),
        ))
        .on_conflict(handoff_outbox::event_id)
        .do_nothing();
    // `ON CONFLICT` is each backend's own SQL for diesel (not in its portable subset): one arm each.
    match conn {
        DbConnection::Pg(conn) => insert.execute(conn)?,
        DbConnection::Sqlite(conn) => insert.execute(conn)?,
    };
    Ok(())
}

/// The oldest `limit` rows after the row `after` (0: from the first), in insertion order.
///
/// # Errors
/// The database's.
pub fn pending(conn: &mut DbConnection, after: i64, limit: i64) -> QueryResult<Vec<Pending>> {
    handoff_outbox::table
        .filter(handoff_outbox::id.gt(after))
        .order(handoff_outbox::id)
        .limit(limit)
        .select(Pending::as_select())
        .load(conn)
}

/// Deletes the rows of these events (JetStream stored them).
///
/// # Errors
/// The database's.
pub fn delete(conn: &mut DbConnection, event_ids: &[String]) -> QueryResult<usize> {
    diesel::delete(handoff_outbox::table.filter(handoff_outbox::event_id.eq_any(event_ids))).execute(conn)
}
