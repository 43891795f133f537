//! [`Pending`]: a delivery handed to the writers, whose outcome can be awaited or waited for.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::Outcome;
use super::committer::{self, Ticket};
use super::process::Done;
use crate::Error;

/// The outcome of a submitted delivery, once its batch commits. `.await` it from async code (no
/// thread is blocked meanwhile), or call [`Pending::wait`] from a thread that may block.
///
/// ```no_run
/// # fn f(engine: djstripe_core::engine::Engine, delivery: djstripe_core::engine::Delivery<'_>) -> Result<(), djstripe_core::Error> {
/// let prepared = engine.prepare(&delivery)?;
/// let outcome = engine.submit(prepared).wait()?;
/// # Ok(()) }
/// ```
#[must_use = "a Pending does nothing visible unless awaited or waited for"]
pub struct Pending {
    inner: Inner,
}

enum Inner {
    Ready(Option<Result<Outcome, Error>>),
    Waiting(Ticket, Then),
}

/// How to turn the writer's answer into an [`Outcome`].
pub(super) enum Then {
    /// The answer is already an outcome (processing).
    Outcome,
    /// A rejected delivery was recorded.
    Rejected(Option<Error>),
    /// The dashboard test event was recorded.
    TestEvent,
}

impl Pending {
    pub(super) fn ready(result: Result<Outcome, Error>) -> Self {
        Self { inner: Inner::Ready(Some(result)) }
    }

    pub(super) fn waiting(ticket: Ticket, then: Then) -> Self {
        Self { inner: Inner::Waiting(ticket, then) }
    }

    /// Blocks until the outcome is known.
    ///
    /// ```no_run
    /// # fn f(engine: djstripe_core::engine::Engine, prepared: djstripe_core::engine::Prepared) {
    /// match engine.submit(prepared).wait() {
    ///     Ok(outcome) => println!("{}", outcome.label()),
    ///     Err(error) => eprintln!("not recorded: {error}"),
    /// }
    /// # }
    /// ```
    pub fn wait(self) -> Result<Outcome, Error> {
        match self.inner {
            Inner::Ready(result) => result.expect("a Pending is consumed once"),
            Inner::Waiting(ticket, mut then) => finish(committer::wait(ticket), &mut then),
        }
    }
}

fn finish(done: Result<Done, Error>, then: &mut Then) -> Result<Outcome, Error> {
    Ok(match (done?, then) {
        (Done::Outcome(outcome), _) => outcome,
        (Done::Recorded(trigger_id), Then::Rejected(error)) => {
            Outcome::Rejected { trigger_id, error: error.take().expect("a Pending is consumed once") }
        }
        (Done::Recorded(trigger_id), _) => Outcome::TestEvent { trigger_id },
    })
}

impl Future for Pending {
    type Output = Result<Outcome, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().inner {
            Inner::Ready(result) => Poll::Ready(result.take().expect("a Pending is polled after completion")),
            Inner::Waiting(ticket, then) => match Pin::new(ticket).poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(answer) => {
                    let done = answer
                        .unwrap_or_else(|_| Err(Error::DatabaseUnavailable("the writer thread has stopped".into())));
                    Poll::Ready(finish(done, then))
                }
            },
        }
    }
}
