use djstripe_core::{Event, webhook_handler};

#[webhook_handler("")]
fn empty(_event: &Event) {}

fn main() {}
