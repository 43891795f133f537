//! The example shop: four handlers that show what djstripe-rs does, and its command line.
//!
//! - `customer` (every `customer.*` event): writes a row into the shop's own table
//!   `shop_customer_event` through the event's transaction. If the customer object's
//!   `metadata.fail` is `"yes"` it then fails — and the row is rolled back with the event; if
//!   it is `metadata.panic`, the handler panics instead (the engine catches it: the same 500
//!   `failed`, the panic's message in the trigger row). If `metadata.sleep_ms` holds a number
//!   (`"250"`, as Stripe's metadata values are strings, or `250`), the handler first sleeps that
//!   many milliseconds (at most [`MAX_SLEEP`]), *before* writing its row: a slow handler (a mail
//!   server, an API call) to show and measure end to end. It holds the event's transaction, and
//!   the delivery's answer, that long.
//! - `customer.subscription.trial_will_end`: queues a reminder e-mail with `on_commit`: logged,
//!   and appended as a line `trial_will_end EVENT_ID CUSTOMER` to the file `SHOP_OUTBOX` names
//!   when set (an outbox a mailer would send from; the tests read it). `SHOP_OUTBOX_DELAY_MS`
//!   makes each one take that long, like a slow mail server.
//! - `price`, `product`: one handler for both.
//! - `v2.core.account`: v2 event notifications about connected accounts (bracketed types
//!   included) write a row into `shop_account_event`, the account taken from `related_object`.
//!
//! And one lifecycle hook, `processing_error`: a failed event is logged as an alert.
//!
//! The library holds what does not depend on a web framework (handlers, schema, the command
//! line); the binaries add one: `shop` serves with actix-web (`src/main.rs`), `shop-axum` with
//! axum (`examples/shop-axum`), the same handlers and the same commands.
//!
//! Stopping (both binaries): SIGTERM, what a deploy sends, or Ctrl-C stops `serve` gracefully —
//! no new connections, the deliveries in flight committed and answered, the queued reminders
//! (`on_commit`) sent — and it exits 0 within `DJSTRIPE_SHUTDOWN_GRACE` seconds (default 30),
//! logging what it drained: `kill -TERM $(pidof shop)`.
//!
//! Admin pages (both binaries): `shop admin set-password --user ops` stores a user (an argon2
//! hash in the database), or set `DJSTRIPE_ADMIN_PASSWORD_HASH=$argon2id$...` (from `shop admin
//! hash-password`; user `admin`, or `DJSTRIPE_ADMIN_USER`) or `DJSTRIPE_ADMIN_TOKEN`, and `serve`
//! mounts them at `/stripe/admin/` and prints their URL (see `djstripe_admin`); the same
//! credentials read the Prometheus metrics at `/stripe/metrics`
//! (`curl -H 'Authorization: Bearer …' http://127.0.0.1:8000/stripe/metrics`).

use std::time::Duration;

use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use djstripe_cli::Cli;
use djstripe_core::app::AppMigrations;
use djstripe_core::hooks::ProcessingError;
use djstripe_core::{Event, HandlerContext, HandlerResult, webhook_handler, webhook_hook};

diesel::table! {
    /// One row per customer event the shop saw (its own table, written in the event's transaction).
    shop_customer_event (id) {
        /// Surrogate key.
        id -> BigInt,
        /// Stripe's event id.
        event_id -> Text,
        /// The event type.
        #[sql_name = "type"]
        event_type -> Text,
        /// The customer (`cus_...`).
        customer_id -> Text,
    }
}

diesel::table! {
    /// One row per v2 account notification the shop saw (written in the event's transaction).
    shop_account_event (id) {
        /// Surrogate key.
        id -> BigInt,
        /// Stripe's event id (`evt_...`).
        event_id -> Text,
        /// The event type, e.g. `v2.core.account[requirements].updated`.
        #[sql_name = "type"]
        event_type -> Text,
        /// The account the notification is about (`related_object.id`, `acct_...`).
        account_id -> Text,
    }
}

/// The shop's own errors.
#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    /// The customer asked for a failure (`metadata.fail = "yes"`), to show the rollback.
    #[error("customer {0} has metadata.fail = \"yes\": failing on purpose")]
    FailRequested(String),
}

/// The customer of an event: `data.object.customer` (subscriptions, sources, ...) or the
/// object's own id (customers).
fn customer_of(event: &Event) -> String {
    let object = &event.data.object;
    object["customer"].as_str().or_else(|| event.object_id()).unwrap_or("unknown").to_owned()
}

/// The longest sleep `metadata.sleep_ms` asks for that the `customer` handler honours: a
/// larger number sleeps this long.
pub const MAX_SLEEP: Duration = Duration::from_secs(60);

/// How long a customer's `metadata.sleep_ms` asks the `customer` handler to sleep: a number of
/// milliseconds, as a JSON string of digits (what Stripe's metadata holds) or a JSON number,
/// capped at [`MAX_SLEEP`]. Anything else (missing, empty, negative, fractional, not a number)
/// is no sleep.
///
/// ```
/// use std::time::Duration;
/// use serde_json::json;
/// assert_eq!(shop::requested_sleep(&json!("250")), Some(Duration::from_millis(250)));
/// assert_eq!(shop::requested_sleep(&json!(250)), Some(Duration::from_millis(250)));
/// assert_eq!(shop::requested_sleep(&json!("99999999999999999999")), Some(shop::MAX_SLEEP));
/// assert_eq!(shop::requested_sleep(&json!("-5")), None);
/// assert_eq!(shop::requested_sleep(&json!("1.5")), None);
/// assert_eq!(shop::requested_sleep(&json!(null)), None);
/// ```
pub fn requested_sleep(value: &serde_json::Value) -> Option<Duration> {
    let ms = match value {
        serde_json::Value::Number(n) => n.as_u64()?,
        serde_json::Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().unwrap_or(u64::MAX) // more digits than a u64 holds: the cap
        }
        _ => return None,
    };
    Some(Duration::from_millis(ms).min(MAX_SLEEP))
}

/// Every `customer.*` event: record it in the shop's table, atomically with the event — after
/// sleeping first if `metadata.sleep_ms` asks for it ([`requested_sleep`]).
#[webhook_handler("customer")]
pub fn record_customer_event(event: &Event, ctx: &mut HandlerContext) -> HandlerResult {
    let customer = customer_of(event);
    // Before the write, on purpose: a slow handler that has written nothing yet.
    if let Some(sleep) = requested_sleep(&event.data.object["metadata"]["sleep_ms"]) {
        std::thread::sleep(sleep);
    }
    diesel::insert_into(shop_customer_event::table)
        .values((
            shop_customer_event::event_id.eq(&event.id),
            shop_customer_event::event_type.eq(event.event_type()),
            shop_customer_event::customer_id.eq(&customer),
        ))
        .execute(ctx.connection()?)?;
    if event.data.object["metadata"]["fail"] == "yes" {
        return Err(ShopError::FailRequested(customer).into());
    }
    if event.data.object["metadata"]["panic"] == "yes" {
        panic!("customer {customer} has metadata.panic = \"yes\": panicking on purpose");
    }
    Ok(())
}

/// A trial ends in three days: remind the customer, but only once the event is committed.
#[webhook_handler("customer.subscription.trial_will_end")]
pub fn remind_trial_ending(event: &Event, ctx: &mut HandlerContext) -> HandlerResult {
    let customer = customer_of(event);
    let event_id = event.id.clone();
    ctx.on_commit(move || {
        tracing::info!(%customer, %event_id, "queued trial-ending reminder e-mail");
        if let Err(error) = write_outbox(&format!("trial_will_end {event_id} {customer}\n")) {
            tracing::error!(%error, "the outbox (SHOP_OUTBOX) cannot be written");
        }
    });
    Ok(())
}

/// Appends `line` to the file `SHOP_OUTBOX` names (nothing when unset), after
/// `SHOP_OUTBOX_DELAY_MS` milliseconds.
fn write_outbox(line: &str) -> std::io::Result<()> {
    use std::io::Write;
    let Some(path) = std::env::var_os("SHOP_OUTBOX") else {
        return Ok(());
    };
    if let Some(ms) = std::env::var("SHOP_OUTBOX_DELAY_MS").ok().and_then(|ms| ms.parse().ok()) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    std::fs::OpenOptions::new().create(true).append(true).open(path)?.write_all(line.as_bytes())
}

/// Every v2 notification about a connected account (`v2.core.account.*` and the bracketed
/// `v2.core.account[...].*` types, sent by an event destination): record which account, in the
/// event's transaction. A notification names its object (`related_object`) instead of carrying
/// it; fetch it from Stripe when the handler needs more.
#[webhook_handler("v2.core.account")]
pub fn record_account_event(event: &Event, ctx: &mut HandlerContext) -> HandlerResult {
    diesel::insert_into(shop_account_event::table)
        .values((
            shop_account_event::event_id.eq(&event.id),
            shop_account_event::event_type.eq(event.event_type()),
            shop_account_event::account_id.eq(event.object_id().unwrap_or("unknown")),
        ))
        .execute(ctx.connection()?)?;
    Ok(())
}

/// Any price or product change: the catalog cache would be refreshed here.
#[webhook_handler("price", "product")]
pub fn catalog_changed(event: &Event) {
    tracing::info!(event_type = event.event_type(), object = event.object_id().unwrap_or("?"), "catalog changed");
}

/// A lifecycle hook: every event whose processing failed (a handler's error or panic, the
/// database down) is reported once more, as an alert would be sent (see `djstripe_core::hooks`).
/// It runs after the failure and changes nothing about it; an inbox attempt the workers will
/// retry is not worth an alert (`will_retry`), its last one is.
#[webhook_hook(processing_error)]
pub fn alert_on_failure(call: &ProcessingError) {
    if call.will_retry {
        return;
    }
    let error = djstripe_core::logging::escaped_display(call.error);
    tracing::warn!(event = %call.event.id, event_type = call.event.event_type(), %error, "ALERT: an event could not be processed");
}

/// The shop's own schema: diesel migrations, one directory per backend (their DDL differs),
/// applied after djstripe's by `migrate` and `serve`.
pub static MIGRATIONS: AppMigrations = AppMigrations::per_backend(&SQLITE_MIGRATIONS, &POSTGRES_MIGRATIONS);
static SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
static POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// What the root page says.
pub const HOME: &str = "shop: Stripe webhooks are received under /stripe/webhook/";

/// The shop's command line, named `name` (the binary's name), without a web server: each
/// binary adds its adapter's (`.server(...)`). Commands: `serve` (default), `migrate`,
/// `handlers`, `triggers`, `events`, `trigger`, `endpoints`, `accounts`, `admin`.
pub fn cli(name: &'static str) -> Cli {
    Cli::new(name).default_database_url(format!("sqlite://{name}.sqlite3")).migrations(MIGRATIONS).dev_endpoint(true)
}

/// The actix-web server of the `shop` binary: djstripe's routes and the shop's home page.
#[cfg(feature = "actix")]
pub fn actix_server() -> djstripe_actix::Server {
    djstripe_actix::Server::new().routes(|cfg| {
        cfg.route("/", actix_web::web::get().to(|| async { HOME }));
    })
}

/// The axum server of the `shop-axum` binary: djstripe's routes and the shop's home page.
#[cfg(feature = "axum")]
pub fn axum_server() -> djstripe_axum::Server {
    djstripe_axum::Server::new().routes(axum::Router::new().route("/", axum::routing::get(|| async { HOME })))
}
