use djstripe_core::{Event, webhook_handler};

#[webhook_handler("*", "customer")]
fn everything(_event: &Event) {}

fn main() {}
