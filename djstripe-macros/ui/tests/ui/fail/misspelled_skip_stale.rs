use djstripe_core::{Event, webhook_handler};

#[webhook_handler("customer.subscription.updated", skip_stal)]
fn apply(_event: &Event) {}

#[webhook_handler("customer.subscription.updated", skip_stale, skip_stale)]
fn twice(_event: &Event) {}

fn main() {}
