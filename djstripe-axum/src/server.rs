//! [`Server`]: `axum::serve` for the command line's `serve` — the webhook router nested at the
//! prefix, the admin pages when configured, and the app's own routes, on a tokio runtime,
//! stopped gracefully by Ctrl-C or SIGTERM.

use std::net::SocketAddr;

use axum::Router;
use djstripe_core::app::{Djstripe, Ready, ServeOptions, Shutdown};

/// The axum server for `djstripe_cli::Cli::server`: the webhook router at the prefix, the admin
/// pages at `{prefix}/admin/` when `DJSTRIPE_ADMIN_PASSWORD_HASH` or `DJSTRIPE_ADMIN_TOKEN` is set
/// (feature `admin`), and the app's routes.
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
        let admin = crate::admin::AdminConfig::load(&djstripe)?.map(|a| a.webhook_prefix(&options.prefix));
        let mut app = Router::new().nest(&options.prefix, crate::router(djstripe.clone()));
        #[cfg(feature = "admin")]
        if let Some(config) = &admin {
            app =
                app.nest_service(&format!("{}/admin", options.prefix), crate::admin::router(djstripe, config.clone()));
        }
        if let Some(routes) = &self.routes {
            app = app.merge(routes.clone());
        }
        runtime.block_on(async move {
            let listening = format!("listening on {}", options.bind);
            let listener = tokio::net::TcpListener::bind(&options.bind).await.map_err(io(&listening))?;
            let addr = listener.local_addr().map_err(io(&listening))?;
            ready(addr);
            #[cfg(feature = "admin")]
            if admin.is_some() {
                println!("admin pages at http://{addr}{}/admin/", options.prefix);
            }
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(stopped(options.shutdown.clone()))
                .await
                .map_err(io("serving"))
        })
    }
}

/// Resolves at Ctrl-C, SIGTERM (what a deploy sends) or the options' [`Shutdown`].
async fn stopped(shutdown: Option<Shutdown>) {
    let shutdown = async move {
        match shutdown {
            Some(shutdown) => shutdown.stopped().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = shutdown => {},
        _ = signalled() => {},
    }
}

/// Resolves at Ctrl-C or SIGTERM.
async fn signalled() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
