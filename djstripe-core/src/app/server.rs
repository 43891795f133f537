//! [`Server`]: what a web adapter gives the command line's `serve`, so that one command line
//! (`djstripe-cli`) serves over actix-web or axum.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

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
    at: OnceLock<Instant>,
    notify: tokio::sync::Notify,
}

impl Shutdown {
    /// A signal not yet triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Triggers it: every [`Shutdown::stopped`] resolves.
    pub fn stop(&self) {
        self.0.at.get_or_init(Instant::now);
        self.0.stopped.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    /// Whether [`Shutdown::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.0.stopped.load(Ordering::SeqCst)
    }

    /// When [`Shutdown::stop`] was first called: the grace period
    /// ([`super::Settings::shutdown_grace`]) runs from there, through the HTTP server's
    /// graceful stop and [`super::Djstripe::shutdown`].
    ///
    /// ```
    /// let shutdown = djstripe_core::app::Shutdown::new();
    /// assert!(shutdown.stopped_at().is_none());
    /// shutdown.stop();
    /// assert!(shutdown.stopped_at().unwrap().elapsed().as_secs() < 5);
    /// ```
    pub fn stopped_at(&self) -> Option<Instant> {
        self.0.at.get().copied()
    }

    /// Resolves at Ctrl-C (SIGINT), SIGTERM (what a deploy sends) or [`Shutdown::stop`],
    /// whichever comes first, and stops this signal then (so [`Shutdown::stopped_at`] is the
    /// moment of the signal). What both adapters' servers wait on, so that they stop alike.
    /// Needs a tokio runtime with I/O enabled (actix-web's and axum's both are).
    ///
    /// ```
    /// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let shutdown = djstripe_core::app::Shutdown::new();
    /// shutdown.stop();
    /// runtime.block_on(shutdown.signalled()); // at once: already stopped
    /// ```
    pub async fn signalled(&self) {
        tokio::select! {
            _ = self.stopped() => {},
            _ = signal() => self.stop(),
        }
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

/// Resolves at Ctrl-C or SIGTERM; never if the handlers cannot be installed (then the process
/// stops the default way: at once).
async fn signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut terminate) = signal(SignalKind::terminate()) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    if interrupt.await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// What [`Server::serve`] calls once it listens: with the bound address.
pub type Ready<'a> = &'a mut dyn FnMut(SocketAddr);

/// A web adapter's HTTP server: mounts the webhook routes (and whatever else the app added to
/// it) and serves until the process is told to stop (Ctrl-C, SIGTERM).
///
/// Stopping is graceful and bounded the same way on every adapter: at the signal (or
/// [`ServeOptions::shutdown`]) the server stops accepting, finishes the requests in flight and
/// returns — at the latest [`super::Settings::shutdown_grace`] after the signal, dropping what
/// is still open then. The caller then drains the engine ([`super::Djstripe::shutdown`]).
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
    /// stopped (see the trait's documentation). Blocks the calling thread. When
    /// `options.shutdown` is given, a signal stops it too ([`Shutdown::signalled`]), so the
    /// caller learns the moment from [`Shutdown::stopped_at`].
    ///
    /// # Errors
    /// [`crate::Error::Io`] when it cannot listen or the server fails.
    fn serve(&self, djstripe: Djstripe, options: &ServeOptions, ready: Ready<'_>) -> Result<()>;
}
