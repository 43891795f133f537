use djstripe_core::{Event, webhook_handler};

#[webhook_handler(42)]
fn number(_event: &Event) {}

fn main() {}
