//! The handler registry: every `#[webhook_handler]` in the linked program, found at link time.
//!
//! The attribute emits one [`HandlerRegistration`] per function through `inventory`, so a
//! handler in any module of the binary is found with no import and no registration call.
//!
//! # Matching and order
//! A pattern is `*` (every event), an exact type (`customer.created`) or a prefix that matches on
//! dot boundaries (`customer` and `customer.subscription` match `customer.subscription.updated`;
//! `customer` does not match `customer_cash_balance_transaction.created`).
//! [`handlers_for`] returns each matching function once, general to specific as dj-stripe runs
//! them: `*` handlers, then prefix handlers with shorter prefixes first, then exact handlers; ties
//! by path. A function with several matching patterns is ranked by its most specific one.
//!
//! # The linker caveat
//! `inventory` registrations live in the object files of the crate that defines them. If a
//! library crate holds handlers and the binary never references any item of that crate, the
//! linker may drop the crate and its handlers with it. Reference it once from the binary
//! (`use my_handlers as _;` is enough), or define handlers in the binary crate itself.
//! `handlers` on the CLI (or [`all`]) shows what was found.

use std::cmp::Ordering;
use std::sync::{Arc, OnceLock};

use crate::dispatch::HandlerFn;
use crate::hooks::HookRegistration;

/// One `#[webhook_handler]` function: its patterns, where it is, and how to call it.
///
/// Built by the attribute through a `const fn`; read it through [`all`] and [`handlers_for`].
///
/// ```
/// for handler in djstripe_core::registry::all() {
///     println!("{} {:?} at {}:{}", handler.path(), handler.patterns(), handler.file(), handler.line());
/// }
/// ```
#[derive(Debug)]
pub struct HandlerRegistration {
    patterns: &'static [&'static str],
    path: &'static str,
    file: &'static str,
    line: u32,
    call: HandlerFn,
    skip_stale: bool,
}

inventory::collect!(HandlerRegistration);

impl HandlerRegistration {
    /// Not public API: the attribute's expansion calls this.
    #[doc(hidden)]
    pub const fn new(
        patterns: &'static [&'static str],
        path: &'static str,
        file: &'static str,
        line: u32,
        call: HandlerFn,
    ) -> Self {
        Self { patterns, path, file, line, call, skip_stale: false }
    }

    /// Not public API: `#[webhook_handler(..., skip_stale)]` adds this.
    #[doc(hidden)]
    pub const fn skipping_stale(mut self) -> Self {
        self.skip_stale = true;
        self
    }

    /// Whether the handler was declared with `skip_stale`: in inbox mode it is not run for an
    /// event older (Stripe's `created`, ties by id) than the newest one already processed about
    /// the same object, so that a late `customer.subscription.updated` cannot undo a newer one.
    /// The trigger row says which handlers were skipped.
    ///
    /// ```
    /// # for h in djstripe_core::registry::all() {
    /// println!("{} skips stale events: {}", h.path(), h.skips_stale());
    /// # }
    /// ```
    pub fn skips_stale(&self) -> bool {
        self.skip_stale
    }

    /// The event patterns as written in the attribute.
    ///
    /// ```
    /// # for h in djstripe_core::registry::all() {
    /// assert!(!h.patterns().is_empty());
    /// # }
    /// ```
    pub fn patterns(&self) -> &'static [&'static str] {
        self.patterns
    }

    /// The function's path, `crate::module::function`.
    ///
    /// ```
    /// # for h in djstripe_core::registry::all() {
    /// assert!(h.path().contains("::"));
    /// # }
    /// ```
    pub fn path(&self) -> &'static str {
        self.path
    }

    /// The source file of the attribute.
    ///
    /// ```
    /// # for h in djstripe_core::registry::all() {
    /// assert!(h.file().ends_with(".rs"));
    /// # }
    /// ```
    pub fn file(&self) -> &'static str {
        self.file
    }

    /// The source line of the attribute.
    ///
    /// ```
    /// # for h in djstripe_core::registry::all() {
    /// assert!(h.line() > 0);
    /// # }
    /// ```
    pub fn line(&self) -> u32 {
        self.line
    }

    /// Calls the handler as written (no panic isolation; [`crate::dispatch`] adds that).
    pub(crate) fn call(&self) -> HandlerFn {
        self.call
    }

    /// How specifically this handler matches `event_type`, or `None` if it does not.
    ///
    /// ```
    /// # for h in djstripe_core::registry::all() {
    /// let _ = h.matches("customer.created");
    /// # }
    /// ```
    pub fn matches(&self, event_type: &str) -> Option<Specificity> {
        self.patterns.iter().filter_map(|p| pattern_matches(p, event_type)).max()
    }
}

/// How specifically a pattern matches an event type; orders handlers general to specific.
///
/// ```
/// use djstripe_core::registry::{pattern_matches, Specificity};
/// assert_eq!(pattern_matches("*", "customer.created"), Some(Specificity::Any));
/// assert_eq!(pattern_matches("customer", "customer.created"), Some(Specificity::Prefix(8)));
/// assert_eq!(pattern_matches("customer.created", "customer.created"), Some(Specificity::Exact));
/// assert!(Specificity::Any < Specificity::Prefix(1) && Specificity::Prefix(30) < Specificity::Exact);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Specificity {
    /// `*`.
    Any,
    /// A dotted prefix of this many bytes.
    Prefix(usize),
    /// The exact type.
    Exact,
}

/// Whether `pattern` matches `event_type`, and how specifically.
///
/// Prefixes match on word boundaries only: `customer` matches `customer.subscription.updated` but
/// not `customer_cash_balance_transaction.created`. Some v2 types carry a bracketed part with
/// dots inside (`v2.core.account[configuration.customer].updated`): a dot inside brackets is no
/// boundary, and the bracketed part belongs to its word, so `v2.core.account` covers these types
/// (as does `v2.core.account[configuration.customer]`), `v2.core.account[configuration` does not.
///
/// ```
/// use djstripe_core::registry::pattern_matches;
/// assert!(pattern_matches("customer.subscription", "customer.subscription.updated").is_some());
/// assert!(pattern_matches("customer", "customer_cash_balance_transaction.created").is_none());
/// assert!(pattern_matches("cust", "customer.created").is_none());
/// let bracketed = "v2.core.account[configuration.customer].updated";
/// assert!(pattern_matches("v2.core.account", bracketed).is_some());
/// assert!(pattern_matches("v2.core.account[configuration.customer]", bracketed).is_some());
/// assert!(pattern_matches("v2.core.account[configuration", bracketed).is_none());
/// assert!(pattern_matches("v2.core.account.updated", bracketed).is_none());
/// ```
pub fn pattern_matches(pattern: &str, event_type: &str) -> Option<Specificity> {
    if pattern == "*" {
        return Some(Specificity::Any);
    }
    if pattern == event_type {
        return Some(Specificity::Exact);
    }
    match event_type.strip_prefix(pattern) {
        Some(rest)
            if !pattern.is_empty() && (rest.starts_with('.') || rest.starts_with('[')) && !in_brackets(pattern) =>
        {
            Some(Specificity::Prefix(pattern.len()))
        }
        _ => None,
    }
}

/// Whether `text` ends inside a bracketed part (more `[` than `]`): a dot there is no boundary.
fn in_brackets(text: &str) -> bool {
    text.bytes().filter(|b| *b == b'[').count() > text.bytes().filter(|b| *b == b']').count()
}

fn table() -> &'static [&'static HandlerRegistration] {
    static TABLE: OnceLock<Vec<&'static HandlerRegistration>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut all: Vec<&'static HandlerRegistration> = inventory::iter::<HandlerRegistration>().collect();
        all.sort_by(|a, b| a.path.cmp(b.path).then(a.file.cmp(b.file)).then(a.line.cmp(&b.line)));
        // One function registered twice (the attribute applied twice) would run twice: keep one.
        all.dedup_by(|b, a| {
            let same =
                std::ptr::fn_addr_eq(a.call, b.call) || (a.path == b.path && a.file == b.file && a.line == b.line);
            if same {
                tracing::warn!(handler = a.path, "handler registered twice; it runs once");
            }
            same
        });
        all
    })
}

/// Every registered handler, sorted by path: the listing for operators.
///
/// ```
/// let count = djstripe_core::registry::all().len();
/// println!("{count} handlers registered");
/// ```
pub fn all() -> &'static [&'static HandlerRegistration] {
    table()
}

/// Every handler matching `event_type`, each once, in the order they run: `*` first, then
/// prefixes (shortest first), then exact matches; ties by path.
///
/// ```
/// for handler in djstripe_core::registry::handlers_for("customer.created") {
///     println!("{}", handler.path());
/// }
/// ```
pub fn handlers_for(event_type: &str) -> Vec<&'static HandlerRegistration> {
    let mut matched: Vec<(Specificity, &'static HandlerRegistration)> =
        table().iter().filter_map(|h| h.matches(event_type).map(|s| (s, *h))).collect();
    matched.sort_by(|(sa, a), (sb, b)| sa.cmp(sb).then_with(|| a.path.cmp(b.path)).then(Ordering::Equal));
    matched.into_iter().map(|(_, h)| h).collect()
}

/// Which registered handlers, and [hooks](crate::hooks), an engine runs: all of them (the
/// default), or only the named ones.
///
/// Handlers and hooks are selected alike: both are your functions, registered for the whole
/// program, and a test that selects its handlers wants no other test's hooks either.
///
/// Handlers are registered for the whole program (at link time), so the tests of one test binary
/// share them: a test that starts its own engine (or [`crate::testing::TestApp`]) with
/// `HandlerSet::only([...])` runs just the handlers it is about, while the other tests' engines
/// run theirs, in parallel. A name is a handler's path as [`HandlerRegistration::path`] gives it
/// (`my_app::billing::on_paid`) or its last segments (`billing::on_paid`, `on_paid`) when those
/// name one handler; a hook is named the same way.
///
/// ```
/// use djstripe_core::registry::HandlerSet;
/// assert!(HandlerSet::all().is_all());
/// let none = HandlerSet::none(); // record events, run no handler
/// assert!(none.handlers_for("customer.created").is_empty());
/// let err = HandlerSet::only(["no_such_handler"]).check().unwrap_err();
/// assert!(err.to_string().contains("no_such_handler"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandlerSet {
    /// `None`: every registered handler.
    only: Option<Arc<[String]>>,
}

impl HandlerSet {
    /// Every registered handler (the default).
    ///
    /// ```
    /// assert_eq!(djstripe_core::registry::HandlerSet::all(), Default::default());
    /// ```
    pub fn all() -> Self {
        Self { only: None }
    }

    /// Only the handlers and hooks named (paths, or unambiguous last segments of paths).
    ///
    /// ```
    /// let set = djstripe_core::registry::HandlerSet::only(["shop::record_customer_event"]);
    /// assert!(!set.is_all());
    /// ```
    pub fn only(names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self { only: Some(names.into_iter().map(Into::into).collect()) }
    }

    /// No handler and no hook at all: events are recorded (and deduplicated), nothing else runs.
    ///
    /// ```
    /// assert!(djstripe_core::registry::HandlerSet::none().handlers_for("price.created").is_empty());
    /// ```
    pub fn none() -> Self {
        Self { only: Some(Arc::from([])) }
    }

    /// Whether this is every registered handler.
    ///
    /// ```
    /// assert!(!djstripe_core::registry::HandlerSet::none().is_all());
    /// ```
    pub fn is_all(&self) -> bool {
        self.only.is_none()
    }

    /// Whether `handler` is in the set.
    ///
    /// ```
    /// use djstripe_core::registry::{all, HandlerSet};
    /// assert!(all().iter().all(|h| HandlerSet::all().contains(h)));
    /// ```
    pub fn contains(&self, handler: &HandlerRegistration) -> bool {
        self.selects(handler.path)
    }

    /// Whether `hook` is in the set.
    ///
    /// ```
    /// use djstripe_core::{hooks, registry::HandlerSet};
    /// assert!(hooks::all().iter().all(|h| HandlerSet::all().contains_hook(h)));
    /// assert!(hooks::all().iter().all(|h| !HandlerSet::none().contains_hook(h)));
    /// ```
    pub fn contains_hook(&self, hook: &HookRegistration) -> bool {
        self.selects(hook.path())
    }

    fn selects(&self, path: &str) -> bool {
        match &self.only {
            None => true,
            Some(names) => names.iter().any(|name| names_handler(name, path)),
        }
    }

    /// That every name is a registered handler or hook, and names only one.
    ///
    /// # Errors
    /// [`crate::Error::InvalidSetting`] (setting `handlers`) naming the unknown or ambiguous name
    /// and the registered handlers and hooks.
    ///
    /// ```
    /// assert!(djstripe_core::registry::HandlerSet::all().check().is_ok());
    /// ```
    pub fn check(&self) -> Result<(), crate::Error> {
        let Some(names) = &self.only else { return Ok(()) };
        // A function is a handler or a hook, so one path is never both.
        let registered = || table().iter().map(|h| h.path).chain(crate::hooks::all().iter().map(|h| h.path()));
        for name in names.iter() {
            let found: Vec<&str> = registered().filter(|path| names_handler(name, path)).collect();
            let message = match found.len() {
                1 => continue,
                0 => format!("no handler `{name}` is registered, nor a hook"),
                _ => format!("`{name}` names several handlers or hooks ({}): give the whole path", found.join(", ")),
            };
            let listed: Vec<&str> = registered().collect();
            return Err(crate::Error::setting(
                "handlers",
                format!("{message}; registered: {}", if listed.is_empty() { "none".into() } else { listed.join(", ") }),
            ));
        }
        Ok(())
    }

    /// [`handlers_for`], keeping the handlers of this set.
    ///
    /// ```
    /// let all = djstripe_core::registry::HandlerSet::all().handlers_for("customer.created");
    /// assert_eq!(all.len(), djstripe_core::registry::handlers_for("customer.created").len());
    /// ```
    pub fn handlers_for(&self, event_type: &str) -> Vec<&'static HandlerRegistration> {
        let mut handlers = handlers_for(event_type);
        if !self.is_all() {
            handlers.retain(|h| self.contains(h));
        }
        handlers
    }
}

/// Whether `name` is `path` or its last `::` segments.
fn names_handler(name: &str, path: &str) -> bool {
    path == name || path.strip_suffix(name).is_some_and(|head| head.ends_with("::"))
}
