#![allow(missing_docs)]
//! The tracing spans around a delivery: each handler runs in a `stripe_handler` span naming the
//! handler, the event's id and its type, so what a handler logs says which event it was about
//! (handlers run on the writer threads, outside the request's `stripe_webhook` span). One test:
//! it installs the process-wide subscriber (the writer threads log through it).

use std::sync::{Arc, Mutex};

use djstripe_core::registry::HandlerSet;
use djstripe_core::testing::{EventBuilder, TestApp};
use djstripe_core::{Event, webhook_handler};

/// Logs one line, inside its span.
#[webhook_handler("customer.created")]
fn logs_a_line(event: &Event) {
    tracing::info!(object = event.object_id().unwrap_or("?"), "handled");
}

/// Where the subscriber writes: a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn handler_spans_carry_the_handler_and_the_event() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).init();
    // Whichever backend this build has (each is tested alone too).
    let backend = if cfg!(feature = "sqlite") {
        djstripe_core::db::Backend::Sqlite
    } else {
        djstripe_core::db::Backend::Postgres
    };
    let app = TestApp::builder().backend(backend).handlers(HandlerSet::only(["spans::logs_a_line"])).start();
    let answer = app.send(&EventBuilder::new("customer.created").id("evt_span_1"));
    assert_eq!(answer.status, 200, "{answer:?}");
    let out = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let line = out.lines().find(|l| l.contains("handled")).unwrap_or_else(|| panic!("no handler line: {out}"));
    assert!(
        line.contains("stripe_handler{handler=\"spans::logs_a_line\" event_id=evt_span_1 event_type=customer.created}"),
        "{line}"
    );
    // The request's own span names the event too.
    let answered = out.lines().find(|l| l.contains("webhook delivery answered")).unwrap_or_else(|| panic!("{out}"));
    assert!(
        answered.contains("event_id=\"evt_span_1\"") && answered.contains("event_type=\"customer.created\""),
        "{answered}"
    );
}
