//! A handler defined inside a function body is registered like any other.
use djstripe_core::{Event, HandlerContext, webhook_handler};

#[test]
fn registers() {
    #[webhook_handler("charge.succeeded")]
    fn local(_event: &Event, ctx: &mut HandlerContext) {
        ctx.on_commit(|| {});
    }

    let mut ctx = HandlerContext::detached();
    local(&djstripe_core::testing::event("charge.succeeded"), &mut ctx);
    assert_eq!(ctx.pending_on_commit(), 1);

    let handlers = djstripe_core::registry::handlers_for("charge.succeeded");
    assert_eq!(handlers.len(), 1);
    assert!(handlers[0].path().ends_with("::local"), "{}", handlers[0].path());
}
