//! `serve`: djstripe's and the app's migrations, the local development endpoint, then the web
//! adapter's server with its banner.

use djstripe_core::app::{DEV_ENDPOINT_DESCRIPTION, Djstripe, ServeOptions, Shutdown};

use super::{Cli, Open};
use crate::{Error, Result};

/// Arguments of `serve`.
#[derive(clap::Args, Debug, Default)]
pub(super) struct ServeArgs {
    /// Address to listen on (port 0 picks a free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8000")]
    bind: String,
    /// Worker threads (default: one per core).
    #[arg(long)]
    workers: Option<usize>,
}

pub(super) fn run(cli: &Cli, args: ServeArgs) -> Result<()> {
    let server = cli.server.clone().ok_or(Error::NoServer)?;
    let bind = if args.bind.is_empty() { "127.0.0.1:8000".to_owned() } else { args.bind };
    let djstripe = cli.start_serving(Open::Create)?;
    if cli.dev_endpoint {
        djstripe.ensure_dev_endpoint()?;
    }
    // Given to the server so that it records when the signal came: the grace period
    // (DJSTRIPE_SHUTDOWN_GRACE) runs from there, through the server's stop and the drain.
    let shutdown = Shutdown::new();
    let options =
        ServeOptions { bind, workers: args.workers, prefix: cli.prefix.clone(), shutdown: Some(shutdown.clone()) };
    let mut banner_error = None;
    let served = server.serve(djstripe.clone(), &options, &mut |addr| {
        match banner(cli, &djstripe, &format!("http://{addr}")) {
            // Nobody reads stdout any more: keep serving.
            Ok(()) | Err(Error::Stdout(_)) => {}
            Err(e) => banner_error = Some(e),
        }
    });
    // Stopped (Ctrl-C / SIGTERM), or failed: whatever the writers still hold is committed and
    // answered, and the queued on_commit callbacks run, within what is left of the grace.
    let grace = djstripe.settings().shutdown_grace;
    let left = shutdown.stopped_at().map_or(grace, |at| grace.saturating_sub(at.elapsed()));
    match &served {
        Ok(()) => drop(djstripe.shutdown(left)),
        // A server that failed (at startup: a bad admin setting, a taken port) drains quietly:
        // its error is the one line the operator needs.
        Err(_) => drop(djstripe.engine().drain(left)),
    }
    served?;
    banner_error.map_or(Ok(()), Err)
}

fn banner(cli: &Cli, djstripe: &Djstripe, base: &str) -> Result<()> {
    let name = cli.name;
    let prefix = &cli.prefix;
    say!("{name}: listening on {base}")?;
    let endpoints = djstripe.endpoints()?;
    for endpoint in endpoints.iter().filter(|e| e.is_enabled()) {
        let label = if endpoint.description.is_empty() {
            format!("endpoint {}", endpoint.id)
        } else {
            endpoint.description.clone()
        };
        say!("  POST {base}{prefix}/webhook/{}/   ({label})", endpoint.djstripe_uuid)?;
    }
    if djstripe.settings().legacy_enabled() {
        say!(
            "  POST {base}{prefix}/webhook/   (legacy endpoint, DJSTRIPE_WEBHOOK_SECRET; not recommended: guessable URL)"
        )?;
    }
    let dev = endpoints.iter().find(|e| e.is_enabled() && e.description == DEV_ENDPOINT_DESCRIPTION);
    if let Some(endpoint) = dev.or_else(|| endpoints.iter().find(|e| e.is_enabled() && !e.secret.is_empty())) {
        say!("Try it (in another terminal):")?;
        say!(
            "  cargo run -p {name} -- trigger customer.created --endpoint {} --base-url {base} --count 3",
            endpoint.djstripe_uuid
        )?;
    } else if endpoints.is_empty() && !djstripe.settings().legacy_enabled() {
        say!("No webhook endpoint yet: create one, or set DJSTRIPE_WEBHOOK_SECRET for the legacy endpoint.")?;
    }
    use std::io::Write;
    std::io::stdout().flush().map_err(Error::Stdout)
}
