//! The one error type of `djstripe-actix`, and its HTTP mapping.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

/// Everything that can go wrong in the adapter: configuration, startup, and core's errors.
///
/// As an actix `ResponseError` it answers a short JSON body; internal details are logged, not
/// sent.
///
/// ```
/// use actix_web::ResponseError;
/// let err = djstripe_actix::Error::Config { var: "DJSTRIPE_WEBHOOK_TOLERANCE", message: "`abc` is not a number of seconds".into() };
/// assert_eq!(err.to_string(), "DJSTRIPE_WEBHOOK_TOLERANCE: `abc` is not a number of seconds");
/// assert_eq!(err.status_code().as_u16(), 500);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is wrong; `var` names the environment variable or setting.
    #[error("{var}: {message}")]
    Config {
        /// The variable or setting.
        var: &'static str,
        /// What is wrong with it, and what is expected.
        message: String,
    },
    /// An error of `djstripe-core`.
    #[error(transparent)]
    Core(#[from] djstripe_core::Error),
    /// An I/O error (binding the server, reading a file).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The request body exceeds the configured limit.
    #[error("the request body exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A command-line operation failed (one clear line for the operator).
    #[error("{0}")]
    Cli(String),
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        use djstripe_core::StatusClass;
        match self {
            Error::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Core(e) => match e.status_class() {
                StatusClass::BadRequest => StatusCode::BAD_REQUEST,
                StatusClass::NotFound => StatusCode::NOT_FOUND,
                StatusClass::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let message = match status {
            StatusCode::NOT_FOUND => "not found".to_owned(),
            StatusCode::SERVICE_UNAVAILABLE => "database unavailable, retry later".to_owned(),
            StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE => self.to_string(),
            _ => {
                tracing::error!(error = %self, "internal error");
                "internal error".to_owned()
            }
        };
        HttpResponse::build(status).json(serde_json::json!({ "status": "error", "error": message }))
    }
}

/// `Result` with [`Error`].
///
/// ```
/// fn config() -> djstripe_actix::Result<djstripe_actix::Config> {
///     djstripe_actix::Config::from_env("sqlite://app.sqlite3")
/// }
/// # let _ = config;
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;
