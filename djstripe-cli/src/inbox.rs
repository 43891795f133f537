//! `inbox list|stats|retry|process`: inbox mode's waiting and dead-lettered events.

use djstripe_core::db::InboxFilter;
use djstripe_core::engine::inbox::Settled;

use super::{Cli, Open};
use crate::output::{cell, print, shorten, table};
use crate::{Error, Result};

#[derive(clap::Subcommand, Debug)]
pub(super) enum InboxCommand {
    /// Events waiting for a worker (pending) or given up on (dead), oldest first.
    List {
        /// Only dead-lettered events.
        #[arg(long)]
        dead: bool,
        /// Only pending events.
        #[arg(long, conflicts_with = "dead")]
        pending: bool,
        /// Only events of this exact type.
        #[arg(long = "type", value_name = "TYPE")]
        event_type: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// How many events wait, how many are dead, and since when the oldest waits.
    Stats,
    /// Give dead-lettered events another round of attempts (pending again, attempts reset).
    Retry {
        /// Stripe event ids (evt_...).
        #[arg(required_unless_present = "dead")]
        ids: Vec<String>,
        /// Every dead-lettered event.
        #[arg(long, conflicts_with = "ids")]
        dead: bool,
    },
    /// Process the due events now, in this process (as a worker of `serve` would), and exit.
    Process,
}

pub(super) fn inbox(cli: &Cli, command: InboxCommand) -> Result<()> {
    let djstripe = cli.start(Open::Existing)?;
    let db = djstripe.engine().database();
    match command {
        InboxCommand::List { dead, pending, event_type, limit } => {
            let state = if dead {
                Some(true)
            } else if pending {
                Some(false)
            } else {
                None
            };
            let filter = InboxFilter { dead: state, event_type };
            let mut listing =
                table(["event", "type", "object", "state", "attempts", "next attempt", "trigger", "last error"]);
            for entry in db.inbox_entries(&filter, limit)? {
                let next = if entry.is_dead() {
                    None
                } else {
                    Some(entry.next_attempt.format("%Y-%m-%d %H:%M:%S").to_string())
                };
                listing.add_row([
                    entry.event_id.clone(),
                    entry.event_type.clone(),
                    cell(entry.object_id.as_deref()),
                    entry.state.clone(),
                    entry.attempts.to_string(),
                    cell(next.as_deref()),
                    entry.trigger_id.to_string(),
                    cell(Some(&shorten(&entry.last_error, 80))),
                ]);
            }
            print(&listing)
        }
        InboxCommand::Stats => {
            let stats = db.inbox_stats()?;
            let oldest = stats.oldest_pending.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string());
            say!("pending {}, dead {}, oldest pending since {}", stats.pending, stats.dead, cell(oldest.as_deref()))
        }
        InboxCommand::Retry { ids, dead } => {
            let revived = if dead {
                db.retry_inbox(None)?
            } else {
                let mut revived = Vec::new();
                for id in &ids {
                    let entry = db.inbox_entry(id)?;
                    if !entry.is_dead() {
                        return Err(Error::Argument {
                            flag: "IDS",
                            message: format!("{id} is pending, not dead: a worker will process it"),
                        });
                    }
                    revived.extend(db.retry_inbox(Some(id))?);
                }
                revived
            };
            for id in &revived {
                say!("{id} queued again")?;
            }
            say!("{} event(s) queued again; a running server's workers take them within a second", revived.len())
        }
        InboxCommand::Process => {
            let settled = djstripe.engine().process_inbox()?;
            let count = |kind: Settled| settled.iter().filter(|s| **s == kind).count();
            say!(
                "processed {}, duplicate {}, failed and retried later {}, dead-lettered {}",
                count(Settled::Processed),
                count(Settled::Duplicate),
                count(Settled::Retried),
                count(Settled::Dead)
            )
        }
    }
}
