use djstripe_core::{Event, webhook_handler};

#[webhook_handler("customer.created")]
fn stringly(_event: &Event) -> Result<(), String> {
    Ok(())
}

fn main() {}
