//! A small blocking client for the parts of Stripe's API that webhooks need.
//!
//! Calls happen outside any database transaction (the engine fetches before it opens one).
//! The base URL is configurable (`STRIPE_API_BASE`) so tests run against a local fake server.
//!
//! | file | what it holds |
//! |---|---|
//! | `stripe_api.rs` | [`StripeClient`]: keys, auth, retries, error messages; [`Caller`]; fetching events (v1 and v2) and a v2 event's related object |
//!
//! ## Retries
//! A network error, 409 (a conflict on a locked object), 429 (rate limited) and 5xx are retried,
//! up to [`StripeClient::max_retries`] times, unless Stripe's `Stripe-Should-Retry` header says
//! otherwise: `false` is never retried (whatever the status), `true` always is. Each wait is the
//! exponential backoff ([`StripeClient::backoff`], doubling, at most [`MAX_BACKOFF`]) with jitter
//! (between half and all of it, so that many clients do not retry in step), and at least the
//! `Retry-After` Stripe asked for (seconds or an HTTP date). All waits of one call together stay within
//! [`StripeClient::retry_budget`]: a `Retry-After` beyond it ends the retries at once, with an
//! error that says how long Stripe asked to wait.
//!
//! ## Errors by cause
//! Every call maps Stripe's answer the same way: 404 is [`Error::StripeNotFound`] (for an event
//! named by a delivery: the delivery is not authentic, 400), 401/403 [`Error::StripeKeyRefused`]
//! (a configuration fault naming the key's setting), 429/5xx after the retries
//! [`Error::StripeUnavailable`] and a network error or timeout [`Error::StripeUnreachable`] (both
//! 503 for a delivery, so that Stripe delivers it again), any other status [`Error::StripeApi`].
//!
//! ## v2 events
//! A v2 event notification ("thin" event) names its object instead of carrying it, and carries
//! the `context` (an account id, or an `account/context` path) in which it happened. Calls about
//! such an event send that context as `Stripe-Context` ([`Caller::stripe_context`]):
//! [`StripeClient::retrieve_v2_event`] fetches the full event (`GET /v2/core/events/{id}`, with
//! its `data`), [`StripeClient::fetch_event`] fetches any event from the right API version, and
//! [`StripeClient::fetch_related_object`] the object a notification names, refusing a
//! `related_object.url` that is not a relative API path ([`is_api_path`]).
//!
//! | `stripe_api/webhook_endpoints.rs` | `/v1/webhook_endpoints`: create, list, retrieve, update, delete |

pub mod webhook_endpoints;

use std::time::Duration;

use serde_json::Value;

use crate::Error;

/// Stripe's API base URL.
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";
/// The API version this library pins in `Stripe-Version`.
pub const API_VERSION: &str = "2026-07-29.dahlia";
/// How long one request to Stripe may take by default, connecting and reading included (see
/// [`StripeClient::timeout`]).
///
/// ```
/// assert_eq!(djstripe_core::stripe_api::DEFAULT_TIMEOUT.as_secs(), 30);
/// ```
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest single backoff wait when Stripe sends no `Retry-After` (Stripe's own libraries
/// cap theirs at a few seconds too).
pub const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// A Stripe API client holding the test and live secret keys.
///
/// ```
/// use djstripe_core::stripe_api::StripeClient;
/// let client = StripeClient::new("http://127.0.0.1:12111").test_key("sk_test_123");
/// assert_eq!(client.base(), "http://127.0.0.1:12111");
/// ```
#[derive(Clone)]
pub struct StripeClient {
    base: String,
    test_key: Option<String>,
    live_key: Option<String>,
    max_retries: u32,
    backoff: Duration,
    retry_budget: Duration,
    agent: ureq::Agent,
}

/// Who an API call is made as: the mode, the key (the configured default for the mode unless
/// `key` is set), the connected account sent as `Stripe-Account` and the context sent as
/// `Stripe-Context` (v2 events).
///
/// How [`crate::endpoints::EndpointManager`] picks it: an account with its own stored key calls
/// with that key (and no `Stripe-Account`); any other account calls with the platform's default
/// key for the mode and `Stripe-Account: acct_...`; no account calls with the default key.
///
/// ```
/// use djstripe_core::stripe_api::Caller;
/// let caller = Caller::mode(true).account(Some("acct_1"));
/// assert!(caller.livemode && caller.key.is_none());
/// assert_eq!(caller.stripe_account.as_deref(), Some("acct_1"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// Live (`true`) or test mode.
    pub livemode: bool,
    /// A key that overrides the configured one (an account's own key).
    pub key: Option<String>,
    /// The `Stripe-Account` header.
    pub stripe_account: Option<String>,
    /// The `Stripe-Context` header: the `context` of a v2 event (an account id, or an
    /// `account/context` path) that a call about the event is made in.
    pub stripe_context: Option<String>,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("livemode", &self.livemode)
            .field("key", &self.key.as_ref().map(|_| "sk_…"))
            .field("stripe_account", &self.stripe_account)
            .field("stripe_context", &self.stripe_context)
            .finish()
    }
}

impl Caller {
    /// The default key of a mode, no account.
    ///
    /// ```
    /// assert!(!djstripe_core::stripe_api::Caller::mode(false).livemode);
    /// ```
    pub fn mode(livemode: bool) -> Self {
        Self { livemode, ..Self::default() }
    }

    /// Sets the `Stripe-Account` header.
    ///
    /// ```
    /// let c = djstripe_core::stripe_api::Caller::mode(false).account(Some("acct_1"));
    /// assert_eq!(c.stripe_account.as_deref(), Some("acct_1"));
    /// ```
    pub fn account(mut self, account: Option<&str>) -> Self {
        self.stripe_account = account.map(str::to_owned);
        self
    }

    /// Sets the `Stripe-Context` header: a v2 event's `context`, which Stripe's v2 API expects
    /// on every request about that event (fetching it, or the object it names). `None` sends
    /// none.
    ///
    /// ```
    /// let c = djstripe_core::stripe_api::Caller::mode(false).stripe_context(Some("acct_1"));
    /// assert_eq!(c.stripe_context.as_deref(), Some("acct_1"));
    /// assert_eq!(c.stripe_context(None).stripe_context, None);
    /// ```
    pub fn stripe_context(mut self, context: Option<&str>) -> Self {
        self.stripe_context = context.map(str::to_owned);
        self
    }

    /// Calls with this key instead of the configured one.
    ///
    /// ```
    /// let c = djstripe_core::stripe_api::Caller::mode(false).key("sk_test_acct");
    /// assert_eq!(c.key.as_deref(), Some("sk_test_acct"));
    /// ```
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }
}

impl std::fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeClient")
            .field("base", &self.base)
            .field("test_key", &self.test_key.as_ref().map(|_| "sk_test_…"))
            .field("live_key", &self.live_key.as_ref().map(|_| "sk_live_…"))
            .finish()
    }
}

impl StripeClient {
    /// A client for `base` (no trailing slash needed) without keys.
    ///
    /// ```
    /// let client = djstripe_core::stripe_api::StripeClient::new(djstripe_core::stripe_api::DEFAULT_API_BASE);
    /// # let _ = client;
    /// ```
    pub fn new(base: impl Into<String>) -> Self {
        let agent = agent(DEFAULT_TIMEOUT);
        Self {
            base: base.into().trim_end_matches('/').to_owned(),
            test_key: None,
            live_key: None,
            max_retries: 3,
            backoff: Duration::from_millis(500),
            retry_budget: Duration::from_secs(60),
            agent,
        }
    }

    /// Sets the test-mode secret key (`STRIPE_TEST_SECRET_KEY`).
    ///
    /// ```
    /// let c = djstripe_core::stripe_api::StripeClient::new("http://127.0.0.1:1").test_key("sk_test_1");
    /// # let _ = c;
    /// ```
    pub fn test_key(mut self, key: impl Into<String>) -> Self {
        self.test_key = Some(key.into());
        self
    }

    /// Sets the live-mode secret key (`STRIPE_LIVE_SECRET_KEY`).
    ///
    /// ```
    /// let c = djstripe_core::stripe_api::StripeClient::new("http://127.0.0.1:1").live_key("sk_live_1");
    /// # let _ = c;
    /// ```
    pub fn live_key(mut self, key: impl Into<String>) -> Self {
        self.live_key = Some(key.into());
        self
    }

    /// How many times a retryable answer is retried (default 3; see [Retries](self#retries)).
    ///
    /// ```
    /// let c = djstripe_core::stripe_api::StripeClient::new("http://127.0.0.1:1").max_retries(0);
    /// # let _ = c;
    /// ```
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The first retry's wait before jitter; each further retry waits twice as long, at most
    /// [`MAX_BACKOFF`] (default 500 ms, Stripe's libraries' own). A `Retry-After` from Stripe
    /// is waited for even when it is longer.
    ///
    /// ```
    /// let c = djstripe_core::stripe_api::StripeClient::new("http://127.0.0.1:1").backoff(std::time::Duration::from_millis(1));
    /// # let _ = c;
    /// ```
    pub fn backoff(mut self, first_wait: Duration) -> Self {
        self.backoff = first_wait;
        self
    }

    /// The most time all the waits of one call may add up to (default 60 s): a call never
    /// sleeps longer than this in total, however long a `Retry-After` Stripe sends.
    ///
    /// ```
    /// let c = djstripe_core::stripe_api::StripeClient::new("http://127.0.0.1:1").retry_budget(std::time::Duration::from_secs(5));
    /// # let _ = c;
    /// ```
    pub fn retry_budget(mut self, budget: Duration) -> Self {
        self.retry_budget = budget;
        self
    }

    /// The longest one request to Stripe may take, connecting, sending and reading the answer
    /// together (default [`DEFAULT_TIMEOUT`], 30 s); past it the attempt counts as unreachable
    /// and may be retried within the retry budget.
    ///
    /// ```
    /// let c = djstripe_core::stripe_api::StripeClient::new("http://127.0.0.1:1").timeout(std::time::Duration::from_secs(5));
    /// # let _ = c;
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.agent = agent(timeout);
        self
    }

    /// The base URL.
    ///
    /// ```
    /// assert_eq!(djstripe_core::stripe_api::StripeClient::new("http://x/").base(), "http://x");
    /// ```
    pub fn base(&self) -> &str {
        &self.base
    }

    fn key(&self, livemode: bool) -> Result<&str, Error> {
        let key = if livemode { &self.live_key } else { &self.test_key };
        key.as_deref().ok_or(Error::MissingApiKey { livemode })
    }

    /// `GET /v1/events/{id}`: the event as Stripe has it, for the `retrieve_event` validation.
    ///
    /// ```no_run
    /// let client = djstripe_core::stripe_api::StripeClient::new("http://127.0.0.1:12111").test_key("sk_test_1");
    /// let event = client.retrieve_event("evt_1", false, None).unwrap();
    /// # let _ = event;
    /// ```
    pub fn retrieve_event(&self, id: &str, livemode: bool, account: Option<&str>) -> Result<Value, Error> {
        if !crate::event::is_event_id(id) {
            return Err(Error::InvalidEventId { id: id.to_owned() });
        }
        self.call("GET", &format!("/v1/events/{id}"), &[], livemode, account, None)
    }

    /// `GET /v2/core/events/{id}`: the full v2 event (the notification's fields and its `data`),
    /// with the secret key of the event's mode and its `context` as `Stripe-Context`. Errors by
    /// cause ([Errors by cause](self#errors-by-cause)): Stripe's 404 (`not_found`) is
    /// [`Error::StripeNotFound`]; an id that is no event id is [`Error::InvalidEventId`], sent
    /// nowhere.
    ///
    /// ```
    /// use djstripe_core::stripe_api::StripeClient;
    /// use djstripe_core::testing::{EventBuilder, FakeStripe};
    /// let stripe = FakeStripe::start();
    /// let thin = EventBuilder::v2("v1.billing.meter.error_report_triggered").account("acct_1").build();
    /// stripe.add_v2_event(serde_json::json!({"id": thin.id, "object": "v2.core.event", "data": {"reason": "x"}}));
    /// let client = StripeClient::new(stripe.base_url()).test_key(FakeStripe::TEST_KEY);
    /// let full = client.retrieve_v2_event(&thin.id, false, thin.context.as_deref()).unwrap();
    /// assert_eq!(full["data"]["reason"], "x");
    /// assert_eq!(stripe.seen()[0].header("stripe-context"), Some("acct_1"));
    /// ```
    pub fn retrieve_v2_event(&self, id: &str, livemode: bool, context: Option<&str>) -> Result<Value, Error> {
        if !crate::event::is_event_id(id) {
            return Err(Error::InvalidEventId { id: id.to_owned() });
        }
        let caller = Caller::mode(livemode).stripe_context(context);
        self.call_as(&caller, "GET", &format!("/v2/core/events/{id}"), &[], None)
    }

    /// The event as Stripe has it, from the API of its kind: a v1 event from `GET /v1/events/{id}`
    /// (as [`StripeClient::retrieve_event`], with its `account` as `Stripe-Account`), a v2 event
    /// notification from `GET /v2/core/events/{id}` (as [`StripeClient::retrieve_v2_event`], with
    /// its `context` as `Stripe-Context`). The one entry point the engine uses, for the
    /// `retrieve_event` validation and for endpoints that fetch thin events.
    ///
    /// ```
    /// use djstripe_core::stripe_api::StripeClient;
    /// use djstripe_core::testing::{event, EventBuilder, FakeStripe};
    /// let stripe = FakeStripe::start();
    /// let v1 = event("customer.created");
    /// let thin = EventBuilder::v2("v2.core.account.updated").build();
    /// stripe.add_event(&v1).add_v2_event(&thin);
    /// let client = StripeClient::new(stripe.base_url()).test_key(FakeStripe::TEST_KEY);
    /// assert_eq!(client.fetch_event(&v1).unwrap()["id"], v1.id.as_str());
    /// assert_eq!(client.fetch_event(&thin).unwrap()["id"], thin.id.as_str());
    /// let paths: Vec<String> = stripe.seen().into_iter().map(|r| r.path).collect();
    /// assert_eq!(paths, [format!("/v1/events/{}", v1.id), format!("/v2/core/events/{}", thin.id)]);
    /// ```
    pub fn fetch_event(&self, event: &crate::Event) -> Result<Value, Error> {
        if event.is_thin() {
            self.retrieve_v2_event(&event.id, event.livemode, event.context.as_deref())
        } else {
            self.retrieve_event(&event.id, event.livemode, event.account.as_deref())
        }
    }

    /// `GET {related_object.url}`: the object a v2 event notification is about, with the secret
    /// key of the event's mode and the event's `context` as `Stripe-Context` (its `account` as
    /// `Stripe-Account` when it has no context). The url comes from the delivered body, so it
    /// is used only when it is a relative API path under `/v1/` or `/v2/` ([`is_api_path`]):
    /// anything else is [`Error::RelatedObjectUrlRefused`] (400) and nothing is sent. An event
    /// without a related object url is [`Error::InvalidInput`]. Stripe's errors by cause, as
    /// for every call.
    ///
    /// ```
    /// use djstripe_core::stripe_api::StripeClient;
    /// use djstripe_core::testing::{EventBuilder, FakeStripe};
    /// let stripe = FakeStripe::start();
    /// let thin = EventBuilder::v2("v1.billing.meter.error_report_triggered").build();
    /// let url = thin.related_object.as_ref().unwrap().url.clone().unwrap();
    /// stripe.add_object(&url, serde_json::json!({"id": "mtr_1", "object": "billing.meter"}));
    /// let client = StripeClient::new(stripe.base_url()).test_key(FakeStripe::TEST_KEY);
    /// assert_eq!(client.fetch_related_object(&thin).unwrap()["object"], "billing.meter");
    ///
    /// let mut forged = thin.clone();
    /// forged.related_object.as_mut().unwrap().url = Some("https://evil.example/".into());
    /// let err = client.fetch_related_object(&forged).unwrap_err();
    /// assert!(matches!(err, djstripe_core::Error::RelatedObjectUrlRefused { .. }));
    /// assert_eq!(err.http_status(), 400);
    /// assert_eq!(stripe.seen().len(), 1, "nothing sent for the refused url");
    /// ```
    pub fn fetch_related_object(&self, event: &crate::Event) -> Result<Value, Error> {
        let url = event.related_object.as_ref().and_then(|related| related.url.as_deref()).ok_or_else(|| {
            Error::InvalidInput {
                field: "related_object.url",
                message: format!("event {} names no related object url", event.id),
            }
        })?;
        if !is_api_path(url) {
            return Err(Error::RelatedObjectUrlRefused { event: event.id.clone(), url: url.to_owned() });
        }
        let caller = match event.context.as_deref() {
            Some(context) => Caller::mode(event.livemode).stripe_context(Some(context)),
            None => Caller::mode(event.livemode).account(event.account.as_deref()),
        };
        self.call_as(&caller, "GET", url, &[], None)
    }

    /// One API call with Bearer auth, a pinned `Stripe-Version`, optional `Stripe-Account` and
    /// `Idempotency-Key`, form-encoded parameters; retries 429/5xx/network errors with backoff.
    ///
    /// ```no_run
    /// let client = djstripe_core::stripe_api::StripeClient::new("http://127.0.0.1:12111").test_key("sk_test_1");
    /// let list = client.call("GET", "/v1/webhook_endpoints", &[], false, None, None).unwrap();
    /// # let _ = list;
    /// ```
    pub fn call(
        &self,
        method: &str,
        path: &str,
        form: &[(&str, &str)],
        livemode: bool,
        account: Option<&str>,
        idempotency_key: Option<&str>,
    ) -> Result<Value, Error> {
        let caller = Caller::mode(livemode).account(account);
        self.call_as(&caller, method, path, form, idempotency_key)
    }

    /// [`StripeClient::call`] as `caller` (an account's own key, or the default one).
    ///
    /// ```no_run
    /// use djstripe_core::stripe_api::{Caller, StripeClient};
    /// let client = StripeClient::new("http://127.0.0.1:12111").test_key("sk_test_1");
    /// let list = client.call_as(&Caller::mode(false).account(Some("acct_1")), "GET", "/v1/webhook_endpoints", &[], None).unwrap();
    /// # let _ = list;
    /// ```
    pub fn call_as(
        &self,
        caller: &Caller,
        method: &str,
        path: &str,
        form: &[(&str, &str)],
        idempotency_key: Option<&str>,
    ) -> Result<Value, Error> {
        let key = match &caller.key {
            Some(key) => key.as_str(),
            None => self.key(caller.livemode)?,
        };
        // Where the key comes from, for an error that says which one Stripe refused.
        let key_setting = || match (&caller.key, &caller.stripe_account) {
            (Some(_), Some(account)) => format!("the stored key of {account} (accounts set-key)"),
            (Some(_), None) => "the stored account key (accounts set-key)".to_owned(),
            (None, _) if caller.livemode => "STRIPE_LIVE_SECRET_KEY".to_owned(),
            (None, _) => "STRIPE_TEST_SECRET_KEY".to_owned(),
        };
        let headers = Headers {
            account: caller.stripe_account.as_deref(),
            context: caller.stripe_context.as_deref(),
            idempotency_key,
        };
        let url = format!("{}{}", self.base, path);
        let mut attempt = 0;
        let mut waited = Duration::ZERO;
        loop {
            let result = self.send(method, &url, form, key, &headers);
            let failure = match result {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            if !failure.retryable() || attempt >= self.max_retries {
                return Err(failure.into_error(method, path, None, key_setting));
            }
            let wait = self.wait(attempt, failure.retry_after());
            if waited + wait > self.retry_budget {
                // Sleeping past the budget would hold the caller (a CLI, an admin page) longer
                // than promised: give up now, saying how long Stripe asked to wait.
                return Err(failure.into_error(method, path, Some(wait), key_setting));
            }
            attempt += 1;
            waited += wait;
            tracing::debug!(%method, %path, attempt, wait_ms = wait.as_millis() as u64, "retrying a Stripe call");
            std::thread::sleep(wait);
        }
    }

    /// The wait before retry `attempt + 1`: the exponential backoff with jitter (half to all of
    /// it), but at least what `Retry-After` asked for.
    fn wait(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let jittered = crate::backoff::Backoff::new(self.backoff, MAX_BACKOFF).wait(attempt.min(16));
        retry_after.map_or(jittered, |asked| asked.max(jittered))
    }

    fn send(
        &self,
        method: &str,
        url: &str,
        form: &[(&str, &str)],
        key: &str,
        headers: &Headers<'_>,
    ) -> Result<Value, Retry> {
        let auth = format!("Bearer {key}");
        let optional = [("Stripe-Account", headers.account), ("Stripe-Context", headers.context)]
            .into_iter()
            .filter_map(|(name, value)| value.map(|value| (name, value)));
        let response = match method {
            "GET" | "DELETE" => {
                let mut req = if method == "GET" { self.agent.get(url) } else { self.agent.delete(url) };
                req = req.header("Authorization", &auth).header("Stripe-Version", API_VERSION);
                for (name, value) in optional {
                    req = req.header(name, value);
                }
                req.call()
            }
            _ => {
                let mut req = self.agent.post(url).header("Authorization", &auth).header("Stripe-Version", API_VERSION);
                for (name, value) in optional {
                    req = req.header(name, value);
                }
                if let Some(key) = headers.idempotency_key {
                    req = req.header("Idempotency-Key", key);
                }
                req.send_form(form.iter().copied())
            }
        };
        let mut response = response.map_err(|e| Retry::Network(e.to_string()))?;
        let status = response.status().as_u16();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let retry_after = header("retry-after").and_then(|value| retry_after(value, chrono::Utc::now()));
        let should_retry = match header("stripe-should-retry") {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => None,
        };
        let body: Value = response.body_mut().read_json().unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            let message = body["error"]["message"].as_str().unwrap_or("no error message").to_owned();
            let code = body["error"]["code"].as_str().map(str::to_owned);
            Err(Retry::Status { status, code, message, retry_after, should_retry })
        }
    }
}

/// The optional headers of one call.
struct Headers<'a> {
    account: Option<&'a str>,
    context: Option<&'a str>,
    idempotency_key: Option<&'a str>,
}

/// Whether `url` is a relative path of Stripe's API that a v2 event's `related_object.url` may
/// name: it starts with `/v1/` or `/v2/`, holds only ASCII letters, digits and `-_./` (no
/// scheme, host, query, percent escape or backslash), and has no `..` and no `//`. Only such a
/// path is appended to the API base: a delivered body cannot send the secret key elsewhere.
///
/// ```
/// use djstripe_core::stripe_api::is_api_path;
/// assert!(is_api_path("/v1/billing/meters/mtr_test_61R") && is_api_path("/v2/core/accounts/acct_1"));
/// for refused in ["https://evil/", "//evil/v1/x", "/v1/../x", "/v1//x", "/v3/x", "v1/x", "/v1/x?y=1", "/v1/%2e%2e/x", "/v1\\x", ""] {
///     assert!(!is_api_path(refused), "{refused}");
/// }
/// ```
pub fn is_api_path(url: &str) -> bool {
    (url.starts_with("/v1/") || url.starts_with("/v2/"))
        && url.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
        && !url.contains("..")
        && !url.contains("//")
}

/// A failed attempt, before it becomes an [`Error`].
enum Retry {
    Network(String),
    Status {
        status: u16,
        code: Option<String>,
        message: String,
        /// `Retry-After`, in seconds.
        retry_after: Option<Duration>,
        /// `Stripe-Should-Retry`, when sent: Stripe's own verdict, which wins over the status.
        should_retry: Option<bool>,
    },
}

impl Retry {
    fn retryable(&self) -> bool {
        match self {
            Retry::Network(_) => true,
            Retry::Status { should_retry: Some(verdict), .. } => *verdict,
            Retry::Status { status, .. } => *status == 409 || *status == 429 || *status >= 500,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Retry::Status { retry_after, .. } => *retry_after,
            Retry::Network(_) => None,
        }
    }

    /// The error to report; `over_budget` is the wait that would have passed the retry budget.
    /// `key_setting` names where the key came from (for a refused key).
    fn into_error(
        self,
        method: &str,
        path: &str,
        over_budget: Option<Duration>,
        key_setting: impl FnOnce() -> String,
    ) -> Error {
        let request = format!("{method} {path}");
        let (status, code, message, retryable) = match self {
            Retry::Network(reason) => return Error::StripeUnreachable { request, reason },
            ref this @ Retry::Status { status, ref code, ref message, .. } => {
                (status, code.clone(), message.clone(), this.retryable())
            }
        };
        let message = match (status, over_budget) {
            (_, Some(wait)) => format!(
                "{}Stripe asked to retry after {} s, longer than the retry budget allows: {message}",
                if status == 429 { "rate limited; " } else { "" },
                wait.as_secs_f64().ceil()
            ),
            (429, _) if retryable => format!("rate limited, retries exhausted: {message}"),
            (_, _) if retryable => format!("retries exhausted: {message}"),
            _ => message,
        };
        match status {
            404 => Error::StripeNotFound { request, code, message },
            401 | 403 => Error::StripeKeyRefused { request, status, code, message, key: key_setting() },
            429 | 500..=599 => Error::StripeUnavailable { request, status, code, message },
            _ => Error::StripeApi { request, status, code, message },
        }
    }
}

/// The HTTP agent: error statuses are answers (read for Stripe's error), every request bounded.
fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(timeout)).build().into()
}

/// How long a `Retry-After` value asks to wait (RFC 9110 §10.2.3): delay seconds (Stripe's form)
/// or an HTTP date (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`), a date in the past meaning
/// now; `None` for anything else (the backoff applies).
fn retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some((at.with_timezone(&chrono::Utc) - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        let now = chrono::DateTime::parse_from_rfc3339("1994-11-06T08:49:30Z").unwrap().with_timezone(&chrono::Utc);
        assert_eq!(super::retry_after("2", now), Some(std::time::Duration::from_secs(2)));
        assert_eq!(super::retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), Some(std::time::Duration::from_secs(7)));
        assert_eq!(super::retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now), Some(std::time::Duration::ZERO));
        assert_eq!(super::retry_after("soon", now), None);
        assert_eq!(super::retry_after("-1", now), None);
    }
}
