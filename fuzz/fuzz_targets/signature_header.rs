//! `Stripe-Signature` on hostile input: any header bytes against any body.
//!
//! Input: the header, a line feed, the body (a header cannot hold a line break). Checked with a
//! fixed secret (`whsec_test_secret`) and clock (1 700 000 000), so that a seed signed for
//! that instant verifies and the fuzzer explores the accepting path too.
//!
//! Properties, beyond "no panic":
//! - `verify_bytes_at` and `verify_at` agree (the bytes entry point only adds the UTF-8 check);
//! - a header `SignatureHeader::parse` refuses is refused by the verifier with the same error;
//! - a parsed header renders (`Display`) to a header that parses back equal;
//! - the verifier accepts exactly when the timestamp is within the tolerance and one `v1` value
//!   is the signature `signature::sign` computes (in either hex case), else says which check failed.
#![no_main]

use std::mem::discriminant;
use std::time::Duration;

use djstripe_core::signature::{self, DEFAULT_TOLERANCE, MAX_HEADER_LEN, SignatureHeader};
use djstripe_core::{Error, Verifier};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "whsec_test_secret";
const NOW: i64 = 1_700_000_000;

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[data.len()..]),
    };
    let verifier = Verifier::new([SECRET]);
    let result = verifier.verify_bytes_at(Some(header), body, NOW);
    let Ok(text) = std::str::from_utf8(header) else {
        assert!(matches!(result, Err(Error::SignatureHeaderMalformed { .. })), "non-UTF-8 header: {result:?}");
        return;
    };
    same(&result, &verifier.verify_at(Some(text), body, NOW));

    let parsed = match SignatureHeader::parse(text) {
        Ok(parsed) => parsed,
        Err(error) => {
            assert!(matches!(error, Error::SignatureHeaderMalformed { .. } | Error::NoV1Signature), "{error:?}");
            same(&result, &Err(error));
            return;
        }
    };
    assert!(text.len() <= MAX_HEADER_LEN, "a header over the limit parsed");
    assert!(!parsed.v1().is_empty(), "a parsed header without v1");
    assert!(parsed.timestamp() >= 0, "a negative timestamp parsed");
    let shown = parsed.to_string();
    assert_eq!(SignatureHeader::parse(&shown).ok().as_ref(), Some(&parsed), "Display does not parse back: {shown:?}");

    let expected = signature::sign(SECRET, parsed.timestamp(), body);
    let signed = parsed.v1().iter().any(|v1| v1.eq_ignore_ascii_case(&expected));
    let in_time = parsed.timestamp().abs_diff(NOW) <= DEFAULT_TOLERANCE.as_secs();
    match &result {
        Ok(accepted) => {
            assert_eq!(accepted, &parsed);
            assert!(signed && in_time, "accepted an unsigned or stale header: {text:?}");
        }
        Err(Error::TimestampOutsideTolerance { timestamp, now, tolerance }) => {
            assert!(!in_time);
            assert_eq!((*timestamp, *now, *tolerance), (parsed.timestamp(), NOW, DEFAULT_TOLERANCE));
        }
        Err(Error::NoMatchingSignature) => assert!(in_time && !signed, "refused a signed header: {text:?}"),
        Err(other) => panic!("a header that parses, refused with {other:?}"),
    }
    // Without a tolerance only the signature decides.
    let untimed = Verifier::new([SECRET]).tolerance(Duration::ZERO).verify_at(Some(text), body, NOW);
    assert_eq!(untimed.is_ok(), signed, "{untimed:?}");
});

/// The same outcome: both accepted with the same header, or the same error.
fn same(a: &Result<SignatureHeader, Error>, b: &Result<SignatureHeader, Error>) {
    match (a, b) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(b)) => {
            assert_eq!(discriminant(a), discriminant(b), "{a:?} / {b:?}");
            assert_eq!(a.to_string(), b.to_string());
        }
        _ => panic!("different outcomes: {a:?} / {b:?}"),
    }
}
