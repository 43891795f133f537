use djstripe_core::{Event, webhook_handler};

#[webhook_handler("customer.created")]
fn generic<T: Default>(_event: &Event) {}

fn main() {}
