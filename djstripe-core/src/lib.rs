//! # djstripe-core
//!
//! Stripe webhooks turned into durable, verified, exactly-once calls of your own functions —
//! dj-stripe's model, for Rust.
//!
//! ```
//! use djstripe_core::{webhook_handler, Event, HandlerContext, HandlerResult};
//!
//! #[webhook_handler("customer.subscription.trial_will_end")]
//! fn trial_ending(event: &Event, ctx: &mut HandlerContext) -> HandlerResult {
//!     let customer = event.object_id().unwrap_or_default().to_owned();
//!     ctx.on_commit(move || println!("remind {customer}")); // runs only if the transaction commits
//!     Ok(())
//! }
//!
//! #[webhook_handler("price", "product")] // every price.* and product.* event
//! fn catalog_changed(event: &Event) {
//!     println!("{} changed", event.object_id().unwrap_or("?"));
//! }
//!
//! // The functions stay callable as written, e.g. from unit tests:
//! let event = djstripe_core::testing::event("price.updated");
//! catalog_changed(&event);
//! ```
//!
//! An event name Stripe does not have is a compile error that suggests the right one:
//!
//! ```compile_fail
//! use djstripe_core::{webhook_handler, Event};
//! #[webhook_handler("custmer.created")] // error: unknown Stripe event type; did you mean `customer.created`?
//! fn typo(event: &Event) {}
//! ```
//!
//! ## Modules
//! | module | what it holds |
//! |---|---|
//! | [`app`] | what every web adapter shares: settings, startup, the webhook flow, operator operations |
//! | [`event`] | the [`Event`] model |
//! | [`signature`] | `Stripe-Signature` verification |
//! | [`logging`] | outside text escaped for the logs |
//! | [`registry`], [`dispatch`] | the handlers found at link time, and calling them |
//! | [`hooks`] | lifecycle hooks around validation and processing (`#[webhook_hook]`) |
//! | [`db`] | diesel connections (SQLite or PostgreSQL), schema, migrations, rows |
//! | [`engine`] | recording and processing a delivery exactly once; inbox mode's workers |
//! | [`backoff`] | exponential backoff with jitter (Stripe calls, inbox retries) |
//! | [`metrics`] | the engine's Prometheus metrics (deliveries, handler durations, batches, inbox) |
//! | [`endpoints`] | webhook endpoints created at Stripe with unguessable URLs; secret rotation |
//! | [`stripe_api`] | the small Stripe API client (events, webhook endpoints) |
//! | `testing` | for your own tests (feature `testing`): signed headers, event builders, `TestDatabase`, `FakeStripe` |
//!
//! ## Feature flags
//! | feature | default | what it enables |
//! |---|---|---|
//! | `sqlite` | yes | embedded SQLite, bundled (no system library) |
//! | `postgres` | yes | PostgreSQL through a bundled libpq (no system library) |
//! | `testing` | no | `testing`: Stripe's example objects, event builders, signed headers, throwaway databases, a fake Stripe API |
//!
//! At least one of `sqlite` and `postgres` is needed; a `DATABASE_URL` of a backend that is not
//! compiled in is [`Error::BackendNotCompiled`].

pub mod error;
mod handler;
pub mod logging;

pub mod app;
pub mod backoff;
pub mod db;
pub mod dispatch;
pub mod endpoints;
pub mod engine;
pub mod event;
pub mod hooks;
pub mod metrics;
pub mod registry;
pub mod signature;
pub mod stripe_api;
#[cfg(feature = "testing")]
pub mod testing;

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("djstripe-core needs a database: enable its feature `sqlite`, `postgres`, or both");

pub use error::{Error, Result};
pub use event::{Event, EventData, EventRequest, RelatedObject};
pub use handler::{HandlerContext, HandlerError, HandlerResult, IntoHandlerResult};
pub use signature::Verifier;

/// Registers a function as a Stripe webhook handler. See the [crate docs](crate) and the README.
///
/// ```
/// use djstripe_core::{webhook_handler, Event};
/// #[webhook_handler("*")] // every event
/// fn audit(event: &Event) { println!("{}", event.id); }
/// ```
pub use djstripe_macros::webhook_handler;

/// Registers a function as a lifecycle hook of one stage. See [`hooks`] and the README.
///
/// ```
/// use djstripe_core::{hooks::PostProcess, webhook_hook};
/// #[webhook_hook(post_process)] // after an event's processing committed
/// fn processed(call: &PostProcess) { println!("{} {}", call.event.id, call.receipt.outcome); }
/// # fn main() {}
/// ```
pub use djstripe_macros::webhook_hook;

/// Not public API: what the `#[webhook_handler]` expansion names. May change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::dispatch::HandlerFn;
    pub use crate::hooks::{
        HookCall, HookRegistration, HookResult, IntoHookResult, PostProcess, PostValidate, PreProcess, PreValidate,
        ProcessingError, Stage,
    };
    pub use crate::registry::HandlerRegistration;
    pub use crate::{Event, HandlerContext, HandlerResult, IntoHandlerResult};
    pub use core::option::Option;
    pub use core::result::Result;
    pub use inventory;
}
