//! The one error type of `djstripe-actix`, and its HTTP mapping.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use djstripe_core::app::WebhookAnswer;

/// What can go wrong in the adapter: djstripe-core's errors (settings, startup, database) and
/// I/O (binding the server).
///
/// As an actix `ResponseError` it answers core's status ([`djstripe_core::Error::http_status`])
/// and a short JSON body; internal details are logged, never sent.
///
/// ```
/// use actix_web::ResponseError;
/// let err = djstripe_actix::Error::from(djstripe_core::Error::NoMatchingSignature);
/// assert_eq!(err.status_code().as_u16(), 400);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error of `djstripe-core`.
    #[error(transparent)]
    Core(#[from] djstripe_core::Error),
    /// An I/O error (binding or running the server).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Error::Core(e) => StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Error::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let answer = match self {
            Error::Core(e) => WebhookAnswer::from_error(e),
            Error::Io(e) => WebhookAnswer::from_error(&djstripe_core::Error::Io {
                action: "serving".into(),
                source: e.kind().into(),
            }),
        };
        crate::webhook::respond(answer)
    }
}

/// `Result` with [`Error`].
///
/// ```
/// fn settings() -> djstripe_actix::Result<djstripe_actix::Settings> {
///     Ok(djstripe_actix::Settings::from_env("sqlite://app.sqlite3")?)
/// }
/// # let _ = settings;
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;
