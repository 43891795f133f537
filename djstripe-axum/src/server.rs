//! [`Server`]: `axum::serve` for the command line's `serve` — the webhook router nested at the
//! prefix, the admin pages when configured, and the app's own routes, on a tokio runtime,
//! stopped gracefully by Ctrl-C or SIGTERM within `DJSTRIPE_SHUTDOWN_GRACE`.

use std::net::SocketAddr;

use axum::Router;
use std::future::IntoFuture;

use djstripe_core::app::{Djstripe, Ready, ServeOptions};

/// The axum server for `djstripe_cli::Cli::server`: the webhook router at the prefix, the admin
/// pages at `{prefix}/admin/` and the metrics at `{prefix}/metrics` (one [`Admin`](crate::admin::Admin)
/// for both) when the admin is configured (feature `admin`), and the app's routes.
///
/// ```
/// let server = djstripe_axum::Server::new().routes(axum::Router::new().route("/health", axum::routing::get(|| async { "ok" })));
/// # let _ = server;
/// ```
#[derive(Clone, Default)]
pub struct Server {
    routes: Option<Router>,
}

impl Server {
    /// A server with only djstripe's routes.
    pub fn new() -> Self {
        Self::default()
    }

    /// The app's own routes, merged beside the webhook router (they may share its prefix:
    /// `/stripe/checkout/done`; not `{prefix}/webhook/...` or `{prefix}/admin/...`).
    /// A `Router` is cheap to clone: it is merged as given each time the server starts.
    pub fn routes(mut self, routes: Router) -> Self {
        self.routes = Some(routes);
        self
    }
}

impl djstripe_core::app::Server for Server {
    fn serve(&self, djstripe: Djstripe, options: &ServeOptions, ready: Ready<'_>) -> djstripe_core::Result<()> {
        let io = |action: &str| {
            let action = action.to_owned();
            move |source| djstripe_core::Error::Io { action, source }
        };
        let mut runtime = tokio::runtime::Builder::new_multi_thread();
        if let Some(workers) = options.workers {
            runtime.worker_threads(workers.max(1));
        }
        let runtime = runtime.enable_all().build().map_err(io("starting the tokio runtime"))?;
        #[cfg(feature = "admin")]
        let admin = crate::admin::AdminConfig::load(&djstripe)?
            .map(|a| crate::admin::Admin::new(djstripe.clone(), a.webhook_prefix(&options.prefix)));
        let grace = djstripe.settings().shutdown_grace;
        let mut app = Router::new().nest(&options.prefix, crate::router(djstripe.clone()));
        #[cfg(feature = "admin")]
        if let Some(admin) = &admin {
            app = app
                .nest_service(&format!("{}/admin", options.prefix), crate::admin::router_for(admin.clone()))
                .merge(crate::admin::metrics(&format!("{}/metrics", options.prefix), admin.clone()));
        }
        if let Some(routes) = &self.routes {
            app = app.merge(routes.clone());
        }
        let shutdown = options.shutdown.clone().unwrap_or_default();
        let served = runtime.block_on(async move {
            let listening = format!("listening on {}", options.bind);
            let listener = tokio::net::TcpListener::bind(&options.bind).await.map_err(io(&listening))?;
            let addr = listener.local_addr().map_err(io(&listening))?;
            ready(addr);
            #[cfg(feature = "admin")]
            if admin.is_some() {
                println!("admin pages at http://{addr}{}/admin/", options.prefix);
                println!("metrics at http://{addr}{}/metrics (the admin's credentials)", options.prefix);
            }
            let signalled = shutdown.clone();
            let serving = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(async move { signalled.signalled().await })
                .into_future();
            // axum waits for every open connection; the grace period bounds that, as
            // actix-web's `shutdown_timeout` does.
            let deadline = async {
                shutdown.stopped().await;
                tokio::time::sleep(grace).await;
            };
            tokio::select! {
                served = serving => served.map_err(io("serving")),
                () = deadline => {
                    tracing::warn!(grace_secs = grace.as_secs(), "the shutdown grace period ended with requests still open: dropping them");
                    Ok(())
                }
            }
        });
        // Tasks still running (connections past the grace period) are dropped, not waited for.
        runtime.shutdown_background();
        served
    }
}
