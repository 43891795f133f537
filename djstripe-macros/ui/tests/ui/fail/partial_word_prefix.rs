use djstripe_core::{Event, webhook_handler};

#[webhook_handler("cust")]
fn customers(_event: &Event) {}

fn main() {}
