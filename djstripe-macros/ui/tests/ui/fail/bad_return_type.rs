use djstripe_core::{Event, webhook_handler};

#[webhook_handler("customer.created")]
fn counts(_event: &Event) -> u32 {
    1
}

fn main() {}
