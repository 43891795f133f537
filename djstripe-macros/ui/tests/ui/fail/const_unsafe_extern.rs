use djstripe_core::{Event, webhook_handler};

#[webhook_handler("customer.created")]
const unsafe extern "C" fn special(_event: &Event) {}

fn main() {}
