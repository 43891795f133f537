//! [`Server`]: the actix-web `HttpServer` that the command line's `serve` runs — the webhook
//! scope, the admin pages when configured, and the app's own routes; stopped gracefully by
//! Ctrl-C or SIGTERM within `DJSTRIPE_SHUTDOWN_GRACE`.

use std::sync::Arc;

use actix_web::web::ServiceConfig;
use actix_web::{App, HttpServer};
use djstripe_core::app::{Djstripe, Ready, ServeOptions};

/// The app's own routes, mounted beside the djstripe scope.
type AppRoutes = Arc<dyn Fn(&mut ServiceConfig) + Send + Sync>;

/// The actix-web server for `djstripe_cli::Cli::server`: the webhook scope at the prefix, the
/// admin pages at `{prefix}/admin/` and the metrics at `{prefix}/metrics` (one [`Admin`](crate::admin::Admin)
/// for both: one failure limiter for every worker) when the admin is configured (feature `admin`),
/// and the app's routes.
///
/// ```
/// let server = djstripe_actix::Server::new().routes(|cfg| {
///     cfg.route("/health", actix_web::web::get().to(|| async { "ok" }));
/// });
/// # let _ = server;
/// ```
#[derive(Clone, Default)]
pub struct Server {
    routes: Option<AppRoutes>,
}

impl Server {
    /// A server with only djstripe's routes.
    pub fn new() -> Self {
        Self::default()
    }

    /// The app's own routes, beside djstripe's (which claim only `{prefix}/webhook/...` and
    /// `{prefix}/admin/...`: the app's routes may share the prefix).
    pub fn routes(mut self, routes: impl Fn(&mut ServiceConfig) + Send + Sync + 'static) -> Self {
        self.routes = Some(Arc::new(routes));
        self
    }
}

impl djstripe_core::app::Server for Server {
    fn serve(&self, djstripe: Djstripe, options: &ServeOptions, ready: Ready<'_>) -> djstripe_core::Result<()> {
        let routes = self.routes.clone();
        let prefix = options.prefix.clone();
        // One admin for every worker: its clones share the login failure limiter.
        #[cfg(feature = "admin")]
        let admin = crate::admin::AdminConfig::load(&djstripe)?
            .map(|a| crate::admin::Admin::new(djstripe.clone(), a.webhook_prefix(&prefix)));
        let bind = options.bind.clone();
        let grace = djstripe.settings().shutdown_grace;
        let listen = |e| djstripe_core::Error::Io { action: format!("listening on {bind}"), source: e };
        actix_web::rt::System::new().block_on(async move {
            let app_prefix = prefix.clone();
            #[cfg(feature = "admin")]
            let admin_on = admin.is_some();
            let data = djstripe.clone();
            let mut server = HttpServer::new(move || {
                let routes = routes.clone();
                #[cfg(feature = "admin")]
                let (admin, metrics) = match &admin {
                    Some(a) => (
                        vec![crate::admin::scope_for(&format!("{app_prefix}/admin"), a.clone())],
                        vec![crate::admin::metrics(&format!("{app_prefix}/metrics"), a.clone())],
                    ),
                    None => (Vec::new(), Vec::new()),
                };
                #[cfg(not(feature = "admin"))]
                let (admin, metrics): (Vec<actix_web::Scope>, Vec<actix_web::Resource>) = (Vec::new(), Vec::new());
                App::new()
                    .service(admin) // {prefix}/admin: the scopes claim disjoint paths
                    .service(metrics) // {prefix}/metrics
                    .service(crate::scope(&app_prefix, data.clone()))
                    .configure(move |cfg| {
                        if let Some(routes) = &routes {
                            routes(cfg);
                        }
                    })
            });
            if let Some(workers) = options.workers {
                server = server.workers(workers);
            }
            // Our signals, not actix-web's (whose Ctrl-C stops at once): Ctrl-C and SIGTERM both
            // stop gracefully, within the grace period, like the axum server.
            server = server.disable_signals().shutdown_timeout(grace.as_secs());
            let server = server.bind(&options.bind).map_err(listen)?;
            let addr =
                server.addrs().first().copied().ok_or_else(|| listen(std::io::ErrorKind::AddrNotAvailable.into()))?;
            ready(addr);
            #[cfg(feature = "admin")]
            if admin_on {
                println!("admin pages at http://{addr}{prefix}/admin/");
                println!("metrics at http://{addr}{prefix}/metrics (the admin's credentials)");
            }
            let running = server.run();
            let shutdown = options.shutdown.clone().unwrap_or_default();
            let handle = running.handle();
            actix_web::rt::spawn(async move {
                shutdown.signalled().await;
                // Stops accepting, waits for the requests in flight (at most the grace period).
                handle.stop(true).await;
            });
            running.await.map_err(|source| djstripe_core::Error::Io { action: "serving".into(), source })
        })
    }
}
