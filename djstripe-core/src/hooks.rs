//! Lifecycle hooks: your functions called around the stages of a delivery, dj-stripe's five
//! webhook signals (`webhook_pre_validate`, `webhook_post_validate`, `webhook_pre_process`,
//! `webhook_post_process`, `webhook_processing_error`), registered like handlers — at link time,
//! with `#[webhook_hook(stage)]`, no registration call.
//!
//! Hooks observe; they never steer. A hook gets no database connection and cannot change the
//! delivery: whatever it returns, and if it panics, the answer to Stripe and the event's
//! processing are what they would have been without it. Its error or panic is logged (escaped,
//! see [`crate::logging`]) and the next hook of the stage runs. Use them for metrics, logs,
//! tracing, alerts.
//!
//! ```
//! use djstripe_core::hooks::{PostProcess, PostValidate, ProcessingError};
//! use djstripe_core::webhook_hook;
//!
//! #[webhook_hook(post_validate)]
//! fn count_rejections(call: &PostValidate) {
//!     if let Err(error) = call.verdict {
//!         println!("rejected a delivery from {}: {error}", call.trigger.remote_ip);
//!     }
//! }
//!
//! #[webhook_hook(post_process)]
//! fn processed(call: &PostProcess) {
//!     println!("{} {} (trigger {})", call.event.id, call.receipt.outcome, call.receipt.trigger_id);
//! }
//!
//! #[webhook_hook(processing_error)]
//! fn alert(call: &ProcessingError) -> Result<(), std::io::Error> {
//!     eprintln!("{} failed: {}", call.event.id, call.error);
//!     Ok(()) // an Err is logged, and changes nothing else
//! }
//! # fn main() {}
//! ```
//!
//! # The stages
//! | stage | when | thread | argument |
//! |---|---|---|---|
//! | `pre_validate` | a delivery reached an enabled endpoint and its body was read; before its signature (or Stripe's copy) is checked | the request's: the async worker for a cheap validation, else the blocking pool | [`PreValidate`]: the [`Trigger`] (body unverified) |
//! | `post_validate` | right after validation, before anything is written | same | [`PostValidate`]: the trigger and the verdict, the [`Event`] or the [`Error`] |
//! | `pre_process` | before the transaction that runs the event's handlers opens | the writer thread of its batch (the caller's for an operator's reprocess or replay; in inbox mode the worker's) | [`PreProcess`]: the trigger, the event, the [`Cause`] |
//! | `post_process` | after that transaction **committed**: the event is stored, its handlers' writes are durable; before the delivery is answered and before its `on_commit` callbacks | same | [`PostProcess`]: the trigger, the event, the cause, the [`Receipt`] (outcome `processed`, `duplicate`, `replayed`) |
//! | `processing_error` | instead of `post_process`, once the processing failed for good: a handler failed or panicked (its transaction rolled back), or the database refused or was down | same | [`ProcessingError`]: the trigger, the event, the cause, the [`Error`], the trigger row's id if it has one |
//!
//! Every `pre_process` is followed by exactly one `post_process` or `processing_error` for the
//! same event (but for an inbox worker's lost lease, below). Processing hooks run outside any transaction (none is open before, the batch's is
//! over after), so nothing a hook does can roll an event back, and a hook cannot see an event's
//! uncommitted writes. What runs no hook: a delivery refused before validation (an unknown
//! endpoint, a body over the limit or too slow) runs none; one that fails validation, or is a
//! Dashboard test event, runs only the validation hooks; one refused before its processing
//! starts (503: the writer's queue full, or it waited too long) runs no processing hook. A
//! delivery taken over by the event callback ([`crate::engine::EngineConfig::event_callback`])
//! runs its processing hooks when [`crate::engine::Engine::process_trigger`] processes it.
//!
//! In inbox mode ([`crate::engine::inbox`]) a delivery runs its validation hooks and is answered;
//! an inbox worker runs the processing hooks later, around each attempt at the event's handlers
//! ([`Cause::Inbox`] says which): a failed attempt ends in `processing_error` (the event is
//! retried after a backoff, or dead-lettered), the attempt that commits in `post_process`. A
//! delivery answered `duplicate` when it is enqueued runs no processing hook, and a worker that
//! lost its lease to another (it ran longer than the lease) runs none after `pre_process`: the
//! worker that took the event over runs its own.
//!
//! Processing hooks run on the writer, between two transactions of its batch: a slow hook
//! delays the answers of that batch and the next one (in inbox mode, the worker's next event),
//! and a slow validation hook may hold an async worker. Keep hooks fast (a counter, a log line, a channel send); slow work belongs in
//! `ctx.on_commit` or a queue.
//!
//! # Order and selection
//! The hooks of one stage run in path order, all of them, whatever the others do. An engine
//! runs the hooks its [`HandlerSet`] selects, like handlers: [`HandlerSet::all`] every one,
//! [`HandlerSet::only`] those named (a hook's name is its path, or its last segments, as for a
//! handler), [`HandlerSet::none`] none. So tests of one binary that start their own engines each
//! see just their own hooks.
//!
//! # Testing a hook
//! The arguments are built by the engine only (their fields may grow), so a hook is tested
//! through the whole flow, e.g. a `testing::TestApp` (feature `testing`) that selects it:
//!
//! ```
//! use std::sync::Mutex;
//! use djstripe_core::testing::{EventBuilder, TestApp};
//! use djstripe_core::{hooks::PostProcess, registry::HandlerSet, webhook_hook};
//!
//! static PROCESSED: Mutex<Vec<String>> = Mutex::new(Vec::new());
//!
//! #[webhook_hook(post_process)]
//! fn remember_processed(call: &PostProcess) {
//!     PROCESSED.lock().unwrap().push(format!("{} {}", call.event.id, call.receipt.outcome));
//! }
//!
//! # fn main() {
//! let app = TestApp::builder().handlers(HandlerSet::only(["remember_processed"])).start();
//! app.send(&EventBuilder::new("customer.created").id("evt_hooked"));
//! app.send(&EventBuilder::new("customer.created").id("evt_hooked"));
//! assert_eq!(*PROCESSED.lock().unwrap(), ["evt_hooked processed", "evt_hooked duplicate"]);
//! # }
//! ```
//!
//! # The linker caveat
//! As for handlers (see [`crate::registry`]): hooks in a library crate the binary never
//! references may be dropped by the linker; [`all`] lists what was found, as does the CLI's
//! `handlers` command.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

use crate::engine::Receipt;
use crate::logging::{escaped, escaped_display};
use crate::registry::HandlerSet;
use crate::{Error, Event, HandlerError};

/// A stage of a delivery at which hooks run: dj-stripe's five webhook signals.
///
/// ```
/// use djstripe_core::hooks::Stage;
/// assert_eq!(Stage::PostProcess.as_str(), "post_process");
/// assert_eq!(Stage::PostProcess.signal(), "webhook_post_process");
/// assert_eq!(Stage::ALL.len(), 5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Before a delivery is validated (`webhook_pre_validate`).
    PreValidate,
    /// After validation, with the verdict (`webhook_post_validate`).
    PostValidate,
    /// Before an event's processing (`webhook_pre_process`).
    PreProcess,
    /// After an event's processing committed (`webhook_post_process`).
    PostProcess,
    /// When an event's processing failed (`webhook_processing_error`).
    ProcessingError,
}

impl Stage {
    /// Every stage, in the order a delivery goes through them.
    pub const ALL: [Stage; 5] =
        [Stage::PreValidate, Stage::PostValidate, Stage::PreProcess, Stage::PostProcess, Stage::ProcessingError];

    /// The stage as `#[webhook_hook(...)]` spells it: `pre_validate`, ..., `processing_error`.
    ///
    /// ```
    /// assert_eq!(djstripe_core::hooks::Stage::ProcessingError.as_str(), "processing_error");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Stage::PreValidate => "pre_validate",
            Stage::PostValidate => "post_validate",
            Stage::PreProcess => "pre_process",
            Stage::PostProcess => "post_process",
            Stage::ProcessingError => "processing_error",
        }
    }

    /// The dj-stripe signal this stage mirrors (`djstripe.signals.webhook_...`).
    ///
    /// ```
    /// assert_eq!(djstripe_core::hooks::Stage::PreValidate.signal(), "webhook_pre_validate");
    /// ```
    pub const fn signal(self) -> &'static str {
        match self {
            Stage::PreValidate => "webhook_pre_validate",
            Stage::PostValidate => "webhook_post_validate",
            Stage::PreProcess => "webhook_pre_process",
            Stage::PostProcess => "webhook_post_process",
            Stage::ProcessingError => "webhook_processing_error",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The request side of a delivery: what its trigger row records besides the outcome.
///
/// In the validation stages nothing is verified yet: `body` and `headers` are whatever the sender
/// sent (in `post_validate`, trust them only if the verdict is `Ok`). In the processing stages
/// they are the trigger row's: for a reprocessed trigger the original delivery's, for a replay
/// the stored event (`remote_ip` is `replay`).
///
/// ```
/// # use djstripe_core::hooks::{PreValidate, Trigger};
/// fn from_where(trigger: &Trigger) -> String {
///     let endpoint = trigger.endpoint_id.map_or("legacy".to_owned(), |id| id.to_string());
///     format!("{} bytes from {} to endpoint {endpoint}", trigger.body.len(), trigger.remote_ip)
/// }
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Trigger<'a> {
    /// The webhook endpoint (`djstripe_webhookendpoint.id`); `None` for the legacy endpoint.
    pub endpoint_id: Option<i64>,
    /// The client's address, as the adapter determined it.
    pub remote_ip: &'a str,
    /// The request headers as a JSON object, credentials redacted (see
    /// [`crate::engine::headers_json`]).
    pub headers: &'a str,
    /// The raw body.
    pub body: &'a [u8],
    /// For a reprocessing attempt, the trigger it retries.
    pub reprocess_of: Option<i64>,
}

/// Why an event is being processed.
///
/// ```
/// use djstripe_core::hooks::Cause;
/// let cause = Cause::Reprocess { trigger_id: 7 };
/// assert!(matches!(cause, Cause::Reprocess { trigger_id: 7 }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// A delivery, just validated.
    Delivery,
    /// A trigger the event callback took over, now processed ([`crate::engine::Engine::process_trigger`]).
    Queued {
        /// The queued trigger row.
        trigger_id: i64,
    },
    /// A new attempt at a failed trigger ([`crate::engine::Engine::process_trigger`]).
    Reprocess {
        /// The failed trigger row.
        trigger_id: i64,
    },
    /// A stored event's handlers run again on purpose ([`crate::engine::Engine::replay_event`]).
    Replay,
    /// Inbox mode: a worker runs a delivery's handlers after its answer ([`crate::engine::inbox`]).
    Inbox {
        /// The delivery's trigger row (`queued` until the event is settled).
        trigger_id: i64,
        /// Which attempt this is, from 1 (a failed one is retried after a backoff).
        attempt: u32,
    },
}

/// What a `pre_validate` hook gets: the delivery as it came, not verified yet.
///
/// ```
/// use djstripe_core::{hooks::PreValidate, webhook_hook};
/// #[webhook_hook(pre_validate)]
/// fn arrived(call: &PreValidate) {
///     println!("{} bytes from {}", call.trigger.body.len(), call.trigger.remote_ip);
/// }
/// # fn main() {}
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct PreValidate<'a> {
    /// The delivery.
    pub trigger: Trigger<'a>,
}

/// What a `post_validate` hook gets: the delivery and the verdict of its validation.
///
/// ```
/// use djstripe_core::{hooks::PostValidate, webhook_hook};
/// #[webhook_hook(post_validate)]
/// fn validated(call: &PostValidate) {
///     match call.verdict {
///         Ok(event) => println!("valid: {} {}", event.id, event.event_type()),
///         Err(error) => println!("invalid ({}): {error}", error.http_status()),
///     }
/// }
/// # fn main() {}
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct PostValidate<'a> {
    /// The delivery.
    pub trigger: Trigger<'a>,
    /// The event, verified (for a thin notification on an endpoint that fetches thin events,
    /// already completed from Stripe), or why the delivery is rejected.
    pub verdict: Result<&'a Event, &'a Error>,
}

/// What a `pre_process` hook gets: the event about to be processed.
///
/// ```
/// use djstripe_core::{hooks::PreProcess, webhook_hook};
/// #[webhook_hook(pre_process)]
/// fn starting(call: &PreProcess) {
///     println!("processing {} ({:?})", call.event.id, call.cause);
/// }
/// # fn main() {}
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct PreProcess<'a> {
    /// The delivery (or the trigger being reprocessed).
    pub trigger: Trigger<'a>,
    /// The event, as its handlers will see it.
    pub event: &'a Event,
    /// Why it is processed.
    pub cause: Cause,
}

/// What a `post_process` hook gets: the event and what became of it, committed.
///
/// ```
/// use djstripe_core::{db::Outcome, hooks::PostProcess, webhook_hook};
/// #[webhook_hook(post_process)]
/// fn done(call: &PostProcess) {
///     if call.receipt.outcome == Outcome::Processed {
///         println!("{} handlers ran for {}", call.receipt.handlers, call.event.id);
///     }
/// }
/// # fn main() {}
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct PostProcess<'a> {
    /// The delivery (or the trigger being reprocessed).
    pub trigger: Trigger<'a>,
    /// The event.
    pub event: &'a Event,
    /// Why it was processed.
    pub cause: Cause,
    /// The committed result: the trigger row's id and its outcome (`processed`, `duplicate`,
    /// `replayed`), how many handlers ran.
    pub receipt: &'a Receipt,
}

/// What a `processing_error` hook gets: the event and why its processing failed.
///
/// ```
/// use djstripe_core::{hooks::ProcessingError, webhook_hook, Error};
/// #[webhook_hook(processing_error)]
/// fn failed(call: &ProcessingError) {
///     if let Error::Handler { handler, message, .. } = call.error {
///         eprintln!("{handler} failed on {}: {message}", call.event.id);
///     }
/// }
/// # fn main() {}
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct ProcessingError<'a> {
    /// The delivery (or the trigger being reprocessed).
    pub trigger: Trigger<'a>,
    /// The event.
    pub event: &'a Event,
    /// Why it was processed.
    pub cause: Cause,
    /// What failed: [`Error::Handler`] (a handler's error or panic: 500, rolled back, Stripe
    /// retries), [`Error::DatabaseUnavailable`] (503), [`Error::UnstorableEvent`] (400), ...
    pub error: &'a Error,
    /// The trigger row recording the failure, when the database took one.
    pub trigger_id: Option<i64>,
    /// Whether the event will be tried again by the engine itself: an inbox attempt that will be
    /// retried after its backoff (`false` for its last attempt, which dead-letters it, and for
    /// every inline failure, which Stripe's own redelivery retries). Alert on `!will_retry`.
    pub will_retry: bool,
}

/// One call of the hooks of a stage: the stage and its argument. The engine builds one and
/// hands it to every hook of that stage; `#[webhook_hook]` adapts a function to it.
///
/// ```
/// use djstripe_core::hooks::{HookCall, Stage};
/// fn stage_of(call: &HookCall) -> Stage {
///     call.stage()
/// }
/// ```
#[derive(Debug)]
pub enum HookCall<'a> {
    /// `pre_validate`.
    PreValidate(PreValidate<'a>),
    /// `post_validate`.
    PostValidate(PostValidate<'a>),
    /// `pre_process`.
    PreProcess(PreProcess<'a>),
    /// `post_process`.
    PostProcess(PostProcess<'a>),
    /// `processing_error`.
    ProcessingError(ProcessingError<'a>),
}

impl HookCall<'_> {
    /// The stage of this call.
    ///
    /// ```
    /// # fn f(call: &djstripe_core::hooks::HookCall) {
    /// println!("{}", call.stage());
    /// # }
    /// ```
    pub fn stage(&self) -> Stage {
        match self {
            HookCall::PreValidate(_) => Stage::PreValidate,
            HookCall::PostValidate(_) => Stage::PostValidate,
            HookCall::PreProcess(_) => Stage::PreProcess,
            HookCall::PostProcess(_) => Stage::PostProcess,
            HookCall::ProcessingError(_) => Stage::ProcessingError,
        }
    }

    /// The delivery (or the trigger processed), in every stage.
    ///
    /// ```
    /// # fn f(call: &djstripe_core::hooks::HookCall) {
    /// println!("from {}", call.trigger().remote_ip);
    /// # }
    /// ```
    pub fn trigger(&self) -> &Trigger<'_> {
        match self {
            HookCall::PreValidate(call) => &call.trigger,
            HookCall::PostValidate(call) => &call.trigger,
            HookCall::PreProcess(call) => &call.trigger,
            HookCall::PostProcess(call) => &call.trigger,
            HookCall::ProcessingError(call) => &call.trigger,
        }
    }

    /// The event, in every stage that has one (a valid delivery's from `post_validate` on).
    ///
    /// ```
    /// # fn f(call: &djstripe_core::hooks::HookCall) {
    /// let id = call.event().map(|e| e.id.as_str());
    /// # }
    /// ```
    pub fn event(&self) -> Option<&Event> {
        match self {
            HookCall::PreValidate(_) => None,
            HookCall::PostValidate(call) => call.verdict.ok(),
            HookCall::PreProcess(call) => Some(call.event),
            HookCall::PostProcess(call) => Some(call.event),
            HookCall::ProcessingError(call) => Some(call.event),
        }
    }
}

/// What a hook returns: `Ok(())` or an error, which is logged and changes nothing else.
///
/// ```
/// use djstripe_core::hooks::{HookResult, PostProcess};
/// fn hook(call: &PostProcess) -> HookResult {
///     let _n: u32 = "7".parse()?; // any std error converts with `?`
///     Ok(())
/// }
/// ```
pub type HookResult = Result<(), HandlerError>;

/// The return types a `#[webhook_hook]` function may have: `()`, [`HookResult`], or
/// `Result<(), E>` with `E: std::error::Error + Send + Sync + 'static`.
///
/// ```
/// use djstripe_core::hooks::IntoHookResult;
/// assert!(().into_hook_result().is_ok());
/// let failed: Result<(), std::fmt::Error> = Err(std::fmt::Error);
/// assert!(failed.into_hook_result().is_err());
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a return type a #[webhook_hook] function may have",
    label = "return `()`, `HookResult` or `Result<(), E>` with `E: std::error::Error + Send + Sync + 'static`"
)]
pub trait IntoHookResult {
    /// Converts the hook's return value.
    fn into_hook_result(self) -> HookResult;
}

impl IntoHookResult for () {
    fn into_hook_result(self) -> HookResult {
        Ok(())
    }
}

impl IntoHookResult for HookResult {
    fn into_hook_result(self) -> HookResult {
        self
    }
}

impl<E: std::error::Error + Send + Sync + 'static> IntoHookResult for Result<(), E> {
    fn into_hook_result(self) -> HookResult {
        self.map_err(HandlerError::from)
    }
}

/// The uniform signature every `#[webhook_hook]` is adapted to: the adapter calls the function
/// when the call is of its stage.
pub type HookFn = for<'a, 'b> fn(&'a HookCall<'b>) -> HookResult;

/// One `#[webhook_hook]` function: its stage, where it is, and how to call it.
///
/// ```
/// for hook in djstripe_core::hooks::all() {
///     println!("{} {} at {}:{}", hook.stage(), hook.path(), hook.file(), hook.line());
/// }
/// ```
#[derive(Debug)]
pub struct HookRegistration {
    stage: Stage,
    path: &'static str,
    file: &'static str,
    line: u32,
    call: HookFn,
}

inventory::collect!(HookRegistration);

impl HookRegistration {
    /// Not public API: the attribute's expansion calls this.
    #[doc(hidden)]
    pub const fn new(stage: Stage, path: &'static str, file: &'static str, line: u32, call: HookFn) -> Self {
        Self { stage, path, file, line, call }
    }

    /// The stage it runs at.
    ///
    /// ```
    /// # for h in djstripe_core::hooks::all() {
    /// assert!(djstripe_core::hooks::Stage::ALL.contains(&h.stage()));
    /// # }
    /// ```
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// The function's path, `crate::module::function`.
    ///
    /// ```
    /// # for h in djstripe_core::hooks::all() {
    /// assert!(h.path().contains("::"));
    /// # }
    /// ```
    pub fn path(&self) -> &'static str {
        self.path
    }

    /// The source file of the attribute.
    ///
    /// ```
    /// # for h in djstripe_core::hooks::all() {
    /// assert!(h.file().ends_with(".rs"));
    /// # }
    /// ```
    pub fn file(&self) -> &'static str {
        self.file
    }

    /// The source line of the attribute.
    ///
    /// ```
    /// # for h in djstripe_core::hooks::all() {
    /// assert!(h.line() > 0);
    /// # }
    /// ```
    pub fn line(&self) -> u32 {
        self.line
    }
}

/// Every hook, sorted by path, and per stage.
struct Table {
    all: Vec<&'static HookRegistration>,
    by_stage: [Vec<&'static HookRegistration>; 5],
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut all: Vec<&'static HookRegistration> = inventory::iter::<HookRegistration>().collect();
        all.sort_by(|a, b| a.path.cmp(b.path).then(a.stage.cmp(&b.stage)).then(a.line.cmp(&b.line)));
        // One function registered twice (the attribute applied twice) would run twice: keep one.
        all.dedup_by(|b, a| {
            let same = a.stage == b.stage
                && (std::ptr::fn_addr_eq(a.call, b.call) || (a.path == b.path && a.file == b.file && a.line == b.line));
            if same {
                tracing::warn!(hook = a.path, "hook registered twice; it runs once");
            }
            same
        });
        let by_stage = Stage::ALL.map(|stage| all.iter().copied().filter(|h| h.stage == stage).collect());
        Table { all, by_stage }
    })
}

/// Every registered hook, sorted by path: the listing for operators.
///
/// ```
/// println!("{} hooks registered", djstripe_core::hooks::all().len());
/// ```
pub fn all() -> &'static [&'static HookRegistration] {
    &table().all
}

/// The hooks of `stage`, in the order they run (by path).
///
/// ```
/// use djstripe_core::hooks::{hooks_for, Stage};
/// assert!(hooks_for(Stage::PostProcess).iter().all(|h| h.stage() == Stage::PostProcess));
/// ```
pub fn hooks_for(stage: Stage) -> &'static [&'static HookRegistration] {
    &table().by_stage[stage as usize]
}

/// Whether any hook of `stage` is registered: the engine asks before it builds a call, so that
/// a program without hooks pays one load and one comparison per stage and delivery.
#[inline]
pub(crate) fn registered(stage: Stage) -> bool {
    !hooks_for(stage).is_empty()
}

/// Runs the hooks of `call`'s stage that `selected` selects, in path order: the one entry point
/// of every stage (the engine's request side, its writers, and any other processing loop).
///
/// Never fails and never panics for a hook: an error or a panic is logged, escaped, and the next
/// hook runs. With no hook of the stage registered it returns at once.
#[inline]
pub(crate) fn run(selected: &HandlerSet, call: &HookCall<'_>) {
    let hooks = hooks_for(call.stage());
    if !hooks.is_empty() {
        run_each(selected, hooks, call);
    }
}

#[inline(never)]
fn run_each(selected: &HandlerSet, hooks: &[&'static HookRegistration], call: &HookCall<'_>) {
    for hook in hooks.iter().filter(|h| selected.contains_hook(h)) {
        let failure = match catch_unwind(AssertUnwindSafe(|| (hook.call)(call))) {
            Ok(Ok(())) => continue,
            Ok(Err(error)) => ("failed", escaped_display(&error)),
            Err(panic) => ("panicked", escaped(&crate::dispatch::panic_message(&*panic)).into_owned()),
        };
        let (what, message) = failure;
        let event = call.event().map(|e| escaped(&e.id).into_owned());
        let trigger = call.trigger();
        let endpoint = trigger.endpoint_id.map_or_else(|| "legacy".to_owned(), |id| id.to_string());
        tracing::warn!(
            hook = hook.path,
            stage = call.stage().as_str(),
            event = event.as_deref().unwrap_or("-"),
            endpoint = %endpoint,
            remote_ip = %escaped(trigger.remote_ip),
            error = %message,
            "a webhook hook {what}; the delivery goes on unchanged"
        );
    }
}
