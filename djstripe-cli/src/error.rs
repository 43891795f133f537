//! The one error type of `djstripe-cli`.

/// What can go wrong running a command: djstripe-core's errors, and the command line's own.
///
/// ```
/// let err = djstripe_cli::Error::Argument { flag: "--keep-hours", message: "must be between 0 and 8760".into() };
/// assert_eq!(err.to_string(), "--keep-hours: must be between 0 and 8760");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error of `djstripe-core` (settings, database, Stripe's API, ...).
    #[error(transparent)]
    Core(#[from] djstripe_core::Error),
    /// An argument is missing or out of range; `flag` names it.
    #[error("{flag}: {message}")]
    Argument {
        /// The flag or argument (`--base-url`).
        flag: &'static str,
        /// What is wrong, and what to pass.
        message: String,
    },
    /// `serve` was asked for but the app gave the command line no web adapter's server.
    #[error("this command line has no web server: give it one with Cli::server(djstripe_actix::Server::new())")]
    NoServer,
    /// Some of the reprocessed events failed again (each is printed above the error).
    #[error("{failed} of {total} reprocessed event(s) failed again (see above)")]
    FailedAgain {
        /// How many failed.
        failed: usize,
        /// How many were reprocessed.
        total: usize,
    },
    /// A test event could not be sent, or was not answered 2xx (`trigger`).
    #[error("POST {url}: {reason}")]
    Send {
        /// The webhook URL.
        url: String,
        /// What happened.
        reason: String,
    },
}

/// `Result` with [`Error`].
///
/// ```
/// fn run() -> djstripe_cli::Result<()> { Ok(()) }
/// # run().unwrap();
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;
