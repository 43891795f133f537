//! [`FakeStripe`]: a stateful fake of the part of Stripe's API this crate calls, served over
//! real HTTP on loopback (std's `TcpListener`, one request per connection, a thread each).

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

/// A fake of Stripe's API on `127.0.0.1` (a free port, served by a background thread that stops
/// when the value is dropped), holding state like Stripe does:
///
/// - `GET /v1/events/{id}`: the events given to [`add_event`](Self::add_event), else 404;
/// - `GET /v2/core/events/{id}`: the v2 events given to [`add_v2_event`](Self::add_v2_event),
///   else 404 in v2's error shape (`"type": "invalid_request_error", "code": "not_found"`);
/// - `GET` of any path given to [`add_object`](Self::add_object) (a v2 event's related object);
/// - `/v1/webhook_endpoints`: create (`url` and `enabled_events[]` required, an
///   `Idempotency-Key` too, whose answer is replayed; the answer holds a fresh `whsec_...`
///   secret), retrieve, list (`limit`, `starting_after`, `has_more`), update (`enabled_events[]`,
///   `description`, `disabled`, `url`) and delete; 404 for an unknown id. Each caller sees only its own
///   endpoints: those of its mode and account;
/// - authentication: `Authorization: Bearer` with a platform key ([`TEST_KEY`](Self::TEST_KEY),
///   [`LIVE_KEY`](Self::LIVE_KEY), or one given to [`accept_key`](Self::accept_key)), acting for a
///   connected account with `Stripe-Account`, or an account's own key
///   ([`accept_account_key`](Self::accept_account_key)); anything else is 401. A request without
///   `Stripe-Version` is 400.
///
/// Every request is recorded ([`seen`](Self::seen)) with its headers (`Stripe-Version`,
/// `Idempotency-Key`, ...), the time it arrived and the status it got; failures are injected with
/// [`fail_next`](Self::fail_next), [`fail_next_with`](Self::fail_next_with) (a 429 with
/// `Retry-After`, `Stripe-Should-Retry`), [`fail_deletes`](Self::fail_deletes) and
/// [`hold_next_answer`](Self::hold_next_answer) (served, then answered late or never: a client
/// killed or cut off while Stripe answers).
///
/// ```
/// use djstripe_core::stripe_api::{Caller, StripeClient, webhook_endpoints::CreateParams};
/// use djstripe_core::testing::FakeStripe;
///
/// let stripe = FakeStripe::start();
/// let client = StripeClient::new(stripe.base_url()).test_key(FakeStripe::TEST_KEY);
/// let params = CreateParams { url: "https://shop.example.com/hook/".into(), enabled_events: vec!["*".into()], ..Default::default() };
/// let created = client.create_webhook_endpoint(&Caller::mode(false), &params, "create-1").unwrap();
/// assert_eq!(created.secret, stripe.secret(&created.id));
///
/// let request = &stripe.seen()[0];
/// assert_eq!((request.method.as_str(), request.path.as_str(), request.status), ("POST", "/v1/webhook_endpoints", 200));
/// assert_eq!(request.header("idempotency-key"), Some("create-1"));
/// assert_eq!(request.field("url").as_deref(), Some("https://shop.example.com/hook/"));
/// ```
#[derive(Debug)]
pub struct FakeStripe {
    base_url: String,
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// One request the fake received, as received, and the status it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, `DELETE`, ...
    pub method: String,
    /// The path with its query string: `/v1/webhook_endpoints?limit=100`.
    pub path: String,
    /// The headers, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body (form-encoded for Stripe's API).
    pub body: String,
    /// The HTTP status the fake answered.
    pub status: u16,
    /// When the request had been read (to measure the waits between retries).
    pub received: Instant,
}

impl Request {
    /// A header's value, by case-insensitive name.
    ///
    /// ```
    /// # let request = djstripe_core::testing::Request { method: "GET".into(), path: "/".into(), headers: vec![("Stripe-Version".into(), "2026".into())], body: String::new(), status: 200, received: std::time::Instant::now() };
    /// assert_eq!(request.header("stripe-version"), Some("2026"));
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body's form fields, decoded, in order.
    ///
    /// ```
    /// # let request = djstripe_core::testing::Request { method: "POST".into(), path: "/".into(), headers: vec![], body: "disabled=true&description=a+b%21".into(), status: 200, received: std::time::Instant::now() };
    /// assert_eq!(request.form(), [("disabled".to_string(), "true".to_string()), ("description".into(), "a b!".into())]);
    /// ```
    pub fn form(&self) -> Vec<(String, String)> {
        form(&self.body)
    }

    /// The first value of form field `name`.
    ///
    /// ```
    /// # let request = djstripe_core::testing::Request { method: "POST".into(), path: "/".into(), headers: vec![], body: "url=https%3A%2F%2Fx%2F".into(), status: 200, received: std::time::Instant::now() };
    /// assert_eq!(request.field("url").as_deref(), Some("https://x/"));
    /// assert_eq!(request.field("connect"), None);
    /// ```
    pub fn field(&self, name: &str) -> Option<String> {
        self.fields(name).into_iter().next()
    }

    /// Every value of form field `name` (lists: `enabled_events[]`).
    ///
    /// ```
    /// # let request = djstripe_core::testing::Request { method: "POST".into(), path: "/".into(), headers: vec![], body: "enabled_events[]=a&enabled_events[]=b".into(), status: 200, received: std::time::Instant::now() };
    /// assert_eq!(request.fields("enabled_events[]"), ["a", "b"]);
    /// ```
    pub fn fields(&self, name: &str) -> Vec<String> {
        fields(&form(&self.body), name)
    }
}

/// One webhook endpoint the fake holds, and who owns it.
#[derive(Debug)]
struct Endpoint {
    object: Value,
    secret: String,
    livemode: bool,
    account: Option<String>,
}

#[derive(Debug)]
struct State {
    /// Accepted keys: key, livemode, the account whose own key it is (`None`: the platform's).
    keys: Vec<(String, bool, Option<String>)>,
    events: HashMap<String, Value>,
    /// v2 events (`GET /v2/core/events/{id}`), by id.
    v2_events: HashMap<String, Value>,
    /// Objects served at their API path ([`FakeStripe::add_object`]).
    objects: HashMap<String, Value>,
    endpoints: Vec<Endpoint>,
    next_id: usize,
    max_page_size: usize,
    /// Idempotency key → the request's body and the answer.
    idempotent: HashMap<String, (String, (u16, String))>,
    fail_next: VecDeque<Injected>,
    /// The next request is served, then its answer held this long (`None`: never sent).
    hold_next: Option<Option<Duration>>,
    fail_deletes: bool,
    seen: Vec<Request>,
    /// Every answer waits this long (to watch a client's concurrency).
    delay: Duration,
    in_flight: usize,
    max_in_flight: usize,
}

impl FakeStripe {
    /// The test-mode platform key accepted from the start.
    pub const TEST_KEY: &'static str = "sk_test_fake";
    /// The live-mode platform key accepted from the start.
    pub const LIVE_KEY: &'static str = "sk_live_fake";

    /// Starts serving on a free port of 127.0.0.1.
    ///
    /// ```
    /// let stripe = djstripe_core::testing::FakeStripe::start();
    /// assert!(stripe.base_url().starts_with("http://127.0.0.1:"));
    /// ```
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("FakeStripe: a free port on 127.0.0.1");
        let addr = listener.local_addr().expect("FakeStripe: the bound address");
        let state = Arc::new(Mutex::new(State {
            keys: vec![(Self::TEST_KEY.into(), false, None), (Self::LIVE_KEY.into(), true, None)],
            events: HashMap::new(),
            v2_events: HashMap::new(),
            objects: HashMap::new(),
            endpoints: Vec::new(),
            next_id: 0,
            max_page_size: 100,
            idempotent: HashMap::new(),
            fail_next: VecDeque::new(),
            hold_next: None,
            fail_deletes: false,
            delay: Duration::ZERO,
            in_flight: 0,
            max_in_flight: 0,
            seen: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        // One thread per connection, like Stripe serving many clients at once.
                        let state = state.clone();
                        std::thread::spawn(move || serve(stream, &state));
                    }
                }
            })
        };
        Self { base_url: format!("http://{addr}"), addr, state, stop, thread: Some(thread) }
    }

    /// `http://127.0.0.1:PORT`: the API base to give the client (`StripeClient::new`,
    /// `STRIPE_API_BASE`).
    ///
    /// ```
    /// let stripe = djstripe_core::testing::FakeStripe::start();
    /// let client = djstripe_core::stripe_api::StripeClient::new(stripe.base_url());
    /// assert_eq!(client.base(), stripe.base_url());
    /// ```
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Accepts another platform key; its mode is its prefix's (`sk_live_`/`rk_live_`: live).
    ///
    /// ```
    /// use djstripe_core::stripe_api::StripeClient;
    /// let stripe = djstripe_core::testing::FakeStripe::start();
    /// stripe.accept_key("sk_test_mine");
    /// assert!(StripeClient::new(stripe.base_url()).test_key("sk_test_mine").list_webhook_endpoints(&Default::default()).is_ok());
    /// ```
    pub fn accept_key(&self, key: &str) -> &Self {
        self.state().keys.push((key.to_owned(), key.contains("_live_"), None));
        self
    }

    /// Accepts `key` as connected account `account`'s own key (which acts for that account
    /// without `Stripe-Account`, and may not send one).
    ///
    /// ```
    /// use djstripe_core::stripe_api::{Caller, StripeClient};
    /// let stripe = djstripe_core::testing::FakeStripe::start();
    /// stripe.accept_account_key("acct_1", "sk_test_acct1");
    /// stripe.insert_endpoint("https://a.example.com/", serde_json::json!({}), false, Some("acct_1"));
    /// let client = StripeClient::new(stripe.base_url());
    /// let own = client.list_webhook_endpoints(&Caller::mode(false).key("sk_test_acct1")).unwrap();
    /// assert_eq!(own.len(), 1);
    /// ```
    pub fn accept_account_key(&self, account: &str, key: &str) -> &Self {
        self.state().keys.push((key.to_owned(), key.contains("_live_"), Some(account.to_owned())));
        self
    }

    /// Adds an event (an [`Event`](crate::Event), or any JSON with an `id`) that
    /// `GET /v1/events/{id}` then answers, whatever the caller's mode or account.
    ///
    /// ```
    /// use djstripe_core::stripe_api::StripeClient;
    /// let stripe = djstripe_core::testing::FakeStripe::start();
    /// let event = djstripe_core::testing::event("customer.created");
    /// stripe.add_event(&event);
    /// let client = StripeClient::new(stripe.base_url()).test_key(djstripe_core::testing::FakeStripe::TEST_KEY);
    /// assert_eq!(client.retrieve_event(&event.id, false, None).unwrap()["id"], event.id.as_str());
    /// assert!(client.max_retries(0).retrieve_event("evt_missing", false, None).is_err()); // 404
    /// ```
    pub fn add_event(&self, event: impl serde::Serialize) -> &Self {
        let event = serde_json::to_value(event).expect("FakeStripe::add_event: the event serializes");
        let id = event["id"].as_str().expect("FakeStripe::add_event: the event has a string `id`").to_owned();
        self.state().events.insert(id, event);
        self
    }

    /// Adds a full v2 event (an [`Event`](crate::Event) or any JSON with an `id`) that
    /// `GET /v2/core/events/{id}` then answers, whatever the caller's mode or context (the
    /// request's `Stripe-Context` is recorded: [`seen`](Self::seen)). An unknown id is answered
    /// 404 as Stripe's v2 API answers it.
    ///
    /// ```
    /// use djstripe_core::stripe_api::StripeClient;
    /// use djstripe_core::testing::{EventBuilder, FakeStripe};
    /// let stripe = FakeStripe::start();
    /// let thin = EventBuilder::v2("v2.core.account.updated").build();
    /// let mut full = serde_json::to_value(&thin).unwrap();
    /// full["data"] = serde_json::json!({"changes": ["email"]});
    /// stripe.add_v2_event(full);
    /// let client = StripeClient::new(stripe.base_url()).test_key(FakeStripe::TEST_KEY).max_retries(0);
    /// assert_eq!(client.retrieve_v2_event(&thin.id, false, None).unwrap()["data"]["changes"][0], "email");
    /// let err = client.retrieve_v2_event("evt_test_missing", false, None).unwrap_err();
    /// assert!(matches!(err, djstripe_core::Error::StripeNotFound { code: Some(ref c), .. } if c == "not_found"), "{err}");
    /// ```
    pub fn add_v2_event(&self, event: impl serde::Serialize) -> &Self {
        let event = serde_json::to_value(event).expect("FakeStripe::add_v2_event: the event serializes");
        let id = event["id"].as_str().expect("FakeStripe::add_v2_event: the event has a string `id`").to_owned();
        self.state().v2_events.insert(id, event);
        self
    }

    /// Serves `object` at `path` (`GET`, any caller): e.g. the related object of a v2 event at
    /// its `related_object.url`.
    ///
    /// ```
    /// use djstripe_core::stripe_api::StripeClient;
    /// use djstripe_core::testing::FakeStripe;
    /// let stripe = FakeStripe::start();
    /// stripe.add_object("/v1/billing/meters/mtr_1", serde_json::json!({"id": "mtr_1"}));
    /// let client = StripeClient::new(stripe.base_url()).test_key(FakeStripe::TEST_KEY);
    /// assert_eq!(client.call("GET", "/v1/billing/meters/mtr_1", &[], false, None, None).unwrap()["id"], "mtr_1");
    /// ```
    pub fn add_object(&self, path: &str, object: Value) -> &Self {
        self.state().objects.insert(path.to_owned(), object);
        self
    }

    /// Puts an endpoint into the fake directly, as if made in Stripe's Dashboard, for mode
    /// `livemode` and connected account `account` (`None`: the platform's); returns its id
    /// (`we_dash...`).
    ///
    /// ```
    /// let stripe = djstripe_core::testing::FakeStripe::start();
    /// let id = stripe.insert_endpoint("https://a.example.com/", serde_json::json!({"k": "v"}), false, None);
    /// assert_eq!(stripe.endpoint(&id).unwrap()["metadata"]["k"], "v");
    /// ```
    pub fn insert_endpoint(&self, url: &str, metadata: Value, livemode: bool, account: Option<&str>) -> String {
        let mut state = self.state();
        let id = state.new_id("we_dash");
        let object = endpoint_object(
            &id,
            url,
            vec!["charge.succeeded".into()],
            metadata,
            livemode,
            Some("made in the Dashboard"),
        );
        state.add_endpoint(object, livemode, account.map(str::to_owned));
        id
    }

    /// The endpoint `id` as the fake holds it (without its secret), whoever owns it.
    ///
    /// ```
    /// assert!(djstripe_core::testing::FakeStripe::start().endpoint("we_nope").is_none());
    /// ```
    pub fn endpoint(&self, id: &str) -> Option<Value> {
        self.state().endpoints.iter().find(|e| e.object["id"] == id).map(|e| e.object.clone())
    }

    /// Every endpoint the fake holds, of every mode and account, oldest first.
    ///
    /// ```
    /// let stripe = djstripe_core::testing::FakeStripe::start();
    /// stripe.insert_endpoint("https://a.example.com/", serde_json::json!({}), true, None);
    /// assert_eq!(stripe.endpoints()[0]["livemode"], true);
    /// ```
    pub fn endpoints(&self) -> Vec<Value> {
        self.state().endpoints.iter().map(|e| e.object.clone()).collect()
    }

    /// The signing secret of endpoint `id` (Stripe shows it once, in the creation's answer).
    ///
    /// ```
    /// let stripe = djstripe_core::testing::FakeStripe::start();
    /// let id = stripe.insert_endpoint("https://a.example.com/", serde_json::json!({}), false, None);
    /// assert!(stripe.secret(&id).unwrap().starts_with("whsec_"));
    /// ```
    pub fn secret(&self, id: &str) -> Option<String> {
        self.state().endpoints.iter().find(|e| e.object["id"] == id).map(|e| e.secret.clone())
    }

    /// Changes endpoint `id` behind the app's back (as in the Dashboard): each key of `patch`
    /// replaces the object's. Returns whether the endpoint exists.
    ///
    /// ```
    /// let stripe = djstripe_core::testing::FakeStripe::start();
    /// let id = stripe.insert_endpoint("https://a.example.com/", serde_json::json!({}), false, None);
    /// assert!(stripe.update_endpoint(&id, serde_json::json!({"status": "disabled"})));
    /// assert_eq!(stripe.endpoint(&id).unwrap()["status"], "disabled");
    /// ```
    pub fn update_endpoint(&self, id: &str, patch: Value) -> bool {
        let mut state = self.state();
        let Some(endpoint) = state.endpoints.iter_mut().find(|e| e.object["id"] == id) else { return false };
        if let (Some(object), Value::Object(patch)) = (endpoint.object.as_object_mut(), patch) {
            object.extend(patch);
        }
        true
    }

    /// Deletes endpoint `id` behind the app's back. Returns whether it existed.
    ///
    /// ```
    /// let stripe = djstripe_core::testing::FakeStripe::start();
    /// let id = stripe.insert_endpoint("https://a.example.com/", serde_json::json!({}), false, None);
    /// assert!(stripe.remove_endpoint(&id) && stripe.endpoints().is_empty());
    /// ```
    pub fn remove_endpoint(&self, id: &str) -> bool {
        let mut state = self.state();
        let before = state.endpoints.len();
        state.endpoints.retain(|e| e.object["id"] != id);
        state.endpoints.len() != before
    }

    /// The most endpoints one list page holds, whatever `limit` asks (default 100, Stripe's
    /// maximum); a small one makes a test paginate.
    ///
    /// ```
    /// let stripe = djstripe_core::testing::FakeStripe::start();
    /// stripe.max_page_size(2);
    /// ```
    pub fn max_page_size(&self, size: usize) -> &Self {
        self.state().max_page_size = size.max(1);
        self
    }

    /// Queues an answer: the next request not yet answered from the queue gets `status` and
    /// `body` instead of being served (one queued answer per request; e.g. a 429, then normal
    /// service).
    ///
    /// ```
    /// use djstripe_core::stripe_api::StripeClient;
    /// let stripe = djstripe_core::testing::FakeStripe::start();
    /// stripe.fail_next(400, r#"{"error":{"message":"Invalid URL"}}"#);
    /// let client = StripeClient::new(stripe.base_url()).test_key(djstripe_core::testing::FakeStripe::TEST_KEY);
    /// let err = client.list_webhook_endpoints(&Default::default()).unwrap_err();
    /// assert!(err.to_string().contains("Invalid URL"));
    /// assert_eq!(stripe.seen()[0].status, 400);
    /// ```
    pub fn fail_next(&self, status: u16, body: impl Into<String>) -> &Self {
        self.fail_next_with(status, &[], body)
    }

    /// [`fail_next`](Self::fail_next) with response headers: Stripe's `Retry-After` and
    /// `Stripe-Should-Retry`.
    ///
    /// ```
    /// use djstripe_core::stripe_api::StripeClient;
    /// use djstripe_core::testing::FakeStripe;
    /// let stripe = FakeStripe::start();
    /// stripe.fail_next_with(500, &[("Stripe-Should-Retry", "false")], r#"{"error":{"message":"do not retry"}}"#);
    /// let client = StripeClient::new(stripe.base_url()).test_key(FakeStripe::TEST_KEY);
    /// assert!(client.list_webhook_endpoints(&Default::default()).is_err());
    /// assert_eq!(stripe.seen().len(), 1, "Stripe said not to retry");
    /// ```
    pub fn fail_next_with(&self, status: u16, headers: &[(&str, &str)], body: impl Into<String>) -> &Self {
        let headers = headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        self.state().fail_next.push_back(Injected { status, headers, body: body.into() });
        self
    }

    /// The next request is served as usual (an endpoint created, its answer kept for its
    /// `Idempotency-Key`), but its answer is written only after `hold`, or never (`None`: the
    /// connection is closed without an answer). What a client sees when it is killed, or cut
    /// off, while Stripe answers.
    ///
    /// ```
    /// use djstripe_core::stripe_api::{Caller, StripeClient, webhook_endpoints::CreateParams};
    /// use djstripe_core::testing::FakeStripe;
    /// let stripe = FakeStripe::start();
    /// stripe.hold_next_answer(None);
    /// let client = StripeClient::new(stripe.base_url()).test_key(FakeStripe::TEST_KEY).max_retries(0);
    /// let params = CreateParams { url: "https://shop.example.com/hook/".into(), enabled_events: vec!["*".into()], ..Default::default() };
    /// assert!(client.create_webhook_endpoint(&Caller::mode(false), &params, "k1").is_err());
    /// assert_eq!(stripe.endpoints().len(), 1, "created at Stripe all the same");
    /// ```
    pub fn hold_next_answer(&self, hold: Option<Duration>) -> &Self {
        self.state().hold_next = Some(hold);
        self
    }

    /// While `fail` is true every endpoint delete answers 500 (and deletes nothing).
    ///
    /// ```
    /// let stripe = djstripe_core::testing::FakeStripe::start();
    /// stripe.fail_deletes(true);
    /// ```
    pub fn fail_deletes(&self, fail: bool) -> &Self {
        self.state().fail_deletes = fail;
        self
    }

    /// Every answer is held `delay` before it is written (default none), so that concurrent
    /// requests overlap: see [`max_in_flight`](Self::max_in_flight).
    ///
    /// ```
    /// let stripe = djstripe_core::testing::FakeStripe::start();
    /// stripe.delay_answers(std::time::Duration::from_millis(10));
    /// ```
    pub fn delay_answers(&self, delay: Duration) -> &Self {
        self.state().delay = delay;
        self
    }

    /// The most requests the fake was answering at the same time.
    ///
    /// ```
    /// use djstripe_core::stripe_api::StripeClient;
    /// let stripe = djstripe_core::testing::FakeStripe::start();
    /// assert_eq!(stripe.max_in_flight(), 0);
    /// let client = StripeClient::new(stripe.base_url()).test_key(djstripe_core::testing::FakeStripe::TEST_KEY);
    /// client.list_webhook_endpoints(&Default::default()).unwrap();
    /// assert_eq!(stripe.max_in_flight(), 1);
    /// ```
    pub fn max_in_flight(&self) -> usize {
        self.state().max_in_flight
    }

    /// Every request received so far, in order.
    ///
    /// ```
    /// assert!(djstripe_core::testing::FakeStripe::start().seen().is_empty());
    /// ```
    pub fn seen(&self) -> Vec<Request> {
        self.state().seen.clone()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which then sees `stop`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The state, even after a panic elsewhere (a failed assertion) poisoned its lock.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Reads one HTTP/1.1 request from `stream`, answers it and closes the connection.
fn serve(mut stream: TcpStream, state: &Mutex<State>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(read_half) = stream.try_clone() else { return };
    let mut reader = BufReader::new(read_half);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return; // a connection without a request (e.g. the one that stops the fake)
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or_default().to_owned(), parts.next().unwrap_or_default().to_owned());
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" || header == "\n" {
            break;
        }
        if let Some((name, value)) = header.trim_end().split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let mut request = Request { method, path, headers, body: String::new(), status: 0, received: Instant::now() };
    let length = request.header("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    request.body = String::from_utf8_lossy(&body).into_owned();
    request.received = Instant::now();

    let (answer, hold, delay) = {
        let mut state = lock(state);
        state.in_flight += 1;
        state.max_in_flight = state.max_in_flight.max(state.in_flight);
        let answer = match state.fail_next.pop_front() {
            Some(injected) => injected,
            None => {
                let (status, body) = state.route(&request);
                Injected { status, headers: Vec::new(), body }
            }
        };
        request.status = answer.status;
        state.seen.push(request);
        (answer, state.hold_next.take(), state.delay)
    };
    std::thread::sleep(delay);
    lock(state).in_flight -= 1;
    match hold {
        Some(None) => return,
        Some(Some(hold)) => std::thread::sleep(hold),
        None => {}
    }
    let Injected { status, headers, body } = answer;
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        if status < 400 { "OK" } else { "Error" },
        body.len()
    );
    let _ = stream.flush();
}

/// A queued answer ([`FakeStripe::fail_next_with`]).
#[derive(Debug)]
struct Injected {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

/// Stripe's error shape.
fn error(status: u16, message: &str) -> (u16, String) {
    (status, json!({"error": {"message": message, "type": "invalid_request_error"}}).to_string())
}

impl State {
    fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{}", self.next_id)
    }

    fn add_endpoint(&mut self, object: Value, livemode: bool, account: Option<String>) -> String {
        let secret = format!("whsec_fake{}_{}", self.next_id, uuid::Uuid::new_v4().simple());
        self.endpoints.push(Endpoint { object, secret: secret.clone(), livemode, account });
        secret
    }

    fn route(&mut self, req: &Request) -> (u16, String) {
        if req.header("stripe-version").is_none() {
            return error(400, "Stripe-Version header missing (the client pins one)");
        }
        // Who is calling: the key's mode and account, then Stripe-Account (platform keys only).
        let key = req.header("authorization").and_then(|a| a.strip_prefix("Bearer "));
        let Some((_, livemode, own)) = self.keys.iter().find(|(k, ..)| Some(k.as_str()) == key).cloned() else {
            return error(401, "Invalid API Key provided: sk_****");
        };
        let account = match (own, req.header("stripe-account")) {
            (Some(_), Some(_)) => return error(403, "an account's own key cannot act for another account"),
            (Some(own), None) => Some(own),
            (None, header) => header.map(str::to_owned),
        };
        let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
        let body = req.form();
        let mine = |e: &Endpoint| e.livemode == livemode && e.account == account;
        match (req.method.as_str(), path) {
            ("GET", p) if self.objects.contains_key(p) => (200, self.objects[p].to_string()),
            ("GET", p) if p.starts_with("/v2/core/events/") => {
                let id = &p["/v2/core/events/".len()..];
                match self.v2_events.get(id) {
                    Some(event) => (200, event.to_string()),
                    None => {
                        let error = json!({"error": {
                            "type": "invalid_request_error",
                            "code": "not_found",
                            "message": format!("No such event: '{id}'"),
                        }});
                        (404, error.to_string())
                    }
                }
            }
            ("GET", p) if p.starts_with("/v1/events/") => {
                let id = &p["/v1/events/".len()..];
                match self.events.get(id) {
                    Some(event) => (200, event.to_string()),
                    None => error(404, &format!("No such event: '{id}'")),
                }
            }
            ("POST", "/v1/webhook_endpoints") => {
                let Some(key) = req.header("idempotency-key").map(str::to_owned) else {
                    return error(400, "creation without an Idempotency-Key");
                };
                // Stripe replays the first answer to a repeated key (for 24 hours), and refuses
                // the key with other parameters.
                if let Some((body, answer)) = self.idempotent.get(&key) {
                    if *body != req.body {
                        return error(
                            400,
                            "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                        );
                    }
                    return answer.clone();
                }
                let Some(url) = field(&body, "url") else { return error(400, "Missing required param: url.") };
                let events = fields(&body, "enabled_events[]");
                if events.is_empty() {
                    return error(400, "Missing required param: enabled_events.");
                }
                let metadata: Map<String, Value> = body
                    .iter()
                    .filter_map(|(k, v)| {
                        Some((k.strip_prefix("metadata[")?.strip_suffix(']')?.to_owned(), v.clone().into()))
                    })
                    .collect();
                let id = self.new_id("we_fake");
                let description = field(&body, "description");
                let mut object = endpoint_object(&id, &url, events, metadata.into(), livemode, description.as_deref());
                if field(&body, "connect").as_deref() == Some("true") {
                    object["application"] = "ca_fake".into();
                }
                if let Some(version) = field(&body, "api_version") {
                    object["api_version"] = version.into();
                }
                object["secret"] = self.add_endpoint(object.clone(), livemode, account).into();
                let answer = (200, object.to_string());
                self.idempotent.insert(key, (req.body.clone(), answer.clone()));
                answer
            }
            ("GET", "/v1/webhook_endpoints") => {
                let query = form(query);
                let limit = field(&query, "limit").and_then(|l| l.parse().ok()).unwrap_or(10).min(self.max_page_size);
                let all: Vec<&Endpoint> = self.endpoints.iter().filter(|e| mine(e)).collect();
                let start = match field(&query, "starting_after") {
                    Some(after) => {
                        all.iter().position(|e| e.object["id"] == after.as_str()).map_or(all.len(), |p| p + 1)
                    }
                    None => 0,
                };
                let page: Vec<Value> = all.iter().skip(start).take(limit).map(|e| e.object.clone()).collect();
                let has_more = start + page.len() < all.len();
                let list =
                    json!({"object": "list", "url": "/v1/webhook_endpoints", "has_more": has_more, "data": page});
                (200, list.to_string())
            }
            (method, p) if p.starts_with("/v1/webhook_endpoints/") => {
                let id = &p["/v1/webhook_endpoints/".len()..];
                let Some(index) = self.endpoints.iter().position(|e| e.object["id"] == id && mine(e)) else {
                    return error(404, &format!("No such webhook endpoint: '{id}'"));
                };
                match method {
                    "GET" => (200, self.endpoints[index].object.to_string()),
                    "DELETE" if self.fail_deletes => error(500, "the fake refuses deletes"),
                    "DELETE" => {
                        self.endpoints.remove(index);
                        (200, json!({"id": id, "object": "webhook_endpoint", "deleted": true}).to_string())
                    }
                    "POST" => {
                        let object = &mut self.endpoints[index].object;
                        let events = fields(&body, "enabled_events[]");
                        if !events.is_empty() {
                            object["enabled_events"] = json!(events);
                        }
                        match field(&body, "disabled").as_deref() {
                            Some("true") => object["status"] = "disabled".into(),
                            Some("false") => object["status"] = "enabled".into(),
                            Some(other) => return error(400, &format!("Invalid boolean: {other}")),
                            None => {}
                        }
                        if let Some(description) = field(&body, "description") {
                            object["description"] = description.into();
                        }
                        if let Some(url) = field(&body, "url") {
                            object["url"] = url.into();
                        }
                        (200, object.to_string())
                    }
                    _ => error(405, "method not allowed"),
                }
            }
            _ => error(404, &format!("Unrecognized request URL ({} {})", req.method, req.path)),
        }
    }
}

/// A webhook endpoint in Stripe's shape (fixtures3.json's `webhook_endpoint`), without secret.
fn endpoint_object(
    id: &str,
    url: &str,
    events: Vec<String>,
    metadata: Value,
    livemode: bool,
    description: Option<&str>,
) -> Value {
    json!({
        "api_version": null, "application": null, "created": 1234567890, "description": description,
        "enabled_events": events, "id": id, "livemode": livemode, "metadata": metadata,
        "object": "webhook_endpoint", "status": "enabled", "url": url,
    })
}

/// The decoded pairs of a form body or query string.
fn form(encoded: &str) -> Vec<(String, String)> {
    encoded
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn field(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

fn fields(pairs: &[(String, String)], name: &str) -> Vec<String> {
    pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
}

/// Percent-decodes one form component (`+` is a space; a malformed escape stays as it is).
fn decode(component: &str) -> String {
    let bytes = component.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 3)
            .filter(|hex| hex.iter().all(u8::is_ascii_hexdigit))
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match (bytes[i], escaped) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 2;
            }
            (byte, _) => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_forms() {
        assert_eq!(decode("a+b%2Fc%zz%+1%4"), "a b/c%zz% 1%4");
        assert_eq!(
            form("a=1&&b&c=%E2%82%AC"),
            [("a".into(), "1".into()), ("b".into(), String::new()), ("c".into(), "€".into())]
        );
    }

    #[test]
    fn stops_on_drop() {
        let stripe = FakeStripe::start();
        let addr = stripe.addr;
        drop(stripe);
        assert!(TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err(), "no longer listening");
    }
}
