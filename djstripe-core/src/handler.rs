//! What a handler receives and returns: [`HandlerContext`], [`HandlerResult`], [`HandlerError`].

use std::backtrace::{Backtrace, BacktraceStatus};
use std::fmt;

use crate::db::DbConnection;

/// What a handler returns: `Ok(())`, or an error that rolls the event's transaction back.
///
/// ```
/// use djstripe_core::{Event, HandlerResult};
/// fn handler(event: &Event) -> HandlerResult {
///     let amount: i64 = "42".parse()?; // any std error converts with `?`
///     assert_eq!(amount, 42);
///     Ok(())
/// }
/// ```
pub type HandlerResult = Result<(), HandlerError>;

/// A handler's failure: any error type, boxed, with a backtrace when `RUST_BACKTRACE` asks for one.
///
/// Like `anyhow::Error` it converts from every `std::error::Error + Send + Sync + 'static`, so `?`
/// works in a handler, and it deliberately does not implement `std::error::Error` itself.
///
/// ```
/// use djstripe_core::HandlerError;
/// let err = HandlerError::msg("customer has no email");
/// assert_eq!(err.to_string(), "customer has no email");
/// ```
pub struct HandlerError {
    source: Box<dyn std::error::Error + Send + Sync + 'static>,
    backtrace: Backtrace,
}

impl HandlerError {
    /// An error from a plain message.
    ///
    /// ```
    /// # use djstripe_core::HandlerError;
    /// let err = HandlerError::msg(format!("refund {} failed", "re_1"));
    /// assert!(err.to_string().contains("re_1"));
    /// ```
    pub fn msg(message: impl Into<String>) -> Self {
        let message: String = message.into();
        Self::from_boxed(message.into())
    }

    /// An error from an already boxed error.
    ///
    /// ```
    /// # use djstripe_core::HandlerError;
    /// let boxed: Box<dyn std::error::Error + Send + Sync> = "boom".into();
    /// assert_eq!(HandlerError::from_boxed(boxed).to_string(), "boom");
    /// ```
    pub fn from_boxed(source: Box<dyn std::error::Error + Send + Sync + 'static>) -> Self {
        Self { source, backtrace: Backtrace::capture() }
    }

    /// The underlying error.
    ///
    /// ```
    /// # use djstripe_core::HandlerError;
    /// let err = HandlerError::from("x".parse::<i32>().unwrap_err());
    /// assert!(err.source().is::<std::num::ParseIntError>());
    /// ```
    pub fn source(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.source
    }

    /// The message with every `source()` in the chain, one per line, and the backtrace if captured:
    /// what the trigger row stores as its trace.
    ///
    /// ```
    /// # use djstripe_core::HandlerError;
    /// let trace = HandlerError::msg("outer").trace();
    /// assert!(trace.starts_with("outer"));
    /// ```
    pub fn trace(&self) -> String {
        let mut out = self.source.to_string();
        let mut next = self.source.source();
        while let Some(cause) = next {
            out.push_str("\ncaused by: ");
            out.push_str(&cause.to_string());
            next = cause.source();
        }
        if self.backtrace.status() == BacktraceStatus::Captured {
            out.push_str("\n\nbacktrace:\n");
            out.push_str(&self.backtrace.to_string());
        }
        out
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for HandlerError {
    fn from(error: E) -> Self {
        Self::from_boxed(Box::new(error))
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.source, f)
    }
}

impl fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerError").field("source", &self.source).finish()
    }
}

/// The return types a `#[webhook_handler]` function may have.
///
/// Implemented for `()`, `Result<(), E>` with `E: std::error::Error + Send + Sync + 'static`,
/// and [`HandlerResult`]. (`Box<dyn Error>` is not an `Error`: wrap it with [`HandlerError::from_boxed`].)
///
/// ```
/// use djstripe_core::IntoHandlerResult;
/// assert!(().into_handler_result().is_ok());
/// let failed: Result<(), std::fmt::Error> = Err(std::fmt::Error);
/// assert!(failed.into_handler_result().is_err());
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a return type a #[webhook_handler] function may have",
    label = "return `()`, `HandlerResult` or `Result<(), E>` with `E: std::error::Error + Send + Sync + 'static`"
)]
pub trait IntoHandlerResult {
    /// Converts the handler's return value.
    fn into_handler_result(self) -> HandlerResult;
}

impl IntoHandlerResult for () {
    fn into_handler_result(self) -> HandlerResult {
        Ok(())
    }
}

impl IntoHandlerResult for HandlerResult {
    fn into_handler_result(self) -> HandlerResult {
        self
    }
}

impl<E: std::error::Error + Send + Sync + 'static> IntoHandlerResult for Result<(), E> {
    fn into_handler_result(self) -> HandlerResult {
        self.map_err(HandlerError::from)
    }
}

pub(crate) type Callback = Box<dyn FnOnce() + Send + 'static>;

/// What a handler gets besides the event: the event's database transaction and `on_commit`.
///
/// Every handler of one event shares one context. Its connection is inside the transaction that
/// also inserts the event row: the handler's writes commit with the event or roll back with it.
///
/// ```
/// use djstripe_core::{Event, HandlerContext, HandlerResult};
///
/// fn trial_ending(event: &Event, ctx: &mut HandlerContext) -> HandlerResult {
///     let customer = event.object_id().unwrap_or_default().to_owned();
///     ctx.on_commit(move || println!("mail {customer}")); // only if the transaction commits
///     Ok(())
/// }
///
/// let mut ctx = HandlerContext::detached();
/// let event = djstripe_core::testing::event("customer.subscription.trial_will_end");
/// trial_ending(&event, &mut ctx).unwrap();
/// assert_eq!(ctx.pending_on_commit(), 1);
/// ```
pub struct HandlerContext<'c> {
    conn: Option<&'c mut DbConnection>,
    on_commit: Vec<Callback>,
}

impl<'c> HandlerContext<'c> {
    /// A context inside a transaction on `conn` (what the engine builds).
    ///
    /// ```no_run
    /// # fn f(conn: &mut djstripe_core::db::DbConnection) {
    /// let ctx = djstripe_core::HandlerContext::new(conn);
    /// # }
    /// ```
    pub fn new(conn: &'c mut DbConnection) -> Self {
        Self { conn: Some(conn), on_commit: Vec::new() }
    }

    /// A context without a database, for unit tests of handlers that do not write.
    ///
    /// ```
    /// let mut ctx = djstripe_core::HandlerContext::detached();
    /// assert!(ctx.connection().is_err());
    /// ```
    pub fn detached() -> HandlerContext<'static> {
        HandlerContext { conn: None, on_commit: Vec::new() }
    }

    /// The connection of the event's transaction. Write through it, and the write is atomic with
    /// the event: committed together, or rolled back together when any handler fails.
    ///
    /// Fails (as a handler error) in a [`detached`](Self::detached) context.
    ///
    /// ```
    /// # let mut ctx = djstripe_core::HandlerContext::detached();
    /// assert!(ctx.connection().err().unwrap().to_string().contains("no database"));
    /// ```
    pub fn connection(&mut self) -> Result<&mut DbConnection, HandlerError> {
        self.conn
            .as_deref_mut()
            .ok_or_else(|| HandlerError::msg("this HandlerContext has no database connection (detached)"))
    }

    /// Runs `f` after the event's transaction commits; never if it rolls back. Like Django's
    /// `transaction.on_commit`: for mail, cache invalidation, job enqueueing.
    ///
    /// Callbacks run in commit order on a thread of their own (a slow one delays no delivery);
    /// one that panics is logged and does not stop the others. Tests can wait for them with
    /// [`crate::engine::Engine::flush_on_commit`].
    ///
    /// ```
    /// # let mut ctx = djstripe_core::HandlerContext::detached();
    /// ctx.on_commit(|| println!("committed"));
    /// assert_eq!(ctx.pending_on_commit(), 1);
    /// ```
    pub fn on_commit(&mut self, f: impl FnOnce() + Send + 'static) {
        self.on_commit.push(Box::new(f));
    }

    /// How many `on_commit` callbacks wait for the commit.
    ///
    /// ```
    /// # let ctx = djstripe_core::HandlerContext::detached();
    /// assert_eq!(ctx.pending_on_commit(), 0);
    /// ```
    pub fn pending_on_commit(&self) -> usize {
        self.on_commit.len()
    }

    /// Takes the callbacks out (the engine runs them after the commit, or drops them).
    pub(crate) fn take_on_commit(&mut self) -> Vec<Callback> {
        std::mem::take(&mut self.on_commit)
    }
}

/// Runs `on_commit` callbacks, isolating panics so one bad callback does not skip the others.
pub(crate) fn run_on_commit(callbacks: Vec<Callback>) {
    for callback in callbacks {
        if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(callback)) {
            tracing::error!(panic = %crate::dispatch::panic_message(&*panic), "an on_commit callback panicked");
        }
    }
}
