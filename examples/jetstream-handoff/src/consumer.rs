//! The other side: a durable pull consumer whose worker handles each event, then acknowledges
//! its message — and only then, so that a worker that dies mid-event gets it again.
//!
//! JetStream delivers to a consumer at least once: a message whose ack did not reach the server
//! within [`ACK_WAIT`] (the worker crashed after handling it, or was too slow) is delivered
//! again. `double_ack` waits for the server to confirm the ack, which closes the gap to a crash
//! between the ack and its arrival; the gap between handling and acking stays, so a handler
//! with effects makes them idempotent by the event id (the message id), e.g. by writing it in
//! the same transaction as its effect — what djstripe does with Stripe's own redeliveries.

use std::fmt::Display;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::PullConsumer, consumer::pull};
use djstripe_core::Event;
use futures_util::StreamExt;

use crate::{Handoff, HandoffError};

/// How long JetStream waits for a delivered message's ack before delivering it again.
pub const ACK_WAIT: Duration = Duration::from_secs(30);
/// How long a message whose handling failed waits before JetStream delivers it again.
pub const RETRY_DELAY: Duration = Duration::from_secs(1);
/// Messages asked for at once.
const BATCH: usize = 100;

/// The durable consumer's configuration: named [`Handoff::consumer`], every message from the
/// first, each acknowledged explicitly, redelivered after [`ACK_WAIT`] without an ack.
///
/// ```
/// let handoff = jetstream_handoff::Handoff::new("nats://127.0.0.1:4222", "STRIPE_EVENTS", "stripe.events");
/// let config = jetstream_handoff::consumer::config(&handoff);
/// assert_eq!(config.durable_name.as_deref(), Some("stripe-events-worker"));
/// ```
pub fn config(handoff: &Handoff) -> pull::Config {
    pull::Config {
        durable_name: Some(handoff.consumer.clone()),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ack_wait: ACK_WAIT,
        ..Default::default()
    }
}

/// The durable consumer on `stream`, created with [`config`] unless it exists. Being durable,
/// it keeps its place (the ack floor) on the server across restarts of the worker.
///
/// # Errors
/// [`HandoffError::Consumer`].
pub async fn ensure(stream: &jetstream::stream::Stream, handoff: &Handoff) -> Result<PullConsumer, HandoffError> {
    stream
        .get_or_create_consumer(&handoff.consumer, config(handoff))
        .await
        .map_err(|e| HandoffError::Consumer { consumer: handoff.consumer.clone(), source: e.into() })
}

/// Handles every message the consumer has now, and returns how many it acknowledged. For tests
/// and batch jobs; a worker runs [`handle_forever`].
///
/// # Errors
/// [`HandoffError::Consumer`] when messages cannot be fetched, [`HandoffError::Ack`] when an ack
/// is not confirmed (that message will be delivered again).
pub async fn handle_available<E: Display>(
    consumer: &PullConsumer,
    mut handle: impl FnMut(&Event) -> Result<(), E>,
) -> Result<usize, HandoffError> {
    let fetch_error = |e: async_nats::Error| HandoffError::Consumer { consumer: name(consumer), source: e };
    let mut acknowledged = 0;
    loop {
        // No wait: what is there now, up to a batch.
        let mut batch = consumer.fetch().max_messages(BATCH).messages().await.map_err(|e| fetch_error(e.into()))?;
        let mut fetched = 0;
        while let Some(message) = batch.next().await {
            fetched += 1;
            acknowledged += usize::from(handle_one(message.map_err(fetch_error)?, &mut handle).await?);
        }
        if fetched == 0 {
            return Ok(acknowledged);
        }
    }
}

/// Handles the consumer's messages as they come, until the stream ends (the consumer was
/// deleted). What the `handoff-consumer` binary runs.
///
/// # Errors
/// [`HandoffError::Consumer`] when the messages cannot be asked for, [`HandoffError::Ack`].
pub async fn handle_forever<E: Display>(
    consumer: &PullConsumer,
    mut handle: impl FnMut(&Event) -> Result<(), E>,
) -> Result<(), HandoffError> {
    let mut messages =
        consumer.messages().await.map_err(|e| HandoffError::Consumer { consumer: name(consumer), source: e.into() })?;
    while let Some(message) = messages.next().await {
        match message {
            Ok(message) => {
                handle_one(message, &mut handle).await?;
            }
            // A missed heartbeat, a server restart: the client asks again.
            Err(error) => tracing::warn!(%error, "consumer: waiting for messages"),
        }
    }
    Ok(())
}

/// One message: the event parsed and handled, then acknowledged (and the ack confirmed). A
/// failed handler's message is given back (`Nak`: delivered again after [`RETRY_DELAY`]); one that is not an event is
/// terminated (never delivered again). Returns whether it was acknowledged.
async fn handle_one<E: Display>(
    message: jetstream::Message,
    handle: &mut impl FnMut(&Event) -> Result<(), E>,
) -> Result<bool, HandoffError> {
    let sequence = message.info().map(|info| info.stream_sequence).unwrap_or_default();
    let ack_error = |source| HandoffError::Ack { sequence, source };
    let event = match Event::from_slice(&message.payload) {
        Ok(event) => event,
        Err(source) => {
            tracing::error!(error = %HandoffError::NotAnEvent { sequence, source }, "consumer: dropping the message");
            message.ack_with(AckKind::Term).await.map_err(ack_error)?;
            return Ok(false);
        }
    };
    if let Err(error) = handle(&event) {
        tracing::warn!(%error, event_id = %event.id, "consumer: handling failed; JetStream delivers it again");
        message.ack_with(AckKind::Nak(Some(RETRY_DELAY))).await.map_err(ack_error)?;
        return Ok(false);
    }
    message.double_ack().await.map_err(ack_error)?;
    Ok(true)
}

/// The consumer's name, for errors.
fn name(consumer: &PullConsumer) -> String {
    consumer.cached_info().name.clone()
}
