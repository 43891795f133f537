//! [`TestApp`]: an app's whole webhook stack, started for one test — its handlers, its
//! migrations, its settings, a throwaway database and an endpoint with a known secret.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

use super::{EventBuilder, TestDatabase};
use crate::app::{
    AppMigrations, Djstripe, ServeOptions, Server, Settings, Shutdown, SpawnBlocking, WebhookRequest, receive,
    webhook_path,
};
use crate::db::{Backend, NewWebhookEndpoint, Outcome, StoredEvent, WebhookEndpoint, WebhookEventTrigger};
use crate::engine::{Engine, headers_json};
use crate::registry::HandlerSet;
use crate::{Error, Result};

/// The secret of a [`TestApp`]'s endpoint unless [`TestAppBuilder::secret`] says otherwise.
pub const TEST_APP_SECRET: &str = "whsec_test_app_secret";

/// The prefix the webhook routes are under (as `serve` mounts them).
const PREFIX: &str = "/stripe";

/// An app's webhook stack for one test: [`Djstripe`] started on a throwaway [`TestDatabase`]
/// (djstripe's and the app's migrations applied), one local endpoint with a known secret, and
/// ways to send it deliveries and read what became of them.
///
/// Deliveries go through the same flow as the web adapters' ([`crate::app::receive`]: body
/// limit, signature, group commit, handlers in the event's transaction, the JSON answer), in
/// process by default, or over real HTTP through an adapter's server
/// ([`TestAppBuilder::serve`], e.g. `djstripe_actix::Server::new()` with the app's routes).
///
/// **Handlers are global to the test binary** (registered at link time): every `TestApp` runs
/// all of them unless told otherwise. Tests that run in parallel and must not see each other's
/// handlers name theirs with [`TestAppBuilder::handlers`] / [`HandlerSet::only`]; each
/// `TestApp` has its own database, so their rows never mix.
///
/// ```
/// use djstripe_core::testing::{EventBuilder, TestApp};
/// use djstripe_core::{Event, webhook_handler};
///
/// #[webhook_handler("customer.created")]
/// fn welcome(event: &Event) {
///     println!("welcome {}", event.object_id().unwrap_or("?"));
/// }
///
/// # fn main() {
/// let app = TestApp::builder().handlers(djstripe_core::registry::HandlerSet::only(["welcome"])).start();
/// let answer = app.send(&EventBuilder::new("customer.created").id("evt_welcome"));
/// assert_eq!(answer.status, 200);
/// assert_eq!(answer.outcome(), Some(djstripe_core::db::Outcome::Processed));
/// assert_eq!(app.event("evt_welcome").unwrap().type_, "customer.created");
/// assert_eq!(app.send(&EventBuilder::new("customer.created").id("evt_welcome")).outcome(),
///            Some(djstripe_core::db::Outcome::Duplicate));
/// let bad = app.send_raw(b"{}", &[("Stripe-Signature", "t=1,v1=00")]);
/// assert_eq!(bad.status, 400);
/// # }
/// ```
pub struct TestApp {
    // Dropped in this order: the server stops before the database goes away.
    served: Option<Served>,
    djstripe: Djstripe,
    endpoint: WebhookEndpoint,
    secret: String,
    database: TestDatabase,
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp")
            .field("database", &self.database.url())
            .field("endpoint", &self.endpoint.djstripe_uuid)
            .field("url", &self.served.as_ref().map(|s| &s.base))
            .finish_non_exhaustive()
    }
}

/// How a [`TestApp`] is made: see [`TestApp::builder`].
#[must_use]
pub struct TestAppBuilder {
    backend: Backend,
    postgres_server: Option<String>,
    settings: Settings,
    secret: String,
    server: Option<Arc<dyn Server>>,
}

impl std::fmt::Debug for TestAppBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestAppBuilder")
            .field("backend", &self.backend)
            .field("settings", &self.settings)
            .field("served", &self.server.is_some())
            .finish_non_exhaustive()
    }
}

impl TestAppBuilder {
    /// The backend of the throwaway database (default SQLite); PostgreSQL databases are created
    /// on [`super::postgres_server`] (`DJSTRIPE_TEST_PG`) unless [`TestAppBuilder::postgres`] names one.
    ///
    /// ```
    /// use djstripe_core::db::Backend;
    /// let app = djstripe_core::testing::TestApp::builder().backend(Backend::Postgres).start();
    /// assert_eq!(app.database().backend(), Backend::Postgres);
    /// ```
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// A throwaway database on this PostgreSQL server (`postgres://user@host:port`, no database).
    ///
    /// ```
    /// let app = djstripe_core::testing::TestApp::builder().postgres("postgres://postgres@127.0.0.1:5432").start();
    /// assert!(app.database().pg_name().is_some());
    /// ```
    pub fn postgres(mut self, server: impl Into<String>) -> Self {
        self.backend = Backend::Postgres;
        self.postgres_server = Some(server.into());
        self
    }

    /// The app's settings (its `DATABASE_URL` is replaced by the throwaway database's).
    ///
    /// ```
    /// use djstripe_core::app::Settings;
    /// let app = djstripe_core::testing::TestApp::builder().settings(Settings::new("unused").max_body(1024)).start();
    /// let big = vec![b' '; 2048];
    /// assert_eq!(app.send_raw(&big, &[]).status, 413);
    /// ```
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// The app's own migrations (run after djstripe's, as at startup).
    ///
    /// ```
    /// use diesel::connection::SimpleConnection;
    /// use djstripe_core::app::AppMigrations;
    /// let app = djstripe_core::testing::TestApp::builder()
    ///     .migrations(AppMigrations::function(|conn| Ok(conn.batch_execute("CREATE TABLE notes (id TEXT)")?)))
    ///     .start();
    /// assert_eq!(app.database().count("SELECT COUNT(*) AS n FROM notes"), 0);
    /// ```
    pub fn migrations(mut self, migrations: AppMigrations) -> Self {
        self.settings.app_migrations = Some(migrations);
        self
    }

    /// Which of the registered handlers and hooks run (default all): see [`HandlerSet`].
    ///
    /// ```
    /// use djstripe_core::registry::HandlerSet;
    /// let app = djstripe_core::testing::TestApp::builder().handlers(HandlerSet::none()).start();
    /// assert_eq!(app.send_type("customer.created").status, 200);
    /// ```
    pub fn handlers(mut self, handlers: HandlerSet) -> Self {
        self.settings.handlers = handlers;
        self
    }

    /// The endpoint's signing secret (default [`TEST_APP_SECRET`]).
    ///
    /// ```
    /// let app = djstripe_core::testing::TestApp::builder().secret("whsec_mine").start();
    /// assert_eq!(app.secret(), "whsec_mine");
    /// ```
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = secret.into();
        self
    }

    /// Serves the app over real HTTP on a free loopback port through a web adapter's server
    /// (`djstripe_actix::Server::new()`, `djstripe_axum::Server::new()`, with the app's own
    /// routes), and sends every delivery over it. Stopped when the `TestApp` is dropped.
    ///
    /// ```
    /// use djstripe_core::app::{Djstripe, Ready, ServeOptions, Server};
    /// struct NoHttp;
    /// impl Server for NoHttp {
    ///     fn serve(&self, _: Djstripe, _: &ServeOptions, _: Ready<'_>) -> djstripe_core::Result<()> {
    ///         Err(djstripe_core::Error::Io { action: "listening".into(), source: std::io::ErrorKind::AddrInUse.into() })
    ///     }
    /// }
    /// let err = djstripe_core::testing::TestApp::builder().serve(NoHttp).try_start().unwrap_err();
    /// assert!(err.to_string().contains("listening"));
    /// ```
    pub fn serve(mut self, server: impl Server + 'static) -> Self {
        self.server = Some(Arc::new(server));
        self
    }

    /// Starts it. Panics with the reason when it cannot (see [`TestAppBuilder::try_start`]).
    ///
    /// ```
    /// let app = djstripe_core::testing::TestApp::builder().start();
    /// # let _ = app;
    /// ```
    pub fn start(self) -> TestApp {
        self.try_start().unwrap_or_else(|e| panic!("TestApp: could not start: {e}"))
    }

    /// Starts it, or says why not: settings that do not hold ([`Error::InvalidSetting`]), the
    /// app's migrations failing ([`Error::Migration`]), a server that cannot listen.
    ///
    /// # Errors
    /// Those of [`Djstripe::start`] and [`Server::serve`].
    ///
    /// ```
    /// use djstripe_core::registry::HandlerSet;
    /// let err = djstripe_core::testing::TestApp::builder().handlers(HandlerSet::only(["nope"])).try_start().unwrap_err();
    /// assert!(err.to_string().contains("no handler `nope`"));
    /// ```
    pub fn try_start(self) -> Result<TestApp> {
        let mut database = TestDatabase::builder(self.backend).migrated(false);
        if let Some(server) = &self.postgres_server {
            database = database.server(server.clone());
        }
        let database = database.build();
        let mut settings = self.settings;
        settings.database_url = database.url().to_owned();
        let djstripe = Djstripe::start(settings)?;
        let endpoint = djstripe.engine().database().insert_endpoint(&NewWebhookEndpoint::local(self.secret.clone()))?;
        let served = self.server.map(|server| Served::start(server, djstripe.clone())).transpose()?;
        Ok(TestApp { served, djstripe, endpoint, secret: self.secret, database })
    }
}

impl TestApp {
    /// A `TestApp` with every handler, on SQLite, in process.
    ///
    /// ```
    /// let app = djstripe_core::testing::TestApp::new();
    /// assert_eq!(app.send_type("price.created").status, 200);
    /// ```
    pub fn new() -> Self {
        Self::builder().start()
    }

    /// A builder: backend, settings, migrations, handlers, secret, HTTP server.
    ///
    /// ```
    /// let app = djstripe_core::testing::TestApp::builder().secret("whsec_x").start();
    /// # let _ = app;
    /// ```
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            backend: Backend::Sqlite,
            postgres_server: None,
            settings: Settings::new(""),
            secret: TEST_APP_SECRET.to_owned(),
            server: None,
        }
    }

    /// The running app: settings, operator operations ([`Djstripe::reprocess`], ...).
    ///
    /// ```
    /// let app = djstripe_core::testing::TestApp::new();
    /// assert_eq!(app.djstripe().endpoints().unwrap().len(), 1);
    /// ```
    pub fn djstripe(&self) -> &Djstripe {
        &self.djstripe
    }

    /// The engine (shorthand for `djstripe().engine()`).
    ///
    /// ```
    /// let app = djstripe_core::testing::TestApp::new();
    /// assert_eq!(app.engine().database().counts().unwrap(), (0, 0));
    /// ```
    pub fn engine(&self) -> &Engine {
        self.djstripe.engine()
    }

    /// The throwaway database: [`TestDatabase::count`], [`TestDatabase::execute`], its URL, and
    /// (through `Deref`) the [`crate::db::Database`] queries.
    ///
    /// ```
    /// let app = djstripe_core::testing::TestApp::new();
    /// app.send_type("customer.created");
    /// assert_eq!(app.database().count("SELECT COUNT(*) AS n FROM djstripe_webhookeventtrigger"), 1);
    /// ```
    pub fn database(&self) -> &TestDatabase {
        &self.database
    }

    /// The endpoint deliveries are sent to.
    ///
    /// ```
    /// let app = djstripe_core::testing::TestApp::new();
    /// assert!(app.webhook_path().contains(&app.endpoint().djstripe_uuid));
    /// ```
    pub fn endpoint(&self) -> &WebhookEndpoint {
        &self.endpoint
    }

    /// The endpoint's signing secret.
    ///
    /// ```
    /// let app = djstripe_core::testing::TestApp::new();
    /// assert_eq!(app.secret(), djstripe_core::testing::TEST_APP_SECRET);
    /// ```
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The endpoint's path, `/stripe/webhook/{uuid}/`.
    ///
    /// ```
    /// let app = djstripe_core::testing::TestApp::new();
    /// assert!(app.webhook_path().starts_with("/stripe/webhook/"));
    /// ```
    pub fn webhook_path(&self) -> String {
        format!("{PREFIX}/webhook/{}/", self.endpoint.djstripe_uuid)
    }

    /// The server's base URL (`http://127.0.0.1:port`) when served over HTTP, for requests of
    /// the test's own (the app's routes, the admin pages).
    ///
    /// ```
    /// assert!(djstripe_core::testing::TestApp::new().url().is_none(), "in process");
    /// ```
    pub fn url(&self) -> Option<&str> {
        self.served.as_ref().map(|s| s.base.as_str())
    }

    /// Sends `event`, signed now with the endpoint's secret.
    ///
    /// ```
    /// use djstripe_core::testing::{EventBuilder, TestApp};
    /// let app = TestApp::new();
    /// let answer = app.send(&EventBuilder::new("invoice.paid").merge_object(serde_json::json!({"amount_paid": 500})));
    /// assert_eq!(answer.status, 200);
    /// let stored = app.event(answer.event_id().unwrap()).unwrap().to_event().unwrap();
    /// assert_eq!(stored.data.object["amount_paid"], 500);
    /// ```
    pub fn send(&self, event: &EventBuilder) -> TestAnswer {
        let signed = event.signed(&self.secret);
        self.send_raw(&signed.body, &[("Stripe-Signature", &signed.header), ("Content-Type", "application/json")])
    }

    /// Sends a signed event of `event_type` built from Stripe's example object.
    ///
    /// ```
    /// let app = djstripe_core::testing::TestApp::new();
    /// assert_eq!(app.send_type("checkout.session.completed").status, 200);
    /// ```
    pub fn send_type(&self, event_type: &str) -> TestAnswer {
        self.send(&EventBuilder::new(event_type))
    }

    /// POSTs `body` with exactly these headers to the endpoint (no signature unless given).
    ///
    /// ```
    /// let app = djstripe_core::testing::TestApp::new();
    /// let answer = app.send_raw(b"not json", &[]);
    /// assert_eq!((answer.status, answer.outcome()), (400, Some(djstripe_core::db::Outcome::Invalid)));
    /// ```
    pub fn send_raw(&self, body: &[u8], headers: &[(&str, &str)]) -> TestAnswer {
        self.post(&self.webhook_path(), body, headers)
    }

    /// POSTs `body` to any `path` of the app (`/stripe/webhook/` is the legacy endpoint; an
    /// unknown UUID answers 404), with these headers.
    ///
    /// ```
    /// let app = djstripe_core::testing::TestApp::new();
    /// assert_eq!(app.post("/stripe/webhook/00000000-0000-4000-8000-000000000000/", b"{}", &[]).status, 404);
    /// ```
    pub fn post(&self, path: &str, body: &[u8], headers: &[(&str, &str)]) -> TestAnswer {
        match &self.served {
            Some(served) => served.request("POST", path, body, headers),
            None => self.receive(path, body, headers),
        }
    }

    /// GETs `path` of the served app (its own routes, the admin pages); the body is JSON when
    /// it parses as JSON, else a string. Panics when not served over HTTP
    /// ([`TestAppBuilder::serve`]): in process there are only djstripe's webhook routes.
    ///
    /// ```
    /// let app = djstripe_core::testing::TestApp::new();
    /// let in_process = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| app.get("/health")));
    /// assert!(in_process.is_err(), "served only");
    /// ```
    pub fn get(&self, path: &str) -> TestAnswer {
        let served = self.served.as_ref().expect("TestApp::get needs an HTTP server: build it with .serve(...)");
        served.request("GET", path, b"", &[])
    }

    /// Blocks until the `on_commit` callbacks of every delivery answered so far have run.
    ///
    /// ```
    /// use djstripe_core::testing::TestApp;
    /// let app = TestApp::new();
    /// app.send_type("customer.subscription.trial_will_end");
    /// app.wait_on_commit(); // a callback that mails or enqueues has run now
    /// ```
    pub fn wait_on_commit(&self) {
        self.engine().flush_on_commit();
    }

    /// The trigger row of `id` ([`TestAnswer::trigger_id`]).
    ///
    /// # Errors
    /// [`Error::NotFound`].
    ///
    /// ```
    /// let app = djstripe_core::testing::TestApp::new();
    /// let answer = app.send_type("customer.created");
    /// let trigger = app.trigger(answer.trigger_id().unwrap()).unwrap();
    /// assert!(trigger.valid && trigger.processed);
    /// ```
    pub fn trigger(&self, id: i64) -> Result<WebhookEventTrigger> {
        self.engine().database().trigger(id)
    }

    /// The stored event `id` (`evt_...`).
    ///
    /// # Errors
    /// [`Error::NotFound`] when it is not stored (never received, or its handlers failed).
    ///
    /// ```
    /// let app = djstripe_core::testing::TestApp::new();
    /// assert!(app.event("evt_never").is_err());
    /// ```
    pub fn event(&self, id: &str) -> Result<StoredEvent> {
        self.engine().database().event(id)
    }

    /// In process: what an adapter does with the request, minus HTTP.
    fn receive(&self, path: &str, body: &[u8], headers: &[(&str, &str)]) -> TestAnswer {
        let Some(rest) = path.strip_prefix(PREFIX).and_then(|p| p.strip_prefix("/webhook")) else {
            return TestAnswer { status: 404, body: Value::Null };
        };
        let signature =
            headers.iter().find(|(name, _)| name.eq_ignore_ascii_case("stripe-signature")).map(|(_, v)| v.as_bytes());
        let request = WebhookRequest {
            path: webhook_path(rest),
            signature: signature.map(<[u8]>::to_vec),
            headers: headers_json(headers.iter().map(|(name, value)| (*name, value.as_bytes()))),
            remote_ip: "127.0.0.1".into(),
            content_length: Some(body.len()),
        };
        let threads = SpawnBlocking(|job| drop(std::thread::spawn(job)));
        let stream = OneChunk(Some(body.to_vec()));
        let answer = futures_executor::block_on(receive(&self.djstripe, request, stream, &threads));
        TestAnswer { status: answer.status, body: answer.body }
    }
}

impl Default for TestApp {
    fn default() -> Self {
        Self::new()
    }
}

/// A body of one chunk, as a byte stream.
struct OneChunk(Option<Vec<u8>>);

impl futures_core::Stream for OneChunk {
    type Item = std::result::Result<Vec<u8>, std::convert::Infallible>;
    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.0.take().map(Ok))
    }
}

/// The app served over HTTP on a thread of its own.
struct Served {
    base: String,
    shutdown: Shutdown,
    thread: Option<JoinHandle<Result<()>>>,
    agent: ureq::Agent,
}

impl Served {
    fn start(server: Arc<dyn Server>, djstripe: Djstripe) -> Result<Self> {
        let shutdown = Shutdown::new();
        let options = ServeOptions {
            bind: "127.0.0.1:0".into(),
            workers: Some(2),
            prefix: PREFIX.into(),
            shutdown: Some(shutdown.clone()),
        };
        let (bound, address) = std::sync::mpsc::channel::<SocketAddr>();
        let thread = std::thread::Builder::new()
            .name("djstripe-test-app".into())
            .spawn(move || {
                server.serve(djstripe, &options, &mut |addr| {
                    let _ = bound.send(addr);
                })
            })
            .map_err(|source| Error::Io { action: "starting the test server's thread".into(), source })?;
        let addr = match address.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => addr,
            // It returned (or hung) before listening: its error says why.
            Err(_) => {
                return Err(match thread.join() {
                    Ok(Err(error)) => error,
                    _ => Error::Io {
                        action: "starting the test server".into(),
                        source: std::io::ErrorKind::TimedOut.into(),
                    },
                });
            }
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Ok(Self { base: format!("http://{addr}"), shutdown, thread: Some(thread), agent })
    }

    fn request(&self, method: &str, path: &str, body: &[u8], headers: &[(&str, &str)]) -> TestAnswer {
        let url = format!("{}{path}", self.base);
        let response = if method == "GET" {
            let mut request = self.agent.get(&url);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            request.call()
        } else {
            let mut request = self.agent.post(&url);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            request.send(body)
        };
        let mut response = response.unwrap_or_else(|e| panic!("TestApp: {method} {url}: {e}"));
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        TestAnswer { status, body }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.shutdown.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The answer to a delivery (or a [`TestApp::get`]): the HTTP status and the JSON body
/// (`status`, `trigger_id`, `event_id`, `error`; see [`crate::app::WebhookAnswer`]).
///
/// ```
/// let app = djstripe_core::testing::TestApp::new();
/// let answer = app.send_type("customer.created");
/// assert_eq!(answer.body["status"], "processed");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TestAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body (`Null` for a path outside the webhook routes, in process).
    pub body: Value,
}

impl TestAnswer {
    /// What became of the delivery (`None` when no trigger row was written: 404, 503).
    ///
    /// ```
    /// let app = djstripe_core::testing::TestApp::new();
    /// assert_eq!(app.send_type("customer.created").outcome(), Some(djstripe_core::db::Outcome::Processed));
    /// ```
    pub fn outcome(&self) -> Option<Outcome> {
        self.trigger_id()?;
        self.body["status"].as_str()?.parse().ok()
    }

    /// The trigger row's id, when one was written.
    ///
    /// ```
    /// let app = djstripe_core::testing::TestApp::new();
    /// assert!(app.send_type("customer.created").trigger_id().is_some());
    /// ```
    pub fn trigger_id(&self) -> Option<i64> {
        self.body["trigger_id"].as_i64()
    }

    /// The event's id, for a delivery that carried a valid event.
    ///
    /// ```
    /// let app = djstripe_core::testing::TestApp::new();
    /// let event = djstripe_core::testing::EventBuilder::new("customer.created").id("evt_1");
    /// assert_eq!(app.send(&event).event_id(), Some("evt_1"));
    /// ```
    pub fn event_id(&self) -> Option<&str> {
        self.body["event_id"].as_str()
    }

    /// The error message shown to the sender, if any.
    ///
    /// ```
    /// let app = djstripe_core::testing::TestApp::new();
    /// assert!(app.send_raw(b"{}", &[]).error().unwrap().contains("Stripe-Signature"));
    /// ```
    pub fn error(&self) -> Option<&str> {
        self.body["error"].as_str()
    }
}
