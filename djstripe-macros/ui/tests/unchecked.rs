//! `unchecked` accepts event types newer than the catalog (their spelling is still checked).
use djstripe_core::{Event, webhook_handler};

#[webhook_handler("v2.brand_new.thing", unchecked)]
fn newer(_event: &Event) {}

#[webhook_handler("customer.created", "future_thing", unchecked)]
fn mixed(_event: &Event) {}

#[test]
fn registers() {
    let patterns: Vec<&[&str]> = djstripe_core::registry::all().iter().map(|h| h.patterns()).collect();
    assert!(patterns.contains(&&["v2.brand_new.thing"][..]));
    assert!(patterns.contains(&&["customer.created", "future_thing"][..]));
}
