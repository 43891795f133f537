use djstripe_core::{Event, webhook_handler};

#[webhook_handler("v2.new.thing", uncheked)]
fn newer(_event: &Event) {}

fn main() {}
