#![allow(missing_docs)]
//! `shop endpoints ...` and `shop accounts ...` as processes, against a small fake of Stripe's
//! `/v1/webhook_endpoints` on loopback. (The thorough API tests are djstripe-core/tests/endpoints.rs.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use djstripe_tests::{Backend, TestDb, shop};
use serde_json::{Value, json};

/// The fake: endpoints by id, and the requests seen as "METHOD path body".
struct Fake {
    base: String,
    seen: Arc<Mutex<Vec<String>>>,
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let (mut out, mut i) = (Vec::new(), 0);
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn start_fake() -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        let mut endpoints: Vec<Value> = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut parts = line.split_whitespace();
            let (method, path) = (parts.next().unwrap().to_owned(), parts.next().unwrap().to_owned());
            let (mut length, mut auth) = (0, String::new());
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                let (k, v) = h.trim_end().split_once(':').unwrap();
                match k.to_ascii_lowercase().as_str() {
                    "content-length" => length = v.trim().parse().unwrap(),
                    "authorization" => auth = v.trim().to_owned(),
                    _ => {}
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let form: Vec<(String, String)> = String::from_utf8(body)
                .unwrap()
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| p.split_once('=').map(|(k, v)| (decode(k), decode(v))).unwrap())
                .collect();
            log.lock().unwrap().push(format!("{method} {path} {form:?}"));
            let get = |name: &str| form.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect::<Vec<_>>();
            let id = path.strip_prefix("/v1/webhook_endpoints/").unwrap_or_default().to_owned();
            let found = endpoints.iter().position(|e| e["id"] == id.as_str());
            let (status, answer) = if auth != "Bearer sk_test_cli" {
                (401, json!({"error": {"message": "Invalid API Key provided"}}))
            } else if method == "POST" && path == "/v1/webhook_endpoints" {
                let n = endpoints.len() + 1;
                let object = json!({"id": format!("we_cli{n}"), "object": "webhook_endpoint", "url": get("url")[0],
                    "enabled_events": get("enabled_events[]"), "status": "enabled", "livemode": false,
                    "metadata": {"djstripe_uuid": get("metadata[djstripe_uuid]")[0]}, "created": 1, "description": null});
                endpoints.push(object.clone());
                let mut answer = object;
                answer["secret"] = format!("whsec_cli_secret_{n}").into();
                (200, answer)
            } else if let (Some(i), "GET") = (found, method.as_str()) {
                (200, endpoints[i].clone())
            } else if let (Some(i), "POST") = (found, method.as_str()) {
                if let Some(d) = get("disabled").first() {
                    endpoints[i]["status"] = if d == "true" { "disabled" } else { "enabled" }.into();
                }
                (200, endpoints[i].clone())
            } else if let (Some(i), "DELETE") = (found, method.as_str()) {
                endpoints.remove(i);
                (200, json!({"id": id, "deleted": true}))
            } else {
                (404, json!({"error": {"message": format!("No such webhook endpoint: '{id}'")}}))
            };
            let answer = answer.to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    Fake { base, seen }
}

#[test]
fn endpoints_from_the_command_line() {
    let db = TestDb::new(Backend::Sqlite);
    let fake = start_fake();
    let env =
        [("STRIPE_API_BASE", fake.base.as_str()), ("STRIPE_TEST_SECRET_KEY", "sk_test_cli"), ("RUST_LOG", "warn")];
    let run = |args: &[&str]| shop(&db, &env, args);

    // Refused before any call, with the reason and what to do instead.
    let (code, _, err) = run(&["endpoints", "create", "--base-url", "http://localhost:8000"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("localhost") && err.contains("tunnel"), "{err}");
    let (code, _, err) = run(&["endpoints", "create"]);
    assert_eq!(code, 1);
    assert!(err.contains("--base-url") && err.contains("DJSTRIPE_WEBHOOK_BASE_URL"), "{err}");
    assert!(fake.seen.lock().unwrap().is_empty());

    // Created: the full URL, the secret stored but not printed.
    let (code, out, err) = run(&[
        "endpoints",
        "create",
        "--base-url",
        "https://shop.example.com",
        "--events",
        "customer.created,invoice.paid",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("url: https://shop.example.com/stripe/webhook/") && out.contains("secret: stored"), "{out}");
    assert!(!out.contains("whsec_") && !err.contains("whsec_"), "the secret is not printed: {out}{err}");
    let created = fake.seen.lock().unwrap()[0].clone();
    assert!(
        created.contains(r#"("enabled_events[]", "customer.created"), ("enabled_events[]", "invoice.paid")"#),
        "{created}"
    );

    // --show-secret prints it; DJSTRIPE_WEBHOOK_BASE_URL is the default base URL.
    let with_base = [env[0], env[1], env[2], ("DJSTRIPE_WEBHOOK_BASE_URL", "https://other.example.com")];
    let (code, out, _) = shop(&db, &with_base, &["endpoints", "create", "--show-secret"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("whsec_cli_secret_2") && out.contains("https://other.example.com/stripe/webhook/"), "{out}");

    let (code, out, _) = run(&["endpoints", "list"]);
    assert_eq!(code, 0);
    assert_eq!(out.matches("enabled at Stripe").count(), 2, "{out}");
    assert!(!out.contains("whsec_"), "{out}");

    let (code, out, err) = run(&["endpoints", "update", "we_cli1", "--disable"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(" disabled "), "{out}");

    let (code, out, err) = run(&["endpoints", "add-secret", "we_cli1", "--secret", "whsec_rolled"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 previous still valid") && !out.contains("whsec_rolled"), "{out}");
    let (code, out, _) = run(&["endpoints", "drop-secret", "we_cli1"]);
    assert_eq!(code, 0);
    assert!(out.contains("1 previous secret(s) dropped"), "{out}");

    let (code, out, err) = run(&["endpoints", "delete", "we_cli2"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("deleted at Stripe and locally"), "{out}");
    assert_eq!(db.count("SELECT COUNT(*) AS n FROM djstripe_webhookendpoint"), 1);

    // Connected accounts' own keys.
    let (code, _, err) = run(&["accounts", "set-key", "acct_cli", "--test", "--key", "sk_test_account_own_key"]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = run(&["accounts", "list"]);
    assert!(out.contains("acct_cli test sk_test_…_key") && !out.contains("own_key"), "{out}");
    let (code, _, err) = run(&["accounts", "set-key", "acct_cli", "--live", "--key", "sk_test_wrong_mode"]);
    assert_eq!(code, 1);
    assert!(err.contains("live key"), "{err}");
}
