//! [`Server`]: `axum::serve` for the command line's `serve` — the webhook router nested at the
//! prefix and the app's own routes, on a tokio runtime, stopped gracefully by Ctrl-C or SIGTERM.

use std::net::SocketAddr;

use axum::Router;
use djstripe_core::Result;
use djstripe_core::app::{Djstripe, ServeOptions};

/// The axum server for `djstripe_cli::Cli::server`: the webhook router nested at the prefix,
/// merged with the app's own router.
///
/// ```
/// let app = axum::Router::new().route("/health", axum::routing::get(|| async { "ok" }));
/// let server = djstripe_axum::Server::with_app(app);
/// # let _ = server;
/// ```
#[derive(Clone, Default)]
pub struct Server {
    app: Router,
}

impl Server {
    /// A server with only djstripe's routes.
    pub fn new() -> Self {
        Self::default()
    }

    /// A server with the app's own router beside djstripe's (use paths outside the prefix).
    pub fn with_app(app: Router) -> Self {
        Self { app }
    }
}

impl djstripe_core::app::Server for Server {
    fn serve(&self, djstripe: Djstripe, options: &ServeOptions, ready: &mut dyn FnMut(SocketAddr)) -> Result<()> {
        let io = |action: &str| {
            let action = action.to_owned();
            move |source| djstripe_core::Error::Io { action, source }
        };
        let mut runtime = tokio::runtime::Builder::new_multi_thread();
        if let Some(workers) = options.workers {
            runtime.worker_threads(workers.max(1));
        }
        let runtime = runtime.enable_all().build().map_err(io("starting the tokio runtime"))?;
        let app = self.app.clone().nest(&options.prefix, crate::router(djstripe));
        runtime.block_on(async move {
            let listening = format!("listening on {}", options.bind);
            let listener = tokio::net::TcpListener::bind(&options.bind).await.map_err(io(&listening))?;
            ready(listener.local_addr().map_err(io(&listening))?);
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(stopped())
                .await
                .map_err(io("serving"))
        })
    }
}

/// Resolves at Ctrl-C or SIGTERM (what a deploy sends).
async fn stopped() {
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
