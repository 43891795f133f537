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

    /// Stored events, newest first, optionally of one type.
    ///
    /// ```no_run
    /// # let djstripe = djstripe_core::app::Djstripe::start(djstripe_core::app::Settings::new("app.sqlite3")).unwrap();
    /// let invoices = djstripe.events(Some("invoice.paid"), 0, 20).unwrap();
    /// ```
    pub fn events(&self, event_type: Option<&str>, offset: i64, limit: i64) -> Result<Vec<StoredEvent>> {
        self.engine().database().events(event_type, offset, limit)
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
