use djstripe_core::{Event, HandlerContext, webhook_handler};

#[webhook_handler("customer.created")]
fn three(_event: &Event, _ctx: &mut HandlerContext, _extra: u32) {}

fn main() {}
