use djstripe_core::{Event, webhook_handler};

#[webhook_handler("customer.created")]
fn constrained(_event: &Event)
where
    String: Clone,
{
}

fn main() {}
