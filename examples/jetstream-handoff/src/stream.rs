//! The JetStream stream the events go to, and its duplicate window.

use std::time::Duration;

use async_nats::jetstream::{self, stream};

use crate::{Handoff, HandoffError};

/// How long JetStream remembers a message id (`Nats-Msg-Id`, the Stripe event id) and drops a
/// second message with it: the stream's `duplicate_window`. JetStream's default is 2 minutes.
///
/// It must outlast the longest time a row can stay in the outbox *after* JetStream stored its
/// message: the relay crashed (or lost the database) between the ack and the delete, and
/// publishes the row again once it is back. An hour covers a restart and a database outage with
/// room to spare; the server keeps one id per message of the window in memory, so a busy
/// stream pays for a longer one.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(60 * 60);

/// The stream's configuration: every subject under the prefix, file storage, the
/// [`DUPLICATE_WINDOW`], messages kept (the consumer's acks do not remove them; add `max_age`
/// or `retention: WorkQueue` for that).
///
/// ```
/// let handoff = jetstream_handoff::Handoff::new("nats://127.0.0.1:4222", "STRIPE_EVENTS", "stripe.events");
/// let config = jetstream_handoff::stream::config(&handoff);
/// assert_eq!(config.subjects, ["stripe.events.>"]);
/// assert_eq!(config.duplicate_window, jetstream_handoff::DUPLICATE_WINDOW);
/// ```
pub fn config(handoff: &Handoff) -> stream::Config {
    stream::Config {
        name: handoff.stream.clone(),
        subjects: vec![format!("{}.>", handoff.subject_prefix)],
        storage: stream::StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
        ..Default::default()
    }
}

/// The stream, created with [`config`] unless it exists (then as it is: an operator may have
/// tuned it).
///
/// # Errors
/// [`HandoffError::Stream`]: JetStream is not enabled on the server (`nats-server -js`), or
/// another stream already takes these subjects.
pub async fn ensure(js: &jetstream::Context, handoff: &Handoff) -> Result<stream::Stream, HandoffError> {
    js.get_or_create_stream(config(handoff))
        .await
        .map_err(|e| HandoffError::Stream { stream: handoff.stream.clone(), source: e.into() })
}
