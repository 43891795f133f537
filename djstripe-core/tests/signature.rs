//! `Stripe-Signature` verification: Stripe's published shape, rotation, malformed headers,
//! the timestamp tolerance, and tampering.

use std::time::Duration;

use djstripe_core::signature::{MAX_HEADER_LEN, SignatureHeader, sign};
use djstripe_core::{Error, Verifier, testing};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const SECRET: &str = "whsec_test_secret";
const T: i64 = 1492774577;
const PAYLOAD: &[u8] = br#"{
  "id": "evt_test_webhook",
  "object": "event"
}"#;

/// The v1 signature computed independently of the crate, straight from the definition.
fn reference_sig(secret: &str, t: i64, payload: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(payload);
    hex::encode(mac.finalize().into_bytes())
}

fn verifier() -> Verifier {
    Verifier::new([SECRET])
}

fn valid_header() -> String {
    format!("t={T},v1={}", reference_sig(SECRET, T, PAYLOAD))
}

fn malformed(result: Result<SignatureHeader, Error>) -> bool {
    matches!(result, Err(Error::SignatureHeaderMalformed { .. }))
}

#[test]
fn sign_matches_the_reference_hmac() {
    assert_eq!(sign(SECRET, T, PAYLOAD), reference_sig(SECRET, T, PAYLOAD));
    assert_eq!(testing::header(SECRET, T, PAYLOAD), valid_header());
    // A known answer (Python's hmac module), so that a change of both implementations is caught.
    assert_eq!(sign(SECRET, T, b"{}"), "53140ab8fa70c511cc40d5c9198af7dde7bbaee877038c056d8250c3bd3b2e11");
}

#[test]
fn valid_header_verifies_and_returns_the_parsed_header() {
    let parsed = verifier().verify_at(Some(&valid_header()), PAYLOAD, T).unwrap();
    assert_eq!(parsed.timestamp(), T);
    assert_eq!(parsed.v1(), [reference_sig(SECRET, T, PAYLOAD)]);
    // The same through the bytes entry point and the system clock (tolerance off for the latter).
    assert!(verifier().verify_bytes_at(Some(valid_header().as_bytes()), PAYLOAD, T).is_ok());
    assert!(verifier().tolerance(Duration::ZERO).verify(Some(&valid_header()), PAYLOAD).is_ok());
}

#[test]
fn header_now_verifies_with_the_system_clock() {
    let header = testing::header_now(SECRET, PAYLOAD);
    assert!(verifier().verify(Some(&header), PAYLOAD).is_ok());
    assert!(verifier().verify_bytes(Some(header.as_bytes()), PAYLOAD).is_ok());
}

#[test]
fn one_matching_v1_among_several_is_enough() {
    let good = reference_sig(SECRET, T, PAYLOAD);
    let bad = reference_sig("whsec_other", T, PAYLOAD);
    for header in [
        format!("t={T},v1={bad},v1={good}"),
        format!("t={T},v1={good},v1={bad}"),
        format!("t={T},v1=nothex,v1={good},v0={bad}"),
        format!("v1={bad},t={T},v1={good}"), // order of items does not matter
    ] {
        assert!(verifier().verify_at(Some(&header), PAYLOAD, T).is_ok(), "{header}");
    }
}

#[test]
fn every_configured_secret_verifies_during_a_rotation() {
    let rotating = Verifier::new(["whsec_new", "whsec_old"]);
    for secret in ["whsec_new", "whsec_old"] {
        let header = testing::header(secret, T, PAYLOAD);
        assert!(rotating.verify_at(Some(&header), PAYLOAD, T).is_ok(), "{secret}");
    }
    let header = testing::header("whsec_retired", T, PAYLOAD);
    assert!(matches!(rotating.verify_at(Some(&header), PAYLOAD, T), Err(Error::NoMatchingSignature)));
}

#[test]
fn v0_only_is_no_v1_signature() {
    let header = format!("t={T},v0={}", reference_sig(SECRET, T, PAYLOAD));
    assert!(matches!(verifier().verify_at(Some(&header), PAYLOAD, T), Err(Error::NoV1Signature)));
    assert!(matches!(verifier().verify_at(Some(&format!("t={T}")), PAYLOAD, T), Err(Error::NoV1Signature)));
}

#[test]
fn a_v1_without_equals_sign_is_no_v1_signature() {
    let sig = reference_sig(SECRET, T, PAYLOAD);
    let result = verifier().verify_at(Some(&format!("t={T},v1{sig}")), PAYLOAD, T);
    assert!(matches!(result, Err(Error::NoV1Signature)), "{result:?}");
}

#[test]
fn missing_header() {
    assert!(matches!(verifier().verify_at(None, PAYLOAD, T), Err(Error::SignatureHeaderMissing)));
    assert!(matches!(verifier().verify_bytes_at(None, PAYLOAD, T), Err(Error::SignatureHeaderMissing)));
    assert!(matches!(verifier().verify(None, PAYLOAD), Err(Error::SignatureHeaderMissing)));
}

#[test]
fn malformed_headers() {
    let sig = reference_sig(SECRET, T, PAYLOAD);
    for header in [
        String::new(),
        "   ".into(),
        ",,,".into(),
        "garbage".into(),
        format!("t=abc,v1={sig}"),
        format!("t=,v1={sig}"),
        format!("t=-{T},v1={sig}"),
        format!("t=+{T},v1={sig}"),
        format!("t=1 2,v1={sig}"),
        format!("t=99999999999999999999999,v1={sig}"),
        format!("v1={sig}"),
        format!("t={T},t={T},v1={sig}"),
        format!("t={T},t={},v1={sig}", T + 1),
        format!("t={T};v1={sig}"),
        format!("T={T},v1={sig}"),
        format!("t={T},v1={sig},{}", "x".repeat(MAX_HEADER_LEN)),
    ] {
        let result = verifier().verify_at(Some(&header), PAYLOAD, T);
        assert!(malformed(result), "{:?} should be malformed", &header[..header.len().min(80)]);
    }
}

#[test]
fn malformed_messages_say_what_is_wrong_without_echoing_the_whole_header() {
    let Err(Error::SignatureHeaderMalformed { reason: why }) = SignatureHeader::parse("t=1,t=2,v1=00") else {
        panic!()
    };
    assert!(why.contains("more than one"), "{why}");
    let Err(Error::SignatureHeaderMalformed { reason: why }) = SignatureHeader::parse("v1=00") else { panic!() };
    assert!(why.contains("no `t=`"), "{why}");
    let long = format!("t={},v1=00", "y".repeat(1000));
    let Err(Error::SignatureHeaderMalformed { reason: why }) = SignatureHeader::parse(&long) else { panic!() };
    assert!(why.len() < 100, "{why}");
}

#[test]
fn whitespace_around_items_and_unknown_schemes_are_ignored() {
    let sig = reference_sig(SECRET, T, PAYLOAD);
    for header in [
        format!(" t={T} , v1={sig} "),
        format!("t = {T},\tv1 = {sig}"),
        format!("t={T},v1={sig},"),
        format!("t={T},,v1={sig}"),
        format!("t={T},v0=abc,v2=def,scheme=whatever,v1={sig}"),
        format!("t=000{T},v1={sig}"), // leading zeros: the same number, signed as Stripe writes it
        // Items without `=` are ignored, as Stripe's libraries do (this was "not a key=value pair").
        format!("t={T},v1={sig},v2flag"),
        format!("flag,t={T},v1={sig}"),
    ] {
        assert!(verifier().verify_at(Some(&header), PAYLOAD, T).is_ok(), "{header:?}");
    }
}

#[test]
fn header_at_the_length_limit_is_accepted_and_one_past_is_not() {
    let prefix = format!("t={T},v1={},v0=", reference_sig(SECRET, T, PAYLOAD));
    let at_limit = format!("{prefix}{}", "a".repeat(MAX_HEADER_LEN - prefix.len()));
    assert_eq!(at_limit.len(), MAX_HEADER_LEN);
    assert!(verifier().verify_at(Some(&at_limit), PAYLOAD, T).is_ok());
    let past = format!("{at_limit}a");
    assert!(malformed(verifier().verify_at(Some(&past), PAYLOAD, T)));
}

#[test]
fn non_utf8_header_bytes_are_malformed() {
    let mut header = valid_header().into_bytes();
    header.push(0xff);
    assert!(malformed(verifier().verify_bytes_at(Some(&header), PAYLOAD, T)));
    assert!(malformed(verifier().verify_bytes_at(Some(b"\xc3\x28"), PAYLOAD, T)));
}

#[test]
fn non_hex_or_wrong_length_v1_never_matches() {
    let sig = reference_sig(SECRET, T, PAYLOAD);
    for v1 in ["", "zz", &sig[..62], &format!("{sig}00"), &sig.to_uppercase().replace('A', "G")] {
        let header = format!("t={T},v1={v1}");
        assert!(matches!(verifier().verify_at(Some(&header), PAYLOAD, T), Err(Error::NoMatchingSignature)), "{v1}");
    }
    // Upper-case hex is the same bytes.
    let upper = format!("t={T},v1={}", sig.to_uppercase());
    assert!(verifier().verify_at(Some(&upper), PAYLOAD, T).is_ok());
}

#[test]
fn stale_and_future_timestamps_beyond_the_tolerance_are_rejected() {
    let header = valid_header();
    for now in [T + 301, T - 301, T + 10_000, T - 10_000, 0, i64::MAX, i64::MIN] {
        let result = verifier().verify_at(Some(&header), PAYLOAD, now);
        assert!(
            matches!(result, Err(Error::TimestampOutsideTolerance { timestamp: T, now: n, tolerance })
                if n == now && tolerance == Duration::from_secs(300)),
            "now = {now}: {result:?}"
        );
    }
}

#[test]
fn timestamps_within_the_tolerance_are_accepted() {
    let header = valid_header();
    for now in [T, T + 1, T - 1, T + 300, T - 300] {
        assert!(verifier().verify_at(Some(&header), PAYLOAD, now).is_ok(), "now = {now}");
    }
    let strict = verifier().tolerance(Duration::from_secs(10));
    assert!(strict.verify_at(Some(&header), PAYLOAD, T + 10).is_ok());
    assert!(matches!(strict.verify_at(Some(&header), PAYLOAD, T + 11), Err(Error::TimestampOutsideTolerance { .. })));
}

#[test]
fn tolerance_zero_turns_the_timestamp_check_off() {
    let lenient = verifier().tolerance(Duration::ZERO);
    assert_eq!(lenient.current_tolerance(), Duration::ZERO);
    for now in [T + 1_000_000_000, 0, i64::MIN, i64::MAX] {
        assert!(lenient.verify_at(Some(&valid_header()), PAYLOAD, now).is_ok(), "now = {now}");
    }
    // ...but the signature still has to match.
    assert!(matches!(lenient.verify_at(Some(&valid_header()), b"{}", 0), Err(Error::NoMatchingSignature)));
}

#[test]
fn timestamp_is_checked_before_the_signature() {
    // A stale header with a wrong signature reports the timestamp: that is the cheaper check,
    // and it is what Stripe's libraries report too.
    let header = format!("t={T},v1={}", reference_sig("whsec_other", T, PAYLOAD));
    assert!(matches!(
        verifier().verify_at(Some(&header), PAYLOAD, T + 1000),
        Err(Error::TimestampOutsideTolerance { .. })
    ));
}

#[test]
fn a_tampered_payload_does_not_verify() {
    let header = valid_header();
    for i in 0..PAYLOAD.len() {
        let mut tampered = PAYLOAD.to_vec();
        tampered[i] ^= 0x01;
        assert!(
            matches!(verifier().verify_at(Some(&header), &tampered, T), Err(Error::NoMatchingSignature)),
            "byte {i}"
        );
    }
    let mut longer = PAYLOAD.to_vec();
    longer.push(b' ');
    assert!(matches!(verifier().verify_at(Some(&header), &longer, T), Err(Error::NoMatchingSignature)));
    assert!(matches!(verifier().verify_at(Some(&header), b"", T), Err(Error::NoMatchingSignature)));
}

#[test]
fn a_tampered_timestamp_does_not_verify() {
    let header = format!("t={},v1={}", T + 1, reference_sig(SECRET, T, PAYLOAD));
    assert!(matches!(verifier().verify_at(Some(&header), PAYLOAD, T), Err(Error::NoMatchingSignature)));
}

#[test]
fn a_wrong_secret_does_not_verify() {
    for secret in ["whsec_test_secreT", "whsec_test_secre", "whsec_test_secret ", "other"] {
        let header = testing::header(secret, T, PAYLOAD);
        assert!(matches!(verifier().verify_at(Some(&header), PAYLOAD, T), Err(Error::NoMatchingSignature)), "{secret}");
    }
}

#[test]
fn no_secret_is_reported_before_anything_else() {
    let empty: [&str; 0] = [];
    for verifier in [Verifier::new(empty), Verifier::new([""]), Verifier::new(vec![String::new(), String::new()])] {
        assert_eq!(verifier.secret_count(), 0);
        assert!(matches!(verifier.verify_at(Some(&valid_header()), PAYLOAD, T), Err(Error::NoSecret)));
        assert!(matches!(verifier.verify_at(None, PAYLOAD, T), Err(Error::NoSecret)));
        assert!(matches!(verifier.verify_bytes_at(Some(b"\xff"), PAYLOAD, T), Err(Error::NoSecret)));
    }
}

#[test]
fn signed_events_from_the_builder_verify() {
    let delivery = testing::EventBuilder::new("invoice.paid").signed_at(SECRET, T);
    let parsed = verifier().verify_at(Some(&delivery.header), &delivery.body, T).unwrap();
    assert_eq!(parsed.timestamp(), T);
    assert_eq!(delivery.timestamp(), T);
    let event = djstripe_core::Event::from_slice(&delivery.body).unwrap();
    assert_eq!(event, delivery.event);
}

#[test]
fn error_messages_are_useful() {
    let err = verifier().verify_at(Some(&valid_header()), PAYLOAD, T + 400).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the Stripe-Signature timestamp {T} is 400 s away from now ({}), beyond the tolerance of 300 s",
            T + 400
        )
    );
}
