//! The store through the whole stack: a signed delivery over real HTTP, the order row written in
//! the event's transaction, the receipt mailed after the commit, the store's own routes.

use djstripe_core::db::{Backend, Outcome};
use djstripe_core::registry::HandlerSet;
use djstripe_core::testing::{EventBuilder, TestApp};
use serde_json::json;

fn store(backend: Backend) -> TestApp {
    TestApp::builder()
        .backend(backend)
        .migrations(bookstore::MIGRATIONS)
        .handlers(HandlerSet::only(["mark_order_paid"]))
        .serve(djstripe_actix::Server::new().routes(bookstore::routes))
        .start()
}

fn paid(app: &TestApp, order: &str) -> i64 {
    app.database().count(&format!("SELECT COUNT(*) AS n FROM paid_order WHERE order_id = '{order}'"))
}

fn checkout_completed(backend: Backend) {
    let app = store(backend);
    let order = format!("order-{backend:?}");
    let event = EventBuilder::new("checkout.session.completed")
        .merge_object(json!({"client_reference_id": order, "amount_total": 2500}));
    let answer = app.send(&event);
    assert_eq!((answer.status, answer.outcome()), (200, Some(Outcome::Processed)), "{answer:?}");
    assert_eq!(paid(&app, &order), 1);
    app.wait_on_commit();
    assert!(bookstore::SENT_RECEIPTS.lock().unwrap().contains(&order), "the receipt was mailed after the commit");

    // Stripe delivers at least once: the same event again is a duplicate, nothing runs twice.
    let again = app.send(&event);
    assert_eq!(again.outcome(), Some(Outcome::Duplicate));
    assert_eq!(paid(&app, &order), 1);

    // A session without an order fails: nothing is written, Stripe gets a 500 and retries.
    let orphan = app.send(&EventBuilder::new("checkout.session.completed").id("evt_orphan"));
    assert_eq!((orphan.status, orphan.outcome()), (500, Some(Outcome::Failed)), "{orphan:?}");
    assert!(app.event("evt_orphan").is_err(), "the failed event is not stored");

    // The store's own routes answer beside the webhook routes, also under /stripe.
    let done = app.get("/stripe/checkout/done");
    assert_eq!((done.status, done.body.as_str()), (200, Some("thank you!")));
}

#[test]
fn checkout_completed_sqlite() {
    checkout_completed(Backend::Sqlite);
}

#[test]
fn checkout_completed_postgres() {
    checkout_completed(Backend::Postgres);
}
