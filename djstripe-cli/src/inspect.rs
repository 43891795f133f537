//! `migrate`, `handlers`, `triggers list|prune`, `events list|show|reprocess`: the operator's view.

use djstripe_core::app::{Djstripe, PruneRequest, ReprocessTarget};
use djstripe_core::db::TriggerFilter;
use djstripe_core::registry;

use super::{Cli, Open};
use crate::output::{cell, print, shorten, table};
use crate::{Error, Result};

#[derive(clap::Subcommand, Debug)]
pub(super) enum TriggersCommand {
    /// Recent deliveries, newest first, with status and error.
    List {
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: i64,
        /// Only valid deliveries whose processing failed.
        #[arg(long)]
        failed: bool,
        /// Only deliveries that failed validation.
        #[arg(long, conflicts_with = "failed")]
        invalid: bool,
    },
    /// Remove old deliveries whose outcome is final (processed, replayed, duplicate, test_event,
    /// reprocessed) or invalid, in small batches; failed ones stay unless --include-failed,
    /// queued ones always. Events are kept (a redelivery stays a duplicate).
    Prune {
        /// Only deliveries recorded more than DAYS days ago (0: every one up to now).
        #[arg(long, value_name = "DAYS")]
        older_than: u32,
        /// Count what would be removed, per outcome; remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Failed deliveries too (they can no longer be reprocessed).
        #[arg(long)]
        include_failed: bool,
    },
}

#[derive(clap::Subcommand, Debug)]
pub(super) enum EventsCommand {
    /// Stored events, newest first.
    List {
        /// Only events of these types, by the rule of #[webhook_handler] patterns: an exact type
        /// (invoice.paid), a prefix on dot boundaries (`customer` matches customer.created and
        /// customer.subscription.updated, not customer_cash_balance_transaction.created) or `*`.
        #[arg(long = "type", value_name = "PATTERN")]
        event_type: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// One event: its JSON and the handlers its type matches.
    Show {
        /// The Stripe event id (evt_...).
        id: String,
    },
    /// Process again: a failed delivery (trigger id), a stored event on purpose (evt_... id:
    /// replays its handlers), or every failed delivery (--failed).
    Reprocess {
        /// A trigger id (number) or an event id (evt_...).
        #[arg(required_unless_present = "failed")]
        id: Option<String>,
        /// Every failed delivery, oldest first.
        #[arg(long, conflicts_with = "id")]
        failed: bool,
    },
}

/// Connects without serving to a database that exists; `triggers`/`events` need the schema, so
/// migrate too.
fn connect(cli: &Cli) -> Result<Djstripe> {
    cli.start(Open::Existing)
}

pub(super) fn migrate(cli: &Cli) -> Result<()> {
    let djstripe = Djstripe::connect(cli.database_settings(Open::Create)?)?;
    let applied = djstripe.migrate()?; // djstripe's, then the app's
    say!("{applied} migration(s) applied")
}

pub(super) fn handlers() -> Result<()> {
    let all = registry::all();
    if all.is_empty() {
        say!("no #[webhook_handler] registered (see the linker note in djstripe_core::registry)")?;
    } else {
        let mut rows = table(["patterns", "handler", "defined at"]);
        for handler in all {
            rows.add_row([
                handler.patterns().join(", "),
                handler.path().to_owned(),
                format!("{}:{}", handler.file(), handler.line()),
            ]);
        }
        print(&rows)?;
    }
    // Hooks are found (or dropped by the linker) like handlers: list them too, when there are any.
    let hooks = djstripe_core::hooks::all();
    if hooks.is_empty() {
        return Ok(());
    }
    let mut rows = table(["stage", "hook", "defined at"]);
    for hook in hooks {
        rows.add_row([hook.stage().to_string(), hook.path().to_owned(), format!("{}:{}", hook.file(), hook.line())]);
    }
    say!("")?;
    print(&rows)
}

pub(super) fn triggers(cli: &Cli, command: TriggersCommand) -> Result<()> {
    let (limit, failed, invalid) = match command {
        TriggersCommand::List { limit, failed, invalid } => (limit, failed, invalid),
        TriggersCommand::Prune { older_than, dry_run, include_failed } => {
            return prune(cli, older_than, dry_run, include_failed);
        }
    };
    let djstripe = connect(cli)?;
    let filter = TriggerFilter { failed, valid: invalid.then_some(false), ..Default::default() };
    let rows = djstripe.triggers(&filter, 0, limit)?;
    let mut listing = table(["id", "created", "remote ip", "event", "type", "outcome", "error"]);
    for t in rows {
        listing.add_row([
            t.id.to_string(),
            t.created.format("%Y-%m-%d %H:%M:%S").to_string(),
            cell(Some(&t.remote_ip)),
            cell(t.event_id.as_deref()),
            cell(t.event_type.as_deref()),
            t.outcome.as_str().to_owned(),
            cell(Some(&shorten(&t.exception, 80))),
        ]);
    }
    print(&listing)
}

/// `triggers prune`: a table of rows per outcome for a dry run, one line for a real one.
fn prune(cli: &Cli, older_than: u32, dry_run: bool, include_failed: bool) -> Result<()> {
    let djstripe = connect(cli)?;
    let request = PruneRequest::older_than_days(older_than).dry_run(dry_run).include_failed(include_failed);
    let report = djstripe.prune(&request)?;
    if dry_run {
        let mut listing = table(["outcome", "triggers"]);
        for (outcome, n) in &report.triggers {
            listing.add_row([outcome.as_str().to_owned(), n.to_string()]);
        }
        listing.add_row(["total".to_owned(), report.triggers_total().to_string()]);
        print(&listing)?;
        return say!("dry run: nothing removed (trigger rows older than {older_than} day(s))");
    }
    let detail: Vec<String> = report.triggers.iter().map(|(o, n)| format!("{o} {n}")).collect();
    say!(
        "removed {} trigger row(s) older than {older_than} day(s){}",
        report.triggers_total(),
        if detail.is_empty() { String::new() } else { format!(": {}", detail.join(", ")) }
    )
}

pub(super) fn events(cli: &Cli, command: EventsCommand) -> Result<()> {
    let djstripe = connect(cli)?;
    match command {
        EventsCommand::List { event_type, limit } => {
            let mut listing = table(["id", "type", "received", "context", "related object", "times"]);
            for e in djstripe.events(event_type.as_deref(), 0, limit)? {
                // A row that does not read back still lists (its columns); `events show` says why.
                let event = e.to_event().ok();
                let context = event.as_ref().and_then(|event| event.context.clone());
                let related = event.as_ref().and_then(|event| event.related_object.as_ref()).map(related_object);
                listing.add_row([
                    e.id,
                    e.type_,
                    e.received.format("%Y-%m-%d %H:%M:%S").to_string(),
                    cell(context.as_deref()),
                    cell(related.as_deref()),
                    e.times_processed.to_string(),
                ]);
            }
            print(&listing)?;
        }
        EventsCommand::Show { id } => {
            let shown = djstripe.event(&id)?;
            let json = serde_json::to_string_pretty(&shown.event).expect("an Event serializes");
            say!("{json}")?;
            if shown.event.is_thin() {
                say!("{}", thin_line(&shown.event))?;
            }
            say!("handlers for {}:", shown.event.event_type())?;
            for h in shown.handlers {
                say!("  {} ({})", h.path(), h.patterns().join(", "))?;
            }
        }
        EventsCommand::Reprocess { id, failed } => {
            let target = match (id, failed) {
                (_, true) => ReprocessTarget::Failed,
                (Some(id), false) => id.parse()?,
                (None, false) => {
                    return Err(Error::Argument {
                        flag: "ID",
                        message: "give a trigger id, an event id or --failed".into(),
                    });
                }
            };
            let receipts = djstripe.reprocess(&target)?;
            for receipt in &receipts {
                let detail = receipt.error.as_ref().map(|e| format!(": {e}")).unwrap_or_default();
                say!(
                    "trigger {} {} {}{detail}",
                    receipt.trigger_id,
                    receipt.event_id.as_deref().unwrap_or("-"),
                    receipt.outcome
                )?;
            }
            if receipts.is_empty() {
                say!("nothing to reprocess")?;
            }
            let failed = receipts.iter().filter(|r| !r.is_success()).count();
            if failed > 0 {
                return Err(Error::FailedAgain { failed, total: receipts.len() });
            }
        }
    }
    Ok(())
}

/// A v2 event's related object, as `events list` shows it: `type id`.
fn related_object(related: &djstripe_core::RelatedObject) -> String {
    format!("{} {}", related.type_, related.id)
}

/// The line `events show` prints under a v2 event notification.
fn thin_line(event: &djstripe_core::Event) -> String {
    let related = match &event.related_object {
        Some(related) => format!(
            "related object {}{}",
            related_object(related),
            related.url.as_deref().map(|url| format!(" ({url})")).unwrap_or_default()
        ),
        None => "no related object".to_owned(),
    };
    format!(
        "v2 event notification (thin): {related}; context {}; data {}",
        event.context.as_deref().unwrap_or("-"),
        if event.v2_data().is_some() { "fetched from Stripe (or sent)" } else { "not fetched" }
    )
}
