//! `serve`: the HTTP server with the webhook scope and the app's routes.

use actix_web::{App, HttpServer};
use djstripe_core::db::NewWebhookEndpoint;

use super::Cli;
use crate::{Djstripe, Error};

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

pub(super) fn run(cli: &Cli, args: ServeArgs) -> Result<(), Error> {
    let bind = if args.bind.is_empty() { "127.0.0.1:8000".to_owned() } else { args.bind };
    let djstripe = cli.start()?;
    if cli.dev_endpoint {
        ensure_dev_endpoint(&djstripe)?;
    }
    let routes = cli.routes.clone();
    let prefix = cli.prefix.clone();
    let scope_data = djstripe.clone();
    // The admin pages, when DJSTRIPE_ADMIN_PASSWORD_HASH or DJSTRIPE_ADMIN_TOKEN is set.
    let admin = crate::admin::AdminConfig::from_env()?.map(|a| a.webhook_prefix(&cli.prefix));
    let admin_path = format!("{}/admin", cli.prefix);
    let admin_on = admin.is_some();
    actix_web::rt::System::new().block_on(async move {
        let mut server = HttpServer::new(move || {
            let routes = routes.clone();
            let admin = admin.clone().map(|a| crate::admin::scope(&admin_path, scope_data.clone(), a));
            App::new()
                .service(admin.into_iter().collect::<Vec<_>>()) // before the webhook scope: actix does not fall through
                .service(crate::scope(&prefix, scope_data.clone()))
                .configure(move |cfg| {
                    if let Some(routes) = &routes {
                        routes(cfg);
                    }
                })
        });
        if let Some(workers) = args.workers {
            server = server.workers(workers);
        }
        let server = server.bind(&bind).map_err(|e| Error::Cli(format!("cannot listen on {bind}: {e}")))?;
        let addr = server.addrs().first().copied().ok_or_else(|| Error::Cli(format!("no address for {bind}")))?;
        banner(cli, &djstripe, &format!("http://{addr}"))?;
        if admin_on {
            println!("{}: admin pages at http://{addr}{}/admin/", cli.name, cli.prefix);
        }
        server.run().await.map_err(Error::from)?;
        // Stopped (Ctrl-C / SIGTERM): let the committed deliveries' on_commit callbacks finish.
        djstripe.engine().flush_on_commit();
        Ok(())
    })
}

fn ensure_dev_endpoint(djstripe: &Djstripe) -> Result<(), Error> {
    let db = djstripe.engine().database();
    if db.endpoints()?.is_empty() {
        let secret = format!("whsec_dev{}", uuid_hex());
        let mut new = NewWebhookEndpoint::local(secret);
        new.description = "local development endpoint (created by serve)".into();
        db.insert_endpoint(&new)?;
    }
    Ok(())
}

/// 32 random hex characters (a v4 UUID's randomness) for a development secret.
fn uuid_hex() -> String {
    NewWebhookEndpoint::local("").djstripe_uuid.replace('-', "")
}

fn banner(cli: &Cli, djstripe: &Djstripe, base: &str) -> Result<(), Error> {
    let name = cli.name;
    let prefix = &cli.prefix;
    println!("{name}: listening on {base}");
    let endpoints = djstripe.engine().database().endpoints()?;
    for endpoint in endpoints.iter().filter(|e| e.is_enabled()) {
        let label = if endpoint.description.is_empty() {
            format!("endpoint {}", endpoint.id)
        } else {
            endpoint.description.clone()
        };
        println!("  POST {base}{prefix}/webhook/{}/   ({label})", endpoint.djstripe_uuid);
    }
    if djstripe.config().legacy_enabled() {
        println!(
            "  POST {base}{prefix}/webhook/   (legacy endpoint, DJSTRIPE_WEBHOOK_SECRET; not recommended: guessable URL)"
        );
    }
    if let Some(endpoint) = endpoints.iter().find(|e| e.is_enabled() && !e.secret.is_empty()) {
        println!("Try it (in another terminal):");
        println!(
            "  cargo run -p {name} -- trigger customer.created --endpoint {} --base-url {base} --count 100",
            endpoint.djstripe_uuid
        );
    } else if endpoints.is_empty() && !djstripe.config().legacy_enabled() {
        println!("No webhook endpoint yet: create one, or set DJSTRIPE_WEBHOOK_SECRET for the legacy endpoint.");
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    Ok(())
}
