//! `serve`: djstripe's and the app's migrations, the local development endpoint, then the web
//! adapter's server with its banner.

use djstripe_core::app::{DEV_ENDPOINT_DESCRIPTION, Djstripe, ServeOptions};

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
    let djstripe = cli.start(Open::Create)?;
    if cli.dev_endpoint {
        djstripe.ensure_dev_endpoint()?;
    }
    let options = ServeOptions { bind, workers: args.workers, prefix: cli.prefix.clone(), shutdown: None };
    let mut banner_error = None;
    server.serve(djstripe.clone(), &options, &mut |addr| {
        match banner(cli, &djstripe, &format!("http://{addr}")) {
            // Nobody reads stdout any more: keep serving.
            Ok(()) | Err(Error::Stdout(_)) => {}
            Err(e) => banner_error = Some(e),
        }
    })?;
    // Stopped (Ctrl-C / SIGTERM): let the committed deliveries' on_commit callbacks finish.
    djstripe.engine().flush_on_commit();
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
