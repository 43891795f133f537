//! Calling the handlers of one event, in order, each isolated from panics.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::registry::{self, HandlerRegistration};
use crate::{Error, Event, HandlerContext, HandlerResult};

/// The uniform signature every `#[webhook_handler]` is adapted to by the attribute.
///
/// ```
/// use djstripe_core::{dispatch::HandlerFn, Event, HandlerContext, HandlerResult};
/// fn adapted(_: &Event, _: &mut HandlerContext<'_>) -> HandlerResult { Ok(()) }
/// let f: HandlerFn = adapted;
/// assert!(f(&djstripe_core::testing::event("customer.created"), &mut HandlerContext::detached()).is_ok());
/// ```
pub type HandlerFn = for<'a, 'b, 'c> fn(&'a Event, &'b mut HandlerContext<'c>) -> HandlerResult;

/// Runs every handler registered for `event`'s type, in [`registry::handlers_for`] order, and
/// stops at the first failure (the transaction around it rolls back anyway).
///
/// Returns how many handlers ran. A handler's error or panic becomes [`Error::Handler`] naming it.
///
/// ```
/// use djstripe_core::{dispatch, testing, HandlerContext};
/// let event = testing::event("customer.created");
/// let ran = dispatch::dispatch(&event, &mut HandlerContext::detached()).unwrap();
/// println!("{ran} handlers ran");
/// ```
pub fn dispatch(event: &Event, ctx: &mut HandlerContext<'_>) -> Result<usize, Error> {
    run_all(&registry::handlers_for(event.event_type()), event, ctx)
}

/// [`dispatch`] with the handlers already looked up.
fn run_all(
    handlers: &[&'static HandlerRegistration],
    event: &Event,
    ctx: &mut HandlerContext<'_>,
) -> Result<usize, Error> {
    for handler in handlers {
        run_one(handler, event, ctx)?;
    }
    Ok(handlers.len())
}

/// Runs one handler, turning its error or panic into [`Error::Handler`], inside a
/// `stripe_handler` span (info level) that carries the handler's path and the event's id and
/// type, so that whatever the handler logs names its event. Without a subscriber at info level
/// the span costs a check of one atomic; its fields are not even evaluated.
///
/// ```
/// # use djstripe_core::{dispatch, registry, testing, HandlerContext};
/// let event = testing::event("price.created");
/// for h in registry::handlers_for(event.event_type()) {
///     let _ = dispatch::run_one(h, &event, &mut HandlerContext::detached());
/// }
/// ```
pub fn run_one(handler: &HandlerRegistration, event: &Event, ctx: &mut HandlerContext<'_>) -> Result<(), Error> {
    let _span = tracing::info_span!(
        "stripe_handler",
        handler = handler.path(),
        event_id = %crate::logging::escaped(&event.id),
        event_type = %crate::logging::escaped(event.event_type()),
    )
    .entered();
    let call = handler.call();
    let location = || format!("at {} ({}:{})", handler.path(), handler.file(), handler.line());
    match catch_unwind(AssertUnwindSafe(|| call(event, ctx))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(Error::Handler {
            handler: handler.path(),
            message: err.to_string(),
            trace: format!("{}\n  {}", err.trace(), location()),
        }),
        Err(panic) => {
            let message = format!("panicked: {}", panic_message(&*panic));
            Err(Error::Handler { handler: handler.path(), trace: format!("{message}\n  {}", location()), message })
        }
    }
}

/// The text of a panic payload (`&str` or `String`), or a placeholder.
pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic payload that is not a string)".to_owned()
    }
}
