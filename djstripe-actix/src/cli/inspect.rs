//! `migrate`, `handlers`, `triggers list`, `events list|show|reprocess`: the operator's view.

use djstripe_core::db::TriggerFilter;
use djstripe_core::engine::Outcome;
use djstripe_core::registry;

use super::Cli;
use crate::{Djstripe, Error};

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
fn connect(cli: &Cli) -> Result<Djstripe, Error> {
    cli.start()
}

pub(super) fn migrate(cli: &Cli) -> Result<(), Error> {
    let djstripe = Djstripe::connect(cli.load_config()?)?;
    let applied = djstripe.engine().database().migrate()?;
    cli.app_migrations(&djstripe)?;
    println!("{applied} migration(s) applied");
    Ok(())
}

pub(super) fn handlers() -> Result<(), Error> {
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

pub(super) fn triggers(cli: &Cli, command: TriggersCommand) -> Result<(), Error> {
    let TriggersCommand::List { limit, failed, invalid } = command;
    let djstripe = connect(cli)?;
    let filter = TriggerFilter { failed, valid: invalid.then_some(false), ..Default::default() };
    let rows = djstripe.engine().database().triggers(&filter, 0, limit)?;
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
            t.outcome,
            shorten(&t.exception, 80)
        );
    }
    Ok(())
}

pub(super) fn events(cli: &Cli, command: EventsCommand) -> Result<(), Error> {
    let djstripe = connect(cli)?;
    let engine = djstripe.engine();
    let db = engine.database();
    match command {
        EventsCommand::List { event_type, limit } => {
            println!("{:<30}  {:<40}  {:<19}  {:>5}", "id", "type", "received", "times");
            for e in db.events(event_type.as_deref(), 0, limit)? {
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
            let event = db.event(&id)?.to_event()?;
            let json = serde_json::to_string_pretty(&event).map_err(|e| Error::Cli(e.to_string()))?;
            println!("{json}");
            println!("handlers for {}:", event.event_type());
            for h in registry::handlers_for(event.event_type()) {
                println!("  {} ({})", h.path(), h.patterns().join(", "));
            }
        }
        EventsCommand::Reprocess { id, failed } => {
            let outcomes = match (id, failed) {
                (_, true) => engine.reprocess_failed()?,
                (Some(id), false) if id.starts_with("evt_") => vec![engine.replay_event(&id)?],
                (Some(id), false) => {
                    let trigger: i64 = id.parse().map_err(|_| {
                        Error::Cli(format!("`{id}` is neither a trigger id (a number) nor an event id (evt_...)"))
                    })?;
                    vec![engine.process_trigger(trigger)?]
                }
                (None, false) => return Err(Error::Cli("give a trigger id, an event id or --failed".into())),
            };
            let total = outcomes.len();
            for outcome in &outcomes {
                let detail = match outcome {
                    Outcome::Failed { error, .. } | Outcome::Rejected { error, .. } => format!(": {error}"),
                    _ => String::new(),
                };
                println!(
                    "trigger {} {} {}{detail}",
                    outcome.trigger_id(),
                    outcome.event_id().unwrap_or("-"),
                    outcome.label()
                );
            }
            if total == 0 {
                println!("nothing to reprocess");
            }
            if outcomes.iter().any(|o| !o.is_success()) {
                return Err(Error::Cli("some events failed again (see above)".into()));
            }
        }
    }
    Ok(())
}
