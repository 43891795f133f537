use djstripe_core::{Event, webhook_handler};

#[webhook_handler("customer..created")]
fn double_dot(_event: &Event) {}

fn main() {}
