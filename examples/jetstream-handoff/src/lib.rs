//! Stripe events handed off to NATS JetStream, exactly once: the example of handing djstripe-rs's
//! events to a distributed engine (README.md beside this crate says why it is exactly once).
//!
//! 1. [`outbox`]: the handler `hand_off` (`#[webhook_handler("*")]`) writes each event into the
//!    app's table `handoff_outbox`, in the event's transaction: committed with the event or not
//!    at all. Its `on_commit` only wakes the relay.
//! 2. [`relay`]: publishes the outbox's rows to JetStream with the header `Nats-Msg-Id` = the
//!    Stripe event id, waits for JetStream's acknowledgement, then deletes the rows. A row
//!    published twice (a crash between the ack and the delete) is dropped by JetStream's
//!    de-duplication; [`RelayServer`] runs the relay beside the web server in `serve`.
//! 3. [`stream`]: the stream (its subjects and its duplicate window, [`DUPLICATE_WINDOW`]).
//! 4. [`consumer`]: a durable pull consumer whose worker acknowledges each message once it has
//!    handled it (the `handoff-consumer` binary).
//!
//! Settings ([`Handoff::from_env`]): `NATS_URL` (default `nats://127.0.0.1:4222`),
//! `HANDOFF_STREAM` (`STRIPE_EVENTS`), `HANDOFF_SUBJECT` (`stripe.events`: an event goes to
//! `stripe.events.<type>`), `HANDOFF_CONSUMER` (`stripe-events-worker`).

pub mod consumer;
pub mod outbox;
pub mod relay;
pub mod stream;

use std::time::Duration;

pub use outbox::MIGRATIONS;
pub use relay::{RelayServer, Relayed};
pub use stream::DUPLICATE_WINDOW;

/// Where the hand-off goes: the NATS server, the stream, its subjects, the consumer.
///
/// ```
/// let handoff = jetstream_handoff::Handoff::new("nats://127.0.0.1:4222", "STRIPE_EVENTS", "stripe.events");
/// assert_eq!(handoff.subject("customer.created"), "stripe.events.customer.created");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handoff {
    /// The NATS server, e.g. `nats://127.0.0.1:4222`.
    pub nats_url: String,
    /// The JetStream stream's name (`STRIPE_EVENTS`).
    pub stream: String,
    /// The subjects' prefix: an event of type `T` is published to `{subject_prefix}.T`, and the
    /// stream takes `{subject_prefix}.>`.
    pub subject_prefix: String,
    /// The durable consumer's name (`stripe-events-worker`).
    pub consumer: String,
}

impl Handoff {
    /// A hand-off to `stream` on `nats_url`, under `subject_prefix`, consumed by the durable
    /// consumer `stripe-events-worker`.
    pub fn new(nats_url: impl Into<String>, stream: impl Into<String>, subject_prefix: impl Into<String>) -> Self {
        Self {
            nats_url: nats_url.into(),
            stream: stream.into(),
            subject_prefix: subject_prefix.into(),
            consumer: "stripe-events-worker".into(),
        }
    }

    /// From `NATS_URL`, `HANDOFF_STREAM`, `HANDOFF_SUBJECT` and `HANDOFF_CONSUMER`, each with its
    /// default (see the crate docs).
    ///
    /// ```
    /// let handoff = jetstream_handoff::Handoff::from_env();
    /// assert!(!handoff.stream.is_empty());
    /// ```
    pub fn from_env() -> Self {
        let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
        Self {
            consumer: var("HANDOFF_CONSUMER", "stripe-events-worker"),
            ..Self::new(
                var("NATS_URL", "nats://127.0.0.1:4222"),
                var("HANDOFF_STREAM", "STRIPE_EVENTS"),
                var("HANDOFF_SUBJECT", "stripe.events"),
            )
        }
    }

    /// The subject an event of `event_type` is published to: `{subject_prefix}.{event_type}`
    /// (Stripe's dotted types become subject tokens, so a consumer may filter on
    /// `stripe.events.customer.>`).
    pub fn subject(&self, event_type: &str) -> String {
        format!("{}.{event_type}", self.subject_prefix)
    }

    /// Connects to [`Handoff::nats_url`] and returns its JetStream context. Fails at once when
    /// the server does not answer (within 5 s).
    ///
    /// # Errors
    /// [`HandoffError::Connect`].
    pub async fn connect(&self) -> Result<async_nats::jetstream::Context, HandoffError> {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(self.nats_url.as_str())
            .await
            .map_err(|source| HandoffError::Connect { url: self.nats_url.clone(), source })?;
        Ok(async_nats::jetstream::new(client))
    }
}

/// What can go wrong in the hand-off.
#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    /// The NATS server did not answer or refused the connection.
    #[error("cannot connect to NATS at {url}")]
    Connect {
        /// The server's URL.
        url: String,
        /// What the client said.
        #[source]
        source: async_nats::ConnectError,
    },
    /// The stream could not be created or read (JetStream not enabled: `nats-server -js`).
    #[error("JetStream stream {stream}")]
    Stream {
        /// The stream's name.
        stream: String,
        /// What JetStream said.
        #[source]
        source: async_nats::Error,
    },
    /// The consumer could not be created or read, or its messages could not be fetched.
    #[error("JetStream consumer {consumer}")]
    Consumer {
        /// The consumer's name.
        consumer: String,
        /// What JetStream said.
        #[source]
        source: async_nats::Error,
    },
    /// JetStream did not store (acknowledge) the message of an event; its outbox row stays, and
    /// the next pass publishes it again.
    #[error("publishing event {event_id} to JetStream")]
    Publish {
        /// The Stripe event id (the message id).
        event_id: String,
        /// What JetStream said.
        #[source]
        source: async_nats::jetstream::context::PublishError,
    },
    /// The acknowledgement of a handled message did not reach JetStream: it will be redelivered.
    #[error("acknowledging message {sequence} of the stream")]
    Ack {
        /// The message's stream sequence.
        sequence: u64,
        /// What JetStream said.
        #[source]
        source: async_nats::Error,
    },
    /// A message of the stream is not a Stripe event (published by someone else).
    #[error("message {sequence} of the stream is not a Stripe event")]
    NotAnEvent {
        /// The message's stream sequence.
        sequence: u64,
        /// Why it does not parse.
        #[source]
        source: djstripe_core::Error,
    },
    /// The database could not be reached.
    #[error(transparent)]
    Database(#[from] djstripe_core::Error),
    /// A query on the outbox failed.
    #[error("the outbox table")]
    Query(#[from] diesel::result::Error),
}
