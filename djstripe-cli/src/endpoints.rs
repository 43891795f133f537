//! `endpoints create|list|sync|update|delete|add-secret|drop-secret` and `accounts
//! set-key|list|remove-key`: webhook endpoints created at Stripe, and connected accounts' keys.
//! Secrets are never printed unless `--show-secret` asks.

use std::time::Duration;

use djstripe_core::db::{Processing, WebhookEndpoint};
use djstripe_core::endpoints::{CreateEndpoint, EndpointManager, EndpointStatus, UpdateEndpoint};

use super::{Cli, Open};
use crate::output::{cell, print, table};
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
    /// Create an endpoint at Stripe with an unguessable URL and store its signing secret. An
    /// interrupted creation (killed, network gone) is resumed by running the same command again
    /// within 24 hours: the same endpoint and secret, never a second endpoint.
    Create {
        /// The app's public base URL (default DJSTRIPE_WEBHOOK_BASE_URL), e.g. https://shop.example.com.
        #[arg(long)]
        base_url: Option<String>,
        /// A connected account (acct_...); default: the platform account.
        #[arg(long)]
        account: Option<String>,
        #[command(flatten)]
        mode: Mode,
        /// Event types, comma-separated (default `*`, all; `*` only alone), checked against
        /// Stripe's list before the call.
        #[arg(long, value_delimiter = ',', default_value = "*")]
        events: Vec<String>,
        /// The API version Stripe renders events with: YYYY-MM-DD or YYYY-MM-DD.name.
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
    /// The local endpoints: id, UUID and URL (what `trigger --endpoint` takes), Stripe id, mode,
    /// status here and at Stripe, secret, account, enabled events, whether thin events are
    /// fetched.
    List,
    /// Pull the endpoints of a mode and account from Stripe into the local table (without secrets).
    Sync {
        /// A connected account (acct_...).
        #[arg(long)]
        account: Option<String>,
        #[command(flatten)]
        mode: Mode,
    },
    /// Change the URL, enabled events, status or description (at Stripe, then locally), or
    /// whether thin events are fetched (locally only).
    Update {
        /// Local id, Stripe id (we_...) or UUID.
        endpoint: String,
        /// A new base URL (moving domains): the URL becomes <base>/stripe/webhook/<same uuid>/,
        /// the secret stays.
        #[arg(long)]
        url: Option<String>,
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
        /// Fetch the full v2 event (GET /v2/core/events/{id}, the mode's secret key) of each v2
        /// event notification before its handlers run, so they see its `data`: `true` or `false`.
        /// A local setting: no call to Stripe.
        #[arg(long, value_name = "true|false", action = clap::ArgAction::Set)]
        fetch_thin_events: Option<bool>,
        /// When its handlers run: `inline` (before the answer), `inbox` (answered at once,
        /// processed by the workers), or `default` (DJSTRIPE_WEBHOOK_PROCESSING). A local
        /// setting: no call to Stripe.
        #[arg(long, value_name = "inline|inbox|default", value_parser = parse_processing)]
        processing: Option<ProcessingChoice>,
    },
    /// Delete at Stripe and locally (one Stripe no longer has: locally, saying so).
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
        secret: Hidden,
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

/// A secret argument (a signing secret, an API key): parsed like a `String`, shown as `…` by
/// `Debug`, so that no secret reaches a log through the parsed command line.
#[derive(Clone)]
pub(super) struct Hidden(pub(super) String);

impl From<String> for Hidden {
    fn from(value: String) -> Self {
        Hidden(value)
    }
}

impl std::fmt::Debug for Hidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"…\"")
    }
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
        key: Hidden,
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
    let djstripe = cli.start(Open::Existing)?;
    Ok((djstripe.endpoint_manager(&cli.prefix), djstripe))
}

fn mode_name(livemode: bool) -> &'static str {
    if livemode { "live" } else { "test" }
}

fn secret_state(e: &WebhookEndpoint) -> String {
    match (e.secret.is_empty(), e.previous().len()) {
        (true, _) if e.status == "pending" => "none yet (creation unfinished: create again)".to_owned(),
        (true, _) => "NO SECRET (cannot verify: add-secret)".to_owned(),
        (false, 0) => "secret stored".to_owned(),
        (false, n) => format!("secret stored, {n} previous still valid"),
    }
}

/// The enabled events as a list (`*`, `customer.created,invoice.paid`), not their JSON.
fn events_of(e: &WebhookEndpoint) -> String {
    serde_json::from_str::<Vec<String>>(&e.enabled_events).map_or_else(|_| e.enabled_events.clone(), |v| v.join(","))
}

fn describe(e: &WebhookEndpoint) -> String {
    let secret = secret_state(e);
    format!(
        "#{} {} {} {} [{}] account={} events={}{}{} {}",
        e.id,
        e.stripe_id.as_deref().unwrap_or("(local)"),
        mode_name(e.livemode),
        e.status,
        secret,
        e.account.as_deref().unwrap_or("-"),
        events_of(e),
        if e.fetch_thin_events { " fetch-thin-events" } else { "" },
        e.processing().map(|p| format!(" processing={p}")).unwrap_or_default(),
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
            if created.resumed {
                say!(
                    "resumed the interrupted creation of #{} (with its first parameters: events {})",
                    e.id,
                    events_of(e)
                )?;
            }
            say!("created {} ({} mode) at Stripe", e.stripe_id.as_deref().unwrap_or_default(), mode_name(e.livemode))?;
            say!("url: {}", e.url)?;
            say!("local id: {}  uuid: {}", e.id, e.djstripe_uuid)?;
            if show_secret {
                say!("signing secret (stored): {}", created.secret)?;
            } else {
                say!("signing secret: stored (not shown; --show-secret prints it)")?;
            }
        }
        EndpointsCommand::List => {
            let listed = manager.list()?;
            if listed.is_empty() {
                return say!("no webhook endpoints (create one with `endpoints create --base-url https://...`)");
            }
            let mut rows = table([
                "id",
                "uuid",
                "url",
                "stripe id",
                "mode",
                "status",
                "at stripe",
                "secret",
                "account",
                "events",
                "fetch thin",
                "processing",
            ]);
            for row in listed {
                let e = &row.endpoint;
                rows.add_row([
                    e.id.to_string(),
                    e.djstripe_uuid.clone(),
                    // A local endpoint has no public URL: its path, under the server's base URL.
                    if e.url.is_empty() {
                        format!("{}/webhook/{}/", cli.prefix, e.djstripe_uuid)
                    } else {
                        e.url.clone()
                    },
                    cell(e.stripe_id.as_deref()),
                    mode_name(e.livemode).to_owned(),
                    e.status.clone(),
                    row.at_stripe.to_string(),
                    secret_state(e),
                    cell(e.account.as_deref()),
                    events_of(e),
                    if e.fetch_thin_events { "yes" } else { "no" }.to_owned(),
                    e.processing().map_or("default", Processing::as_str).to_owned(),
                ]);
            }
            print(&rows)?;
        }
        EndpointsCommand::Sync { account, mode } => {
            let report = manager.sync(mode.livemode(default_live), account.as_deref())?;
            for e in &report.created {
                say!("new: {}", describe(e))?;
            }
            for e in &report.updated {
                say!("updated: {}", describe(e))?;
            }
            for e in &report.missing {
                say!("missing at Stripe (kept locally; `endpoints delete {}` removes it): {}", e.id, describe(e))?;
            }
            for (e, stripe_id) in &report.unfinished {
                say!(
                    "unfinished: #{} is an interrupted `endpoints create`, and Stripe has it ({stripe_id}). Fix: run \
                     `endpoints create` again with the same base URL{} within 24 hours of {} UTC: it finishes \
                     with the same endpoint and its secret",
                    e.id,
                    e.account.as_deref().map(|a| format!(" and --account {a}")).unwrap_or_default(),
                    e.created.format("%Y-%m-%d %H:%M"),
                )?;
            }
            for e in &report.without_secret {
                say!(
                    "NO SECRET: #{} {} was made by djstripe (djstripe_uuid {}) but its signing secret is not stored, so \
                     every delivery to it fails. Fix: `endpoints add-secret {} --secret whsec_...` with the secret from \
                     the Stripe Dashboard (Developers → Webhooks), or replace it: `endpoints delete {}` then \
                     `endpoints create`",
                    e.id,
                    e.stripe_id.as_deref().unwrap_or_default(),
                    e.djstripe_uuid,
                    e.id,
                    e.id
                )?;
            }
            say!(
                "{} new, {} updated, {} missing at Stripe",
                report.created.len(),
                report.updated.len(),
                report.missing.len()
            )?;
            if !report.created.is_empty() {
                say!(
                    "Stripe does not return secrets here: new endpoints answer 400 until `endpoints add-secret <id> --secret whsec_...`"
                )?;
            }
        }
        EndpointsCommand::Update {
            endpoint,
            url,
            events,
            disable,
            enable,
            description,
            fetch_thin_events,
            processing,
        } => {
            let status = if disable {
                Some(EndpointStatus::Disabled)
            } else if enable {
                Some(EndpointStatus::Enabled)
            } else {
                None
            };
            let at_stripe = url.is_some() || events.is_some() || status.is_some() || description.is_some();
            if !at_stripe && fetch_thin_events.is_none() && processing.is_none() {
                return Err(Error::Argument {
                    flag: "--events",
                    message: "nothing to update: pass --url, --events, --enable/--disable, --description, \
                              --fetch-thin-events or --processing"
                        .into(),
                });
            }
            let mut updated = None;
            if at_stripe {
                let update = UpdateEndpoint { base_url: url, enabled_events: events, status, description };
                updated = Some(manager.update(&endpoint, &update)?);
            }
            if let Some(fetch) = fetch_thin_events {
                let e = manager.set_fetch_thin_events(&endpoint, fetch)?;
                if fetch && !djstripe.settings().has_secret_key(e.livemode) {
                    say!(
                        "warning: {} is not set: until it is, thin events delivered to #{} are answered 500 \
                         (fetching them needs the key)",
                        if e.livemode { "STRIPE_LIVE_SECRET_KEY" } else { "STRIPE_TEST_SECRET_KEY" },
                        e.id
                    )?;
                }
                updated = Some(e);
            }
            if let Some(ProcessingChoice(mode)) = processing {
                updated = Some(manager.set_processing(&endpoint, mode)?);
            }
            if let Some(updated) = updated {
                say!("updated: {}", describe(&updated))?;
            }
        }
        EndpointsCommand::Delete { endpoint, local_only } => {
            if local_only {
                let gone = manager.forget(&endpoint)?;
                say!("deleted locally (Stripe keeps it): {}", gone.url)?;
            } else {
                let gone = manager.delete(&endpoint)?;
                say!("{}: {}", gone.at_stripe, gone.endpoint.url)?;
            }
        }
        EndpointsCommand::AddSecret { endpoint, secret, keep_hours } => {
            if !(0.0..=24.0 * 365.0).contains(&keep_hours) {
                return Err(Error::Argument { flag: "--keep-hours", message: "must be between 0 and 8760".into() });
            }
            let updated = manager.add_secret(&endpoint, &secret.0, Duration::from_secs_f64(keep_hours * 3600.0))?;
            say!("new secret stored; {}", describe(&updated))?;
        }
        EndpointsCommand::DropSecret { endpoint } => {
            let dropped = manager.drop_secret(&endpoint)?;
            say!("{dropped} previous secret(s) dropped: only the current secret verifies now")?;
        }
    }
    Ok(())
}

pub(super) fn accounts(cli: &Cli, command: AccountsCommand) -> Result<()> {
    let djstripe = cli.start(Open::Existing)?;
    let db = djstripe.engine().database();
    let default_live = djstripe.settings().live_mode;
    match command {
        AccountsCommand::SetKey { account, mode, key } => {
            let livemode = mode.livemode(default_live);
            db.set_account_key(&account, livemode, key.0.trim())?;
            say!("{} key stored for {account}", mode_name(livemode))?;
        }
        AccountsCommand::List => {
            let keys = db.account_keys()?;
            if keys.is_empty() {
                return say!("no account keys: calls for an account use the platform key with Stripe-Account");
            }
            let mut rows = table(["account", "mode", "key", "updated"]);
            for key in keys {
                rows.add_row([
                    key.account.clone(),
                    mode_name(key.livemode).to_owned(),
                    key.redacted(),
                    key.updated.format("%Y-%m-%d %H:%M:%S").to_string(),
                ]);
            }
            print(&rows)?;
        }
        AccountsCommand::RemoveKey { account, mode } => {
            let livemode = mode.livemode(default_live);
            db.delete_account_key(&account, livemode)?;
            say!("{} key of {account} removed", mode_name(livemode))?;
        }
    }
    Ok(())
}

/// `--processing`: a mode, or `None` for the app's default.
#[derive(Debug, Clone, Copy)]
pub(super) struct ProcessingChoice(Option<Processing>);

fn parse_processing(value: &str) -> std::result::Result<ProcessingChoice, String> {
    match value.trim() {
        "default" => Ok(ProcessingChoice(None)),
        other => {
            other.parse().map(|p| ProcessingChoice(Some(p))).map_err(|_| "expected inline, inbox or default".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(clap::Parser, Debug)]
    enum Command {
        #[command(subcommand)]
        Endpoints(super::EndpointsCommand),
        #[command(subcommand)]
        Accounts(super::AccountsCommand),
    }

    /// `--fetch-thin-events` takes `true` or `false` (a value, not a switch: it turns the
    /// setting off too), and alone is enough for `update`.
    #[test]
    fn fetch_thin_events_takes_a_boolean() {
        for (value, expected) in [("true", true), ("false", false)] {
            let parsed =
                Command::try_parse_from(["x", "endpoints", "update", "1", "--fetch-thin-events", value]).unwrap();
            let Command::Endpoints(super::EndpointsCommand::Update { fetch_thin_events, url, events, .. }) = parsed
            else {
                panic!("{parsed:?}")
            };
            assert_eq!((fetch_thin_events, url, events), (Some(expected), None, None));
        }
        assert!(Command::try_parse_from(["x", "endpoints", "update", "1", "--fetch-thin-events", "maybe"]).is_err());
        assert!(Command::try_parse_from(["x", "endpoints", "update", "1", "--fetch-thin-events"]).is_err());
    }

    /// Issue 15, 6: no secret in any `Debug` output, the parsed command lines included.
    #[test]
    fn debug_shows_no_secret_or_key() {
        for args in [
            &["x", "endpoints", "add-secret", "1", "--secret", "whsec_S3NTINEL"][..],
            &["x", "accounts", "set-key", "acct_1", "--test", "--key", "sk_test_S3NTINEL"][..],
        ] {
            let parsed = Command::try_parse_from(args).unwrap();
            let out = format!("{parsed:?} {parsed:#?}");
            assert!(!out.contains("S3NTINEL") && out.contains('…'), "{out}");
        }
    }
}
