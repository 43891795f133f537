//! `Stripe-Signature` as Stripe builds it: a header signed for a random body, secret and time
//! must verify, and must stop verifying when anything signed changes.
//!
//! Properties:
//! - signed with the verifier's secret (or with the previous secret it still holds during a
//!   rotation), the header verifies within the tolerance, and fails with
//!   `TimestampOutsideTolerance` outside it; decoy `v1` values and a `v0` do not get in the way;
//! - one byte of the body changed: `NoMatchingSignature`;
//! - one byte of the header changed: refused, unless the header still says the same thing (the
//!   same timestamp and, in any hex case, the same signature: whitespace, say);
//! - another secret: `NoMatchingSignature`; no usable secret (empty, or NUL bytes only, which
//!   HMAC reads as the empty key): `NoSecret`.
#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use djstripe_core::signature::{self, DEFAULT_TOLERANCE, SignatureHeader};
use djstripe_core::{Error, Verifier};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    secret: String,
    /// A second secret the verifier holds (an endpoint's previous secret after a rotation).
    previous: Option<String>,
    sign_with_previous: bool,
    timestamp: u64,
    /// The clock, relative to the timestamp.
    skew: i16,
    body: Vec<u8>,
    /// Wrong signatures sent along (as during a rotation), before the real one.
    decoys: Vec<[u8; 32]>,
    v0: bool,
    spaces: bool,
    flip_at: usize,
    flip_mask: u8,
}

fuzz_target!(|input: Input| {
    let timestamp = (input.timestamp & i64::MAX as u64) as i64;
    let now = timestamp.saturating_add(i64::from(input.skew));
    let mut secrets = vec![input.secret.clone()];
    secrets.extend(input.previous.clone());
    let signing =
        if input.sign_with_previous { input.previous.as_deref().unwrap_or(&input.secret) } else { &input.secret };

    let sig = signature::sign(signing, timestamp, &input.body);
    assert!(sig.len() == 64 && sig.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')), "{sig}");
    let sep = if input.spaces { " , " } else { "," };
    let mut items = vec![format!("t={timestamp}")];
    items.extend(input.decoys.iter().take(4).map(|d| format!("v1={}", hex(d))));
    items.push(format!("v1={sig}"));
    if input.v0 {
        items.push(format!("v0={}", hex(&[0x5a; 16])));
    }
    let header = items.join(sep);

    let verifier = Verifier::new(&secrets);
    let untimed = verifier.clone().tolerance(Duration::ZERO);
    // The empty key (HMAC pads keys with zeros: `""` is `"\0"`) is public knowledge: never accepted.
    let empty_key = |s: &str| s.bytes().all(|b| b == 0);
    if empty_key(signing) {
        let result = untimed.verify_at(Some(&header), &input.body, now);
        if secrets.iter().all(|s| empty_key(s)) {
            assert!(matches!(result, Err(Error::NoSecret)), "{result:?}");
        } else {
            assert!(matches!(result, Err(Error::NoMatchingSignature)), "{result:?}");
        }
        return;
    }

    let result = verifier.verify_at(Some(&header), &input.body, now);
    // (The clock saturates at i64::MAX: the skew is what is left of it.)
    if timestamp.abs_diff(now) <= DEFAULT_TOLERANCE.as_secs() {
        let parsed = result.unwrap_or_else(|e| panic!("a signed header refused: {e:?} ({header})"));
        assert_eq!(parsed.timestamp(), timestamp);
        assert_eq!(parsed.v1().last(), Some(&sig));
    } else {
        assert!(matches!(result, Err(Error::TimestampOutsideTolerance { .. })), "{result:?}");
    }
    assert!(untimed.verify_at(Some(&header), &input.body, now).is_ok());
    assert!(untimed.verify_bytes_at(Some(header.as_bytes()), &input.body, now).is_ok());

    let mask = if input.flip_mask == 0 { 1 } else { input.flip_mask };
    if !input.body.is_empty() {
        let mut body = input.body.clone();
        let at = input.flip_at % body.len();
        body[at] ^= mask;
        let result = untimed.verify_at(Some(&header), &body, now);
        assert!(matches!(result, Err(Error::NoMatchingSignature)), "a changed body verified: {result:?}");
    }

    let mut changed = header.clone().into_bytes();
    let at = input.flip_at % changed.len();
    changed[at] ^= mask;
    if let Ok(accepted) = untimed.verify_bytes_at(Some(&changed), &input.body, now) {
        let same_claim =
            accepted.timestamp() == timestamp && accepted.v1().iter().any(|v| v.eq_ignore_ascii_case(&sig));
        assert!(same_claim, "a changed header verified: {:?}", String::from_utf8_lossy(&changed));
        assert_eq!(SignatureHeader::parse(std::str::from_utf8(&changed).unwrap()).ok(), Some(accepted));
    }

    let other = format!("{signing}x");
    if !secrets.contains(&other) {
        let result = Verifier::new([other]).tolerance(Duration::ZERO).verify_at(Some(&header), &input.body, now);
        assert!(matches!(result, Err(Error::NoMatchingSignature)), "another secret verified: {result:?}");
    }
});

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
