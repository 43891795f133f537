//! The hand-off against the real NATS server on 127.0.0.1:4222 (`nats-server -a 127.0.0.1 -p
//! 4222 -js`): signed deliveries over real HTTP, on SQLite and PostgreSQL, each event ending up
//! as exactly one JetStream message — through Stripe's duplicate deliveries and a relay that
//! publishes its rows twice (a crash after the publish, before the delete) — and a durable
//! consumer that acknowledges every message. Each test has a stream and subjects of its own
//! (named after the test, the process and the time), so runs never see each other's messages.
//! Without NATS the tests fail, saying how to start it: they never skip.

use std::convert::Infallible;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::{self, stream::StorageType};
use djstripe_core::Event;
use djstripe_core::db::{Backend, Outcome};
use djstripe_core::registry::HandlerSet;
use djstripe_core::testing::{EventBuilder, TestApp};
use jetstream_handoff::relay::{self, Relayed};
use jetstream_handoff::{Handoff, RelayServer, consumer, outbox};

const NATS: &str = "nats://127.0.0.1:4222";

/// The NATS client's background tasks run on the worker thread while the test blocks.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

/// A hand-off of the test's own: a stream and subjects no other test or run uses.
fn unique_handoff(test: &str) -> Handoff {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let tag = format!("{test}_{}_{nanos}", std::process::id());
    Handoff::new(NATS, format!("HANDOFF_TEST_{tag}"), format!("handoff-test.{tag}"))
}

/// The test's stream (in memory: nothing is left on the server's disk), or a failure that says
/// how to start NATS.
async fn jetstream(handoff: &Handoff) -> (jetstream::Context, jetstream::stream::Stream) {
    let js = handoff.connect().await.unwrap_or_else(|error| {
        panic!(
            "these tests need NATS with JetStream on {NATS}; start it with `nats-server -a 127.0.0.1 -p 4222 -js` \
             ({})",
            report(&error)
        )
    });
    let mut config = jetstream_handoff::stream::config(handoff);
    config.storage = StorageType::Memory;
    let stream = js
        .create_stream(config)
        .await
        .unwrap_or_else(|error| panic!("NATS on {NATS} has no JetStream? start it with `-js` ({})", report(&error)));
    (js, stream)
}

fn report(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        out = format!("{out}: {cause}");
        next = cause.source();
    }
    out
}

fn app(backend: Backend, server: impl djstripe_core::app::Server + 'static) -> TestApp {
    TestApp::builder()
        .backend(backend)
        .migrations(jetstream_handoff::MIGRATIONS)
        .handlers(HandlerSet::only(["hand_off"]))
        .serve(server)
        .start()
}

fn outbox_rows(app: &TestApp) -> i64 {
    app.database().count("SELECT COUNT(*) AS n FROM handoff_outbox")
}

/// Delivers each event, then each again (Stripe delivers at least once): one answer
/// `processed` per event, the second `duplicate`.
fn deliver_twice(app: &TestApp, events: &[EventBuilder]) {
    for event in events.iter().chain(events) {
        let answer = app.send(event);
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(matches!(answer.outcome(), Some(Outcome::Processed | Outcome::Duplicate)), "{answer:?}");
    }
}

fn events(ids: &[&str]) -> Vec<EventBuilder> {
    let types = ["customer.created", "invoice.paid", "customer.subscription.updated"];
    ids.iter().zip(types.iter().cycle()).map(|(id, t)| EventBuilder::new(*t).id(*id)).collect()
}

fn exactly_once(backend: Backend) {
    let rt = runtime();
    let handoff = unique_handoff(&format!("exactly_once_{backend:?}"));
    let (js, mut stream) = rt.block_on(jetstream(&handoff));
    let app = app(backend, djstripe_actix::Server::new());
    let db = app.database().database();
    let ids = ["evt_handoff_1", "evt_handoff_2", "evt_handoff_3"];

    // Stripe's duplicate deliveries never reach the handler: one outbox row per event.
    let sent = events(&ids);
    deliver_twice(&app, &sent);
    assert_eq!(outbox_rows(&app), 3);
    let rows = outbox::pending(&mut db.get().unwrap(), 0, 100).unwrap();

    // The relay publishes them and deletes the rows.
    let first = rt.block_on(relay::publish_pending(db, &js, &handoff)).unwrap();
    assert_eq!(first, Relayed { stored: 3, duplicates: 0 });
    assert_eq!(outbox_rows(&app), 0);

    // A crash after the publish, before the delete: the rows are there again at the restart.
    // The relay publishes them again; JetStream drops every one as a duplicate.
    for row in &rows {
        let event = Event::from_slice(row.payload.as_bytes()).unwrap();
        outbox::insert(&mut db.get().unwrap(), &event).unwrap();
    }
    assert_eq!(outbox_rows(&app), 3);
    let again = rt.block_on(relay::publish_pending(db, &js, &handoff)).unwrap();
    assert_eq!(again, Relayed { stored: 0, duplicates: 3 });
    assert_eq!(outbox_rows(&app), 0);

    // One message per event, in order, each with its event id as message id, on its type's subject.
    let state = rt.block_on(stream.info()).unwrap().state.clone();
    assert_eq!((state.messages, state.last_sequence), (3, 3), "{state:?}");
    for (sequence, event) in (1..).zip(&sent) {
        let message = rt.block_on(stream.get_raw_message(sequence)).unwrap();
        let event = event.build();
        assert_eq!(message.headers.get("Nats-Msg-Id").map(|v| v.as_str()), Some(event.id.as_str()));
        assert_eq!(message.subject.as_str(), handoff.subject(event.event_type()));
        assert_eq!(Event::from_slice(&message.payload).unwrap(), event);
    }

    // The consumer: the second event's handling fails once (given back, delivered again after
    // RETRY_DELAY); in the end each is handled to completion once and acknowledged.
    let consumer = rt.block_on(consumer::ensure(&stream, &handoff)).unwrap();
    let mut handled = Vec::new();
    let mut failures = 0;
    let mut handle = |event: &Event| {
        if event.id == ids[1] && failures == 0 {
            failures += 1;
            return Err("the worker's database is down");
        }
        handled.push(event.id.clone());
        Ok(())
    };
    let mut acknowledged = rt.block_on(consumer::handle_available(&consumer, &mut handle)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while acknowledged < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        acknowledged += rt.block_on(consumer::handle_available(&consumer, &mut handle)).unwrap();
    }
    assert_eq!(acknowledged, 3);
    assert_eq!(failures, 1);
    assert_eq!(handled, [ids[0], ids[2], ids[1]], "each event handled once");

    // Nothing pending, nothing waiting for an ack, the ack floor at the last message.
    let info = rt.block_on(consumer.get_info()).unwrap();
    assert_eq!((info.num_pending, info.num_ack_pending), (0, 0), "{info:?}");
    assert_eq!((info.ack_floor.stream_sequence, info.delivered.stream_sequence), (3, 3), "{info:?}");
    assert_eq!(info.delivered.consumer_sequence, 4, "four deliveries: the failed one again: {info:?}");
    let nothing = rt.block_on(consumer::handle_available(&consumer, |_: &Event| Ok::<(), Infallible>(()))).unwrap();
    assert_eq!(nothing, 0);

    rt.block_on(js.delete_stream(&handoff.stream)).unwrap();
}

/// JetStream refusing (here: no stream takes the subjects yet, as while NATS is down or
/// JetStream is being set up): the publish fails, the rows stay; once the stream is there, the
/// next pass publishes them. Nothing committed is lost.
fn rows_wait_for_jetstream(backend: Backend) {
    let rt = runtime();
    let handoff = unique_handoff(&format!("rows_wait_{backend:?}"));
    let js = rt.block_on(handoff.connect()).unwrap_or_else(|e| panic!("NATS on {NATS}: {}", report(&e)));
    let app = app(backend, djstripe_actix::Server::new());
    let db = app.database().database();
    deliver_twice(&app, &events(&["evt_waiting_1", "evt_waiting_2"]));

    let refused = rt.block_on(relay::publish_pending(db, &js, &handoff)).unwrap_err();
    assert!(matches!(refused, jetstream_handoff::HandoffError::Publish { .. }), "{refused:?}");
    assert_eq!(outbox_rows(&app), 2, "the rows wait");

    let (_, mut stream) = rt.block_on(jetstream(&handoff));
    let published = rt.block_on(relay::publish_pending(db, &js, &handoff)).unwrap();
    assert_eq!(published, Relayed { stored: 2, duplicates: 0 });
    assert_eq!((outbox_rows(&app), rt.block_on(stream.info()).unwrap().state.messages), (0, 2));
    rt.block_on(js.delete_stream(&handoff.stream)).unwrap();
}

/// `serve`'s relay ([`RelayServer`]): the events committed while it runs are in the stream at
/// once (the handler's `on_commit` wakes it), and the outbox is empty.
fn relay_beside_the_server(backend: Backend) {
    let rt = runtime();
    let handoff = unique_handoff(&format!("relay_server_{backend:?}"));
    let (js, mut stream) = rt.block_on(jetstream(&handoff));
    let app = app(backend, RelayServer::new(djstripe_actix::Server::new(), handoff.clone()));
    let ids = ["evt_served_1", "evt_served_2"];
    deliver_twice(&app, &events(&ids));

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut messages = 0;
    while Instant::now() < deadline {
        messages = rt.block_on(stream.info()).unwrap().state.messages;
        if messages == 2 && outbox_rows(&app) == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!((messages, outbox_rows(&app)), (2, 0), "the relay published both events within 10 s");

    let consumer = rt.block_on(consumer::ensure(&stream, &handoff)).unwrap();
    let mut handled = Vec::new();
    let acknowledged = rt
        .block_on(consumer::handle_available(&consumer, |event: &Event| {
            handled.push(event.id.clone());
            Ok::<(), Infallible>(())
        }))
        .unwrap();
    assert_eq!(acknowledged, 2);
    assert_eq!(handled, ids);
    let info = rt.block_on(consumer.get_info()).unwrap();
    assert_eq!((info.num_pending, info.num_ack_pending, info.ack_floor.stream_sequence), (0, 0, 2), "{info:?}");

    drop(app);
    rt.block_on(js.delete_stream(&handoff.stream)).unwrap();
}

#[test]
fn exactly_once_sqlite() {
    exactly_once(Backend::Sqlite);
}

#[test]
fn exactly_once_postgres() {
    exactly_once(Backend::Postgres);
}

#[test]
fn rows_wait_for_jetstream_sqlite() {
    rows_wait_for_jetstream(Backend::Sqlite);
}

#[test]
fn rows_wait_for_jetstream_postgres() {
    rows_wait_for_jetstream(Backend::Postgres);
}

#[test]
fn relay_beside_the_server_sqlite() {
    relay_beside_the_server(Backend::Sqlite);
}

#[test]
fn relay_beside_the_server_postgres() {
    relay_beside_the_server(Backend::Postgres);
}
