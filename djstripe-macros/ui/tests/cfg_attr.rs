//! A `#[cfg]` after the attribute removes the registration together with the function.
use djstripe_core::{Event, webhook_handler};

#[webhook_handler("customer.created")]
#[cfg(not(test))]
fn never_compiled(_event: &Event) {}

#[webhook_handler("customer.deleted")]
#[cfg(test)]
fn compiled(_event: &Event) {}

#[test]
fn registers() {
    let all = djstripe_core::registry::all();
    assert_eq!(all.len(), 1);
    assert!(all[0].path().ends_with("::compiled"));
}
