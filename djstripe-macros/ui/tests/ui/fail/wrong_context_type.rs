use djstripe_core::{Event, HandlerContext, webhook_handler};

#[webhook_handler("customer.created")]
fn shared_ctx(_event: &Event, _ctx: &HandlerContext) {}

fn main() {}
