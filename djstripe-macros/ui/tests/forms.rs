//! Every accepted signature, registered with its patterns.
use djstripe_core::{Event, HandlerContext, HandlerResult, webhook_handler};

/// A user's own error type.
#[derive(Debug)]
pub struct MyError;

impl std::fmt::Display for MyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("my error")
    }
}

impl std::error::Error for MyError {}

#[webhook_handler("customer.subscription.trial_will_end")]
fn trial_ending(event: &Event, ctx: &mut HandlerContext) -> HandlerResult {
    let _ = (event, ctx);
    Ok(())
}

#[webhook_handler("customer")]
fn any_customer(_event: &Event) {}

#[webhook_handler("price", "product")]
/// `pub` is kept as written.
pub fn catalog_changed(_: &Event) -> Result<(), MyError> {
    Ok(())
}

#[webhook_handler("*")]
/// So is `pub(crate)`.
pub(crate) fn audit(_event: &Event, _ctx: &mut HandlerContext<'_>) {}

#[webhook_handler("invoice.paid", "charge.refunded")]
fn std_error(_event: &'_ Event) -> Result<(), std::fmt::Error> {
    Ok(())
}

#[webhook_handler("customer.subscription.updated", skip_stale)]
fn apply_subscription(_event: &Event) {}

#[test]
fn registers() {
    // The functions stay callable as written.
    let event = djstripe_core::testing::event("customer.created");
    any_customer(&event);
    trial_ending(&event, &mut HandlerContext::detached()).unwrap();
    catalog_changed(&event).unwrap();

    let found = |path: &str| {
        djstripe_core::registry::all()
            .iter()
            .find(|h| h.path().ends_with(path))
            .unwrap_or_else(|| panic!("{path} is not registered"))
            .patterns()
    };
    assert_eq!(found("::trial_ending"), ["customer.subscription.trial_will_end"]);
    assert_eq!(found("::any_customer"), ["customer"]);
    assert_eq!(found("::catalog_changed"), ["price", "product"]);
    assert_eq!(found("::audit"), ["*"]);
    assert_eq!(found("::std_error"), ["invoice.paid", "charge.refunded"]);
    let skips =
        |path: &str| djstripe_core::registry::all().iter().find(|h| h.path().ends_with(path)).unwrap().skips_stale();
    assert!(skips("::apply_subscription") && !skips("::any_customer"), "skip_stale is registered");

    let handler = djstripe_core::registry::all().iter().find(|h| h.path().ends_with("::trial_ending")).unwrap();
    assert!(handler.file().ends_with("forms.rs"), "{}", handler.file());
    assert_eq!(handler.line(), 17, "the line of the function name");

    let ran = djstripe_core::dispatch::dispatch(&event, &mut HandlerContext::detached()).unwrap();
    assert_eq!(ran, 2); // audit ("*") and any_customer ("customer")
}
