//! `migrate`, `handlers`, `triggers list`, `events list|show|reprocess`: the operator's view.

use djstripe_core::app::{Djstripe, ReprocessTarget};
use djstripe_core::db::TriggerFilter;
use djstripe_core::registry;

use super::Cli;
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
}

#[derive(clap::Subcommand, Debug)]
pub(super) enum EventsCommand {
    /// Stored events, newest first.
    List {
        /// Only this event type.
        #[arg(long = "type")]
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

/// Connects without serving; `triggers`/`events` need the schema, so migrate too.
fn connect(cli: &Cli) -> Result<Djstripe> {
    cli.start()
}

pub(super) fn migrate(cli: &Cli) -> Result<()> {
    let djstripe = Djstripe::connect(cli.load_settings()?)?;
    let applied = djstripe.engine().database().migrate()?;
    cli.app_migrations(&djstripe)?;
    println!("{applied} migration(s) applied");
    Ok(())
}

pub(super) fn handlers() -> Result<()> {
    let all = registry::all();
    if all.is_empty() {
        println!("no #[webhook_handler] registered (see the linker note in djstripe_core::registry)");
    }
    for handler in all {
        println!("{:<40} {:<50} {}:{}", handler.patterns().join(", "), handler.path(), handler.file(), handler.line());
    }
    Ok(())
}

fn shorten(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line.to_owned()
    }
}

pub(super) fn triggers(cli: &Cli, command: TriggersCommand) -> Result<()> {
    let TriggersCommand::List { limit, failed, invalid } = command;
    let djstripe = connect(cli)?;
    let filter = TriggerFilter { failed, valid: invalid.then_some(false), ..Default::default() };
    let rows = djstripe.triggers(&filter, 0, limit)?;
    println!(
        "{:>6}  {:<19}  {:<15}  {:<28}  {:<34}  {:<11}  error",
        "id", "created", "remote ip", "event", "type", "outcome"
    );
    for t in rows {
        println!(
            "{:>6}  {:<19}  {:<15}  {:<28}  {:<34}  {:<11}  {}",
            t.id,
            t.created.format("%Y-%m-%d %H:%M:%S"),
            shorten(&t.remote_ip, 15),
            t.event_id.as_deref().unwrap_or("-"),
            shorten(t.event_type.as_deref().unwrap_or("-"), 34),
            t.outcome.as_str(),
            shorten(&t.exception, 80)
        );
    }
    Ok(())
}

pub(super) fn events(cli: &Cli, command: EventsCommand) -> Result<()> {
    let djstripe = connect(cli)?;
    match command {
        EventsCommand::List { event_type, limit } => {
            println!("{:<30}  {:<40}  {:<19}  {:>5}", "id", "type", "received", "times");
            for e in djstripe.events(event_type.as_deref(), 0, limit)? {
                println!(
                    "{:<30}  {:<40}  {:<19}  {:>5}",
                    e.id,
                    e.type_,
                    e.received.format("%Y-%m-%d %H:%M:%S"),
                    e.times_processed
                );
            }
        }
        EventsCommand::Show { id } => {
            let shown = djstripe.event(&id)?;
            let json = serde_json::to_string_pretty(&shown.event).expect("an Event serializes");
            println!("{json}");
            println!("handlers for {}:", shown.event.event_type());
            for h in shown.handlers {
                println!("  {} ({})", h.path(), h.patterns().join(", "));
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
                println!(
                    "trigger {} {} {}{detail}",
                    receipt.trigger_id,
                    receipt.event_id.as_deref().unwrap_or("-"),
                    receipt.outcome
                );
            }
            if receipts.is_empty() {
                println!("nothing to reprocess");
            }
            let failed = receipts.iter().filter(|r| !r.is_success()).count();
            if failed > 0 {
                return Err(Error::FailedAgain { failed, total: receipts.len() });
            }
        }
    }
    Ok(())
}
