//! The webhook request flow, up to a framework-neutral answer: which endpoint a path names, the
//! body read within its limit, the client's address, validation on the right thread, the
//! writers' commit awaited without holding one, and the JSON answer Stripe gets.
//!
//! An adapter calls [`webhook_path`], [`read_body`] (or its own reader) and [`receive`], and
//! turns the [`WebhookAnswer`] into its framework's response: that is the whole adapter.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::Instant;

use futures_core::Stream;
use serde_json::{Value, json};
use tracing::Instrument;

use super::Djstripe;
use crate::Error;
use crate::engine::{Delivery, Engine, Receipt, Target};
use crate::error::Resource;

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
}

/// Reads a request body stream of byte chunks, taking in at most `limit` bytes.
///
/// When `declared` (`Content-Length`) already announces more than `limit`, only a prefix a
/// little over `keep` bytes is read: enough for the trigger row, which stores `keep` bytes of an
/// unauthenticated body and marks it truncated. A stream error ends the body as
/// [`Body::TooLarge`] with what was read (the delivery is recorded as invalid).
///
/// ```
/// use djstripe_core::app::{Body, read_body};
/// use std::{pin::Pin, task::{Context, Poll}};
/// struct Chunks(Vec<&'static [u8]>);
/// impl futures_core::Stream for Chunks {
///     type Item = Result<&'static [u8], std::io::Error>;
///     fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
///         Poll::Ready((!self.0.is_empty()).then(|| Ok(self.0.remove(0))))
///     }
/// }
/// let whole = futures_executor::block_on(read_body(Chunks(vec![b"ab", b"cd"]), Some(4), 1024, 16));
/// assert_eq!(whole, Body::Complete(b"abcd".to_vec()));
/// let cut = futures_executor::block_on(read_body(Chunks(vec![b"ab", b"cd"]), None, 3, 16));
/// assert_eq!(cut, Body::TooLarge(b"ab".to_vec()));
/// ```
pub async fn read_body<S, C, E>(mut stream: S, declared: Option<usize>, limit: usize, keep: usize) -> Body<Vec<u8>>
where
    S: Stream<Item = Result<C, E>> + Unpin,
    C: AsRef<[u8]>,
{
    if declared.is_some_and(|n| n > limit) {
        let mut prefix = Vec::with_capacity(keep + 1);
        while prefix.len() <= keep {
            match next(&mut stream).await {
                Some(Ok(chunk)) => prefix.extend_from_slice(chunk.as_ref()),
                _ => break,
            }
        }
        return Body::TooLarge(prefix);
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(4096).min(limit));
    while let Some(chunk) = next(&mut stream).await {
        let Ok(chunk) = chunk else { return Body::TooLarge(body) };
        let chunk = chunk.as_ref();
        if body.len() + chunk.len() > limit {
            return Body::TooLarge(body);
        }
        body.extend_from_slice(chunk);
    }
    Body::Complete(body)
}

/// The stream's next chunk.
fn next<S: Stream + Unpin>(stream: &mut S) -> impl Future<Output = Option<S::Item>> + '_ {
    std::future::poll_fn(move |cx| Pin::new(&mut *stream).poll_next(cx))
}

/// The client's address: the connection's `peer`; when that peer is a trusted proxy
/// (`DJSTRIPE_TRUSTED_PROXIES`), the right-most address in `X-Forwarded-For` that is not itself a
/// trusted proxy. The left-most entries are whatever the client chose to send, so they are never
/// believed.
///
/// ```
/// use djstripe_core::app::client_ip;
/// let proxy: std::net::IpAddr = "10.0.0.1".parse().unwrap();
/// assert_eq!(client_ip(Some(proxy), ["6.6.6.6, 203.0.113.9"], &[proxy]), "203.0.113.9");
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
    forwarded
        .iter()
        .rev()
        .flat_map(|header| header.rsplit(','))
        .filter_map(|ip| ip.trim().parse::<IpAddr>().ok())
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
        .to_string()
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
/// | 413 | `invalid` | the body exceeds `DJSTRIPE_WEBHOOK_MAX_BODY` |
/// | 500 | `failed` / `error` | a handler failed (rolled back, Stripe retries) / unexpected |
/// | 503 | `error` | the database is unavailable: nothing written, Stripe retries |
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
}

impl WebhookAnswer {
    /// 405 for any method but POST; the adapter adds `Allow: POST`.
    pub fn method_not_allowed() -> Self {
        Self { status: 405, body: json!({ "status": "error", "error": "only POST is allowed" }) }
    }

    /// 404 for a path that is no endpoint: the same answer as an unknown endpoint's.
    pub fn not_found() -> Self {
        Self::from_error(&Error::not_found(Resource::WebhookPath, "?"))
    }

    /// The answer for a delivery that left no trigger row. Only a client error's message is
    /// shown; the rest answers a generic text and is logged.
    pub fn from_error(error: &Error) -> Self {
        let status = error.http_status();
        let message = match status {
            404 => "not found".to_owned(),
            503 => "database unavailable, retry later".to_owned(),
            _ if error.is_client_error() => error.to_string(),
            _ => {
                tracing::error!(error = %error, "internal error");
                "internal error".to_owned()
            }
        };
        Self { status, body: json!({ "status": "error", "error": message }) }
    }

    /// The answer for a delivery the engine recorded.
    pub fn from_receipt(receipt: &Receipt) -> Self {
        let status = receipt.http_status();
        let body = match (&receipt.error, receipt.outcome) {
            (Some(error), outcome @ crate::db::Outcome::Failed) => {
                tracing::warn!(error = %error, "webhook handler failed; rolled back");
                json!({
                    "status": outcome,
                    "error": "a handler failed; the event was rolled back and will be processed on retry",
                    "trigger_id": receipt.trigger_id, "event_id": receipt.event_id,
                })
            }
            (Some(error), _) if error.is_client_error() => {
                json!({ "status": receipt.outcome, "error": error.to_string(), "trigger_id": receipt.trigger_id })
            }
            (Some(error), _) => {
                tracing::error!(error = %error, "webhook delivery not validated");
                json!({ "status": receipt.outcome, "error": "internal error", "trigger_id": receipt.trigger_id })
            }
            (None, outcome) => {
                json!({ "status": outcome, "trigger_id": receipt.trigger_id, "event_id": receipt.event_id })
            }
        };
        Self { status, body }
    }
}

/// Receives one webhook request: reads the body (`body`), records and processes the delivery,
/// and returns the answer. Logs one line per request (`stripe_webhook` span: endpoint, event,
/// outcome, status, duration).
///
/// Validation runs on this async worker when that is a few microseconds of CPU (cached
/// endpoint, signature check, body under 64 KiB), else on `blocking` (a database lookup, a call
/// to Stripe's API, a large body); the writers' commit is then awaited without holding a thread.
pub async fn receive<B>(
    djstripe: &Djstripe,
    request: WebhookRequest,
    body: impl Future<Output = Body<B>>,
    blocking: &impl Blocking,
) -> WebhookAnswer
where
    B: AsRef<[u8]> + Send + 'static,
{
    let started = Instant::now();
    let target = match &request.path {
        WebhookPath::NotFound => return WebhookAnswer::not_found(),
        WebhookPath::Legacy => "legacy".to_owned(),
        WebhookPath::Endpoint(uuid) => uuid.clone(),
    };
    let span = tracing::info_span!(
        "stripe_webhook",
        endpoint = target.as_str(),
        event_id = tracing::field::Empty,
        event_type = tracing::field::Empty,
        outcome = tracing::field::Empty,
        status = tracing::field::Empty,
        duration_ms = tracing::field::Empty,
    );
    async move {
        let engine = djstripe.engine().clone();
        let result = match body.await {
            Body::Complete(body) => receive_complete(engine, request, body, blocking).await,
            Body::TooLarge(partial) => {
                let limit = djstripe.settings().max_body;
                blocking
                    .run(move || {
                        let delivery = delivery(&request, partial.as_ref());
                        engine.reject(&delivery, Error::BodyTooLarge { limit })
                    })
                    .await
                    .and_then(|r| r)
            }
        };
        let span = tracing::Span::current();
        let answer = match result {
            Ok(receipt) => {
                span.record("outcome", receipt.outcome.as_str());
                if let Some(id) = &receipt.event_id {
                    span.record("event_id", id.as_str());
                }
                WebhookAnswer::from_receipt(&receipt)
            }
            Err(error) => WebhookAnswer::from_error(&error),
        };
        span.record("status", answer.status);
        span.record("duration_ms", (started.elapsed().as_secs_f64() * 100_000.0).round() / 100.0);
        tracing::info!("webhook delivery answered");
        answer
    }
    .instrument(span)
    .await
}

fn delivery<'a>(request: &'a WebhookRequest, body: &'a [u8]) -> Delivery<'a> {
    let target = match &request.path {
        WebhookPath::Endpoint(uuid) => Target::Endpoint(uuid),
        _ => Target::Legacy,
    };
    Delivery {
        target,
        body,
        signature: request.signature.as_deref(),
        headers: request.headers.clone(),
        remote_ip: request.remote_ip.clone(),
    }
}

async fn receive_complete<B>(
    engine: Engine,
    request: WebhookRequest,
    body: B,
    blocking: &impl Blocking,
) -> Result<Receipt, Error>
where
    B: AsRef<[u8]> + Send + 'static,
{
    let target = match &request.path {
        WebhookPath::Endpoint(uuid) => Target::Endpoint(uuid),
        _ => Target::Legacy,
    };
    let cheap = engine.prepare_is_cheap(target, body.as_ref().len());
    let prepare = {
        let engine = engine.clone();
        move || engine.prepare(&delivery(&request, body.as_ref()))
    };
    let prepared = if cheap { prepare()? } else { blocking.run(prepare).await?? };
    if let Some(event) = prepared.event() {
        tracing::Span::current().record("event_type", event.event_type());
    }
    if engine.config().event_callback.is_some() {
        // The user's callback runs inside submit: keep it off the async worker.
        return blocking.run(move || engine.submit(prepared).wait()).await?;
    }
    engine.submit(prepared).await
}
