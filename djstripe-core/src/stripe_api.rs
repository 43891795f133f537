//! A small blocking client for the parts of Stripe's API that webhooks need.
//!
//! Calls happen outside any database transaction (the engine fetches before it opens one).
//! The base URL is configurable (`STRIPE_API_BASE`) so tests run against a local fake server.

use std::time::Duration;

use serde_json::Value;

use crate::Error;

/// Stripe's API base URL.
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";
/// The API version this library pins in `Stripe-Version`.
pub const API_VERSION: &str = "2026-07-29.dahlia";

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
    agent: ureq::Agent,
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
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Self { base: base.into().trim_end_matches('/').to_owned(), test_key: None, live_key: None, max_retries: 3, agent }
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

    /// How many times a 429 or 5xx answer is retried, with exponential backoff (default 3).
    ///
    /// ```
    /// let c = djstripe_core::stripe_api::StripeClient::new("http://127.0.0.1:1").max_retries(0);
    /// # let _ = c;
    /// ```
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
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
        let (key, name) = if livemode {
            (&self.live_key, "STRIPE_LIVE_SECRET_KEY")
        } else {
            (&self.test_key, "STRIPE_TEST_SECRET_KEY")
        };
        key.as_deref().ok_or_else(|| Error::Config(format!("{name} is not set: it is needed to call Stripe's API")))
    }

    /// `GET /v1/events/{id}`: the event as Stripe has it, for the `retrieve_event` validation.
    ///
    /// ```no_run
    /// let client = djstripe_core::stripe_api::StripeClient::new("http://127.0.0.1:12111").test_key("sk_test_1");
    /// let event = client.retrieve_event("evt_1", false, None).unwrap();
    /// # let _ = event;
    /// ```
    pub fn retrieve_event(&self, id: &str, livemode: bool, account: Option<&str>) -> Result<Value, Error> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(Error::InvalidEvent(format!("`{id}` is not a Stripe event id")));
        }
        self.call("GET", &format!("/v1/events/{id}"), &[], livemode, account, None)
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
        let key = self.key(livemode)?;
        let url = format!("{}{}", self.base, path);
        let mut attempt = 0;
        loop {
            let result = self.send(method, &url, form, key, account, idempotency_key);
            let retryable = match &result {
                Err(Retry::Network(_)) => true,
                Err(Retry::Status(status, _)) => *status == 429 || *status >= 500,
                Ok(_) => false,
            };
            if !retryable || attempt >= self.max_retries {
                return result.map_err(|e| e.into_error(method, path));
            }
            attempt += 1;
            std::thread::sleep(Duration::from_millis(100 * 2u64.pow(attempt.min(6))));
        }
    }

    fn send(
        &self,
        method: &str,
        url: &str,
        form: &[(&str, &str)],
        key: &str,
        account: Option<&str>,
        idempotency_key: Option<&str>,
    ) -> Result<Value, Retry> {
        let auth = format!("Bearer {key}");
        let response = match method {
            "GET" | "DELETE" => {
                let mut req = if method == "GET" { self.agent.get(url) } else { self.agent.delete(url) };
                req = req.header("Authorization", &auth).header("Stripe-Version", API_VERSION);
                if let Some(account) = account {
                    req = req.header("Stripe-Account", account);
                }
                req.call()
            }
            _ => {
                let mut req = self.agent.post(url).header("Authorization", &auth).header("Stripe-Version", API_VERSION);
                if let Some(account) = account {
                    req = req.header("Stripe-Account", account);
                }
                if let Some(key) = idempotency_key {
                    req = req.header("Idempotency-Key", key);
                }
                req.send_form(form.iter().copied())
            }
        };
        let mut response = response.map_err(|e| Retry::Network(e.to_string()))?;
        let status = response.status().as_u16();
        let body: Value = response.body_mut().read_json().unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            let message = body["error"]["message"].as_str().unwrap_or("no error message").to_owned();
            Err(Retry::Status(status, message))
        }
    }
}

enum Retry {
    Network(String),
    Status(u16, String),
}

impl Retry {
    fn into_error(self, method: &str, path: &str) -> Error {
        Error::StripeApi(match self {
            Retry::Network(e) => format!("{method} {path}: Stripe could not be reached: {e}"),
            Retry::Status(401, m) => format!("{method} {path}: 401 unauthorized (check the secret key): {m}"),
            Retry::Status(429, m) => format!("{method} {path}: 429 rate limited, retries exhausted: {m}"),
            Retry::Status(s, m) if s >= 500 => format!("{method} {path}: Stripe answered {s}, retries exhausted: {m}"),
            Retry::Status(s, m) => format!("{method} {path}: Stripe answered {s}: {m}"),
        })
    }
}
