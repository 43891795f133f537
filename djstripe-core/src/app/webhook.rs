//! The webhook request flow, up to a framework-neutral answer: which endpoint a path names, the
//! body read within its limit, the client's address, validation on the right thread, the
//! writers' commit awaited without holding one, and the JSON answer Stripe gets.
//!
//! An adapter calls [`webhook_path`], [`read_body`] (or its own reader) and [`receive`], and
//! turns the [`WebhookAnswer`] into its framework's response: that is the whole adapter.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures_core::Stream;
use serde_json::{Value, json};
use tracing::Instrument;

use super::Djstripe;
use super::limits::{BodyReader, FREE_BODY_BYTES};
use crate::Error;
use crate::engine::{Admitted, Delivery, Engine, Receipt, Target};
use crate::error::Resource;
use crate::logging::escaped_display;
use crate::metrics::EndpointLabel;

/// What the path below `{prefix}/webhook` names.
///
/// ```
/// use djstripe_core::app::{WebhookPath, webhook_path};
/// assert_eq!(webhook_path(""), WebhookPath::Legacy);
/// assert_eq!(webhook_path("/"), WebhookPath::Legacy);
/// assert_eq!(webhook_path("/6f1c1d0e-8a4b-4c43-9d7e-2f0a6f1c1d0e/"), WebhookPath::Endpoint("6f1c1d0e-8a4b-4c43-9d7e-2f0a6f1c1d0e".into()));
/// assert_eq!(webhook_path("/a/b/"), WebhookPath::NotFound);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookPath {
    /// `POST {prefix}/webhook/`: the legacy global endpoint (`DJSTRIPE_WEBHOOK_SECRET`).
    Legacy,
    /// `POST {prefix}/webhook/{uuid}/` (trailing slash optional): the endpoint with that
    /// `djstripe_uuid` (checked by the engine; a malformed one is the same 404 as an unknown one).
    Endpoint(String),
    /// Anything else: 404, like an unknown endpoint (it reveals nothing).
    NotFound,
}

/// Parses the path below `{prefix}/webhook`. Matched by hand rather than by a router: routers'
/// `{uuid}` segments are regular expressions run on every delivery (3% of the server's CPU in
/// the profile, BENCHMARKS.md).
pub fn webhook_path(rest: &str) -> WebhookPath {
    match rest.strip_prefix('/').map(|r| r.strip_suffix('/').unwrap_or(r)) {
        _ if rest.is_empty() || rest == "/" => WebhookPath::Legacy,
        // Not `//`: an empty segment names no endpoint, and is not the legacy one either.
        Some(uuid) if !uuid.is_empty() && !uuid.contains('/') => WebhookPath::Endpoint(uuid.to_owned()),
        _ => WebhookPath::NotFound,
    }
}

/// A request body as read within its limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body<B> {
    /// The whole body.
    Complete(B),
    /// The body exceeds the limit: its first bytes (enough for the bounded trigger row), the
    /// rest was not read.
    TooLarge(B),
    /// The body did not arrive within its deadline (a stalled or trickled upload): what had
    /// arrived.
    TimedOut(B),
}

/// Reads a request body stream of byte chunks, taking in at most `limit` bytes, all of them
/// within `timeout` (when the caller runs on a tokio runtime with its timer; else no deadline).
///
/// Memory is reserved as bytes arrive, never for what `declared` (`Content-Length`) announces.
/// When `declared` already announces more than `limit`, only a prefix a little over `keep`
/// bytes is read: enough for the trigger row, which stores `keep` bytes of an unauthenticated
/// body and marks it truncated. A stream error ends the body as [`Body::TooLarge`] with what was
/// read (the delivery is recorded as invalid).
///
/// ```
/// use djstripe_core::app::{Body, read_body};
/// use std::{pin::Pin, task::{Context, Poll}, time::Duration};
/// struct Chunks(Vec<&'static [u8]>);
/// impl futures_core::Stream for Chunks {
///     type Item = Result<&'static [u8], std::io::Error>;
///     fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
///         Poll::Ready((!self.0.is_empty()).then(|| Ok(self.0.remove(0))))
///     }
/// }
/// let ten = Some(Duration::from_secs(10));
/// let whole = futures_executor::block_on(read_body(Chunks(vec![b"ab", b"cd"]), Some(4), 1024, 16, ten));
/// assert_eq!(whole, Body::Complete(b"abcd".to_vec()));
/// let cut = futures_executor::block_on(read_body(Chunks(vec![b"ab", b"cd"]), None, 3, 16, ten));
/// assert_eq!(cut, Body::TooLarge(b"ab".to_vec()));
/// ```
pub async fn read_body<S, C, E>(
    stream: S,
    declared: Option<usize>,
    limit: usize,
    keep: usize,
    timeout: Option<Duration>,
) -> Body<Vec<u8>>
where
    S: Stream<Item = Result<C, E>> + Unpin,
    C: AsRef<[u8]>,
{
    match read_chunks(stream, declared, limit, keep, timeout, None).await {
        Ok(body) => body,
        Err(_) => unreachable!("only a memory budget refuses a body, and there is none"),
    }
}

/// [`read_body`], counting what is buffered beyond the first [`FREE_BODY_BYTES`] against
/// `reader`'s budget: [`Error::Busy`] when it is spent.
async fn read_chunks<S, C, E>(
    mut stream: S,
    declared: Option<usize>,
    limit: usize,
    keep: usize,
    timeout: Option<Duration>,
    mut reader: Option<&mut BodyReader<'_>>,
) -> Result<Body<Vec<u8>>, Error>
where
    S: Stream<Item = Result<C, E>> + Unpin,
    C: AsRef<[u8]>,
{
    // tokio's timer, when there is one (actix-web and axum run on tokio; a test's own executor
    // may not).
    let deadline =
        timeout.filter(|_| tokio::runtime::Handle::try_current().is_ok()).map(|t| tokio::time::Instant::now() + t);
    let mut arrived = async || match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, next(&mut stream)).await.map_err(drop),
        None => Ok(next(&mut stream).await),
    };
    if declared.is_some_and(|n| n > limit) {
        let mut prefix = Vec::with_capacity(keep.min(FREE_BODY_BYTES) + 1);
        while prefix.len() <= keep {
            match arrived().await {
                Ok(Some(Ok(chunk))) => prefix.extend_from_slice(&chunk.as_ref()[..chunk.as_ref().len().min(keep + 1)]),
                Err(()) => return Ok(Body::TimedOut(prefix)),
                _ => break,
            }
        }
        return Ok(Body::TooLarge(prefix));
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(4096).min(limit).min(FREE_BODY_BYTES));
    loop {
        let chunk = match arrived().await {
            Ok(Some(Ok(chunk))) => chunk,
            Ok(Some(Err(_))) => return Ok(Body::TooLarge(body)),
            Ok(None) => return Ok(Body::Complete(body)),
            Err(()) => return Ok(Body::TimedOut(body)),
        };
        let chunk = chunk.as_ref();
        let len = body.len() + chunk.len();
        if len > limit {
            return Ok(Body::TooLarge(body));
        }
        if len > body.capacity() {
            // Grow as Vec would (doubling, capped by the limit), reserving it first.
            let capacity = len.max(body.capacity() * 2).min(limit);
            if let Some(reader) = reader.as_deref_mut() {
                reader.grow_to(capacity)?;
            }
            body.reserve_exact(capacity - body.len());
        }
        body.extend_from_slice(chunk);
    }
}

/// The stream's next chunk.
fn next<S: Stream + Unpin>(stream: &mut S) -> impl Future<Output = Option<S::Item>> + '_ {
    std::future::poll_fn(move |cx| Pin::new(&mut *stream).poll_next(cx))
}

/// The client's address: the connection's `peer`; when that peer is a trusted proxy
/// (`DJSTRIPE_TRUSTED_PROXIES`), `X-Forwarded-For` read from the right, and the first entry that
/// is not itself a trusted proxy is the client — an address with a port (`203.0.113.9:4711`,
/// `[2001:db8::1]:4711`) counts as its address, and an entry that is no address at all makes the
/// client unknown (an empty string) rather than being skipped, which would hand the choice to
/// the entries left of it, whatever the client chose to send. No entry left but trusted
/// proxies: the left-most of them.
///
/// ```
/// use djstripe_core::app::client_ip;
/// let proxy: std::net::IpAddr = "10.0.0.1".parse().unwrap();
/// assert_eq!(client_ip(Some(proxy), ["6.6.6.6, 203.0.113.9"], &[proxy]), "203.0.113.9");
/// assert_eq!(client_ip(Some(proxy), ["6.6.6.6, 203.0.113.9:4711"], &[proxy]), "203.0.113.9");
/// assert_eq!(client_ip(Some(proxy), ["6.6.6.6, unknown"], &[proxy]), "", "never skipped");
/// assert_eq!(client_ip(Some(proxy), ["6.6.6.6"], &[]), "10.0.0.1", "untrusted: the peer");
/// let direct: std::net::IpAddr = "198.51.100.2".parse().unwrap();
/// assert_eq!(client_ip(Some(direct), ["6.6.6.6"], &[proxy]), "198.51.100.2", "spoofed from a non-proxy");
/// ```
pub fn client_ip<'h>(
    peer: Option<IpAddr>,
    forwarded_for: impl IntoIterator<Item = &'h str>,
    trusted: &[IpAddr],
) -> String {
    let Some(peer) = peer else { return String::new() };
    if trusted.is_empty() || !trusted.contains(&peer) {
        return peer.to_string();
    }
    let forwarded: Vec<&str> = forwarded_for.into_iter().collect();
    let mut client = peer;
    for entry in forwarded.iter().rev().flat_map(|header| header.rsplit(',')).map(str::trim) {
        let Some(ip) = forwarded_address(entry) else { return String::new() };
        client = ip;
        if !trusted.contains(&ip) {
            break;
        }
    }
    client.to_string()
}

/// One `X-Forwarded-For` entry's address: `203.0.113.9`, `2001:db8::1`, `203.0.113.9:4711`,
/// `[2001:db8::1]:4711` or `[2001:db8::1]`.
fn forwarded_address(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| entry.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
}

/// One webhook request as an adapter hands it over: everything but the body, which comes as a
/// future so that reading it is part of the request's span and duration.
#[derive(Debug)]
pub struct WebhookRequest {
    /// The endpoint addressed ([`WebhookPath::NotFound`] is answered 404 before anything else).
    pub path: WebhookPath,
    /// The raw `Stripe-Signature` header.
    pub signature: Option<Vec<u8>>,
    /// The request headers as a JSON object ([`crate::engine::headers_json`]).
    pub headers: String,
    /// The client's address ([`client_ip`]).
    pub remote_ip: String,
    /// The `Content-Length` header, if it is a number (only a hint: memory is reserved as the
    /// body arrives).
    pub content_length: Option<usize>,
}

/// Runs blocking work off the async workers: the adapter's blocking thread pool
/// (`actix_web::web::block`, `tokio::task::spawn_blocking`).
pub trait Blocking: Send + Sync {
    /// Runs `work` on a thread that may block; an error if the pool is gone.
    fn run<T, F>(&self, work: F) -> impl Future<Output = Result<T, Error>> + Send
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static;
}

/// A blocking job, as [`SpawnBlocking`] hands it to a pool.
pub type BlockingJob = Box<dyn FnOnce() + Send + 'static>;

/// The [`Blocking`] of a pool that is given only the way to start a job on it
/// (`tokio::task::spawn_blocking`, which actix-web's `web::block` also is): the job's result comes
/// back over a channel, so one implementation serves every adapter.
///
/// ```
/// use djstripe_core::app::{Blocking, SpawnBlocking};
/// // A thread per job (an adapter passes its runtime's blocking pool).
/// let threads = SpawnBlocking(|job| drop(std::thread::spawn(job)));
/// assert_eq!(futures_executor::block_on(threads.run(|| 6 * 7)).unwrap(), 42);
/// let panicked = futures_executor::block_on(threads.run(|| -> u8 { panic!("in a job") }));
/// assert!(matches!(panicked, Err(djstripe_core::Error::DatabaseUnavailable { .. })));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SpawnBlocking(pub fn(BlockingJob));

impl Blocking for SpawnBlocking {
    async fn run<T, F>(&self, work: F) -> Result<T, Error>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (done, result) = futures_channel::oneshot::channel();
        (self.0)(Box::new(move || drop(done.send(work()))));
        result.await.map_err(|_| Error::unavailable("blocking pool: the job panicked or the pool shut down"))
    }
}

/// The answer to a webhook request: an HTTP status and a short JSON body.
///
/// | status | body `status` | when |
/// |---|---|---|
/// | 200 | `processed`, `duplicate`, `test_event`, `queued`, `replayed` | done, or nothing to do |
/// | 400 | `invalid` | bad signature, stale timestamp, a body that is not a Stripe event |
/// | 404 | `error` | unknown, disabled or malformed endpoint (reveals nothing) |
/// | 405 | `error` | a method other than POST (the answer carries `Allow: POST`) |
/// | 408 | `invalid` | the body did not arrive within `DJSTRIPE_WEBHOOK_BODY_TIMEOUT` |
/// | 413 | `invalid` | the body exceeds `DJSTRIPE_WEBHOOK_MAX_BODY` |
/// | 500 | `failed` / `error` | a handler failed (rolled back, Stripe retries) / unexpected |
/// | 503 | `error` | the database is unavailable, or a bound of [`Limits`](super::Limits) is reached: nothing written, Stripe retries (with `Retry-After`) |
///
/// Callers without credentials get short fixed messages: a delivery's own fault is named, an
/// error of ours (the database's or Stripe's text) never is.
///
/// ```
/// let answer = djstripe_core::app::WebhookAnswer::method_not_allowed();
/// assert_eq!(answer.status, 405);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
    /// Seconds for a `Retry-After` header (with a 503).
    pub retry_after: Option<u32>,
}

impl WebhookAnswer {
    /// 405 for any method but POST; the adapter adds `Allow: POST`.
    pub fn method_not_allowed() -> Self {
        Self { status: 405, body: json!({ "status": "error", "error": "only POST is allowed" }), retry_after: None }
    }

    /// 404 for a path that is no endpoint: the same answer as an unknown endpoint's.
    pub fn not_found() -> Self {
        Self::from_error(&Error::not_found(Resource::WebhookPath, "?"))
    }

    /// The answer for a delivery that left no trigger row. Only a client error's message is
    /// shown; the rest answers a generic text and is logged.
    pub fn from_error(error: &Error) -> Self {
        let status = error.http_status();
        let (message, retry_after) = match error {
            _ if status == 404 => ("not found".to_owned(), None),
            Error::Busy { .. } => ("busy, retry later".to_owned(), Some(1)),
            Error::StripeUnavailable { .. } | Error::StripeUnreachable { .. } => {
                tracing::warn!(error = %escaped_display(error), "Stripe's API unavailable: answered 503");
                ("temporarily unavailable, retry later".to_owned(), Some(5))
            }
            _ if status == 503 => ("database unavailable, retry later".to_owned(), Some(5)),
            _ if error.is_client_error() => (error.to_string(), None),
            _ => {
                tracing::error!(error = %escaped_display(error), "internal error");
                ("internal error".to_owned(), None)
            }
        };
        let body = if error.is_client_error() && status != 404 {
            json!({ "status": "invalid", "error": message, "recorded": false })
        } else {
            json!({ "status": "error", "error": message })
        };
        Self { status, body, retry_after }
    }

    /// The answer for a delivery the engine recorded.
    pub fn from_receipt(receipt: &Receipt) -> Self {
        let status = receipt.http_status();
        let body = match (&receipt.error, receipt.outcome) {
            (Some(error), outcome @ crate::db::Outcome::Failed) => {
                tracing::warn!(error = %escaped_display(error), "webhook handler failed; rolled back");
                json!({
                    "status": outcome,
                    "error": "a handler failed; the event was rolled back and will be processed on retry",
                    "trigger_id": receipt.trigger_id, "event_id": receipt.event_id,
                })
            }
            (Some(error), _) if error.is_client_error() => {
                json!({ "status": receipt.outcome, "error": error.to_string(), "trigger_id": receipt.trigger_id })
            }
            (Some(error @ (Error::StripeUnavailable { .. } | Error::StripeUnreachable { .. })), _) => {
                tracing::warn!(error = %escaped_display(error), "Stripe's API unavailable: answered 503");
                json!({ "status": receipt.outcome, "error": "temporarily unavailable, retry later", "trigger_id": receipt.trigger_id })
            }
            (Some(error), _) => {
                tracing::error!(error = %escaped_display(error), "webhook delivery not validated");
                json!({ "status": receipt.outcome, "error": "internal error", "trigger_id": receipt.trigger_id })
            }
            (None, outcome) => {
                json!({ "status": outcome, "trigger_id": receipt.trigger_id, "event_id": receipt.event_id })
            }
        };
        Self { status, body, retry_after: (status == 503).then_some(5) }
    }
}

/// Receives one webhook request: finds its endpoint, reads the body (`stream`, within
/// [`Limits`](super::Limits)), records and processes the delivery, and returns the answer. Logs
/// one line per recorded request (`stripe_webhook` span: endpoint, event, outcome, status,
/// duration); requests answered without a record (404, rate-limited junk) log at debug level.
/// Every answer is counted in the engine's [`Metrics`](crate::metrics::Metrics)
/// (`djstripe_deliveries_total`, and `djstripe_database_unavailable_total` for a 503 of the
/// database).
///
/// The endpoint is looked up **before** the body is read: an unknown one is a 404 that reads
/// nothing. The body then takes one of [`Limits::max_readers`](super::Limits::max_readers)
/// slots and memory only as its bytes arrive, and must arrive within
/// [`Limits::body_timeout`](super::Limits::body_timeout).
///
/// Validation runs on this async worker when that is a few microseconds of CPU (cached
/// endpoint, signature check, body under 64 KiB), else on `blocking` (a database lookup, a call
/// to Stripe's API, a large body); the writers' commit is then awaited without holding a thread.
pub async fn receive<S, C, E>(
    djstripe: &Djstripe,
    request: WebhookRequest,
    stream: S,
    blocking: &impl Blocking,
) -> WebhookAnswer
where
    S: Stream<Item = Result<C, E>> + Unpin,
    C: AsRef<[u8]>,
{
    let started = Instant::now();
    let target = match &request.path {
        WebhookPath::NotFound => return WebhookAnswer::not_found(),
        WebhookPath::Legacy => "legacy".to_owned(),
        WebhookPath::Endpoint(uuid) => uuid.clone(),
    };
    let span = tracing::info_span!(
        "stripe_webhook",
        endpoint = crate::logging::escaped(&target).as_ref(),
        event_id = tracing::field::Empty,
        event_type = tracing::field::Empty,
        outcome = tracing::field::Empty,
        status = tracing::field::Empty,
        duration_ms = tracing::field::Empty,
    );
    async move {
        let mut endpoint = EndpointLabel::Unknown;
        let result = receive_delivery(djstripe, request, stream, blocking, &mut endpoint).await;
        let span = tracing::Span::current();
        let answer = match &result {
            Ok(receipt) => {
                span.record("outcome", receipt.outcome.as_str());
                if let Some(id) = &receipt.event_id {
                    span.record("event_id", id.as_str());
                }
                WebhookAnswer::from_receipt(receipt)
            }
            Err(error) => WebhookAnswer::from_error(error),
        };
        span.record("status", answer.status);
        let metrics = djstripe.engine().metrics();
        metrics.delivery(endpoint, result.as_ref().ok().map(|r| r.outcome), answer.status);
        if let Err(Error::DatabaseUnavailable { .. }) = &result {
            metrics.database_unavailable();
        }
        span.record("duration_ms", (started.elapsed().as_secs_f64() * 100_000.0).round() / 100.0);
        match result {
            Err(error) if error.is_client_error() => tracing::debug!("webhook delivery answered, not recorded"),
            _ => tracing::info!("webhook delivery answered"),
        }
        answer
    }
    .instrument(span)
    .await
}

/// The flow of [`receive`]: endpoint (set in `endpoint` once found), body, validation, commit.
async fn receive_delivery<S, C, E>(
    djstripe: &Djstripe,
    request: WebhookRequest,
    stream: S,
    blocking: &impl Blocking,
    endpoint: &mut EndpointLabel,
) -> Result<Receipt, Error>
where
    S: Stream<Item = Result<C, E>> + Unpin,
    C: AsRef<[u8]>,
{
    let engine = djstripe.engine().clone();
    let target = target_of(&request.path);
    let admitted = if engine.admit_is_cheap(target) {
        engine.admit(target)?
    } else {
        let (engine, path) = (engine.clone(), request.path.clone());
        blocking.run(move || engine.admit(target_of(&path))).await??
    };
    *endpoint = admitted.endpoint_id().into();
    let settings = djstripe.settings();
    let limits = &settings.limits;
    let body = {
        let mut reader = djstripe.bodies.reader(limits)?;
        let keep = engine.config().unverified_body_limit;
        let declared = request.content_length;
        read_chunks(stream, declared, settings.max_body, keep, Some(limits.body_timeout), Some(&mut reader)).await?
    };
    let refused = match body {
        Body::Complete(body) => return receive_complete(engine, admitted, request, body, blocking).await,
        Body::TooLarge(partial) => (partial, Error::BodyTooLarge { limit: settings.max_body }),
        Body::TimedOut(partial) => (partial, Error::BodyTimeout { timeout: limits.body_timeout }),
    };
    blocking.run(move || engine.reject(&delivery(&request, &refused.0), refused.1)).await?
}

fn target_of(path: &WebhookPath) -> Target<'_> {
    match path {
        WebhookPath::Endpoint(uuid) => Target::Endpoint(uuid),
        _ => Target::Legacy,
    }
}

fn delivery<'a>(request: &'a WebhookRequest, body: &'a [u8]) -> Delivery<'a> {
    Delivery {
        target: target_of(&request.path),
        body,
        signature: request.signature.as_deref(),
        headers: request.headers.clone(),
        remote_ip: request.remote_ip.clone(),
    }
}

async fn receive_complete<B>(
    engine: Engine,
    admitted: Admitted,
    request: WebhookRequest,
    body: B,
    blocking: &impl Blocking,
) -> Result<Receipt, Error>
where
    B: AsRef<[u8]> + Send + 'static,
{
    let cheap = engine.prepare_admitted_is_cheap(&admitted, body.as_ref().len());
    let prepare = {
        let engine = engine.clone();
        move || engine.prepare_admitted(admitted, &delivery(&request, body.as_ref()))
    };
    let prepared = if cheap { prepare() } else { blocking.run(prepare).await? };
    if let Some(event) = prepared.event() {
        tracing::Span::current().record("event_type", event.event_type());
    }
    if engine.config().event_callback.is_some() {
        // The user's callback runs inside submit: keep it off the async worker.
        return blocking.run(move || engine.submit(prepared).wait()).await?;
    }
    engine.submit(prepared).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 15, 4: `6.6.6.6, 203.0.113.9:4711` through a trusted proxy recorded 6.6.6.6 (the
    /// entry with a port did not parse and was skipped).
    #[test]
    fn forwarded_for_takes_the_first_untrusted_entry_whether_it_parses_or_not() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let inner: IpAddr = "10.0.0.2".parse().unwrap();
        let trusted = [proxy, inner];
        let ip = |headers: &[&str]| client_ip(Some(proxy), headers.iter().copied(), &trusted);
        assert_eq!(ip(&["6.6.6.6, 203.0.113.9:4711"]), "203.0.113.9");
        assert_eq!(ip(&["6.6.6.6, [2001:db8::7]:4711"]), "2001:db8::7");
        assert_eq!(ip(&["6.6.6.6, 203.0.113.9, 10.0.0.2"]), "203.0.113.9", "trusted hops are skipped");
        assert_eq!(ip(&["6.6.6.6", "203.0.113.9"]), "203.0.113.9", "several headers: the last is nearest");
        for junk in ["6.6.6.6, not-an-address", "6.6.6.6, ", "6.6.6.6, _hidden, 10.0.0.2"] {
            assert_eq!(ip(&[junk]), "", "{junk}: unknown, never 6.6.6.6");
        }
        assert_eq!(ip(&["10.0.0.2"]), "10.0.0.2", "only proxies: the left-most");
        assert_eq!(ip(&[]), "10.0.0.1", "no header: the peer");
    }
}
