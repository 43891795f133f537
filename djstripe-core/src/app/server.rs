//! [`Server`]: what a web adapter gives the command line's `serve`, so that one command line
//! (`djstripe-cli`) serves over actix-web or axum.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::Djstripe;
use crate::Result;

/// Where and how `serve` listens.
///
/// ```
/// let options = djstripe_core::app::ServeOptions::default();
/// assert_eq!((options.bind.as_str(), options.prefix.as_str()), ("127.0.0.1:8000", "/stripe"));
/// ```
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// `host:port` to listen on (port 0 picks a free one, reported to `ready`).
    pub bind: String,
    /// Worker threads (`None`: the framework's default, one per core).
    pub workers: Option<usize>,
    /// Where the webhook routes are mounted, without a trailing slash (`/stripe`).
    pub prefix: String,
    /// Stops the server gracefully when triggered, beside Ctrl-C and SIGTERM (tests, embedding).
    pub shutdown: Option<Shutdown>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self { bind: "127.0.0.1:8000".into(), workers: None, prefix: "/stripe".into(), shutdown: None }
    }
}

/// A signal that stops a [`Server`] from another thread: the server finishes the requests in
/// flight and [`Server::serve`] returns. Cheap to clone; triggering it twice is harmless.
///
/// ```
/// use djstripe_core::app::Shutdown;
/// let shutdown = Shutdown::new();
/// let waiter = shutdown.clone();
/// let thread = std::thread::spawn(move || futures_executor::block_on(waiter.stopped()));
/// shutdown.stop();
/// thread.join().unwrap();
/// assert!(shutdown.is_stopped());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Shutdown(Arc<ShutdownState>);

#[derive(Debug, Default)]
struct ShutdownState {
    stopped: AtomicBool,
    notify: tokio::sync::Notify,
}

impl Shutdown {
    /// A signal not yet triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Triggers it: every [`Shutdown::stopped`] resolves.
    pub fn stop(&self) {
        self.0.stopped.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    /// Whether [`Shutdown::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.0.stopped.load(Ordering::SeqCst)
    }

    /// Resolves once [`Shutdown::stop`] was called (at once if it was already).
    pub async fn stopped(&self) {
        loop {
            let notified = self.0.notify.notified();
            if self.is_stopped() {
                return;
            }
            notified.await;
        }
    }
}

/// What [`Server::serve`] calls once it listens: with the bound address.
pub type Ready<'a> = &'a mut dyn FnMut(SocketAddr);

/// A web adapter's HTTP server: mounts the webhook routes (and whatever else the app added to
/// it) and serves until the process is told to stop (Ctrl-C, SIGTERM).
///
/// ```
/// use djstripe_core::app::{Djstripe, ServeOptions, Server};
/// struct Nothing;
/// impl Server for Nothing {
///     fn serve(&self, _: Djstripe, _: &ServeOptions, ready: &mut dyn FnMut(std::net::SocketAddr)) -> djstripe_core::Result<()> {
///         ready("127.0.0.1:1".parse().unwrap()); // bound: the command line prints its banner
///         Ok(())                                 // stopped
///     }
/// }
/// ```
pub trait Server: Send + Sync {
    /// Binds to `options.bind`, calls `ready` once with the bound address, then serves until
    /// stopped. Blocks the calling thread.
    ///
    /// # Errors
    /// [`crate::Error::Io`] when it cannot listen or the server fails.
    fn serve(&self, djstripe: Djstripe, options: &ServeOptions, ready: Ready<'_>) -> Result<()>;
}
