//! `endpoints create|list|sync|update|delete|add-secret|drop-secret` and `accounts
//! set-key|list|remove-key`: webhook endpoints created at Stripe, and connected accounts' keys.
//! Secrets are never printed unless `--show-secret` asks.

use std::time::Duration;

use djstripe_core::db::WebhookEndpoint;
use djstripe_core::endpoints::{CreateEndpoint, EndpointManager, EndpointStatus, UpdateEndpoint};

use super::Cli;
use crate::{Error, Result};

/// Live or test mode; default `STRIPE_LIVE_MODE`.
#[derive(clap::Args, Debug, Clone, Copy)]
pub(super) struct Mode {
    /// Live mode (live key).
    #[arg(long, conflicts_with = "test")]
    live: bool,
    /// Test mode (test key).
    #[arg(long)]
    test: bool,
}

impl Mode {
    fn livemode(self, default: bool) -> bool {
        if self.live {
            true
        } else if self.test {
            false
        } else {
            default
        }
    }
}

#[derive(clap::Subcommand, Debug)]
pub(super) enum EndpointsCommand {
    /// Create an endpoint at Stripe with an unguessable URL and store its signing secret.
    Create {
        /// The app's public base URL (default DJSTRIPE_WEBHOOK_BASE_URL), e.g. https://shop.example.com.
        #[arg(long)]
        base_url: Option<String>,
        /// A connected account (acct_...); default: the platform account.
        #[arg(long)]
        account: Option<String>,
        #[command(flatten)]
        mode: Mode,
        /// Event types, comma-separated (default `*`, all).
        #[arg(long, value_delimiter = ',', default_value = "*")]
        events: Vec<String>,
        /// The API version Stripe renders events with.
        #[arg(long)]
        api_version: Option<String>,
        /// Shown in the Stripe Dashboard.
        #[arg(long)]
        description: Option<String>,
        /// Receive events of connected accounts.
        #[arg(long)]
        connect: bool,
        /// Print the signing secret (it is stored either way).
        #[arg(long)]
        show_secret: bool,
    },
    /// The local endpoints, with their status at Stripe.
    List,
    /// Pull the endpoints of a mode and account from Stripe into the local table (without secrets).
    Sync {
        /// A connected account (acct_...).
        #[arg(long)]
        account: Option<String>,
        #[command(flatten)]
        mode: Mode,
    },
    /// Change enabled events, status or description (at Stripe, then locally).
    Update {
        /// Local id, Stripe id (we_...) or UUID.
        endpoint: String,
        /// New event types, comma-separated.
        #[arg(long, value_delimiter = ',')]
        events: Option<Vec<String>>,
        /// Stop deliveries (they get 404).
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        /// Accept deliveries again.
        #[arg(long)]
        enable: bool,
        /// New description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete at Stripe and locally.
    Delete {
        /// Local id, Stripe id (we_...) or UUID.
        endpoint: String,
        /// Delete the local row only; Stripe keeps the endpoint.
        #[arg(long)]
        local_only: bool,
    },
    /// Set a new signing secret; the current one keeps verifying for --keep-hours (default 24).
    AddSecret {
        /// Local id, Stripe id (we_...) or UUID.
        endpoint: String,
        /// The new secret (whsec_...); default: read from the DJSTRIPE_NEW_WEBHOOK_SECRET variable.
        #[arg(long, env = "DJSTRIPE_NEW_WEBHOOK_SECRET", hide_env_values = true)]
        secret: String,
        /// Hours the replaced secret keeps verifying (0 = drop it now).
        #[arg(long, default_value_t = 24.0)]
        keep_hours: f64,
    },
    /// Stop accepting the previous secret(s) now.
    DropSecret {
        /// Local id, Stripe id (we_...) or UUID.
        endpoint: String,
    },
}

#[derive(clap::Subcommand, Debug)]
pub(super) enum AccountsCommand {
    /// Store a connected account's own secret key for a mode (used instead of Stripe-Account).
    SetKey {
        /// The account (acct_...).
        account: String,
        #[command(flatten)]
        mode: Mode,
        /// The key (sk_/rk_...); default: read from the STRIPE_ACCOUNT_SECRET_KEY variable.
        #[arg(long, env = "STRIPE_ACCOUNT_SECRET_KEY", hide_env_values = true)]
        key: String,
    },
    /// Stored account keys (redacted).
    List,
    /// Forget an account's key for a mode.
    RemoveKey {
        /// The account (acct_...).
        account: String,
        #[command(flatten)]
        mode: Mode,
    },
}

fn manager(cli: &Cli) -> Result<(EndpointManager, djstripe_core::app::Djstripe)> {
    let djstripe = cli.start()?;
    Ok((djstripe.endpoint_manager(&cli.prefix), djstripe))
}

fn mode_name(livemode: bool) -> &'static str {
    if livemode { "live" } else { "test" }
}

fn describe(e: &WebhookEndpoint) -> String {
    let secret = match (e.secret.is_empty(), e.previous().len()) {
        (true, _) => "NO SECRET (cannot verify: add-secret)".to_owned(),
        (false, 0) => "secret stored".to_owned(),
        (false, n) => format!("secret stored, {n} previous still valid"),
    };
    format!(
        "#{} {} {} {} [{}] account={} events={} {}",
        e.id,
        e.stripe_id.as_deref().unwrap_or("(local)"),
        mode_name(e.livemode),
        e.status,
        secret,
        e.account.as_deref().unwrap_or("-"),
        e.enabled_events,
        e.url
    )
}

pub(super) fn endpoints(cli: &Cli, command: EndpointsCommand) -> Result<()> {
    let (manager, djstripe) = manager(cli)?;
    let default_live = djstripe.settings().live_mode;
    match command {
        EndpointsCommand::Create {
            base_url,
            account,
            mode,
            events,
            api_version,
            description,
            connect,
            show_secret,
        } => {
            let base_url =
                base_url.or_else(|| djstripe.settings().webhook_base_url.clone()).ok_or_else(|| Error::Argument {
                    flag: "--base-url",
                    message: "no base URL: pass --base-url https://your-domain or set DJSTRIPE_WEBHOOK_BASE_URL".into(),
                })?;
            let request = CreateEndpoint {
                base_url,
                account,
                livemode: mode.livemode(default_live),
                enabled_events: events,
                api_version,
                description,
                connect,
            };
            let created = manager.create(&request)?;
            let e = &created.endpoint;
            println!(
                "created {} ({} mode) at Stripe",
                e.stripe_id.as_deref().unwrap_or_default(),
                mode_name(e.livemode)
            );
            println!("url: {}", e.url);
            println!("local id: {}  uuid: {}", e.id, e.djstripe_uuid);
            if show_secret {
                println!("signing secret (stored): {}", created.secret);
            } else {
                println!("signing secret: stored (not shown; --show-secret prints it)");
            }
        }
        EndpointsCommand::List => {
            let listed = manager.list()?;
            if listed.is_empty() {
                println!("no webhook endpoints (create one with `endpoints create --base-url https://...`)");
            }
            for row in listed {
                println!("{} ({})", describe(&row.endpoint), row.at_stripe);
            }
        }
        EndpointsCommand::Sync { account, mode } => {
            let report = manager.sync(mode.livemode(default_live), account.as_deref())?;
            for e in &report.created {
                println!("new: {}", describe(e));
            }
            for e in &report.updated {
                println!("updated: {}", describe(e));
            }
            for e in &report.missing {
                println!("missing at Stripe (kept locally; `endpoints delete {}` removes it): {}", e.id, describe(e));
            }
            println!(
                "{} new, {} updated, {} missing at Stripe",
                report.created.len(),
                report.updated.len(),
                report.missing.len()
            );
            if !report.created.is_empty() {
                println!(
                    "Stripe does not return secrets here: new endpoints answer 400 until `endpoints add-secret <id> --secret whsec_...`"
                );
            }
        }
        EndpointsCommand::Update { endpoint, events, disable, enable, description } => {
            let status = if disable {
                Some(EndpointStatus::Disabled)
            } else if enable {
                Some(EndpointStatus::Enabled)
            } else {
                None
            };
            if events.is_none() && status.is_none() && description.is_none() {
                return Err(Error::Argument {
                    flag: "--events",
                    message: "nothing to update: pass --events, --enable/--disable or --description".into(),
                });
            }
            let updated = manager.update(&endpoint, &UpdateEndpoint { enabled_events: events, status, description })?;
            println!("updated: {}", describe(&updated));
        }
        EndpointsCommand::Delete { endpoint, local_only } => {
            let gone = if local_only { manager.forget(&endpoint)? } else { manager.delete(&endpoint)? };
            let place = if local_only || gone.stripe_id.is_none() { "locally" } else { "at Stripe and locally" };
            println!("deleted {place}: {}", gone.url);
        }
        EndpointsCommand::AddSecret { endpoint, secret, keep_hours } => {
            if !(0.0..=24.0 * 365.0).contains(&keep_hours) {
                return Err(Error::Argument { flag: "--keep-hours", message: "must be between 0 and 8760".into() });
            }
            let updated = manager.add_secret(&endpoint, &secret, Duration::from_secs_f64(keep_hours * 3600.0))?;
            println!("new secret stored; {}", describe(&updated));
        }
        EndpointsCommand::DropSecret { endpoint } => {
            let dropped = manager.drop_secret(&endpoint)?;
            println!("{dropped} previous secret(s) dropped: only the current secret verifies now");
        }
    }
    Ok(())
}

pub(super) fn accounts(cli: &Cli, command: AccountsCommand) -> Result<()> {
    let djstripe = cli.start()?;
    let db = djstripe.engine().database();
    let default_live = djstripe.settings().live_mode;
    match command {
        AccountsCommand::SetKey { account, mode, key } => {
            let livemode = mode.livemode(default_live);
            db.set_account_key(&account, livemode, key.trim())?;
            println!("{} key stored for {account}", mode_name(livemode));
        }
        AccountsCommand::List => {
            let keys = db.account_keys()?;
            if keys.is_empty() {
                println!("no account keys: calls for an account use the platform key with Stripe-Account");
            }
            for key in keys {
                println!("{} {} {}", key.account, mode_name(key.livemode), key.redacted());
            }
        }
        AccountsCommand::RemoveKey { account, mode } => {
            let livemode = mode.livemode(default_live);
            db.delete_account_key(&account, livemode)?;
            println!("{} key of {account} removed", mode_name(livemode));
        }
    }
    Ok(())
}
