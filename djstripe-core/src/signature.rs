//! `Stripe-Signature` verification.
//!
//! Stripe signs every delivery: it computes HMAC-SHA256 over `"{t}.{raw body}"`, keyed with the
//! endpoint's signing secret (the whole `whsec_...` string), and sends
//!
//! ```text
//! Stripe-Signature: t=1492774577,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd[,v1=...][,v0=...]
//! ```
//!
//! A [`Verifier`] checks that header against the raw body *before* anything parses it, so a
//! forged or replayed request never reaches a handler.
//!
//! ```
//! use djstripe_core::signature::Verifier;
//! use djstripe_core::testing;
//!
//! let body = br#"{"id":"evt_1","object":"event"}"#;
//! let header = testing::header_now("whsec_test_secret", body);
//!
//! let verifier = Verifier::new(["whsec_test_secret"]);
//! let signed = verifier.verify(Some(&header), body).unwrap();
//! assert_eq!(signed.v1().len(), 1);
//! ```
//!
//! ## What is checked, in this order
//! 1. the verifier has at least one secret, else [`Error::NoSecret`] (a configuration mistake
//!    must not look like a bad delivery);
//! 2. the header is present, else [`Error::SignatureHeaderMissing`];
//! 3. the header parses ([`SignatureHeader::parse`] lists the rules), else
//!    [`Error::SignatureHeaderMalformed`];
//! 4. it carries at least one `v1` value, else [`Error::NoV1Signature`];
//! 5. its timestamp is within the tolerance of the clock, in the past *or* in the future, else
//!    [`Error::TimestampOutsideTolerance`];
//! 6. one of its `v1` values is the HMAC of the payload under one of the secrets (compared in
//!    constant time), else [`Error::NoMatchingSignature`].

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::Error;

type HmacSha256 = Hmac<Sha256>;

/// The tolerance Stripe's own libraries use: a delivery signed more than 5 minutes away from
/// now is refused, which bounds how long a captured request can be replayed.
///
/// ```
/// assert_eq!(djstripe_core::signature::DEFAULT_TOLERANCE.as_secs(), 300);
/// ```
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// The longest `Stripe-Signature` header accepted, in bytes. Real headers are well under 1 KiB
/// (a timestamp and a few 64-digit signatures); the cap keeps a hostile header from costing
/// more than a bounded amount of work.
///
/// ```
/// use djstripe_core::{signature::{SignatureHeader, MAX_HEADER_LEN}, Error};
/// let huge = format!("t=1,v1={}", "a".repeat(MAX_HEADER_LEN));
/// assert!(matches!(SignatureHeader::parse(&huge), Err(Error::SignatureHeaderMalformed { .. })));
/// ```
pub const MAX_HEADER_LEN: usize = 8 * 1024;

/// An endpoint signing secret (`whsec_...`).
///
/// A newtype so that it never ends up in a log by accident: its `Debug` is redacted.
///
/// ```
/// use djstripe_core::signature::Secret;
/// let secret = Secret::from("whsec_test_secret");
/// assert_eq!(format!("{secret:?}"), "Secret(\"whsec_…\")");
/// assert_eq!(secret.expose(), "whsec_test_secret");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret string.
    ///
    /// ```
    /// let secret = djstripe_core::signature::Secret::new(String::from("whsec_abc"));
    /// assert_eq!(secret.expose(), "whsec_abc");
    /// ```
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(secret.into())
    }

    /// The secret itself. Named so that every place that reads it stands out in review.
    ///
    /// ```
    /// let secret = djstripe_core::signature::Secret::from("whsec_abc");
    /// assert_eq!(secret.expose().len(), 9);
    /// ```
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Show the kind of secret (its prefix) but nothing of the secret part.
        let prefix = self.0.split_once('_').map_or("", |(p, _)| p);
        if prefix.is_empty() || prefix.len() > 8 {
            f.write_str("Secret(\"…\")")
        } else {
            write!(f, "Secret(\"{prefix}_…\")")
        }
    }
}

impl From<String> for Secret {
    fn from(secret: String) -> Self {
        Secret(secret)
    }
}

impl From<&str> for Secret {
    fn from(secret: &str) -> Self {
        Secret(secret.to_owned())
    }
}

impl From<&String> for Secret {
    fn from(secret: &String) -> Self {
        Secret(secret.clone())
    }
}

/// Verifies `Stripe-Signature` headers against an endpoint's secret(s).
///
/// Built once per endpoint and shared: each secret's HMAC key schedule is computed when the
/// verifier is built, so a verification only clones that keyed state and hashes the payload.
/// Several secrets are accepted at once because Stripe keeps an endpoint's old secret valid for
/// a while after a rotation (up to 24 hours), and deliveries signed with it must still pass.
///
/// ```
/// use std::time::Duration;
/// use djstripe_core::{testing, Error, Verifier};
///
/// let verifier = Verifier::new(["whsec_new", "whsec_old"]).tolerance(Duration::from_secs(60));
/// let body = br#"{"id":"evt_1"}"#;
///
/// let header = testing::header("whsec_old", 1_700_000_000, body);
/// assert!(verifier.verify_at(Some(&header), body, 1_700_000_030).is_ok());
/// assert!(matches!(
///     verifier.verify_at(Some(&header), body, 1_700_000_100),
///     Err(Error::TimestampOutsideTolerance { .. })
/// ));
/// ```
#[derive(Clone)]
pub struct Verifier {
    keys: Vec<HmacSha256>,
    tolerance: Duration,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier").field("secrets", &self.keys.len()).field("tolerance", &self.tolerance).finish()
    }
}

impl Verifier {
    /// A verifier accepting signatures made with any of `secrets`, with the default tolerance
    /// of 5 minutes ([`DEFAULT_TOLERANCE`]).
    ///
    /// Empty strings are skipped: an empty key is public knowledge, so accepting it would let
    /// anyone sign. So are strings of NUL bytes only: HMAC pads a short key with zeros, so `"\0"`
    /// is the empty key too. With no usable secret every verification fails with
    /// [`Error::NoSecret`].
    ///
    /// ```
    /// use djstripe_core::{Error, Verifier};
    /// let one = Verifier::new(["whsec_abc"]);
    /// let from_db = Verifier::new(vec![String::from("whsec_abc"), String::from("whsec_old")]);
    /// assert_eq!(from_db.secret_count(), 2);
    ///
    /// let none = Verifier::new(["", "\0\0"]);
    /// assert!(matches!(none.verify(Some("t=1,v1=00"), b"{}"), Err(Error::NoSecret)));
    /// ```
    pub fn new<S: Into<Secret>>(secrets: impl IntoIterator<Item = S>) -> Self {
        let keys = secrets
            .into_iter()
            .map(Into::into)
            .filter(|s: &Secret| !s.0.bytes().all(|b| b == 0))
            .map(|s| HmacSha256::new_from_slice(s.0.as_bytes()).expect("HMAC accepts keys of any length"))
            .collect();
        Verifier { keys, tolerance: DEFAULT_TOLERANCE }
    }

    /// Sets how far (in whole seconds, past or future) the header's timestamp may be from the
    /// clock. `Duration::ZERO` turns the timestamp check off — only do that for replaying
    /// recorded deliveries, since without it a captured request can be replayed forever.
    ///
    /// ```
    /// use std::time::Duration;
    /// use djstripe_core::{testing, Verifier};
    /// let header = testing::header("whsec_abc", 1, b"{}"); // signed in 1970
    /// let verifier = Verifier::new(["whsec_abc"]).tolerance(Duration::ZERO);
    /// assert!(verifier.verify(Some(&header), b"{}").is_ok());
    /// ```
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The tolerance in force (`Duration::ZERO`: the timestamp is not checked).
    ///
    /// ```
    /// let verifier = djstripe_core::Verifier::new(["whsec_abc"]);
    /// assert_eq!(verifier.current_tolerance(), djstripe_core::signature::DEFAULT_TOLERANCE);
    /// ```
    pub fn current_tolerance(&self) -> Duration {
        self.tolerance
    }

    /// How many usable secrets the verifier holds.
    ///
    /// ```
    /// assert_eq!(djstripe_core::Verifier::new(["whsec_a", "", "whsec_b"]).secret_count(), 2);
    /// ```
    pub fn secret_count(&self) -> usize {
        self.keys.len()
    }

    /// Verifies `header` (the `Stripe-Signature` value, `None` when absent) against the raw
    /// request body, using the system clock. Returns the parsed header on success, so a caller
    /// can log when the delivery was signed.
    ///
    /// Pass the body exactly as received: re-serialized JSON would not match the signature.
    ///
    /// ```
    /// use djstripe_core::{testing, Error, Verifier};
    /// let verifier = Verifier::new(["whsec_abc"]);
    /// let body = br#"{"id":"evt_1"}"#;
    /// let header = testing::header_now("whsec_abc", body);
    /// assert!(verifier.verify(Some(&header), body).is_ok());
    /// assert!(matches!(verifier.verify(None, body), Err(Error::SignatureHeaderMissing)));
    /// assert!(matches!(verifier.verify(Some(&header), b"{}"), Err(Error::NoMatchingSignature)));
    /// ```
    pub fn verify(&self, header: Option<&str>, payload: &[u8]) -> Result<SignatureHeader, Error> {
        self.verify_at(header, payload, unix_now())
    }

    /// [`verify`](Self::verify) for a header taken as raw bytes, as HTTP libraries hand them
    /// over: a header that is not UTF-8 is [`Error::SignatureHeaderMalformed`], not a panic.
    ///
    /// ```
    /// use djstripe_core::{testing, Error, Verifier};
    /// let verifier = Verifier::new(["whsec_abc"]);
    /// let header = testing::header_now("whsec_abc", b"{}");
    /// assert!(verifier.verify_bytes(Some(header.as_bytes()), b"{}").is_ok());
    /// assert!(matches!(
    ///     verifier.verify_bytes(Some(b"t=1,v1=\xff"), b"{}"),
    ///     Err(Error::SignatureHeaderMalformed { .. })
    /// ));
    /// ```
    pub fn verify_bytes(&self, header: Option<&[u8]>, payload: &[u8]) -> Result<SignatureHeader, Error> {
        self.verify_bytes_at(header, payload, unix_now())
    }

    /// [`verify_bytes`](Self::verify_bytes) with an explicit clock (Unix seconds), for tests.
    ///
    /// ```
    /// use djstripe_core::{testing, Verifier};
    /// let header = testing::header("whsec_abc", 1_700_000_000, b"{}");
    /// let verifier = Verifier::new(["whsec_abc"]);
    /// assert!(verifier.verify_bytes_at(Some(header.as_bytes()), b"{}", 1_700_000_000).is_ok());
    /// ```
    pub fn verify_bytes_at(&self, header: Option<&[u8]>, payload: &[u8], now: i64) -> Result<SignatureHeader, Error> {
        self.check_configured()?;
        let header = header.ok_or(Error::SignatureHeaderMissing)?;
        let header = std::str::from_utf8(header)
            .map_err(|_| Error::SignatureHeaderMalformed { reason: "the header is not valid UTF-8".into() })?;
        self.verify_at(Some(header), payload, now)
    }

    /// [`verify`](Self::verify) with an explicit clock (Unix seconds), so tests do not depend on
    /// the time of day.
    ///
    /// # Errors
    /// [`Error::NoSecret`], [`Error::SignatureHeaderMissing`], [`Error::SignatureHeaderMalformed`],
    /// [`Error::NoV1Signature`], [`Error::TimestampOutsideTolerance`], [`Error::NoMatchingSignature`],
    /// checked in that order (see the [module docs](crate::signature)); all are
    /// answered 400 ([`Error::http_status`]).
    ///
    /// ```
    /// use djstripe_core::{testing, Error, Verifier};
    /// let verifier = Verifier::new(["whsec_abc"]);
    /// let header = testing::header("whsec_abc", 1_700_000_000, b"{}");
    /// assert!(verifier.verify_at(Some(&header), b"{}", 1_700_000_299).is_ok());
    /// assert!(matches!(
    ///     verifier.verify_at(Some(&header), b"{}", 1_700_000_301),
    ///     Err(Error::TimestampOutsideTolerance { timestamp: 1_700_000_000, now: 1_700_000_301, .. })
    /// ));
    /// ```
    pub fn verify_at(&self, header: Option<&str>, payload: &[u8], now: i64) -> Result<SignatureHeader, Error> {
        self.check_configured()?;
        let parsed = SignatureHeader::parse(header.ok_or(Error::SignatureHeaderMissing)?)?;

        if !self.tolerance.is_zero() && parsed.timestamp.abs_diff(now) > self.tolerance.as_secs() {
            return Err(Error::TimestampOutsideTolerance {
                timestamp: parsed.timestamp,
                now,
                tolerance: self.tolerance,
            });
        }

        // Decode the candidates once; a value that is not 64 hex digits can never match.
        let candidates: Vec<[u8; 32]> = parsed.v1.iter().filter_map(|hex| decode_sig(hex)).collect();
        if candidates.is_empty() {
            return Err(Error::NoMatchingSignature);
        }

        let mut ts = TimestampBuf::default();
        let ts = ts.format(parsed.timestamp);
        // One HMAC per secret, then a constant-time comparison with every candidate. The loop
        // does not stop at the first match: the work done is independent of which one matched.
        let mut matched = subtle::Choice::from(0);
        for key in &self.keys {
            let mut mac = key.clone();
            mac.update(ts);
            mac.update(b".");
            mac.update(payload);
            let expected = mac.finalize().into_bytes();
            for candidate in &candidates {
                matched |= expected.as_slice().ct_eq(candidate);
            }
        }
        if bool::from(matched) { Ok(parsed) } else { Err(Error::NoMatchingSignature) }
    }

    fn check_configured(&self) -> Result<(), Error> {
        if self.keys.is_empty() { Err(Error::NoSecret) } else { Ok(()) }
    }
}

/// A parsed `Stripe-Signature` header: the signing time and the `v1` signatures.
///
/// ```
/// use djstripe_core::signature::SignatureHeader;
/// let header = SignatureHeader::parse("t=1492774577, v1=abc, v0=def, v1=123").unwrap();
/// assert_eq!(header.timestamp(), 1492774577);
/// assert_eq!(header.v1(), ["abc", "123"]);
/// assert_eq!(header.to_string(), "t=1492774577,v1=abc,v1=123");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    timestamp: i64,
    v1: Vec<String>,
}

impl SignatureHeader {
    /// Parses a header value, leniently where Stripe's own libraries are lenient and strictly
    /// where a lenient reading would be ambiguous:
    ///
    /// - items are separated by `,`; whitespace around items, keys and values is ignored, and
    ///   so are empty items (a trailing comma);
    /// - items without `=` (a flag such as `v2flag`) are ignored, as Stripe's libraries do;
    /// - exactly one `t`, a non-negative integer of Unix seconds (digits only); a missing,
    ///   repeated or non-numeric `t` is malformed — two timestamps would leave it unclear which
    ///   one was signed;
    /// - `v1` values are collected in order. A value that is not 64 hex digits is kept and
    ///   counts as a signature, but it can never match (as in Stripe's libraries, a bad value
    ///   is a failed match, not a malformed header);
    /// - other schemes (`v0`, the test-mode MD5 signature) and unknown keys are ignored;
    /// - a header longer than [`MAX_HEADER_LEN`] is malformed.
    ///
    /// # Errors
    /// [`Error::SignatureHeaderMalformed`] (the message says what is wrong, quoting at most 32
    /// characters of the header), then [`Error::NoV1Signature`] for a header without any `v1`.
    ///
    /// ```
    /// use djstripe_core::{signature::SignatureHeader, Error};
    /// assert!(SignatureHeader::parse(" t=1 , v1=ab ,").is_ok());
    /// assert!(matches!(SignatureHeader::parse("t=1,t=2,v1=ab"), Err(Error::SignatureHeaderMalformed { .. })));
    /// assert!(matches!(SignatureHeader::parse("t=abc,v1=ab"), Err(Error::SignatureHeaderMalformed { .. })));
    /// assert!(matches!(SignatureHeader::parse("t=1,v0=ab"), Err(Error::NoV1Signature)));
    /// ```
    pub fn parse(header: &str) -> Result<SignatureHeader, Error> {
        let malformed = |reason: String| Error::SignatureHeaderMalformed { reason };
        if header.len() > MAX_HEADER_LEN {
            return Err(malformed(format!(
                "the header is {} bytes long, more than the {MAX_HEADER_LEN} allowed",
                header.len()
            )));
        }
        if header.trim().is_empty() {
            return Err(malformed("the header is empty".into()));
        }

        let mut timestamp = None;
        let mut v1 = Vec::new();
        for item in header.split(',').map(str::trim).filter(|item| !item.is_empty()) {
            // Stripe's libraries ignore what they do not use, a flag without `=` included.
            let Some((key, value)) = item.split_once('=') else { continue };
            match (key.trim(), value.trim()) {
                ("t", value) => {
                    if timestamp.is_some() {
                        return Err(malformed("more than one `t=` timestamp".into()));
                    }
                    timestamp =
                        Some(parse_timestamp(value).ok_or_else(|| {
                            malformed(format!("the timestamp `{}` is not Unix seconds", excerpt(value)))
                        })?);
                }
                ("v1", value) => v1.push(value.to_owned()),
                _ => {} // v0 and schemes this version does not know
            }
        }

        let timestamp = timestamp.ok_or_else(|| malformed("no `t=` timestamp".into()))?;
        if v1.is_empty() {
            return Err(Error::NoV1Signature);
        }
        Ok(SignatureHeader { timestamp, v1 })
    }

    /// When Stripe signed the delivery, Unix seconds.
    ///
    /// ```
    /// let header = djstripe_core::signature::SignatureHeader::parse("t=42,v1=00").unwrap();
    /// assert_eq!(header.timestamp(), 42);
    /// ```
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The `v1` values as sent (hex HMAC-SHA256 digests; more than one during a secret
    /// rotation), in header order.
    ///
    /// ```
    /// let header = djstripe_core::signature::SignatureHeader::parse("t=42,v1=aa,v1=bb").unwrap();
    /// assert_eq!(header.v1(), ["aa", "bb"]);
    /// ```
    pub fn v1(&self) -> &[String] {
        &self.v1
    }
}

/// Renders the header as Stripe sends it: `t=<timestamp>,v1=<hex>[,v1=<hex>]`.
impl fmt::Display for SignatureHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={}", self.timestamp)?;
        for sig in &self.v1 {
            write!(f, ",v1={sig}")?;
        }
        Ok(())
    }
}

/// The hex `v1` signature Stripe would send for `payload` signed with `secret` at `timestamp`:
/// HMAC-SHA256 of `"{timestamp}.{payload}"`, keyed with the secret string's bytes.
///
/// For tests and tools that play Stripe's part; [`crate::testing::header`] wraps it into a
/// complete header.
///
/// ```
/// let sig = djstripe_core::signature::sign("whsec_test_secret", 1492774577, b"{}");
/// assert_eq!(sig.len(), 64);
/// assert!(sig.bytes().all(|b| b.is_ascii_hexdigit()));
/// ```
pub fn sign(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    let mut ts = TimestampBuf::default();
    mac.update(ts.format(timestamp));
    mac.update(b".");
    mac.update(payload);
    hex::encode(mac.finalize().into_bytes())
}

/// The system clock in Unix seconds (0 if the clock is before 1970).
pub(crate) fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Digits only: a sign, spaces inside or an overflow make the timestamp unreadable.
fn parse_timestamp(value: &str) -> Option<i64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

fn decode_sig(hex_sig: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_sig, &mut out).ok()?;
    Some(out)
}

/// The start of an offending item for an error message: never the whole (possibly 8 KiB) header.
fn excerpt(s: &str) -> String {
    const MAX: usize = 32;
    match s.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", s[..end].escape_debug()),
        None => s.escape_debug().to_string(),
    }
}

/// Formats an `i64` as decimal ASCII on the stack: the signed string must not allocate on the
/// hot path.
#[derive(Default)]
struct TimestampBuf([u8; 20]);

impl TimestampBuf {
    fn format(&mut self, value: i64) -> &[u8] {
        let negative = value < 0;
        let mut n = value.unsigned_abs();
        let mut i = self.0.len();
        loop {
            i -= 1;
            self.0[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        if negative {
            i -= 1;
            self.0[i] = b'-';
        }
        &self.0[i..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_buf_matches_to_string() {
        for v in [0, 1, 9, 10, 1492774577, i64::MAX, i64::MIN, -1, -10] {
            let mut buf = TimestampBuf::default();
            assert_eq!(buf.format(v), v.to_string().as_bytes(), "{v}");
        }
    }

    #[test]
    fn excerpt_is_bounded_and_char_safe() {
        assert_eq!(excerpt("abc"), "abc");
        let long = "é".repeat(100);
        assert_eq!(excerpt(&long).chars().count(), 33);
    }

    #[test]
    fn secret_debug_is_redacted() {
        assert_eq!(format!("{:?}", Secret::from("whsec_abc")), "Secret(\"whsec_…\")");
        assert_eq!(format!("{:?}", Secret::from("plainsecret")), "Secret(\"…\")");
        let verifier = Verifier::new(["whsec_supersecret"]);
        assert!(!format!("{verifier:?}").contains("supersecret"));
    }

    /// Found by the fuzzer (fuzz/corpus/signature_roundtrip/regression-nul-secret): a secret of
    /// NUL bytes is the empty HMAC key, so a header signed with `""` verified against it.
    #[test]
    fn nul_secrets_are_the_empty_key_and_skipped() {
        let header = format!("t=1,v1={}", sign("", 1, b"{}"));
        for nul in ["\0", "\0\0\0\0\0", &"\0".repeat(64)] {
            assert_eq!(sign(nul, 1, b"{}"), sign("", 1, b"{}"), "HMAC pads keys with zeros");
            let verifier = Verifier::new([nul]).tolerance(Duration::ZERO);
            assert_eq!(verifier.secret_count(), 0);
            assert!(matches!(verifier.verify_at(Some(&header), b"{}", 1), Err(Error::NoSecret)));
        }
        let verifier = Verifier::new(["\0", "whsec_abc"]).tolerance(Duration::ZERO);
        assert!(matches!(verifier.verify_at(Some(&header), b"{}", 1), Err(Error::NoMatchingSignature)));
        // A NUL inside a real secret changes nothing.
        assert_eq!(Verifier::new(["whsec_\0abc"]).secret_count(), 1);
    }

    #[test]
    fn timestamp_parsing_is_digits_only() {
        assert_eq!(parse_timestamp("123"), Some(123));
        assert_eq!(parse_timestamp("0001"), Some(1));
        for bad in ["", "+1", "-1", "1 2", "1e3", "99999999999999999999", "١٢"] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }
}
