use djstripe_core::{Event, webhook_handler};

#[webhook_handler("custmer.created")]
fn typo(_event: &Event) {}

fn main() {}
