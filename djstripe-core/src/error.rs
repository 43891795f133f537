//! The one error type of `djstripe-core`, and the one place that maps it to an HTTP status.

use std::time::Duration;

use crate::db::{Backend, Outcome};

/// Everything that can go wrong in `djstripe-core`: verifying a delivery, parsing an event,
/// running a handler, storing the outcome, reading a setting, calling Stripe's API.
///
/// Each variant is one case and carries its data; code tells cases apart by variant, never by
/// message. [`Error::http_status`] is the one mapping to an HTTP status that every adapter uses.
///
/// ```
/// use djstripe_core::Error;
/// let err = Error::SignatureHeaderMissing;
/// assert_eq!(err.to_string(), "the Stripe-Signature header is missing");
/// assert_eq!(err.http_status(), 400);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request carried no `Stripe-Signature` header.
    #[error("the Stripe-Signature header is missing")]
    SignatureHeaderMissing,
    /// The `Stripe-Signature` header is not `t=<unix time>,v1=<hex>[,...]`.
    #[error("the Stripe-Signature header is malformed: {reason}")]
    SignatureHeaderMalformed {
        /// What is wrong (quoting at most 32 characters of the header).
        reason: String,
    },
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
    /// The body is not a Stripe event.
    #[error("the body is not a Stripe event: {reason}")]
    InvalidEvent {
        /// What is missing or wrong (serde's message with its line and column, or the field).
        reason: String,
    },
    /// The body is larger than the adapter's limit (`DJSTRIPE_WEBHOOK_MAX_BODY`): 413.
    #[error("the request body exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The request's body did not arrive within `DJSTRIPE_WEBHOOK_BODY_TIMEOUT` (a stalled or
    /// trickled upload): 408, nothing recorded. Stripe sends a whole body at once.
    #[error("the request body did not arrive within {} s", timeout.as_secs_f64())]
    BodyTimeout {
        /// The deadline on the whole body.
        timeout: Duration,
    },
    /// One of the server's own bounds is reached for now: 503 with `Retry-After`, nothing
    /// written; Stripe retries. The bounds keep memory and time flat under any offered load
    /// (RELIABILITY.md).
    #[error("busy: {limit}; retry later")]
    Busy {
        /// Which bound.
        limit: Limit,
    },
    /// The delivered event's id is not one Stripe could have sent (`evt_` and letters, digits,
    /// `_`: [`crate::event::is_event_id`]); checked on every delivery, recorded as invalid.
    #[error("`{id}` is not a Stripe event id")]
    InvalidEventId {
        /// The id from the body (never used in a URL).
        id: String,
    },
    /// `retrieve_event` validation: Stripe answered with another event than the one asked for.
    #[error("Stripe returned event {returned} for {requested}")]
    EventMismatch {
        /// The id of the delivered event.
        requested: String,
        /// The id in Stripe's answer.
        returned: String,
    },
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
    ///
    /// When a connection could not be opened for a reason the driver's message names (a missing
    /// database, a refused connection, a certificate that does not verify, ...), `cause` says
    /// which, and the message ends with what to do about it.
    #[error("database unavailable: {reason}{}", cause.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    DatabaseUnavailable {
        /// The driver's or the pool's message.
        reason: String,
        /// Why the connection failed, when recognised.
        cause: Option<ConnectFailure>,
    },
    /// The database refused to store a delivery's event for the event's own content: a value
    /// outside the range of its column, a character it cannot hold, a constraint of the table.
    /// Stripe's retry would be refused the same way, so this is the delivery's fault (400), not
    /// an outage; the delivery still leaves a trigger row (its body, and this error with `detail`
    /// in `exception`), and the rest of its batch commits without it.
    ///
    /// The message names the field (when the database named one) and the kind of refusal in a
    /// fixed form; the database's own text is `detail`, for the operator only.
    ///
    /// ```
    /// use djstripe_core::{Error, error::Refusal};
    /// let err = Error::UnstorableEvent {
    ///     field: Some("created".into()),
    ///     refusal: Refusal::OutOfRange,
    ///     detail: "timestamp out of range".into(),
    /// };
    /// assert_eq!(err.to_string(), "the event cannot be stored: `created` is outside the range the database can store");
    /// assert_eq!(err.http_status(), 400);
    /// ```
    #[error("the event cannot be stored: {}{refusal}", field.as_deref().map_or_else(|| "a value ".to_owned(), |f| format!("`{f}` ")))]
    UnstorableEvent {
        /// The column the database named (or the event field that maps to it), if known.
        field: Option<String>,
        /// What kind of value was refused.
        refusal: Refusal,
        /// The database's (or the driver's) own message: stored in the trigger row and logged,
        /// never part of the answer.
        detail: String,
    },
    /// A set of migrations (djstripe's or the app's) could not be applied; nothing of the failed
    /// migration is kept (each runs in its own transaction).
    #[error("{set} migrations failed: {reason}")]
    Migration {
        /// Whose migrations.
        set: MigrationSet,
        /// diesel's message, or what is wrong with the set.
        reason: String,
    },
    /// A database query failed.
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    /// `DATABASE_URL` names a backend whose cargo feature this build does not have.
    #[error("DATABASE_URL is a {backend:?} URL, but djstripe-core was built without its feature `{}`", backend.feature())]
    BackendNotCompiled {
        /// The backend the URL names.
        backend: Backend,
    },
    /// A setting (an environment variable, or its builder equivalent) is wrong or conflicts with
    /// another; `setting` names the variable.
    #[error("{setting}: {message}")]
    InvalidSetting {
        /// The environment variable (`DJSTRIPE_WEBHOOK_TOLERANCE`, ...).
        setting: &'static str,
        /// What is wrong, and what is expected.
        message: String,
    },
    /// An operator's argument (CLI, admin form, API call) is not acceptable; `field` names it.
    #[error("{field}: {message}")]
    InvalidInput {
        /// The argument (`account`, `enabled_events`, `secret`, ...).
        field: &'static str,
        /// What is wrong, and what is expected.
        message: String,
    },
    /// A call to Stripe's API needs the secret key of a mode, and none is configured.
    #[error("{} is not set: it is needed to call Stripe's API", if *livemode { "STRIPE_LIVE_SECRET_KEY" } else { "STRIPE_TEST_SECRET_KEY" })]
    MissingApiKey {
        /// Which mode's key.
        livemode: bool,
    },
    /// Stripe has no such object (404, `resource_missing`). For a delivery checked with
    /// `retrieve_event` the delivery is not authentic (a forged id, or an event of another mode
    /// or account): a 400, never retried into a 500.
    #[error("{request}: Stripe answered 404{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    StripeNotFound {
        /// `METHOD /v1/path`.
        request: String,
        /// Stripe's `error.code` (`resource_missing`), when it sent one.
        code: Option<String>,
        /// Stripe's `error.message`.
        message: String,
    },
    /// Stripe refused the API key: 401 (unknown, expired or rolled key) or 403 (a restricted key
    /// without the permission). A configuration fault, named by the key's setting; retrying
    /// cannot help.
    #[error("{request}: Stripe refused the API key in {key} ({status}{}): {message}", code.as_deref().map(|c| format!(", {c}")).unwrap_or_default())]
    StripeKeyRefused {
        /// `METHOD /v1/path`.
        request: String,
        /// 401 or 403.
        status: u16,
        /// Stripe's `error.code`, when it sent one.
        code: Option<String>,
        /// Stripe's `error.message` (it shows only the key's last four characters).
        message: String,
        /// Where the key comes from: `STRIPE_TEST_SECRET_KEY`, `STRIPE_LIVE_SECRET_KEY`, or the
        /// stored key of a connected account (`accounts set-key`).
        key: String,
    },
    /// Stripe is rate limiting (429) or failing (5xx), still after the retries: for a webhook
    /// delivery a 503, so that Stripe delivers it again later.
    #[error("{request}: Stripe answered {status}{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    StripeUnavailable {
        /// `METHOD /v1/path`.
        request: String,
        /// 429 or 5xx.
        status: u16,
        /// Stripe's `error.code`, when it sent one.
        code: Option<String>,
        /// Stripe's `error.message`, with what the retries did.
        message: String,
    },
    /// Stripe's API answered another error status: a request it refused (400, 409, ...), after
    /// the retries Stripe asked for.
    #[error("{request}: Stripe answered {status}{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    StripeApi {
        /// `METHOD /v1/path`.
        request: String,
        /// The HTTP status.
        status: u16,
        /// Stripe's `error.code`, when it sent one.
        code: Option<String>,
        /// Stripe's `error.message`.
        message: String,
    },
    /// Stripe's API could not be reached, or did not answer in time (after retries): for a
    /// webhook delivery a 503, so that Stripe delivers it again later.
    #[error("{request}: Stripe could not be reached: {reason}")]
    StripeUnreachable {
        /// `METHOD /v1/path`.
        request: String,
        /// The transport's message.
        reason: String,
    },
    /// A v2 event's `related_object.url` is not a relative path of Stripe's API under `/v1/` or
    /// `/v2/` ([`crate::stripe_api::is_api_path`]): it came from the delivered body, and is not
    /// fetched with the secret key. 400: the event's own fault.
    #[error("event {event}: related object url `{}` refused: not a relative API path under /v1/ or /v2/", crate::logging::escaped_display(&url.chars().take(200).collect::<String>()))]
    RelatedObjectUrlRefused {
        /// The event's id.
        event: String,
        /// The url as the event has it.
        url: String,
    },
    /// Stripe answered 2xx with something this crate cannot use.
    #[error("{request}: unexpected answer from Stripe: {reason}")]
    StripeUnexpectedAnswer {
        /// `METHOD /v1/path`.
        request: String,
        /// What is missing or malformed.
        reason: String,
    },
    /// A webhook base URL Stripe would refuse (or that it cannot reach).
    #[error(
        "webhook base URL `{url}` refused: {reason}. Stripe must reach it from the internet: pass a public \
         https URL (--base-url https://shop.example.com), or expose this machine through a tunnel \
         (`ngrok http 8000`, `cloudflared tunnel --url http://localhost:8000`) and pass the tunnel's https URL; \
         for local development `stripe listen --forward-to localhost:8000/stripe/webhook/` needs no endpoint at all"
    )]
    BaseUrlRejected {
        /// The URL as given.
        url: String,
        /// Why Stripe would refuse it.
        reason: String,
    },
    /// A webhook endpoint was created at Stripe, could not be stored, and could not be deleted
    /// at Stripe again: the operator must delete it by hand.
    #[error(
        "Stripe created webhook endpoint {stripe_id} ({url}) but storing it failed ({store_error}), and deleting it \
         at Stripe failed too ({delete_error}). Nothing was stored locally. Delete {stripe_id} in the Stripe Dashboard \
         (Developers → Webhooks) or with `curl -X DELETE {api_base}/v1/webhook_endpoints/{stripe_id} -u <secret key>:{}`",
        account.as_deref().map(|a| format!(" -H 'Stripe-Account: {a}'")).unwrap_or_default()
    )]
    CleanupNeeded {
        /// The endpoint's Stripe id (`we_...`).
        stripe_id: String,
        /// Its URL.
        url: String,
        /// The Connect account it belongs to.
        account: Option<String>,
        /// Stripe's API base.
        api_base: String,
        /// Why storing it failed.
        store_error: Box<Error>,
        /// Why deleting it failed.
        delete_error: Box<Error>,
    },
    /// Creating a webhook endpoint at Stripe was cut off (no answer, or retries exhausted): it
    /// may exist at Stripe. Its local row (status `pending`) keeps the idempotency key, so the
    /// same `create` run again within 24 hours finishes it with the same endpoint and secret.
    #[error(
        "{source}. The endpoint may have been created at Stripe: run the same `endpoints create` again within \
         24 hours to finish it (it resumes local endpoint #{endpoint} with the same idempotency key, so Stripe \
         returns the same endpoint and signing secret instead of making a second one)"
    )]
    CreationUnfinished {
        /// The local row, status `pending`.
        endpoint: i64,
        /// Why the call did not finish.
        source: Box<Error>,
    },
    /// The record asked for does not exist.
    #[error("{resource} {id} not found")]
    NotFound {
        /// What kind of record.
        resource: Resource,
        /// The key it was looked up by.
        id: String,
    },
    /// A trigger cannot be processed again (see [`crate::db::WebhookEventTrigger::reprocessable`]).
    #[error("trigger {id} cannot be reprocessed: {reason}")]
    NotReprocessable {
        /// The trigger's id.
        id: i64,
        /// Why not.
        reason: NotReprocessable,
    },
    /// An I/O operation of the app failed (listening on an address, serving).
    #[error("{action}: {source}")]
    Io {
        /// What was being done (`listening on 127.0.0.1:8000`).
        action: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A stored row cannot be read back (edited by hand, or written by a future version).
    #[error("{resource} {id} holds unreadable data: {reason}")]
    CorruptRow {
        /// The table's record kind.
        resource: Resource,
        /// Its key.
        id: String,
        /// What failed to parse.
        reason: String,
    },
}

/// Why a connection to the database could not be opened, as far as the driver's message tells:
/// the part of an [`Error::DatabaseUnavailable`] a program can act on. It displays as the hint
/// that ends the error's message.
///
/// ```
/// use djstripe_core::error::ConnectFailure;
/// let missing = ConnectFailure::MissingDatabase {
///     database: "shop".into(),
///     host: Some("127.0.0.1".into()),
///     port: Some(5432),
///     user: Some("postgres".into()),
/// };
/// assert_eq!(missing.to_string(), "create it: createdb -h 127.0.0.1 -U postgres shop");
/// let refused = ConnectFailure::Refused { address: "127.0.0.1:5432".into() };
/// assert_eq!(refused.to_string(), "is PostgreSQL running on 127.0.0.1:5432?");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectFailure {
    /// The server answered, and has no database of that name.
    #[error("create it: {}", createdb(database, host.as_deref(), *port, user.as_deref()))]
    MissingDatabase {
        /// The database the URL names.
        database: String,
        /// The server's host (or socket directory), as libpq reported it.
        host: Option<String>,
        /// The server's port.
        port: Option<u16>,
        /// The user of the URL, if it names one.
        user: Option<String>,
    },
    /// Nothing accepted the connection at the address: the server is down, or listens elsewhere.
    #[error("is PostgreSQL running on {address}?")]
    Refused {
        /// `host:port`, or the socket's path.
        address: String,
    },
    /// Nothing answered within the connect timeout (libpq's `connect_timeout`).
    #[error("nothing answered in time: is {address} reachable from here (firewall, security group)?")]
    TimedOut {
        /// `host:port`.
        address: String,
    },
    /// The server accepts only encrypted connections and the URL asked for none
    /// (`sslmode=disable`).
    #[error(
        "the server accepts only TLS connections: use sslmode=verify-full with sslrootcert=<CA file>, or sslmode=require"
    )]
    TlsRequired,
    /// The URL requires TLS (`sslmode=require` or stricter) and the server has TLS off.
    #[error("the server does not offer TLS: turn `ssl` on in its configuration, or use sslmode=prefer")]
    TlsUnsupported,
    /// The server's certificate does not chain to a trusted CA (`verify-ca`, `verify-full`).
    #[error("{}", if *system_roots {
        "sslrootcert=system uses the CA store of djstripe's bundled OpenSSL (/usr/local/ssl), not the system's: set \
         SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt, or sslrootcert=<that file or the provider's CA>"
    } else {
        "the server's certificate is not signed by a CA in sslrootcert: use the CA certificate your provider publishes"
    })]
    UntrustedCertificate {
        /// Whether the URL asked for the system's CAs (`sslrootcert=system`).
        system_roots: bool,
    },
    /// The server's certificate does not name the host of the URL (`verify-full`).
    #[error(
        "verify-full checks that the server's certificate names the host of DATABASE_URL: connect with a name the certificate lists"
    )]
    CertificateNameMismatch,
    /// The server did not accept the user's password (or other credentials).
    #[error("check the user and its password (or client certificate) in DATABASE_URL")]
    AuthenticationFailed,
    /// The server admits this user only with a client certificate, and none was sent.
    #[error("the server wants a client certificate for this user: add sslcert=<certificate file>&sslkey=<key file>")]
    ClientCertificateRequired,
    /// The server's `pg_hba.conf` admits no connection from this host for this user and database.
    #[error("the server's pg_hba.conf does not admit this host, user and database (and encryption)")]
    NotAdmitted,
}

/// The `createdb` command line of a [`ConnectFailure::MissingDatabase`] hint.
fn createdb(database: &str, host: Option<&str>, port: Option<u16>, user: Option<&str>) -> String {
    let mut command = String::from("createdb");
    if let Some(host) = host {
        command.push_str(&format!(" -h {}", shell_word(host)));
    }
    if let Some(port) = port.filter(|&p| p != 5432) {
        command.push_str(&format!(" -p {port}"));
    }
    if let Some(user) = user {
        command.push_str(&format!(" -U {}", shell_word(user)));
    }
    command.push(' ');
    command.push_str(&shell_word(database));
    command
}

/// `word` as one shell word: itself when it needs no quoting, else in single quotes.
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:@".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The bound an [`Error::Busy`] hit.
///
/// ```
/// use djstripe_core::error::Limit;
/// let full = Limit::WriterQueue { capacity: 1024 };
/// assert_eq!(full.to_string(), "the writer queue is full (1024 deliveries)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Limit {
    /// A writer's queue holds `capacity` deliveries already (`DJSTRIPE_WRITER_QUEUE`).
    #[error("the writer queue is full ({capacity} deliveries)")]
    WriterQueue {
        /// Deliveries one writer queues at most.
        capacity: usize,
    },
    /// The delivery waited longer than `DJSTRIPE_DB_TIMEOUT` for its writer; it was not
    /// processed.
    #[error("the delivery waited {} ms for a writer, beyond the database timeout", waited.as_millis())]
    QueuedTooLong {
        /// How long it waited.
        waited: Duration,
    },
    /// `max` request bodies are being read already (`DJSTRIPE_WEBHOOK_MAX_READERS`).
    #[error("{max} request bodies are being read already")]
    BodyReaders {
        /// Bodies read at once, at most.
        max: usize,
    },
    /// The memory for bodies beyond their first 64 KiB is in use (`DJSTRIPE_WEBHOOK_BODY_MEMORY`).
    #[error("the memory for large request bodies ({bytes} bytes) is in use")]
    BodyMemory {
        /// The budget in bytes.
        bytes: usize,
    },
    /// `retrieve_event` validation made `per_second` calls to Stripe for this endpoint this
    /// second already (`DJSTRIPE_RETRIEVE_EVENT_PER_SECOND`).
    #[error("{per_second} calls to Stripe's API for this endpoint this second already")]
    RetrieveRate {
        /// Calls per endpoint and second, at most.
        per_second: u32,
    },
}

/// The kinds of record an [`Error::NotFound`] or [`Error::CorruptRow`] names.
///
/// ```
/// assert_eq!(djstripe_core::error::Resource::Event.to_string(), "event");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resource {
    /// A `djstripe_webhookendpoint` row (or the URL of one).
    WebhookEndpoint,
    /// A `djstripe_webhookeventtrigger` row.
    Trigger,
    /// A `djstripe_event` row.
    Event,
    /// A connected account's stored API key.
    AccountKey,
    /// A user of the admin pages (`djstripe_admin_user`).
    AdminUser,
    /// A path under the webhook prefix that is no endpoint.
    WebhookPath,
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Resource::WebhookEndpoint => "webhook endpoint",
            Resource::Trigger => "trigger",
            Resource::Event => "event",
            Resource::AccountKey => "account key",
            Resource::AdminUser => "admin user",
            Resource::WebhookPath => "webhook path",
        })
    }
}

/// Whose migrations an [`Error::Migration`] is about.
///
/// ```
/// assert_eq!(djstripe_core::error::MigrationSet::App.to_string(), "the app's");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationSet {
    /// djstripe's own tables (`djstripe_*`).
    Djstripe,
    /// The app's, given as [`crate::app::AppMigrations`].
    App,
}

impl std::fmt::Display for MigrationSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MigrationSet::Djstripe => "djstripe's",
            MigrationSet::App => "the app's",
        })
    }
}

/// Why the database refused an event's row (see [`Error::UnstorableEvent`]): the short, fixed
/// form of the database's reason that the answer to the delivery may show.
///
/// ```
/// assert_eq!(djstripe_core::error::Refusal::NulCharacter.to_string(), "contains a NUL character (U+0000)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// A text holds U+0000, which PostgreSQL's `text` cannot (SQLSTATE 22021).
    #[error("contains a NUL character (U+0000)")]
    NulCharacter,
    /// A number or timestamp beyond what the column holds (SQLSTATE 22003, 22008).
    #[error("is outside the range the database can store")]
    OutOfRange,
    /// A value longer than the column or its index allows (SQLSTATE 22001, 54000).
    #[error("is too long for the database")]
    TooLong,
    /// Any other value the database or the driver does not accept (the rest of SQLSTATE class 22).
    #[error("is not a value the database accepts")]
    BadValue,
    /// A constraint of the table refused the row (SQLSTATE class 23: not null, check, unique,
    /// foreign key).
    #[error("violates a constraint of the database")]
    Constraint,
}

/// Why a trigger cannot be processed again.
///
/// ```
/// use djstripe_core::db::Outcome;
/// use djstripe_core::error::NotReprocessable;
/// assert_eq!(NotReprocessable::AlreadyProcessed(Outcome::Duplicate).to_string(), "it was processed already (duplicate)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotReprocessable {
    /// It failed validation: there is no trusted event to process.
    #[error("it is not a valid delivery")]
    Invalid,
    /// It succeeded (or was superseded by an attempt that did).
    #[error("it was processed already ({0})")]
    AlreadyProcessed(Outcome),
    /// Its stored body was cut to the bound for unauthenticated bodies.
    #[error("it holds a truncated body")]
    TruncatedBody,
    /// Its event waits in the inbox (inbox mode): a worker processes it; nothing to force.
    #[error("its event is queued in the inbox: a worker will process it (`inbox list` shows when)")]
    QueuedInInbox,
}

impl Error {
    /// The HTTP status an adapter answers for this error: the one mapping every adapter uses.
    ///
    /// 400 a bad delivery (Stripe's retry will not help), 404 an unknown endpoint or record, 413
    /// a body over the limit, 500 a handler failure (Stripe retries) or anything unexpected, 503
    /// a database that is down or locked (Stripe retries).
    ///
    /// ```
    /// use djstripe_core::Error;
    /// assert_eq!(Error::NoMatchingSignature.http_status(), 400);
    /// assert_eq!(Error::DatabaseUnavailable { reason: "down".into(), cause: None }.http_status(), 503);
    /// ```
    pub fn http_status(&self) -> u16 {
        match self {
            Error::SignatureHeaderMissing
            | Error::SignatureHeaderMalformed { .. }
            | Error::NoV1Signature
            | Error::TimestampOutsideTolerance { .. }
            | Error::NoMatchingSignature
            | Error::NoSecret
            | Error::InvalidEvent { .. }
            | Error::InvalidEventId { .. }
            | Error::EventMismatch { .. }
            | Error::RelatedObjectUrlRefused { .. }
            | Error::InvalidInput { .. }
            | Error::UnstorableEvent { .. }
            | Error::NotReprocessable { .. } => 400,
            Error::NotFound { .. } => 404,
            Error::BodyTimeout { .. } => 408,
            Error::BodyTooLarge { .. } => 413,
            Error::DatabaseUnavailable { .. }
            | Error::Busy { .. }
            | Error::StripeUnavailable { .. }
            | Error::StripeUnreachable { .. } => 503,
            Error::Migration { .. }
            | Error::Handler { .. }
            | Error::Database(_)
            | Error::BackendNotCompiled { .. }
            | Error::InvalidSetting { .. }
            | Error::MissingApiKey { .. }
            | Error::StripeApi { .. }
            | Error::StripeNotFound { .. }
            | Error::StripeKeyRefused { .. }
            | Error::StripeUnexpectedAnswer { .. }
            | Error::BaseUrlRejected { .. }
            | Error::CleanupNeeded { .. }
            | Error::CreationUnfinished { .. }
            | Error::Io { .. }
            | Error::CorruptRow { .. } => 500,
        }
    }

    /// Whether the message may be shown to an unauthenticated client: the delivery's own faults
    /// (400, 404, 413). Everything else answers a generic text and is logged.
    ///
    /// ```
    /// use djstripe_core::Error;
    /// assert!(Error::NoMatchingSignature.is_client_error());
    /// let reason = "password authentication failed".to_owned();
    /// let cause = Some(djstripe_core::error::ConnectFailure::AuthenticationFailed);
    /// assert!(!Error::DatabaseUnavailable { reason, cause }.is_client_error());
    /// ```
    pub fn is_client_error(&self) -> bool {
        (400..500).contains(&self.http_status())
    }

    /// A shorthand for [`Error::NotFound`].
    pub(crate) fn not_found(resource: Resource, id: impl std::fmt::Display) -> Self {
        Error::NotFound { resource, id: id.to_string() }
    }

    /// A shorthand for [`Error::DatabaseUnavailable`].
    pub(crate) fn unavailable(reason: impl std::fmt::Display) -> Self {
        Error::DatabaseUnavailable { reason: reason.to_string(), cause: None }
    }

    /// A shorthand for [`Error::InvalidInput`].
    pub(crate) fn input(field: &'static str, message: impl Into<String>) -> Self {
        Error::InvalidInput { field, message: message.into() }
    }

    /// A shorthand for [`Error::InvalidSetting`].
    pub(crate) fn setting(setting: &'static str, message: impl Into<String>) -> Self {
        Error::InvalidSetting { setting, message: message.into() }
    }

    /// A shorthand for [`Error::InvalidEvent`].
    pub(crate) fn invalid_event(reason: impl Into<String>) -> Self {
        Error::InvalidEvent { reason: reason.into() }
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
