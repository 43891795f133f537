//! [`Receipt`]: the engine's answer for one delivery — its trigger row and what became of it.

use crate::Error;
use crate::db::Outcome;

/// What the engine did with a delivery: the trigger row it left and its [`Outcome`] (the same
/// value that is stored in that row), with the event and the error when there are any.
///
/// ```
/// use djstripe_core::db::Outcome;
/// use djstripe_core::engine::Receipt;
/// let receipt = Receipt { trigger_id: 7, outcome: Outcome::Duplicate, event_id: Some("evt_1".into()), handlers: 0, error: None };
/// assert!(receipt.is_success());
/// assert_eq!(receipt.http_status(), 200);
/// ```
#[derive(Debug)]
pub struct Receipt {
    /// The trigger row (`djstripe_webhookeventtrigger.id`).
    pub trigger_id: i64,
    /// What became of the delivery.
    pub outcome: Outcome,
    /// Stripe's event id, once the delivery passed validation.
    pub event_id: Option<String>,
    /// How many handlers ran and committed (0 for anything but processed and replayed).
    pub handlers: usize,
    /// Why it is [`Outcome::Invalid`] or [`Outcome::Failed`].
    pub error: Option<Error>,
}

impl Receipt {
    /// Whether Stripe gets a 2xx (no retry needed).
    ///
    /// ```
    /// # use djstripe_core::{db::Outcome, engine::Receipt};
    /// # let receipt = Receipt { trigger_id: 1, outcome: Outcome::TestEvent, event_id: None, handlers: 0, error: None };
    /// assert!(receipt.is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        self.outcome.is_success()
    }

    /// The HTTP status of the answer: the error's ([`Error::http_status`]: 400 a bad signature,
    /// 413 a body over the limit, 500 a handler failure, ...) or the outcome's (200).
    ///
    /// ```
    /// # use djstripe_core::{db::Outcome, engine::Receipt, Error};
    /// let too_large = Receipt { trigger_id: 1, outcome: Outcome::Invalid, event_id: None, handlers: 0, error: Some(Error::BodyTooLarge { limit: 1024 }) };
    /// assert_eq!(too_large.http_status(), 413);
    /// ```
    pub fn http_status(&self) -> u16 {
        match (&self.error, self.outcome) {
            (_, outcome) if outcome.is_success() => outcome.http_status(),
            (Some(error), Outcome::Invalid) => error.http_status(),
            (_, outcome) => outcome.http_status(),
        }
    }
}
