//! Operator operations as functions that return data: what the CLI prints and the admin
//! renders, whatever the web framework.

use crate::db::{StoredEvent, TriggerFilter, WebhookEndpoint, WebhookEventTrigger};
use crate::engine::Receipt;
use crate::registry::{self, HandlerRegistration};
use crate::{Error, Event, Result};

use super::Djstripe;

/// A registered handler as the operator sees it (`handlers` command, admin page).
pub type HandlerInfo = &'static HandlerRegistration;

/// What `events reprocess` is asked to process again.
///
/// ```
/// use djstripe_core::app::ReprocessTarget;
/// assert_eq!("42".parse::<ReprocessTarget>().unwrap(), ReprocessTarget::Trigger(42));
/// assert_eq!("evt_1".parse::<ReprocessTarget>().unwrap(), ReprocessTarget::Event("evt_1".into()));
/// assert!("abc".parse::<ReprocessTarget>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReprocessTarget {
    /// A failed or queued trigger (its id): processed in a new attempt.
    Trigger(i64),
    /// A stored event (`evt_...`): its handlers replayed on purpose.
    Event(String),
    /// Every failed trigger, oldest first.
    Failed,
}

impl std::str::FromStr for ReprocessTarget {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        if s.starts_with("evt_") {
            Ok(Self::Event(s.to_owned()))
        } else {
            s.parse().map(Self::Trigger).map_err(|_| {
                Error::input("id", format!("`{s}` is neither a trigger id (a number) nor an event id (evt_...)"))
            })
        }
    }
}

/// A stored event with the handlers its type matches (`events show`, the admin's event page).
#[derive(Debug)]
pub struct ShownEvent {
    /// The row.
    pub stored: StoredEvent,
    /// The event rebuilt from it.
    pub event: Event,
    /// The handlers that run for its type, in order.
    pub handlers: Vec<HandlerInfo>,
}

impl Djstripe {
    /// Every registered `#[webhook_handler]`, ordered by path.
    ///
    /// ```no_run
    /// # let djstripe = djstripe_core::app::Djstripe::start(djstripe_core::app::Settings::new("app.sqlite3")).unwrap();
    /// for h in djstripe.handlers() { println!("{} {}", h.patterns().join(", "), h.path()); }
    /// ```
    pub fn handlers(&self) -> &'static [HandlerInfo] {
        registry::all()
    }

    /// Triggers matching `filter`, newest first.
    ///
    /// ```no_run
    /// # let djstripe = djstripe_core::app::Djstripe::start(djstripe_core::app::Settings::new("app.sqlite3")).unwrap();
    /// let failed = djstripe.triggers(&djstripe_core::db::TriggerFilter { failed: true, ..Default::default() }, 0, 20).unwrap();
    /// ```
    pub fn triggers(&self, filter: &TriggerFilter, offset: i64, limit: i64) -> Result<Vec<WebhookEventTrigger>> {
        self.engine().database().triggers(filter, offset, limit)
    }

    /// Stored events, newest first; with a `pattern`, only those whose type it matches by the
    /// rule of `#[webhook_handler]` patterns ([`registry::pattern_matches`]): `*` (every event),
    /// an exact type (`invoice.paid`) or a prefix on dot boundaries (`customer` matches
    /// `customer.created` and `customer.subscription.updated`, not
    /// `customer_cash_balance_transaction.created`).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] (field `type`) for a pattern no handler could have, such as
    /// `customer.*` (write `customer`) or `Customer.Created`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let url = format!("sqlite://{}/app.sqlite3", dir.path().display());
    /// # let djstripe = djstripe_core::app::Djstripe::start(djstripe_core::app::Settings::new(url)).unwrap();
    /// let invoices = djstripe.events(Some("invoice"), 0, 20).unwrap(); // invoice.paid, invoice.created, ...
    /// assert!(invoices.is_empty());
    /// let err = djstripe.events(Some("invoice.*"), 0, 20).unwrap_err();
    /// assert!(err.to_string().contains("write `invoice`"));
    /// ```
    pub fn events(&self, pattern: Option<&str>, offset: i64, limit: i64) -> Result<Vec<StoredEvent>> {
        if let Some(pattern) = pattern {
            check_pattern(pattern)?;
        }
        self.engine().database().events(pattern, offset, limit)
    }

    /// One stored event, rebuilt, with the handlers its type matches.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown id, [`Error::CorruptRow`] for unreadable stored data.
    ///
    /// ```no_run
    /// # let djstripe = djstripe_core::app::Djstripe::start(djstripe_core::app::Settings::new("app.sqlite3")).unwrap();
    /// let shown = djstripe.event("evt_1").unwrap();
    /// println!("{} runs {} handlers", shown.event.event_type(), shown.handlers.len());
    /// ```
    pub fn event(&self, id: &str) -> Result<ShownEvent> {
        let stored = self.engine().database().event(id)?;
        let event = stored.to_event()?;
        let handlers = registry::handlers_for(event.event_type());
        Ok(ShownEvent { stored, event, handlers })
    }

    /// Every local webhook endpoint, newest first.
    ///
    /// ```no_run
    /// # let djstripe = djstripe_core::app::Djstripe::start(djstripe_core::app::Settings::new("app.sqlite3")).unwrap();
    /// for e in djstripe.endpoints().unwrap() { println!("{} {}", e.id, e.djstripe_uuid); }
    /// ```
    pub fn endpoints(&self) -> Result<Vec<WebhookEndpoint>> {
        self.engine().database().endpoints()
    }

    /// Processes again what `target` names and returns the receipts, oldest first.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::NotReprocessable`], [`Error::DatabaseUnavailable`].
    ///
    /// ```no_run
    /// # let djstripe = djstripe_core::app::Djstripe::start(djstripe_core::app::Settings::new("app.sqlite3")).unwrap();
    /// for receipt in djstripe.reprocess(&"42".parse().unwrap()).unwrap() {
    ///     println!("trigger {} {}", receipt.trigger_id, receipt.outcome);
    /// }
    /// ```
    pub fn reprocess(&self, target: &ReprocessTarget) -> Result<Vec<Receipt>> {
        let engine = self.engine();
        match target {
            ReprocessTarget::Trigger(id) => Ok(vec![engine.process_trigger(*id)?]),
            ReprocessTarget::Event(id) => Ok(vec![engine.replay_event(id)?]),
            ReprocessTarget::Failed => engine.reprocess_failed(),
        }
    }
}

/// Refuses a pattern that matches no event type by the registry's rule: what `#[webhook_handler]`
/// refuses at compile time (lower-case letters, digits, `_` and non-empty dotted segments, or
/// `*` alone).
fn check_pattern(pattern: &str) -> Result<()> {
    let valid_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.';
    if pattern == "*" || (pattern.chars().all(valid_char) && !pattern.split('.').any(str::is_empty)) {
        return Ok(());
    }
    let message = if let Some(prefix) = pattern.strip_suffix(".*").filter(|p| !p.contains('*') && !p.is_empty()) {
        format!("`{pattern}`: a prefix needs no wildcard, write `{prefix}` (it matches every `{prefix}.*` event)")
    } else if pattern.contains('*') {
        format!(
            "`{pattern}`: `*` stands alone (every event); a prefix such as `customer` matches every `customer.*` event"
        )
    } else if pattern.is_empty() {
        "an event type pattern cannot be empty; `*` matches every event".to_owned()
    } else {
        format!(
            "`{pattern}` is not an event type pattern: Stripe's types are lower case, dotted (`invoice.paid`); \
             a prefix such as `invoice` matches every `invoice.*` event"
        )
    };
    Err(Error::input("type", message))
}

#[cfg(test)]
mod tests {
    use super::check_pattern;

    #[test]
    fn patterns_are_the_handlers_patterns() {
        for good in ["*", "customer", "customer.subscription", "invoice.paid", "v2.core.account"] {
            assert!(check_pattern(good).is_ok(), "{good}");
        }
        for (bad, needle) in [
            ("customer.*", "write `customer`"),
            ("cus*", "stands alone"),
            ("", "cannot be empty"),
            ("Invoice.Paid", "lower case"),
            ("invoice..paid", "not an event type pattern"),
            ("invoice.", "not an event type pattern"),
        ] {
            let err = check_pattern(bad).unwrap_err().to_string();
            assert!(err.starts_with("type: ") && err.contains(needle), "{bad}: {err}");
        }
    }
}
