use djstripe_core::{Event, webhook_handler};

#[webhook_handler("customer.created", "invoice.paid", "customer.created")]
fn twice(_event: &Event) {}

fn main() {}
