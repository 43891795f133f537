use djstripe_core::{Event, webhook_handler};

#[webhook_handler("Customer.Created")]
fn shouting(_event: &Event) {}

fn main() {}
