//! The one error type of the admin, and the answer each error gets.

use djstripe_core::error::Resource;

/// What an admin page can refuse or fail with. [`Admin::handle`](crate::Admin::handle) turns it
/// into an answer (a small HTML page, or plain text for the CSRF and form refusals); internal
/// details are logged, never shown.
///
/// ```
/// let err = djstripe_admin::Error::YesNo { filter: "valid", value: "maybe".into() };
/// assert_eq!(err.status(), 400);
/// assert_eq!(err.to_string(), "`maybe` is not a value of valid: use yes or no");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error of `djstripe-core` (database, Stripe, not found, invalid input).
    #[error(transparent)]
    Core(#[from] djstripe_core::Error),
    /// No page at this path (or an id in it that is not one).
    #[error("no admin page at {path}")]
    NoPage {
        /// The path below the admin's prefix.
        path: String,
    },
    /// The page exists, not for this method (`GET` on a form's target).
    #[error("{method} is not allowed here")]
    MethodNotAllowed {
        /// The request's method.
        method: String,
        /// What the page answers (`GET`, `POST`, `GET, POST`).
        allow: &'static str,
    },
    /// The form's `csrf_token` field is missing or differs from the CSRF cookie.
    #[error("This form has expired or was not sent by this admin (CSRF check failed): reload the page and try again.")]
    Csrf,
    /// The form body exceeds [`MAX_FORM_BODY`](crate::MAX_FORM_BODY).
    #[error("the form is larger than {limit} bytes")]
    FormTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The form body did not arrive within [`FORM_BODY_TIMEOUT`](crate::FORM_BODY_TIMEOUT).
    #[error("the form did not arrive within {} s", crate::FORM_BODY_TIMEOUT.as_secs())]
    FormTimedOut,
    /// The form body does not parse as the page's form.
    #[error("unreadable form: {0}")]
    Form(#[source] serde_urlencoded::de::Error),
    /// The query string does not parse as the page's parameters.
    #[error("unreadable query string: {0}")]
    Query(#[source] serde_urlencoded::de::Error),
    /// A yes/no filter with another value.
    #[error("`{value}` is not a value of {filter}: use yes or no")]
    YesNo {
        /// The filter's name (`valid`, `processed`, `failed`).
        filter: &'static str,
        /// What was sent.
        value: String,
    },
    /// The endpoint filter is not a number.
    #[error("`{value}` is not an endpoint id")]
    EndpointId {
        /// What was sent.
        value: String,
    },
    /// An endpoint status other than `enabled` / `disabled`.
    #[error("the status is enabled or disabled, not `{value}`")]
    EndpointStatus {
        /// What was sent.
        value: String,
    },
    /// A new signing secret that does not look like one.
    #[error("a signing secret starts with whsec_ (copy it from the Stripe Dashboard)")]
    SigningSecret,
    /// How long to keep the previous secret, out of range.
    #[error("keep the old secret for 0 to 720 hours, not `{value}`")]
    KeepHours {
        /// What was sent.
        value: String,
    },
    /// Dropping a previous secret that is not there.
    #[error("no previous secret number {index}")]
    NoPreviousSecret {
        /// The index sent.
        index: usize,
    },
    /// Every password verification slot is taken
    /// ([`AdminConfig::max_concurrent_logins`](crate::AdminConfig::max_concurrent_logins)):
    /// answered 429 with `Retry-After`, without hashing.
    #[error("Too many logins are being checked at once; try again in a moment.")]
    TooManyLogins,
    /// This client address failed to log in too often
    /// ([`AdminConfig::failed_logins_per_minute`](crate::AdminConfig::failed_logins_per_minute)):
    /// answered 429 with `Retry-After`, without checking the password.
    #[error("Too many failed logins from your address; try again in {seconds} seconds.")]
    LoginsLocked {
        /// Until the client's minute is over.
        seconds: u64,
    },
    /// A state-changing request another site made a browser send (`Sec-Fetch-Site` or `Origin`
    /// not this site's).
    #[error("This request came from another site (Origin / Sec-Fetch-Site) and was refused.")]
    CrossSite,
    /// A login over plain HTTP while cookies are `Secure`: a browser would not keep the session.
    #[error(
        "This admin is reached over plain HTTP, and its cookies are Secure: a browser would not keep \
         the login. Use https, or set DJSTRIPE_ADMIN_SECURE_COOKIES=false on a network you trust."
    )]
    InsecureLogin,
    /// All clients together failed to log in too often this minute
    /// ([`AdminConfig::failed_logins_per_minute_total`](crate::AdminConfig::failed_logins_per_minute_total)):
    /// every login waits (429 with `Retry-After`).
    #[error("Too many failed logins to this admin; logins are paused for {seconds} seconds.")]
    LoginsPaused {
        /// Seconds until the window ends.
        seconds: u64,
    },
    /// A template failed to render (a bug: logged, answered 500).
    #[error("admin template {template}: {source}")]
    Template {
        /// The template's name.
        template: &'static str,
        /// minijinja's error.
        #[source]
        source: minijinja::Error,
    },
}

impl Error {
    /// The HTTP status it is answered with.
    ///
    /// ```
    /// assert_eq!(djstripe_admin::Error::Csrf.status(), 403);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            Error::Core(e) => e.http_status(),
            Error::NoPage { .. } => 404,
            Error::MethodNotAllowed { .. } => 405,
            Error::Csrf | Error::CrossSite => 403,
            Error::FormTooLarge { .. } => 413,
            Error::FormTimedOut => 408,
            Error::Form(_)
            | Error::Query(_)
            | Error::YesNo { .. }
            | Error::EndpointId { .. }
            | Error::EndpointStatus { .. }
            | Error::SigningSecret
            | Error::KeepHours { .. }
            | Error::NoPreviousSecret { .. }
            | Error::InsecureLogin => 400,
            Error::TooManyLogins | Error::LoginsLocked { .. } | Error::LoginsPaused { .. } => 429,
            Error::Template { .. } => 500,
        }
    }

    /// What the error page says: the error itself for a request the operator can fix, a fixed
    /// sentence otherwise (the details are logged here).
    pub(crate) fn public_message(&self) -> String {
        match self.status() {
            404 => "Not found.".to_owned(),
            405 => "This page does not answer that method.".to_owned(),
            503 => "The database is unavailable; try again in a moment.".to_owned(),
            400 | 403 | 413 | 429 => self.to_string(),
            _ => {
                tracing::error!(error = %self, "admin page failed");
                "Internal error (logged).".to_owned()
            }
        }
    }

    /// Not found: the endpoint `id`.
    pub(crate) fn no_endpoint(id: i64) -> Self {
        djstripe_core::Error::NotFound { resource: Resource::WebhookEndpoint, id: id.to_string() }.into()
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
