//! [`Delivery`]: one HTTP request that reached a webhook endpoint, as the adapter hands it over.

/// Which endpoint a delivery was sent to.
///
/// ```
/// use djstripe_core::engine::Target;
/// let target = Target::Endpoint("6f1c1d0e-8a4b-4c43-9d7e-2f0a6f1c1d0e");
/// assert!(matches!(target, Target::Endpoint(_)));
/// ```
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// `POST {prefix}/webhook/{uuid}/`: the endpoint with that `djstripe_uuid`.
    Endpoint(&'a str),
    /// `POST {prefix}/webhook/`: the legacy global endpoint (`DJSTRIPE_WEBHOOK_SECRET`).
    Legacy,
}

/// One request to a webhook endpoint: raw bytes, never re-serialized before verification.
///
/// ```
/// use djstripe_core::engine::{Delivery, Target};
/// let body = br#"{"id":"evt_1"}"#;
/// let delivery = Delivery {
///     target: Target::Legacy,
///     body,
///     signature: Some(b"t=1,v1=00"),
///     headers: r#"{"content-type":"application/json"}"#.into(),
///     remote_ip: "203.0.113.7".into(),
/// };
/// assert_eq!(delivery.body.len(), 14);
/// ```
#[derive(Debug, Clone)]
pub struct Delivery<'a> {
    /// The endpoint addressed.
    pub target: Target<'a>,
    /// The raw request body.
    pub body: &'a [u8],
    /// The raw `Stripe-Signature` header, if present.
    pub signature: Option<&'a [u8]>,
    /// The request headers as a JSON object (see [`headers_json`]).
    pub headers: String,
    /// The client's address.
    pub remote_ip: String,
}

/// Headers never stored: they may carry credentials of the operator's own infrastructure.
const REDACTED: &[&str] = &["authorization", "proxy-authorization", "cookie", "set-cookie"];
/// At most this much header text is stored per delivery (a flood of headers cannot fill the disk).
const MAX_HEADERS_JSON: usize = 8 * 1024;

/// Turns request headers into the JSON object stored on the trigger row: credentials redacted,
/// non-UTF-8 values escaped, total size bounded.
///
/// ```
/// let json = djstripe_core::engine::headers_json([("Authorization", b"Bearer x".as_slice()), ("Stripe-Signature", b"t=1")]);
/// assert!(json.contains("[redacted]") && json.contains("t=1"));
/// ```
pub fn headers_json<'h>(headers: impl IntoIterator<Item = (&'h str, &'h [u8])>) -> String {
    let mut map = serde_json::Map::new();
    let mut size = 0;
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        let value = if REDACTED.contains(&name.as_str()) {
            "[redacted]".to_owned()
        } else {
            String::from_utf8_lossy(value).into_owned()
        };
        size += name.len() + value.len() + 6;
        if size > MAX_HEADERS_JSON {
            map.insert("x-djstripe-truncated".into(), "headers beyond 8 KiB dropped".into());
            break;
        }
        map.insert(name, value.into());
    }
    serde_json::Value::Object(map).to_string()
}
