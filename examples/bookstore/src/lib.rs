//! A bookstore that sells through Stripe Checkout: a user's own actix-web app taking djstripe-rs
//! in. When Stripe says a checkout session completed, the order is marked paid in the store's own
//! table — in the event's transaction, so a failure rolls both back and Stripe retries — and the
//! receipt is mailed only once that transaction has committed.

use std::sync::Mutex;

use actix_web::{HttpResponse, web};
use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use djstripe_core::app::AppMigrations;
use djstripe_core::{Event, HandlerContext, HandlerResult, webhook_handler};

diesel::table! {
    /// Orders Stripe has confirmed as paid.
    paid_order (order_id) {
        /// The store's order id (`client_reference_id` of the Checkout Session).
        order_id -> Text,
        /// The Stripe event that confirmed it.
        event_id -> Text,
        /// The amount paid, in the currency's smallest unit.
        amount_total -> BigInt,
    }
}

/// The store's tables: one migrations directory per backend, applied after djstripe's.
pub static MIGRATIONS: AppMigrations = AppMigrations::per_backend(&SQLITE, &POSTGRES);
static SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
static POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// What can go wrong in the store's handlers.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The session carries no `client_reference_id`: the store cannot tell which order it pays.
    #[error("checkout session {0} has no client_reference_id")]
    NoOrder(String),
}

/// Receipts "sent" (a real store would hand them to its mailer).
pub static SENT_RECEIPTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// A Checkout Session completed: mark its order paid, then mail the receipt after the commit.
#[webhook_handler("checkout.session.completed")]
pub fn mark_order_paid(event: &Event, ctx: &mut HandlerContext) -> HandlerResult {
    let session = &event.data.object;
    let session_id = event.object_id().unwrap_or("?").to_owned();
    let order_id =
        session["client_reference_id"].as_str().ok_or_else(|| StoreError::NoOrder(session_id.clone()))?.to_owned();
    diesel::insert_into(paid_order::table)
        .values((
            paid_order::order_id.eq(&order_id),
            paid_order::event_id.eq(&event.id),
            paid_order::amount_total.eq(session["amount_total"].as_i64().unwrap_or(0)),
        ))
        .execute(ctx.connection()?)?;
    ctx.on_commit(move || SENT_RECEIPTS.lock().unwrap().push(order_id));
    Ok(())
}

/// The store's own routes, beside djstripe's — one under the same `/stripe` prefix (Checkout's
/// success URL), which the webhook routes do not shadow.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(|| async { "bookstore" }))
        .route("/stripe/checkout/done", web::get().to(|| async { HttpResponse::Ok().body("thank you!") }));
}
