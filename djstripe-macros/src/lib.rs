//! # djstripe-macros
//!
//! The `#[webhook_handler]` and `#[webhook_hook]` attributes of [djstripe-rs]. Use it through `djstripe-core`, which
//! re-exports it (`djstripe_core::webhook_handler`) next to the runtime the expansion needs;
//! this crate only parses, checks and expands.
//!
//! The attribute registers a plain function as the handler of some Stripe events:
//!
//! ```
//! use djstripe_core::{webhook_handler, Event, HandlerContext, HandlerResult};
//!
//! #[webhook_handler("customer.subscription.trial_will_end")]
//! fn trial_ending(event: &Event, ctx: &mut HandlerContext) -> HandlerResult {
//!     Ok(())
//! }
//! ```
//!
//! The function is kept exactly as written (call it from unit tests); beside it the attribute
//! emits an adapter to the runtime's uniform handler signature and an [`inventory`] registration,
//! so the handler is found at link time with no registration call.
//!
//! ## What is checked at compile time
//! - every event pattern against the catalog of Stripe event types shipped with this crate
//!   (`event-types.txt`), with a "did you mean" for a typo;
//! - the function: a free, non-`async`, non-generic `fn` taking `&Event` and optionally
//!   `&mut HandlerContext`, whose return type is `()`, `HandlerResult` or `Result<(), E>`.
//!
//! Every problem is reported at once, on the token at fault.
//!
//! [djstripe-rs]: https://github.com/djstripe-rs/djstripe-rs
//! [`inventory`]: https://docs.rs/inventory

use proc_macro::TokenStream;

mod args;
mod catalog;
mod errors;
mod expand;
mod hook;
mod validate;

/// Registers a function as the handler of some Stripe webhook events.
///
/// ```
/// use djstripe_core::{webhook_handler, Event, HandlerContext, HandlerResult};
///
/// #[webhook_handler("customer.subscription.trial_will_end")] // one exact event type
/// fn trial_ending(event: &Event, ctx: &mut HandlerContext) -> HandlerResult {
///     let customer = event.object_id().unwrap_or_default().to_owned();
///     ctx.on_commit(move || println!("remind {customer}")); // only if the transaction commits
///     Ok(())
/// }
///
/// #[webhook_handler("customer")] // a prefix: customer.created, customer.subscription.updated, ...
/// fn any_customer(event: &Event) {}
///
/// #[webhook_handler("price", "product")] // several patterns
/// fn catalog(event: &Event) -> Result<(), std::fmt::Error> {
///     Ok(())
/// }
///
/// #[webhook_handler("*")] // every event
/// fn audit(event: &Event) {}
///
/// #[webhook_handler("v2.brand_new.thing", unchecked)] // a type newer than the catalog
/// fn newer(event: &Event) {}
///
/// // The functions stay callable as written:
/// any_customer(&djstripe_core::testing::event("customer.created"));
/// ```
///
/// # Patterns
/// One or more string literals, each:
/// - `"*"`: every event (alone: combined with other patterns it is an error);
/// - an exact event type, `"customer.created"`;
/// - a prefix on dot boundaries: `"customer"` and `"customer.subscription"` match
///   `customer.subscription.updated`; `"cust"` matches nothing and is an error.
///
/// Patterns are checked against the catalog of Stripe event types; an unknown one is a compile
/// error on its literal, with a suggestion:
///
/// ```compile_fail
/// use djstripe_core::{webhook_handler, Event};
/// #[webhook_handler("custmer.created")] // unknown Stripe event type; did you mean `customer.created`?
/// fn typo(event: &Event) {}
/// ```
///
/// # Options
/// After the patterns:
/// - `unchecked`: skip the catalog check (the spelling is still checked), for event types newer
///   than this crate's catalog;
/// - `crate = path`: where the runtime is, instead of `::djstripe_core`, for crates that re-export
///   the attribute.
///
/// # The function
/// A free `fn` (not `async`, `const`, `unsafe`, `extern`, generic, or a method), in one of the forms
///
/// ```text
/// fn name(event: &Event)
/// fn name(event: &Event, ctx: &mut HandlerContext)
/// ```
///
/// returning `()`, `HandlerResult`, or `Result<(), E>` with
/// `E: std::error::Error + Send + Sync + 'static`. It may be defined anywhere, also inside a
/// function body. A mismatch is reported on the signature:
///
/// ```compile_fail,E0308
/// use djstripe_core::{webhook_handler, Event};
/// #[webhook_handler("customer.created")]
/// fn takes_by_value(event: Event) {} // expected `&Event`
/// ```
///
/// ```compile_fail
/// use djstripe_core::{webhook_handler, Event};
/// #[webhook_handler("customer.created")]
/// async fn not_async(event: &Event) {} // handlers are synchronous
/// ```
#[proc_macro_attribute]
pub fn webhook_handler(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    match expand::webhook_handler(args.into(), item.clone()) {
        Ok(expanded) => expanded.into(),
        // The item as written plus the errors: the rest of the crate still resolves it.
        Err(errors) => {
            let mut output = item;
            output.extend(errors.to_compile_error());
            output.into()
        }
    }
}

/// Registers a function as a lifecycle hook of one stage of a delivery (dj-stripe's webhook
/// signals); see `djstripe_core::hooks` for when each stage runs and what it gets.
///
/// ```
/// use djstripe_core::hooks::{HookResult, PostValidate, PreProcess, ProcessingError};
/// use djstripe_core::webhook_hook;
///
/// #[webhook_hook(post_validate)] // after validation: the event, or why the delivery is rejected
/// fn validated(call: &PostValidate) {
///     if let Err(error) = call.verdict {
///         println!("rejected from {}: {error}", call.trigger.remote_ip);
///     }
/// }
///
/// #[webhook_hook(pre_process)] // before the event's transaction opens
/// fn starting(call: &PreProcess) -> HookResult {
///     println!("processing {}", call.event.id);
///     Ok(())
/// }
///
/// #[webhook_hook(processing_error)] // a handler failed, or the database did
/// fn failed(call: &ProcessingError) -> Result<(), std::fmt::Error> {
///     eprintln!("{}: {}", call.event.id, call.error);
///     Ok(())
/// }
/// # fn main() {}
/// ```
///
/// # Stages
/// One of `pre_validate`, `post_validate`, `pre_process`, `post_process`, `processing_error`,
/// each taking its own argument type (`&PreValidate`, ..., `&ProcessingError` from
/// `djstripe_core::hooks`). An unknown stage is a compile error on it, with a suggestion:
///
/// ```compile_fail
/// use djstripe_core::{hooks::PostProcess, webhook_hook};
/// #[webhook_hook(post_proces)] // unknown hook stage `post_proces`; did you mean `post_process`?
/// fn typo(call: &PostProcess) {}
/// ```
///
/// # Options
/// After the stage: `crate = path`, where the runtime is, instead of `::djstripe_core`.
///
/// # The function
/// A free `fn` (not `async`, `const`, `unsafe`, `extern`, generic, or a method) taking the
/// stage's argument and returning `()`, `HookResult`, or `Result<(), E>` with
/// `E: std::error::Error + Send + Sync + 'static`. A mismatch is reported on the signature:
///
/// ```compile_fail,E0308
/// use djstripe_core::{hooks::PreProcess, webhook_hook};
/// #[webhook_hook(post_process)]
/// fn wrong_stage(call: &PreProcess) {} // expected `&PostProcess`
/// ```
///
/// An error or a panic of a hook is logged and changes nothing else: not the answer to Stripe,
/// not the event's processing.
#[proc_macro_attribute]
pub fn webhook_hook(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    match hook::webhook_hook(args.into(), item.clone()) {
        Ok(expanded) => expanded.into(),
        Err(errors) => {
            let mut output = item;
            output.extend(errors.to_compile_error());
            output.into()
        }
    }
}
