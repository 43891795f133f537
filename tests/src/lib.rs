//! Harness for the end-to-end tests: throwaway databases on both backends (djstripe-core's
//! `testing::TestDatabase`), the example app as a real process on a loopback port — served by
//! either web adapter — and a small HTTP client.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Which database a test runs on: a SQLite file in a temporary directory, or a fresh database
/// on the PostgreSQL server of this machine.
pub use djstripe_core::db::Backend;
use djstripe_core::testing::TestDatabase;

/// Which web adapter serves the example shop: the same handlers and command line, built as
/// `e2e-shop` (actix-web) or `e2e-shop-axum` (axum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    /// `djstripe-actix`.
    Actix,
    /// `djstripe-axum`.
    Axum,
}

impl Adapter {
    /// The shop binary of this adapter.
    pub fn binary(self) -> &'static str {
        match self {
            Adapter::Actix => "e2e-shop",
            Adapter::Axum => "e2e-shop-axum",
        }
    }
}

/// What one end-to-end test runs on: a database backend and a web adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stack {
    /// The database.
    pub backend: Backend,
    /// The web adapter.
    pub adapter: Adapter,
}

/// A backend alone is served by actix-web (the CLI tests, which need no second adapter).
impl From<Backend> for Stack {
    fn from(backend: Backend) -> Self {
        Stack { backend, adapter: Adapter::Actix }
    }
}

/// A throwaway, empty database (a [`TestDatabase`], not migrated: the shop migrates it) and the
/// web adapter whose shop binary [`Server`] and [`shop`] run against it. Derefs to the
/// [`TestDatabase`]: `url()`, `count`, `execute`, `admin_execute`, `pg_name()`, ...
pub struct TestDb {
    /// The database; dropped (PostgreSQL) or deleted (SQLite) with the value.
    pub database: TestDatabase,
    /// The web adapter of the shop run against it.
    pub adapter: Adapter,
}

impl TestDb {
    /// A new, empty database. PostgreSQL must be running: a missing server fails the test.
    pub fn new(stack: impl Into<Stack>) -> Self {
        let Stack { backend, adapter } = stack.into();
        Self { database: TestDatabase::builder(backend).migrated(false).build(), adapter }
    }
}

impl std::ops::Deref for TestDb {
    type Target = TestDatabase;
    fn deref(&self) -> &TestDatabase {
        &self.database
    }
}

/// The example app's binary for `adapter` (`e2e-shop`, `e2e-shop-axum`), which cargo builds
/// beside the test executables (`target/<profile>/e2e-shop`, tests in `target/<profile>/deps/`).
pub fn shop_binary(adapter: Adapter) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let bin = profile_dir.join(format!("{}{}", adapter.binary(), std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "{} is missing: run the tests with cargo test", bin.display());
    bin
}

/// A shop command against `db` with exactly `env` (and `PATH`): nothing of the test's own
/// environment leaks into it.
fn shop_command(db: &TestDb, env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut command = Command::new(shop_binary(db.adapter));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", db.url())
        .envs(env.iter().copied());
    command
}

/// Runs a shop command to completion: (exit code, stdout, stderr).
pub fn shop(db: &TestDb, env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let out = shop_command(db, env, args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Starts a shop command without waiting for it (output discarded): to kill it midway.
pub fn shop_spawn(db: &TestDb, env: &[(&str, &str)], args: &[&str]) -> std::process::Child {
    shop_command(db, env, args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
}

/// Like [`shop`], with `input` written to the command's stdin (a pipe, not a terminal: what
/// `admin set-password` reads the password from in scripts).
pub fn shop_with_stdin(db: &TestDb, env: &[(&str, &str)], args: &[&str], input: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = shop_command(db, env, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The command may stop before reading (an error): a closed pipe is no failure here.
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a shop command in the directory `cwd` without `DATABASE_URL`, so that the app's default
/// database (`sqlite://shop.sqlite3`, relative to `cwd`) applies: (exit code, stdout, stderr).
pub fn shop_in(cwd: &std::path::Path, adapter: Adapter, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(shop_binary(adapter))
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The example app serving on a free loopback port; killed on drop.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The development endpoint's uuid.
    pub uuid: String,
    /// Everything printed at startup.
    pub banner: Vec<String>,
}

impl Server {
    /// Starts `shop serve --bind 127.0.0.1:0` with `env` and waits for its banner.
    pub fn start(db: &TestDb, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(shop_binary(db.adapter))
            .args(["serve", "--bind", "127.0.0.1:0", "--workers", "2"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", db.url())
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut banner = Vec::new();
        let (mut base, mut uuid) = (None, None);
        while let Some(Ok(line)) = lines.next() {
            if let Some((_, rest)) = line.split_once(": listening on ") {
                base = Some(rest.trim().to_owned());
            }
            if line.contains("(local development endpoint")
                && let Some(u) = line.split("/webhook/").nth(1)
            {
                uuid = Some(u.split('/').next().unwrap().to_owned());
            }
            let done = line.starts_with("  cargo run");
            banner.push(line);
            if done {
                break;
            }
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let base = base.unwrap_or_else(|| panic!("no banner from shop serve: {banner:?}"));
        Self { child, base, uuid: uuid.expect("a development endpoint"), banner }
    }

    /// The development endpoint's URL.
    pub fn endpoint_url(&self) -> String {
        format!("{}/stripe/webhook/{}/", self.base, self.uuid)
    }

    /// The server process's resident memory, in bytes (`VmRSS` of `/proc/PID/status`).
    pub fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("a VmRSS line");
        let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib * 1024
    }

    /// `127.0.0.1:PORT`, for raw connections.
    pub fn address(&self) -> String {
        self.base.trim_start_matches("http://").to_owned()
    }

    /// Sends SIGTERM to the server (`kill -TERM PID`), what a deploy does: it stops gracefully.
    pub fn terminate(&self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success(), "kill -TERM {}: {status}", self.child.id());
    }

    /// Waits at most `timeout` for the server process to exit: its exit status, or `None` if it
    /// still runs (it is killed on drop).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if started.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The secret of the development endpoint, read from the database like `shop trigger` does.
    pub fn secret(&self, db: &TestDb) -> String {
        let database = djstripe_core::db::Database::connect(db.url()).unwrap();
        database.endpoint_by_uuid(&self.uuid).unwrap().unwrap().secret
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer: status and parsed JSON body (null if not JSON).
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The JSON body.
    pub json: serde_json::Value,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
}

fn retry_after<B>(resp: &ureq::http::Response<B>) -> Option<String> {
    resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// POSTs `body` with an optional `Stripe-Signature`.
pub fn post(url: &str, body: &[u8], signature: Option<&str>) -> Answer {
    let mut req = agent().post(url).header("Content-Type", "application/json");
    if let Some(sig) = signature {
        req = req.header("Stripe-Signature", sig);
    }
    let mut resp = req.send(body).unwrap();
    let status = resp.status().as_u16();
    let retry_after = retry_after(&resp);
    let json = resp.body_mut().with_config().limit(1 << 20).read_json().unwrap_or_default();
    Answer { status, json, retry_after }
}

/// POSTs `body` over a raw connection, writing it from another thread while reading the answer:
/// a server that answers before the whole body arrived (413) and closes is still heard (a
/// client that writes everything first gets a broken pipe instead).
pub fn post_while_sending(server: &Server, path: &str, body: Vec<u8>, signature: &str) -> Answer {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(server.address()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nStripe-Signature: {signature}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(head.as_bytes()).and_then(|()| writer.write_all(&body));
    });
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let _ = sender.join();
    let text = String::from_utf8_lossy(&answer);
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let retry_after =
        head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("retry-after:").map(|v| v.trim().to_owned()));
    // A chunked body (axum) or a plain one (actix): the JSON object inside it.
    let json = match (body.find('{'), body.rfind('}')) {
        (Some(start), Some(end)) if start < end => serde_json::from_str(&body[start..=end]).unwrap_or_default(),
        _ => serde_json::Value::Null,
    };
    Answer { status, json, retry_after }
}

/// Sends `body` with any `method` (e.g. `PUT`, `DELETE`) and an optional `Stripe-Signature`.
pub fn request(method: &str, url: &str, body: &[u8], signature: Option<&str>) -> Answer {
    let mut req = ureq::http::Request::builder().method(method).uri(url).header("Content-Type", "application/json");
    if let Some(sig) = signature {
        req = req.header("Stripe-Signature", sig);
    }
    let mut resp = agent().run(req.body(body.to_vec()).unwrap()).unwrap();
    let status = resp.status().as_u16();
    let retry_after = retry_after(&resp);
    let json = resp.body_mut().with_config().limit(1 << 20).read_json().unwrap_or_default();
    Answer { status, json, retry_after }
}

/// Like [`shop`], but kills the process and returns `None` if it runs longer than `timeout`
/// (for commands that must fail fast, e.g. `serve` with a bad configuration).
pub fn shop_within(
    db: &TestDb,
    env: &[(&str, &str)],
    args: &[&str],
    timeout: Duration,
) -> Option<(i32, String, String)> {
    let mut child = shop_command(db, env, args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let started = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            return Some((
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ));
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// GETs `url`.
pub fn get(url: &str) -> Answer {
    let mut resp = agent().get(url).call().unwrap();
    let status = resp.status().as_u16();
    let retry_after = retry_after(&resp);
    let json = resp.body_mut().read_json().unwrap_or_default();
    Answer { status, json, retry_after }
}

/// GETs `url` with `headers`: (status, `Content-Type`, body as text) — for answers that are
/// not JSON (the metrics scrape).
pub fn get_text(url: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut req = agent().get(url);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let mut resp = req.call().unwrap();
    let status = resp.status().as_u16();
    let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    (status, content_type, body)
}

/// Generates one `#[test]` per web adapter and backend from `fn name(stack: Stack)`: the one
/// end-to-end suite that both adapters must pass.
#[macro_export]
macro_rules! every_stack {
    ($($name:ident),* $(,)?) => {
        mod actix {
            mod sqlite { $( #[test] fn $name() { super::super::$name($crate::Stack { backend: $crate::Backend::Sqlite, adapter: $crate::Adapter::Actix }) } )* }
            mod postgres { $( #[test] fn $name() { super::super::$name($crate::Stack { backend: $crate::Backend::Postgres, adapter: $crate::Adapter::Actix }) } )* }
        }
        mod axum {
            mod sqlite { $( #[test] fn $name() { super::super::$name($crate::Stack { backend: $crate::Backend::Sqlite, adapter: $crate::Adapter::Axum }) } )* }
            mod postgres { $( #[test] fn $name() { super::super::$name($crate::Stack { backend: $crate::Backend::Postgres, adapter: $crate::Adapter::Axum }) } )* }
        }
    };
}

/// Generates one `#[test]` per backend from `fn name(backend: Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[test] fn $name() { super::$name($crate::Backend::Sqlite) } )* }
        mod postgres { $( #[test] fn $name() { super::$name($crate::Backend::Postgres) } )* }
    };
}

/// The README's Rust examples, compiled (and the runnable ones run) as this crate's doc tests, so
/// that what a new user copies from it builds against the current API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
