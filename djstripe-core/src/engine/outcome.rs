//! [`Outcome`]: what happened to one delivery.

use crate::{Error, StatusClass};

/// What the engine did with a delivery. Every variant but [`Outcome::Rejected`]'s unknown
/// endpoint carries the id of the trigger row it left.
///
/// ```
/// use djstripe_core::engine::Outcome;
/// let outcome = Outcome::Duplicate { trigger_id: 7, event_id: "evt_1".into() };
/// assert!(outcome.is_success());
/// assert_eq!(outcome.label(), "duplicate");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// The event was stored and its handlers ran and committed.
    Processed {
        /// The trigger row.
        trigger_id: i64,
        /// Stripe's event id.
        event_id: String,
        /// How many handlers ran.
        handlers: usize,
    },
    /// A stored event's handlers ran again on purpose ([`super::Engine::replay_event`]).
    Replayed {
        /// The trigger row of the replay.
        trigger_id: i64,
        /// Stripe's event id.
        event_id: String,
        /// How many handlers ran.
        handlers: usize,
    },
    /// The event was processed before: handlers not called again.
    Duplicate {
        /// The trigger row.
        trigger_id: i64,
        /// Stripe's event id.
        event_id: String,
    },
    /// The Stripe Dashboard's test event: recorded and discarded.
    TestEvent {
        /// The trigger row.
        trigger_id: i64,
    },
    /// Handed to the configured event callback instead of processed inline.
    Queued {
        /// The trigger row (process it later with [`super::Engine::process_trigger`]).
        trigger_id: i64,
        /// Stripe's event id.
        event_id: String,
    },
    /// The delivery failed validation (signature, timestamp, body, retrieval): nothing processed.
    Rejected {
        /// The trigger row.
        trigger_id: i64,
        /// Why.
        error: Error,
    },
    /// A handler (or the event callback) failed: everything it wrote was rolled back, the
    /// trigger holds the error, and Stripe's retry will process the event again.
    Failed {
        /// The trigger row.
        trigger_id: i64,
        /// Stripe's event id.
        event_id: String,
        /// The handler's error.
        error: Error,
    },
}

impl Outcome {
    /// Whether Stripe should get a 2xx (no retry needed).
    ///
    /// ```
    /// # use djstripe_core::engine::Outcome;
    /// assert!(Outcome::TestEvent { trigger_id: 1 }.is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        !matches!(self, Outcome::Rejected { .. } | Outcome::Failed { .. })
    }

    /// The answer family: `None` for success, else what the error maps to.
    ///
    /// ```
    /// # use djstripe_core::{engine::Outcome, Error, StatusClass};
    /// let o = Outcome::Rejected { trigger_id: 1, error: Error::NoMatchingSignature };
    /// assert_eq!(o.status_class(), Some(StatusClass::BadRequest));
    /// ```
    pub fn status_class(&self) -> Option<StatusClass> {
        match self {
            Outcome::Rejected { error, .. } | Outcome::Failed { error, .. } => Some(error.status_class()),
            _ => None,
        }
    }

    /// A short word for logs, JSON answers and the trigger row's `outcome`.
    ///
    /// ```
    /// # use djstripe_core::engine::Outcome;
    /// assert_eq!(Outcome::TestEvent { trigger_id: 1 }.label(), "test_event");
    /// ```
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Processed { .. } => "processed",
            Outcome::Replayed { .. } => "replayed",
            Outcome::Duplicate { .. } => "duplicate",
            Outcome::TestEvent { .. } => "test_event",
            Outcome::Queued { .. } => "queued",
            Outcome::Rejected { .. } => "invalid",
            Outcome::Failed { .. } => "failed",
        }
    }

    /// The trigger row this outcome left.
    ///
    /// ```
    /// # use djstripe_core::engine::Outcome;
    /// assert_eq!(Outcome::TestEvent { trigger_id: 3 }.trigger_id(), 3);
    /// ```
    pub fn trigger_id(&self) -> i64 {
        match self {
            Outcome::Processed { trigger_id, .. }
            | Outcome::Replayed { trigger_id, .. }
            | Outcome::Duplicate { trigger_id, .. }
            | Outcome::TestEvent { trigger_id }
            | Outcome::Queued { trigger_id, .. }
            | Outcome::Rejected { trigger_id, .. }
            | Outcome::Failed { trigger_id, .. } => *trigger_id,
        }
    }

    /// The Stripe event id, when known.
    ///
    /// ```
    /// # use djstripe_core::engine::Outcome;
    /// assert_eq!(Outcome::TestEvent { trigger_id: 3 }.event_id(), None);
    /// ```
    pub fn event_id(&self) -> Option<&str> {
        match self {
            Outcome::Processed { event_id, .. }
            | Outcome::Replayed { event_id, .. }
            | Outcome::Duplicate { event_id, .. }
            | Outcome::Queued { event_id, .. }
            | Outcome::Failed { event_id, .. } => Some(event_id),
            Outcome::TestEvent { .. } | Outcome::Rejected { .. } => None,
        }
    }
}
