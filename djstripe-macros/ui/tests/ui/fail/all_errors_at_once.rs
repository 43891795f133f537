use djstripe_core::{Event, webhook_handler};

#[webhook_handler("custmer.created", "", "customer.created", "customer.created", retries = 3)]
async fn many<T>(_event: &Event) {}

fn main() {}
