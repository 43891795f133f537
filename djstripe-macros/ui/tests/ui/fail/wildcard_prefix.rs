use djstripe_core::{Event, webhook_handler};

#[webhook_handler("customer.*")]
fn wildcard(_event: &Event) {}

fn main() {}
