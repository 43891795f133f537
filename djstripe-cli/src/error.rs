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
    /// A command other than `serve` and `migrate` was pointed at a SQLite file that is not there
    /// (it would have created an empty database).
    #[error(
        "no database at {}: run `{program} migrate` first (or `{program} serve`), or set DATABASE_URL / --database-url to your database",
        shown_path(path)
    )]
    NoDatabase {
        /// The SQLite file.
        path: std::path::PathBuf,
        /// The command line's name (`shop`).
        program: &'static str,
    },
    /// Writing to stdout failed; a closed pipe (`| head`) ends the command quietly.
    #[error("writing to stdout: {0}")]
    Stdout(#[source] std::io::Error),
    /// Reading the password from the terminal or stdin failed.
    #[error("reading the password: {0}")]
    Stdin(#[source] std::io::Error),
    /// The new password is not acceptable (`admin set-password`).
    #[error("{0}")]
    Password(PasswordProblem),
    /// A test event could not be sent, or was not answered 2xx (`trigger`).
    #[error("POST {url}: {reason}")]
    Send {
        /// The webhook URL.
        url: String,
        /// What happened.
        reason: String,
    },
}

/// What is wrong with a new admin password.
///
/// ```
/// use djstripe_cli::{Error, PasswordProblem};
/// assert_eq!(Error::Password(PasswordProblem::Mismatch).to_string(), "the two passwords differ: nothing was changed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordProblem {
    /// Nothing was typed (or stdin was empty).
    #[error("no password given: nothing was changed")]
    Empty,
    /// Shorter than [`MIN_PASSWORD`](crate::MIN_PASSWORD) characters.
    #[error("the password is too short: use at least {min} characters (a passphrase is best)")]
    TooShort {
        /// The least length.
        min: usize,
    },
    /// The confirmation differs from the first entry.
    #[error("the two passwords differ: nothing was changed")]
    Mismatch,
}

/// `./shop.sqlite3` for a bare relative file name, so that it reads as a path.
fn shown_path(path: &std::path::Path) -> String {
    if path.is_relative() && !path.starts_with(".") && !path.starts_with("..") {
        format!("./{}", path.display())
    } else {
        path.display().to_string()
    }
}

/// `Result` with [`Error`].
///
/// ```
/// fn run() -> djstripe_cli::Result<()> { Ok(()) }
/// # run().unwrap();
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;
