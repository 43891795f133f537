use djstripe_core::{Event, webhook_handler};

#[webhook_handler("customer.created")]
fn by_value(_event: Event) {}

fn main() {}
