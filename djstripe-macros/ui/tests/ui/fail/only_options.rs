use djstripe_core::{Event, webhook_handler};

#[webhook_handler(unchecked)]
fn nothing(_event: &Event) {}

fn main() {}
