//! Handlers defined in several modules are all found (no registration call) and run in the
//! documented order: `*`, prefixes shortest first, exact; ties by path; each function once.
#![allow(missing_docs)]

use std::sync::Mutex;

use djstripe_core::{Error, Event, HandlerContext, HandlerResult, dispatch, registry, testing, webhook_handler};

static RAN: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

fn ran(name: &'static str) {
    RAN.lock().unwrap().push(name);
}

mod audit {
    use super::*;
    #[webhook_handler("*")]
    fn everything(_: &Event) {
        ran("*");
    }
}

mod customers {
    use super::*;

    #[webhook_handler("customer")]
    pub fn any_customer(_: &Event) {
        ran("customer");
    }

    pub mod subscriptions {
        use super::*;

        #[webhook_handler("customer.subscription")]
        fn any_subscription(_: &Event, _ctx: &mut HandlerContext) -> HandlerResult {
            ran("customer.subscription");
            Ok(())
        }

        #[webhook_handler("customer.subscription.updated")]
        fn updated(_: &Event) -> Result<(), std::io::Error> {
            ran("customer.subscription.updated");
            Ok(())
        }

        // Two patterns that both match `customer.subscription.updated`: it must run once,
        // ranked by its most specific pattern (exact), after `updated` by path.
        #[webhook_handler("customer", "customer.subscription.updated")]
        fn zz_both(_: &Event) {
            ran("both");
        }
    }
}

mod catalog {
    use super::*;

    #[webhook_handler("price", "product")]
    fn catalog(_: &Event) {
        ran("catalog");
    }

    #[webhook_handler("invoice.paid")]
    fn exploding(_: &Event) {
        panic!("invoice handler blew up");
    }

    #[webhook_handler("invoice.payment_failed")]
    fn failing(_: &Event) -> HandlerResult {
        Err(djstripe_core::HandlerError::msg("card declined twice"))
    }
}

/// Tests share the RAN log; run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn run(event_type: &str) -> (Result<usize, Error>, Vec<&'static str>) {
    RAN.lock().unwrap().clear();
    let event = testing::event(event_type);
    let result = dispatch::dispatch(&event, &mut HandlerContext::detached());
    (result, RAN.lock().unwrap().clone())
}

#[test]
fn all_modules_found_with_locations() {
    let paths: Vec<&str> = registry::all().iter().map(|h| h.path()).collect();
    assert_eq!(paths.len(), 8, "{paths:?}");
    assert!(paths.contains(&"registry::customers::subscriptions::updated"), "{paths:?}");
    let catalog = registry::all().iter().find(|h| h.path() == "registry::catalog::catalog").unwrap();
    assert_eq!(catalog.patterns(), ["price", "product"]);
    assert!(catalog.file().ends_with("registry.rs"));
    assert!(catalog.line() > 50);
}

#[test]
fn general_to_specific_each_once() {
    let _serial = SERIAL.lock().unwrap();
    let (result, order) = run("customer.subscription.updated");
    assert_eq!(result.unwrap(), 5);
    assert_eq!(order, ["*", "customer", "customer.subscription", "customer.subscription.updated", "both"]);

    let (_, order) = run("customer.created");
    assert_eq!(order, ["*", "customer", "both"], "prefix handlers; `both` via its `customer` pattern");

    let (_, order) = run("product.updated");
    assert_eq!(order, ["*", "catalog"]);
}

#[test]
fn prefixes_match_on_dot_boundaries_only() {
    let _serial = SERIAL.lock().unwrap();
    let (_, order) = run("customer_cash_balance_transaction.created");
    assert_eq!(order, ["*"], "`customer` must not match `customer_cash_balance_transaction.*`");
    let names: Vec<&str> =
        registry::handlers_for("customer_cash_balance_transaction.created").iter().map(|h| h.path()).collect();
    assert_eq!(names, ["registry::audit::everything"]);
}

#[test]
fn a_panic_is_that_handlers_failure() {
    let _serial = SERIAL.lock().unwrap();
    let (result, _) = run("invoice.paid");
    let Err(Error::Handler { handler, message, trace }) = result else { panic!("{result:?}") };
    assert_eq!(handler, "registry::catalog::exploding");
    assert!(message.contains("invoice handler blew up"), "{message}");
    assert!(trace.contains("registry.rs"), "{trace}");
}

#[test]
fn an_error_is_that_handlers_failure_and_stops_the_rest() {
    let _serial = SERIAL.lock().unwrap();
    let (result, order) = run("invoice.payment_failed");
    let Err(Error::Handler { handler, message, .. }) = result else { panic!("{result:?}") };
    assert_eq!(handler, "registry::catalog::failing");
    assert_eq!(message, "card declined twice");
    assert_eq!(order, ["*"]);
}

#[test]
fn functions_stay_callable() {
    let _serial = SERIAL.lock().unwrap();
    RAN.lock().unwrap().clear();
    customers::any_customer(&testing::event("customer.created"));
    assert_eq!(*RAN.lock().unwrap(), ["customer"]);
}
