use djstripe_core::{Event, webhook_handler};

#[webhook_handler("customer.created", retries = 3)]
fn retrying(_event: &Event) {}

fn main() {}
