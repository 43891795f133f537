//! The one error type of `djstripe-core`.

use std::time::Duration;

/// Everything that can go wrong in `djstripe-core`: verifying a delivery, parsing an event,
/// running a handler, storing the outcome.
///
/// The adapters (`djstripe-actix`) map each case to an HTTP status; [`Error::status_class`]
/// says which family a case belongs to, so every adapter answers the same way.
///
/// ```
/// use djstripe_core::Error;
/// let err = Error::SignatureHeaderMissing;
/// assert_eq!(err.to_string(), "the Stripe-Signature header is missing");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request carried no `Stripe-Signature` header.
    #[error("the Stripe-Signature header is missing")]
    SignatureHeaderMissing,
    /// The `Stripe-Signature` header is not `t=<unix time>,v1=<hex>[,...]`.
    #[error("the Stripe-Signature header is malformed: {0}")]
    SignatureHeaderMalformed(String),
    /// The header has a timestamp but no `v1` (HMAC-SHA256) signature.
    #[error("the Stripe-Signature header has no v1 signature")]
    NoV1Signature,
    /// The signed timestamp is further from now than the tolerance allows (a replay or a clock skew).
    #[error(
        "the Stripe-Signature timestamp {timestamp} is {} s away from now ({now}), beyond the tolerance of {} s",
        timestamp.abs_diff(*now),
        tolerance.as_secs()
    )]
    TimestampOutsideTolerance {
        /// The `t=` value of the header.
        timestamp: i64,
        /// The verifier's clock when it checked.
        now: i64,
        /// The allowed distance.
        tolerance: Duration,
    },
    /// No `v1` signature of the header matches any of the endpoint's secrets.
    #[error("no signature in the Stripe-Signature header matches the payload and the endpoint's secret(s)")]
    NoMatchingSignature,
    /// The endpoint has no usable secret, so nothing it receives can be verified.
    #[error("the endpoint has no signing secret: set one before it can verify deliveries")]
    NoSecret,
    /// The body is not a Stripe event: the message names what is missing or wrong.
    #[error("the body is not a Stripe event: {0}")]
    InvalidEvent(String),
    /// A handler returned an error or panicked; the event's transaction was rolled back.
    #[error("handler `{handler}` failed: {message}")]
    Handler {
        /// The handler's path (`crate::module::function`).
        handler: &'static str,
        /// The error's message (with its sources) or the panic message.
        message: String,
        /// A trace for the operator: source chain, backtrace if captured, handler location.
        trace: String,
    },
    /// The database could not be reached, was locked past the busy timeout, or refused the work.
    #[error("database unavailable: {0}")]
    DatabaseUnavailable(String),
    /// A database query failed.
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    /// A configuration value is wrong; the message names the setting.
    #[error("configuration error: {0}")]
    Config(String),
    /// A call to Stripe's API failed.
    #[error("Stripe API error: {0}")]
    StripeApi(String),
    /// A webhook base URL Stripe would refuse (or that it cannot reach); the message says why
    /// and what to use instead.
    #[error("{0}")]
    BaseUrlRejected(String),
    /// A webhook endpoint exists at Stripe but not locally and could not be removed: the message
    /// names it and says how to delete it.
    #[error("manual cleanup needed: {0}")]
    CleanupNeeded(String),
    /// The record asked for does not exist.
    #[error("not found: {0}")]
    NotFound(String),
}

/// How an adapter should answer for an [`Error`], independent of any web framework.
///
/// ```
/// use djstripe_core::{Error, StatusClass};
/// assert_eq!(Error::DatabaseUnavailable("down".into()).status_class(), StatusClass::Unavailable);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatusClass {
    /// The delivery is bad (signature, timestamp, body): 400. Stripe's retry will not help.
    BadRequest,
    /// A handler failed: 500, so that Stripe retries.
    HandlerFailed,
    /// The database is down or locked: 503, so that Stripe retries.
    Unavailable,
    /// Something unexpected on our side: 500.
    Internal,
    /// The thing asked for does not exist: 404.
    NotFound,
}

impl Error {
    /// The answer family for this error.
    ///
    /// ```
    /// use djstripe_core::{Error, StatusClass};
    /// assert_eq!(Error::NoMatchingSignature.status_class(), StatusClass::BadRequest);
    /// ```
    pub fn status_class(&self) -> StatusClass {
        match self {
            Error::SignatureHeaderMissing
            | Error::SignatureHeaderMalformed(_)
            | Error::NoV1Signature
            | Error::TimestampOutsideTolerance { .. }
            | Error::NoMatchingSignature
            | Error::NoSecret
            | Error::InvalidEvent(_) => StatusClass::BadRequest,
            Error::Handler { .. } => StatusClass::HandlerFailed,
            Error::DatabaseUnavailable(_) => StatusClass::Unavailable,
            Error::NotFound(_) => StatusClass::NotFound,
            Error::Database(_)
            | Error::Config(_)
            | Error::StripeApi(_)
            | Error::BaseUrlRejected(_)
            | Error::CleanupNeeded(_) => StatusClass::Internal,
        }
    }
}

/// `Result` with [`Error`].
///
/// ```
/// fn parse(body: &[u8]) -> djstripe_core::Result<djstripe_core::Event> {
///     djstripe_core::Event::from_slice(body)
/// }
/// assert!(parse(b"{}").is_err());
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;
