use djstripe_core::{Event, webhook_handler};

#[webhook_handler("widget")]
fn widgets(_event: &Event) {}

fn main() {}
