use djstripe_core::webhook_handler;

#[webhook_handler("customer.created")]
struct NotAFunction;

fn main() {}
