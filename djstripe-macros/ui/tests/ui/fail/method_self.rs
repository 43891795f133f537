use djstripe_core::{Event, webhook_handler};

struct Handlers;

impl Handlers {
    #[webhook_handler("customer.created")]
    fn on_customer(&self, _event: &Event) {}
}

fn main() {}
