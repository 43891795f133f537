#![allow(missing_docs)]
//! `djstripe_core::testing::TestApp` served over real HTTP by each adapter, with the shop's
//! handlers, migrations and routes: what a user's full-stack test of their own app looks like.

use djstripe_core::db::{Backend, Outcome};
use djstripe_core::registry::HandlerSet;
use djstripe_core::testing::{EventBuilder, TestApp};
use serde_json::json;

fn served(backend: Backend, adapter: &str) -> TestApp {
    let builder = TestApp::builder()
        .backend(backend)
        .migrations(shop::MIGRATIONS)
        .handlers(HandlerSet::only(["shop::record_customer_event"]));
    match adapter {
        "actix" => builder.serve(shop::actix_server()),
        _ => builder.serve(shop::axum_server()),
    }
    .start()
}

fn full_stack_over_http(backend: Backend, adapter: &str) {
    let app = served(backend, adapter);
    let base = app.url().expect("served over HTTP").to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    // The shop's own route beside the webhook routes.
    let home = app.get("/");
    assert_eq!((home.status, home.body.as_str()), (200, Some(shop::HOME)));

    // A customer event: the shop's row is written in the event's transaction.
    let created = app.send(&EventBuilder::new("customer.created").id("evt_http_1"));
    assert_eq!((created.status, created.outcome()), (200, Some(Outcome::Processed)), "{created:?}");
    assert_eq!(app.database().count("SELECT COUNT(*) AS n FROM shop_customer_event WHERE event_id = 'evt_http_1'"), 1);

    // metadata.fail = "yes": the handler fails, its row and the event roll back, Stripe gets 500.
    let failing =
        EventBuilder::new("customer.updated").id("evt_http_2").merge_object(json!({"metadata": {"fail": "yes"}}));
    let failed = app.send(&failing);
    assert_eq!((failed.status, failed.outcome()), (500, Some(Outcome::Failed)), "{failed:?}");
    assert_eq!(app.database().count("SELECT COUNT(*) AS n FROM shop_customer_event WHERE event_id = 'evt_http_2'"), 0);
    assert!(app.event("evt_http_2").is_err());

    // The same bytes again after the fix would be processed; a redelivery of the first is a duplicate.
    let again = app.send(&EventBuilder::new("customer.created").id("evt_http_1"));
    assert_eq!(again.outcome(), Some(Outcome::Duplicate));

    // Raw bytes with any header, over HTTP.
    let bad = app.send_raw(b"{}", &[("Stripe-Signature", "t=1,v1=00")]);
    assert_eq!((bad.status, bad.outcome()), (400, Some(Outcome::Invalid)));
    let stored = app.trigger(bad.trigger_id().unwrap()).unwrap();
    assert_eq!(stored.remote_ip, "127.0.0.1");
}

macro_rules! adapters_and_backends {
    ($($name:ident: $backend:ident, $adapter:literal;)*) => {
        $( #[test] fn $name() { full_stack_over_http(Backend::$backend, $adapter) } )*
    };
}

adapters_and_backends! {
    actix_sqlite: Sqlite, "actix";
    actix_postgres: Postgres, "actix";
    axum_sqlite: Sqlite, "axum";
    axum_postgres: Postgres, "axum";
}

/// Dropping a served TestApp stops its server: the port no longer answers.
#[test]
fn dropping_the_app_stops_its_server() {
    for adapter in ["actix", "axum"] {
        let app = served(Backend::Sqlite, adapter);
        let addr = app.url().unwrap().trim_start_matches("http://").to_owned();
        assert!(std::net::TcpStream::connect(&addr).is_ok());
        drop(app);
        assert!(std::net::TcpStream::connect(&addr).is_err(), "{adapter}: still listening on {addr} after drop");
    }
}

/// The app's own routes under the webhook prefix are not shadowed by djstripe's, on either
/// adapter (the actix scope claims only `/stripe/webhook/...`).
#[test]
fn own_routes_under_the_prefix_answer() {
    let actix = djstripe_actix::Server::new().routes(|cfg| {
        cfg.route("/stripe/checkout/done", actix_web::web::get().to(|| async { "thanks" }));
    });
    let axum = djstripe_axum::Server::new()
        .routes(axum::Router::new().route("/stripe/checkout/done", axum::routing::get(|| async { "thanks" })));
    // (No handler: the shop's, linked into this binary, would need the shop's tables.)
    let apps = [
        TestApp::builder().handlers(HandlerSet::none()).serve(actix).start(),
        TestApp::builder().handlers(HandlerSet::none()).serve(axum).start(),
    ];
    for app in &apps {
        let url = format!("{}/stripe/checkout/done", app.url().unwrap());
        assert_eq!(ureq::get(&url).call().unwrap().body_mut().read_to_string().unwrap(), "thanks", "{url}");
        assert_eq!(app.send_type("customer.created").status, 200, "the webhook routes still answer");
        let unknown = app.post("/stripe/webhook/not-a-uuid/", b"{}", &[]);
        assert_eq!(unknown.status, 404);
    }
}
