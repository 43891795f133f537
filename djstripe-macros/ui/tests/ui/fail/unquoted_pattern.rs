use djstripe_core::{Event, webhook_handler};

#[webhook_handler(customer.created)]
fn unquoted(_event: &Event) {}

fn main() {}
