//! A stateful fake of Stripe's `/v1/webhook_endpoints` on top of [`FakeStripe`]: it checks the
//! key (per mode and account), `Stripe-Version`, `Stripe-Account`, `Idempotency-Key` and the form
//! fields, and answers Stripe-shaped JSON (the shape of fixtures3.json's `webhook_endpoint`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::fake_stripe::{FakeStripe, Seen};

pub const TEST_KEY: &str = "sk_test_platform";
pub const LIVE_KEY: &str = "sk_live_platform";
/// The own test-mode key of [`OWN_ACCOUNT`].
pub const OWN_KEY: &str = "sk_test_ownaccount";
pub const OWN_ACCOUNT: &str = "acct_own";
pub const CONNECTED: &str = "acct_connected";

/// One endpoint the fake holds, with who owns it.
#[derive(Debug, Clone)]
pub struct Stored {
    pub object: Value,
    pub livemode: bool,
    pub account: Option<String>,
}

#[derive(Default)]
pub struct State {
    pub endpoints: Vec<Stored>,
    /// Answers given before routing, one per request (e.g. a 429 then normal service).
    pub fail_next: VecDeque<(u16, String)>,
    /// Every DELETE answers 500.
    pub fail_deletes: bool,
    /// Answers already given per idempotency key.
    pub idempotent: HashMap<String, (u16, String)>,
    pub next_id: usize,
}

pub struct FakeEndpoints {
    pub server: FakeStripe,
    pub state: Arc<Mutex<State>>,
}

/// Percent-decodes one form component (`+` is a space).
pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// The decoded pairs of a form body or query string.
pub fn form(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

pub fn field(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

pub fn fields(pairs: &[(String, String)], name: &str) -> Vec<String> {
    pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
}

fn error(status: u16, message: &str) -> (u16, String) {
    (status, json!({"error": {"message": message, "type": "invalid_request_error"}}).to_string())
}

impl FakeEndpoints {
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let server = FakeStripe::start(move |req| route(&mut shared.lock().unwrap(), req));
        Self { server, state }
    }

    /// Requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.server.seen.lock().unwrap().clone()
    }

    /// Puts an endpoint directly into the fake (as if created in the Dashboard).
    pub fn insert(&self, url: &str, metadata: Value, livemode: bool, account: Option<&str>) -> String {
        let mut state = self.state.lock().unwrap();
        state.next_id += 1;
        let id = format!("we_dash{}", state.next_id);
        let object =
            object(&id, url, vec!["charge.succeeded".into()], metadata, livemode, Some("made in the Dashboard"));
        state.endpoints.push(Stored { object, livemode, account: account.map(str::to_owned) });
        id
    }

    pub fn get(&self, id: &str) -> Option<Value> {
        self.state.lock().unwrap().endpoints.iter().find(|e| e.object["id"] == id).map(|e| e.object.clone())
    }
}

fn object(
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

fn route(state: &mut State, req: &Seen) -> (u16, String) {
    if let Some(answer) = state.fail_next.pop_front() {
        return answer;
    }
    if req.header("stripe-version").is_none() {
        return error(400, "Stripe-Version header missing (the client pins one)");
    }
    // Who is calling: the key's mode and account, then Stripe-Account (platform keys only).
    let (livemode, own) = match req.header("authorization") {
        Some(a) if a == format!("Bearer {TEST_KEY}") => (false, None),
        Some(a) if a == format!("Bearer {LIVE_KEY}") => (true, None),
        Some(a) if a == format!("Bearer {OWN_KEY}") => (false, Some(OWN_ACCOUNT.to_owned())),
        _ => return error(401, "Invalid API Key provided: sk_****"),
    };
    let account = match (own, req.header("stripe-account")) {
        (Some(_), Some(_)) => return error(403, "an account's own key cannot act for another account"),
        (Some(own), None) => Some(own),
        (None, header) => header.map(str::to_owned),
    };
    let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
    let body = form(&req.body);
    let mine = |e: &Stored| e.livemode == livemode && e.account == account;
    match (req.method.as_str(), path) {
        ("POST", "/v1/webhook_endpoints") => {
            let Some(key) = req.header("idempotency-key").map(str::to_owned) else {
                return error(400, "creation without an Idempotency-Key");
            };
            if let Some(answer) = state.idempotent.get(&key) {
                return answer.clone();
            }
            let Some(url) = field(&body, "url") else { return error(400, "Missing required param: url.") };
            let events = fields(&body, "enabled_events[]");
            if events.is_empty() {
                return error(400, "Missing required param: enabled_events.");
            }
            let metadata: serde_json::Map<String, Value> = body
                .iter()
                .filter_map(|(k, v)| {
                    Some((k.strip_prefix("metadata[")?.strip_suffix(']')?.to_owned(), Value::from(v.clone())))
                })
                .collect();
            state.next_id += 1;
            let id = format!("we_fake{}", state.next_id);
            let mut object =
                object(&id, &url, events, Value::Object(metadata), livemode, field(&body, "description").as_deref());
            if field(&body, "connect").as_deref() == Some("true") {
                object["application"] = "ca_fake".into();
            }
            if let Some(v) = field(&body, "api_version") {
                object["api_version"] = v.into();
            }
            state.endpoints.push(Stored { object: object.clone(), livemode, account });
            object["secret"] = format!("whsec_fake{}_{}", state.next_id, uuid::Uuid::new_v4().simple()).into();
            let answer = (200, object.to_string());
            state.idempotent.insert(key, answer.clone());
            answer
        }
        ("GET", "/v1/webhook_endpoints") => {
            let q = form(query);
            let limit: usize = field(&q, "limit").and_then(|l| l.parse().ok()).unwrap_or(10).min(2); // small pages
            let all: Vec<&Stored> = state.endpoints.iter().filter(|e| mine(e)).collect();
            let start = match field(&q, "starting_after") {
                Some(after) => all.iter().position(|e| e.object["id"] == after.as_str()).map_or(all.len(), |p| p + 1),
                None => 0,
            };
            let page: Vec<Value> = all.iter().skip(start).take(limit).map(|e| e.object.clone()).collect();
            let has_more = start + page.len() < all.len();
            (
                200,
                json!({"object": "list", "url": "/v1/webhook_endpoints", "has_more": has_more, "data": page})
                    .to_string(),
            )
        }
        (method, p) if p.starts_with("/v1/webhook_endpoints/") => {
            let id = &p["/v1/webhook_endpoints/".len()..];
            let not_found = error(404, &format!("No such webhook endpoint: '{id}'"));
            let Some(index) = state.endpoints.iter().position(|e| e.object["id"] == id && mine(e)) else {
                return not_found;
            };
            match method {
                "GET" => (200, state.endpoints[index].object.to_string()),
                "DELETE" if state.fail_deletes => error(500, "the fake refuses deletes"),
                "DELETE" => {
                    state.endpoints.remove(index);
                    (200, json!({"id": id, "object": "webhook_endpoint", "deleted": true}).to_string())
                }
                "POST" => {
                    let object = &mut state.endpoints[index].object;
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
                    if let Some(d) = field(&body, "description") {
                        object["description"] = d.into();
                    }
                    (200, object.to_string())
                }
                _ => error(405, "method not allowed"),
            }
        }
        _ => error(404, &format!("Unrecognized request URL ({} {})", req.method, req.path)),
    }
}
