//! # djstripe-actix
//!
//! Stripe webhooks in an actix-web app: one scope that receives, verifies, records and
//! dispatches deliveries to your `#[webhook_handler]` functions, the admin pages (feature
//! `admin`), and the [`Server`] that the command line `djstripe-cli` runs as `serve`.
//!
//! Everything that is not HTTP — settings, startup, the engine, operator operations — is in
//! [`djstripe_core::app`]; this crate adapts it to actix-web.
//!
//! ```no_run
//! use actix_web::{App, HttpServer};
//! use djstripe_actix::{Djstripe, Settings};
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), djstripe_actix::Error> {
//!     let djstripe = Djstripe::start(Settings::from_env("sqlite://app.sqlite3")?)?; // connects, migrates
//!     HttpServer::new(move || App::new().service(djstripe_actix::scope("/stripe", djstripe.clone())))
//!         .bind("127.0.0.1:8000")?
//!         .run()
//!         .await?;
//!     Ok(())
//! }
//! ```
//!
//! Routes under the prefix:
//! - `POST {prefix}/webhook/{uuid}/`: the endpoint with that `djstripe_uuid`, verified with its
//!   own secret(s). Unknown or malformed uuids are a 404 that reveals nothing.
//! - `POST {prefix}/webhook/`: the legacy global endpoint, verified with `DJSTRIPE_WEBHOOK_SECRET`;
//!   404 unless that is set. Not recommended: its URL is guessable.
//!
//! The answers are [`djstripe_core::app::WebhookAnswer`]'s (200, 400, 404, 405, 413, 500, 503).
//!
//! ## Feature flags
//! | feature | default | what it enables |
//! |---|---|---|
//! | `sqlite` | yes | djstripe-core's embedded SQLite |
//! | `postgres` | yes | djstripe-core's PostgreSQL |
//! | `admin` | yes | [`admin`]: the admin pages (minijinja templates) |
//!
//! | file | what it holds |
//! |---|---|
//! | `webhook.rs` | the webhook scope: path, body, peer address in; [`WebhookAnswer`](djstripe_core::app::WebhookAnswer) out |
//! | `server.rs` | [`Server`]: `HttpServer` with the scope, the admin and the app's routes, for `serve` |
//! | `error.rs` | [`Error`] and its `ResponseError` |
//! | `admin.rs` | the admin pages: [`djstripe_admin`] as an actix scope |

#[cfg(feature = "admin")]
pub mod admin;
mod error;
mod server;
mod webhook;

use actix_web::web;

pub use djstripe_core::app::{Djstripe, Settings};
pub use error::{Error, Result};
pub use server::Server;

/// The webhook routes under `prefix` (no trailing slash, e.g. `"/stripe"`): a scope at
/// `{prefix}/webhook`, so that it claims only `{prefix}/webhook/...` and the app's own routes
/// under the same prefix (`/stripe/checkout/done`) keep working, registered before or after it.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let djstripe = djstripe_actix::Djstripe::start(djstripe_actix::Settings::new(dir.path().join("a.sqlite3").to_str().unwrap())).unwrap();
/// let app = actix_web::App::new().service(djstripe_actix::scope("/stripe", djstripe));
/// # let _ = app;
/// ```
pub fn scope(prefix: &str, djstripe: Djstripe) -> actix_web::Scope {
    webhook::scope(&format!("{prefix}/webhook"), djstripe)
}

/// The same routes for `App::configure` / `ServiceConfig`, relative to where it is mounted
/// (`{mount}/webhook/...`).
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let djstripe = djstripe_actix::Djstripe::start(djstripe_actix::Settings::new(dir.path().join("a.sqlite3").to_str().unwrap())).unwrap();
/// let app = actix_web::App::new().configure(|cfg| djstripe_actix::configure(cfg, djstripe));
/// # let _ = app;
/// ```
pub fn configure(cfg: &mut web::ServiceConfig, djstripe: Djstripe) {
    webhook::routes(cfg, djstripe);
}
