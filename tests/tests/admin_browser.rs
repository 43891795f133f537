#![allow(missing_docs)]
//! The admin pages in a real browser: headless Chromium driven over chromedriver (fantoccini)
//! against the shop as a process, with a fake Stripe API for "add endpoint".
//!
//! Built and run only with the crate's feature `browser` (`cargo test -p djstripe-tests --features
//! browser --test admin_browser`, as `.ci/run` does), so that the README's test command passes on
//! a machine without a browser. Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`,
//! `/usr/bin/chromedriver`; override with `CHROMIUM` / `CHROMEDRIVER`): once asked for, missing
//! ones FAIL the test, they never skip it.
//! Screenshots go to `target/tmp/admin-screenshots/`, and to `docs/screenshots/` with
//! `DJSTRIPE_UPDATE_SCREENSHOTS=1`.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use djstripe_core::testing::{EventBuilder, FakeStripe};
use djstripe_tests::{Backend, Server, TestDb, post, shop};
use fantoccini::{Client, ClientBuilder, Locator};

const PASSWORD: &str = "browser-test-password";

fn tool(var: &str, default: &str) -> PathBuf {
    let path = PathBuf::from(std::env::var(var).unwrap_or_else(|_| default.to_owned()));
    assert!(
        path.exists(),
        "{} is missing: the admin's browser test needs it (install with `apt-get install -y chromium chromium-driver`, \
         or set {var}); this test fails rather than skip",
        path.display(),
    );
    path
}

/// chromedriver on a free port; killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Self {
        let binary = tool("CHROMEDRIVER", "/usr/bin/chromedriver");
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not listen on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, url: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(driver: &Driver, profile: &std::path::Path) -> Client {
    let chromium = tool("CHROMIUM", "/usr/bin/chromium");
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        &format!("--user-data-dir={}", profile.display()),
    ];
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), serde_json::json!({ "binary": chromium.to_str().unwrap(), "args": args }));
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector).capabilities(caps).connect(&driver.url).await.expect("a Chromium session")
}

struct Shots {
    dirs: Vec<PathBuf>,
}

impl Shots {
    fn new() -> Self {
        let mut dirs = vec![PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("admin-screenshots")];
        if std::env::var("DJSTRIPE_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
            dirs.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots"));
        }
        for dir in &dirs {
            std::fs::create_dir_all(dir).unwrap();
        }
        Self { dirs }
    }

    async fn take(&self, client: &Client, name: &str) {
        let png = client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        for dir in &self.dirs {
            std::fs::write(dir.join(format!("admin-{name}.png")), &png).unwrap();
        }
    }
}

async fn text(client: &Client, css: &str) -> String {
    client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("`{css}` on the page: {e}")).text().await.unwrap()
}

async fn fill(client: &Client, css: &str, value: &str) {
    let field = client.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

/// Clicks what `css` finds and waits for the next page to be loaded.
async fn click(client: &Client, css: &str) {
    let old = client.find(Locator::Css("html")).await.unwrap();
    client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("`{css}` on the page: {e}")).click().await.unwrap();
    let started = Instant::now();
    while old.tag_name().await.is_ok() {
        assert!(started.elapsed() < Duration::from_secs(20), "no new page after clicking `{css}`");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    loop {
        let state = client.execute("return document.readyState", vec![]).await;
        if state.is_ok_and(|s| s == "complete") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the page after clicking `{css}` did not load");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

async fn path(client: &Client) -> String {
    let url = client.current_url().await.unwrap();
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_in_a_real_browser() {
    let stripe = FakeStripe::start();
    let db = TestDb::new(Backend::Sqlite);
    let hash = djstripe_actix::admin::hash_password(PASSWORD);
    let env = [
        ("DJSTRIPE_ADMIN_PASSWORD_HASH", hash.as_str()),
        ("STRIPE_API_BASE", stripe.base_url()),
        ("STRIPE_TEST_SECRET_KEY", FakeStripe::TEST_KEY),
    ];
    let server = Server::start(&db, &env);
    let admin = format!("{}/stripe/admin", server.base);
    let driver = Driver::start();
    let profile = tempfile::tempdir().unwrap();
    let client = browser(&driver, profile.path()).await;
    let shots = Shots::new();
    let result = run(&client, &shots, &server, &db, &stripe, &admin).await;
    let _ = client.close().await;
    result.unwrap();
}

async fn run(
    client: &Client,
    shots: &Shots,
    server: &Server,
    db: &TestDb,
    stripe: &FakeStripe,
    admin: &str,
) -> Result<(), String> {
    // Log in: an anonymous visit lands on the login form.
    client.goto(&format!("{admin}/")).await.unwrap();
    assert_eq!(path(client).await, "/stripe/admin/login?next=/stripe/admin/");
    shots.take(client, "login").await;
    // The stylesheet applies under the page's CSP (allowed by its hash; a blocked one would leave
    // the browser's defaults), and the layout comes from classes (a style attribute would not).
    let computed = |script: &'static str| async move { client.execute(script, vec![]).await.unwrap() };
    let background = computed("return getComputedStyle(document.body).backgroundColor").await;
    assert_eq!(background.as_str(), Some("rgb(246, 247, 249)"), "the admin's stylesheet applies");
    let width = computed("return getComputedStyle(document.querySelector('.card')).maxWidth").await;
    assert_eq!(width.as_str(), Some("384px"), "the login card's class applies");
    fill(client, "#user", "admin").await;
    fill(client, "#password", "wrong").await;
    click(client, "form[action$='/login'] button[type=submit]").await;
    assert!(text(client, ".error").await.contains("Wrong user name or password"));
    fill(client, "#password", PASSWORD).await;
    click(client, "form[action$='/login'] button[type=submit]").await;
    assert_eq!(path(client).await, "/stripe/admin/triggers/");

    // Add an endpoint at the (fake) Stripe API: the base URL is not prefilled with this machine's
    // own address (Stripe cannot reach it; DJSTRIPE_WEBHOOK_BASE_URL is unset), and a local one
    // is refused with a clear message.
    client.goto(&format!("{admin}/endpoints/new")).await.unwrap();
    let prefilled = client.find(Locator::Css("#base_url")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(prefilled.as_deref(), Some(""));
    shots.take(client, "endpoint-new").await;
    fill(client, "#base_url", &server.base).await;
    click(client, "form[action$='/endpoints/'] button[type=submit]").await;
    let refusal = text(client, ".error").await;
    assert!(refusal.contains("127.0.0.1") && refusal.contains("Stripe cannot reach"), "{refusal}");
    fill(client, "#base_url", "https://shop.example.com").await;
    fill(client, "#description", "added in the browser").await;
    click(client, "form[action$='/endpoints/'] button[type=submit]").await;
    assert_eq!(path(client).await, "/stripe/admin/endpoints/?done=created");
    let creation = stripe.seen().into_iter().find(|r| r.method == "POST").expect("a creation at Stripe");
    let sent_url = creation.field("url").unwrap_or_default();
    assert!(sent_url.starts_with("https://shop.example.com/stripe/webhook/"), "{creation:?}");
    let at_stripe = stripe.endpoints();
    assert_eq!(at_stripe.len(), 1, "{at_stripe:?}");
    let stripe_id = at_stripe[0]["id"].as_str().unwrap().to_owned();
    let stripe_secret = stripe.secret(&stripe_id).unwrap();
    let page = client.source().await.unwrap();
    assert!(page.contains("added in the browser") && page.contains(&stripe_id), "listed");
    assert!(!page.contains(&stripe_secret) && !page.contains(&server.secret(db)), "no secret on the page");
    shots.take(client, "endpoints").await;
    let database = djstripe_core::db::Database::connect(db.url()).unwrap();
    let created =
        database.endpoints().unwrap().into_iter().find(|e| e.stripe_id.as_deref() == Some(stripe_id.as_str())).unwrap();
    assert_eq!(created.secret, stripe_secret);
    assert_eq!(created.url, format!("https://shop.example.com/stripe/webhook/{}/", created.djstripe_uuid));

    // Signed deliveries: one with `shop trigger` that succeeds, one whose handler fails.
    let base = server.base.as_str();
    let uuid = created.djstripe_uuid.as_str();
    let ok = shop(db, &[], &["trigger", "customer.created", "--endpoint", uuid, "--base-url", base]);
    assert_eq!(ok.0, 0, "{ok:?}");
    let secret = db.endpoint_by_uuid(uuid).unwrap().unwrap().secret;
    let failing = EventBuilder::new("customer.updated").metadata("fail", "yes").signed(&secret);
    let url = format!("{base}/stripe/webhook/{uuid}/");
    assert_eq!(post(&url, &failing.body, Some(&failing.header)).status, 500, "the handler fails");

    client.goto(&format!("{admin}/triggers/")).await.unwrap();
    let rows = client.find_all(Locator::Css("tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 2, "both deliveries are listed");
    let newest = rows[0].text().await.unwrap();
    assert!(newest.contains("customer.updated") && newest.contains("failed"), "newest first: {newest}");
    assert!(rows[1].text().await.unwrap().contains("customer.created"));
    shots.take(client, "triggers").await;

    // Filter the failed ones, open it, read its error.
    client.find(Locator::Css("#f-failed")).await.unwrap().click().await.unwrap(); // a checkbox: no new page
    click(client, "form.filters button[type=submit]").await;
    assert!(path(client).await.contains("failed=yes"));
    assert_eq!(client.find_all(Locator::Css("tbody tr")).await.unwrap().len(), 1);
    click(client, "tbody tr td a").await;
    let error = text(client, "#exception").await;
    assert!(error.contains("metadata.fail = \"yes\""), "{error}");
    shots.take(client, "trigger-failed").await;

    // Reprocess: the new attempt's page shows its outcome (the handler fails again).
    let original = path(client).await;
    click(client, "#reprocess").await;
    let attempt = path(client).await;
    assert!(attempt.ends_with("?done=reprocessed") && attempt != original, "{attempt}");
    assert!(text(client, ".notice").await.contains("this is the new attempt"));
    assert_eq!(text(client, "#outcome").await, "failed");
    assert!(text(client, "#exception").await.contains("metadata.fail"));
    let page = client.source().await.unwrap();
    assert!(page.contains(&format!("href=\"{original}\"")), "links back to the original delivery");
    shots.take(client, "trigger-reprocessed").await;

    // Events: the processed one, its JSON and handlers.
    client.goto(&format!("{admin}/events/")).await.unwrap();
    assert_eq!(client.find_all(Locator::Css("tbody tr")).await.unwrap().len(), 1);
    shots.take(client, "events").await;
    click(client, "tbody tr td a").await;
    let page = client.source().await.unwrap();
    assert!(page.contains("shop::record_customer_event") && page.contains("\"object\": \"event\""), "{page}");
    shots.take(client, "event").await;

    client.goto(&format!("{admin}/handlers/")).await.unwrap();
    let handlers = text(client, "table").await;
    assert!(handlers.contains("shop::remind_trial_ending") && handlers.contains("examples/shop/src/lib.rs:"));
    shots.take(client, "handlers").await;

    // A phone-sized window.
    client.set_window_size(390, 844).await.unwrap();
    client.goto(&format!("{admin}/triggers/")).await.unwrap();
    shots.take(client, "triggers-phone").await;
    client.goto(&format!("{}{attempt}", server.base)).await.unwrap();
    shots.take(client, "trigger-phone").await;

    // Log out: back to the login form.
    click(client, "form[action$='/logout'] button").await;
    assert!(path(client).await.starts_with("/stripe/admin/login"));
    client.goto(&format!("{admin}/triggers/")).await.unwrap();
    assert!(path(client).await.starts_with("/stripe/admin/login"));
    Ok(())
}

/// Creating an endpoint for a connected account typed into the form (issue 15: the account list
/// offered only accounts that already had an endpoint), with Connect and an API version, the base
/// URL prefilled from `DJSTRIPE_WEBHOOK_BASE_URL`; then disabling it acts at Stripe too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_an_endpoint_for_a_typed_in_account() {
    let stripe = FakeStripe::start();
    let db = TestDb::new(Backend::Sqlite);
    let hash = djstripe_actix::admin::hash_password(PASSWORD);
    let env = [
        ("DJSTRIPE_ADMIN_PASSWORD_HASH", hash.as_str()),
        ("STRIPE_API_BASE", stripe.base_url()),
        ("STRIPE_TEST_SECRET_KEY", FakeStripe::TEST_KEY),
        ("DJSTRIPE_WEBHOOK_BASE_URL", "https://shop.example.com"),
    ];
    let server = Server::start(&db, &env);
    let admin = format!("{}/stripe/admin", server.base);
    let driver = Driver::start();
    let profile = tempfile::tempdir().unwrap();
    let client = browser(&driver, profile.path()).await;
    let result = create_for_account(&client, &db, &stripe, &admin).await;
    let _ = client.close().await;
    result.unwrap();
}

async fn create_for_account(client: &Client, db: &TestDb, stripe: &FakeStripe, admin: &str) -> Result<(), String> {
    client.goto(&format!("{admin}/login")).await.unwrap();
    fill(client, "#user", "admin").await;
    fill(client, "#password", PASSWORD).await;
    click(client, "form[action$='/login'] button[type=submit]").await;

    client.goto(&format!("{admin}/endpoints/new")).await.unwrap();
    let prefilled = client.find(Locator::Css("#base_url")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(prefilled.as_deref(), Some("https://shop.example.com"), "from DJSTRIPE_WEBHOOK_BASE_URL");
    fill(client, "#account", "acct_1TypedInTheForm").await;
    fill(client, "#enabled_events", "invoice.paid, customer.subscription.deleted").await;
    fill(client, "#api_version", "2026-07-29.dahlia").await;
    client.find(Locator::Css("#connect")).await.unwrap().click().await.unwrap(); // a checkbox: no new page
    click(client, "form[action$='/endpoints/'] button[type=submit]").await;
    assert_eq!(path(client).await, "/stripe/admin/endpoints/?done=created");

    let creation = stripe.seen().into_iter().find(|r| r.method == "POST").expect("a creation at Stripe");
    assert_eq!(creation.header("stripe-account"), Some("acct_1TypedInTheForm"));
    assert_eq!(creation.field("connect").as_deref(), Some("true"));
    assert_eq!(creation.field("api_version").as_deref(), Some("2026-07-29.dahlia"));
    assert_eq!(creation.fields("enabled_events[]"), ["invoice.paid", "customer.subscription.deleted"]);
    let page = client.source().await.unwrap();
    assert!(page.contains("acct_1TypedInTheForm"), "listed with its account");
    let stored = djstripe_core::db::Database::connect(db.url()).unwrap().endpoints().unwrap();
    let created = stored.iter().find(|e| e.stripe_id.is_some()).expect("stored");
    assert_eq!((created.account.as_deref(), created.connect), (Some("acct_1TypedInTheForm"), true));
    let stripe_id = created.stripe_id.clone().unwrap();

    // Disable it: Stripe stops delivering too.
    click(client, &format!("form[action$='/endpoints/{}/status'] button[type=submit]", created.id)).await;
    assert_eq!(path(client).await, "/stripe/admin/endpoints/?done=status");
    assert_eq!(stripe.endpoint(&stripe_id).unwrap()["status"], "disabled");
    Ok(())
}

/// A page of another origin on the same host (another port: the same site, as a sibling
/// subdomain is): it plants `djstripe_admin_csrf=attacker` for the whole host and offers a form
/// that posts the planted value to the admin. Answers every request alike, until dropped.
struct Attacker {
    base: String,
}

impl Attacker {
    fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                use std::io::{Read, Write};
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let html = format!(
                    "<!doctype html><title>prize</title><form method=post action=\"{target}\">\
                     <input type=hidden name=csrf_token value=attacker>\
                     <input type=hidden name=status value=disabled>\
                     <button id=go type=submit>Claim your prize</button></form>"
                );
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nSet-Cookie: djstripe_admin_csrf=attacker; Path=/\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{html}",
                    html.len()
                );
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        Self { base }
    }
}

/// Issue 15, 2 and 3 in a browser: a logged-in admin lured to another origin's page posts its
/// form with the session cookie and a planted CSRF cookie — refused, nothing changes; logout
/// ends the session even for a browser that kept the cookie.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_refuses_cross_origin_posts_and_logout_ends_the_session() {
    let db = TestDb::new(Backend::Sqlite);
    let hash = djstripe_actix::admin::hash_password(PASSWORD);
    let server = Server::start(&db, &[("DJSTRIPE_ADMIN_PASSWORD_HASH", hash.as_str())]);
    let admin = format!("{}/stripe/admin", server.base);
    let endpoint = db.endpoint_by_uuid(&server.uuid).unwrap().unwrap();
    let attacker = Attacker::start(format!("{admin}/endpoints/{}/status", endpoint.id));
    let driver = Driver::start();
    let profile = tempfile::tempdir().unwrap();
    let client = browser(&driver, profile.path()).await;
    let result = attacked(&client, &server, &db, &admin, &attacker, &endpoint.djstripe_uuid).await;
    let _ = client.close().await;
    result.unwrap();
}

async fn attacked(
    client: &Client,
    server: &Server,
    db: &TestDb,
    admin: &str,
    attacker: &Attacker,
    uuid: &str,
) -> Result<(), String> {
    client.goto(&format!("{admin}/login")).await.unwrap();
    fill(client, "#user", "admin").await;
    fill(client, "#password", PASSWORD).await;
    click(client, "form[action$='/login'] button[type=submit]").await;
    assert_eq!(path(client).await, "/stripe/admin/triggers/");
    let session = client.get_named_cookie("djstripe_admin_session").await.unwrap();
    assert!(session.http_only() == Some(true), "{session:?}");
    let session = session.value().to_owned();

    // The lure: the browser sends the session (same site) and the planted cookie along.
    client.goto(&format!("{}/prize", attacker.base)).await.unwrap();
    click(client, "#go").await;
    let page = client.source().await.unwrap();
    assert!(page.contains("came from another site"), "refused: {page}");
    assert!(db.endpoint_by_uuid(uuid).unwrap().unwrap().is_enabled(), "nothing changed");

    // Still logged in on the admin's own pages; then log out.
    client.goto(&format!("{admin}/triggers/")).await.unwrap();
    assert_eq!(path(client).await, "/stripe/admin/triggers/");
    let cookie = format!("djstripe_admin_session={session}");
    assert_eq!(status_with_cookie(server, "/stripe/admin/triggers/", &cookie), 200, "the copied cookie works, for now");
    click(client, "form[action$='/logout'] button").await;
    assert!(path(client).await.starts_with("/stripe/admin/login"));

    // A browser that kept the cookie (or anyone who copied it) is logged out all the same.
    assert_eq!(
        status_with_cookie(server, "/stripe/admin/triggers/", &format!("djstripe_admin_session={session}")),
        303
    );
    Ok(())
}

/// The status of `GET path` with `cookie`, over a raw connection (what a copied cookie gets).
fn status_with_cookie(server: &Server, path: &str, cookie: &str) -> u16 {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n", &server.base[7..]);
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("not HTTP: {answer}"))
}
