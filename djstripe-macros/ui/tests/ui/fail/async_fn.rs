use djstripe_core::{Event, webhook_handler};

#[webhook_handler("customer.created")]
async fn asynchronous(_event: &Event) {}

fn main() {}
