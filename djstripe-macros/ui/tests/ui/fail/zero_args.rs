use djstripe_core::webhook_handler;

#[webhook_handler("customer.created")]
fn none() {}

fn main() {}
