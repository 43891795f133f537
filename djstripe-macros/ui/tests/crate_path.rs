//! `crate = path` points the expansion at a crate that re-exports djstripe-core.
mod reexport {
    pub use djstripe_core::*;
}

#[reexport::webhook_handler("customer.created", crate = crate::reexport)]
fn through_reexport(_event: &reexport::Event) {}

#[test]
fn registers() {
    assert_eq!(djstripe_core::registry::handlers_for("customer.created").len(), 1);
}
