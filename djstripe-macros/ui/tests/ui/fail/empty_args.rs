use djstripe_core::{Event, webhook_handler};

#[webhook_handler]
fn nothing(_event: &Event) {}

fn main() {}
