//! [`Pending`]: a delivery handed to the writers, whose receipt can be awaited or waited for.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::Receipt;
use super::committer::{self, Ticket};
use crate::Error;

/// The [`Receipt`] of a submitted delivery, once its batch commits. `.await` it from async code (no
/// thread is blocked meanwhile), or call [`Pending::wait`] from a thread that may block.
///
/// ```no_run
/// # fn f(engine: djstripe_core::engine::Engine, delivery: djstripe_core::engine::Delivery<'_>) -> Result<(), djstripe_core::Error> {
/// let prepared = engine.prepare(&delivery)?;
/// let receipt = engine.submit(prepared).wait()?;
/// # Ok(()) }
/// ```
#[must_use = "a Pending does nothing visible unless awaited or waited for"]
pub struct Pending {
    inner: Inner,
}

enum Inner {
    Ready(Option<Result<Receipt, Error>>),
    /// The writer's answer, and the validation error to attach to it (a rejected delivery's
    /// receipt carries the error that rejected it; the writer only stored its text).
    Waiting(Ticket, Option<Error>),
}

impl Pending {
    pub(super) fn ready(result: Result<Receipt, Error>) -> Self {
        Self { inner: Inner::Ready(Some(result)) }
    }

    pub(super) fn waiting(ticket: Ticket, error: Option<Error>) -> Self {
        Self { inner: Inner::Waiting(ticket, error) }
    }

    /// Blocks until the receipt is known.
    ///
    /// ```no_run
    /// # fn f(engine: djstripe_core::engine::Engine, prepared: djstripe_core::engine::Prepared) {
    /// match engine.submit(prepared).wait() {
    ///     Ok(receipt) => println!("{}", receipt.outcome),
    ///     Err(error) => eprintln!("not recorded: {error}"),
    /// }
    /// # }
    /// ```
    pub fn wait(self) -> Result<Receipt, Error> {
        match self.inner {
            Inner::Ready(result) => result.expect("a Pending is consumed once"),
            Inner::Waiting(ticket, mut error) => finish(committer::wait(ticket), &mut error),
        }
    }
}

fn finish(answer: Result<Receipt, Error>, error: &mut Option<Error>) -> Result<Receipt, Error> {
    let mut receipt = answer?;
    if receipt.error.is_none() {
        receipt.error = error.take();
    }
    Ok(receipt)
}

impl Future for Pending {
    type Output = Result<Receipt, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().inner {
            Inner::Ready(result) => Poll::Ready(result.take().expect("a Pending is polled after completion")),
            Inner::Waiting(ticket, error) => match Pin::new(ticket).poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(answer) => {
                    let answer = answer.unwrap_or_else(|_| Err(Error::unavailable("the writer thread has stopped")));
                    Poll::Ready(finish(answer, error))
                }
            },
        }
    }
}
