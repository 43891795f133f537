//! Property tests for `Stripe-Signature` verification: what is signed verifies, any change to the
//! payload does not, and no input makes the verifier panic.

use std::time::Duration;

use djstripe_core::signature::SignatureHeader;
use djstripe_core::{Error, Verifier, testing};
use proptest::prelude::*;

/// Secrets: non-empty (an empty one is refused by design), arbitrary Unicode.
fn secret() -> impl Strategy<Value = String> {
    "\\PC{1,64}"
}

/// Timestamps a real delivery could carry (non-negative Unix seconds).
fn timestamp() -> impl Strategy<Value = i64> {
    0..=i64::MAX
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn signed_then_verified(
        secret in secret(),
        t in timestamp(),
        payload in proptest::collection::vec(any::<u8>(), 0..2048),
        skew in -300i64..=300,
    ) {
        let header = testing::header(&secret, t, &payload);
        let verifier = Verifier::new([secret.as_str()]);
        let now = t.saturating_add(skew);
        let parsed = verifier.verify_at(Some(&header), &payload, now).unwrap();
        prop_assert_eq!(parsed.timestamp(), t);
        prop_assert!(verifier.verify_bytes_at(Some(header.as_bytes()), &payload, now).is_ok());
    }

    #[test]
    fn any_secret_of_several_verifies(
        secrets in proptest::collection::vec(secret(), 1..5),
        pick in any::<prop::sample::Index>(),
        payload in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let signer = pick.get(&secrets);
        let header = testing::header(signer, 1_700_000_000, &payload);
        let verifier = Verifier::new(&secrets);
        prop_assert!(verifier.verify_at(Some(&header), &payload, 1_700_000_000).is_ok());
    }

    #[test]
    fn any_single_byte_change_fails(
        secret in secret(),
        t in timestamp(),
        payload in proptest::collection::vec(any::<u8>(), 1..1024),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let header = testing::header(&secret, t, &payload);
        let mut tampered = payload.clone();
        let i = at.index(tampered.len());
        tampered[i] ^= flip;
        let verifier = Verifier::new([secret]).tolerance(Duration::ZERO);
        let result = verifier.verify_at(Some(&header), &tampered, t);
        prop_assert!(matches!(result, Err(Error::NoMatchingSignature)), "{:?}", result);
    }

    #[test]
    fn a_different_secret_fails(
        secret in secret(),
        other in secret(),
        payload in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        prop_assume!(secret != other);
        let header = testing::header(&other, 1_700_000_000, &payload);
        let result = Verifier::new([secret]).verify_at(Some(&header), &payload, 1_700_000_000);
        prop_assert!(matches!(result, Err(Error::NoMatchingSignature)), "{:?}", result);
    }

    #[test]
    fn arbitrary_header_strings_never_panic(header in "\\PC{0,300}", now in any::<i64>()) {
        let _ = SignatureHeader::parse(&header);
        let verifier = Verifier::new(["whsec_x"]);
        let _ = verifier.verify_at(Some(&header), b"{}", now);
        let _ = verifier.tolerance(Duration::from_secs(u64::MAX)).verify_at(Some(&header), b"{}", now);
    }

    #[test]
    fn header_shaped_strings_never_panic(
        items in proptest::collection::vec(
            prop_oneof![
                "t=[0-9+-]{0,25}",
                "v1=[0-9a-fA-F]{0,70}",
                "v0=[a-z]{0,5}",
                "[ \t]*[a-z0-9]{0,3}[ \t]*=?[ \t]*[^,]{0,10}",
            ],
            0..8,
        ),
        now in any::<i64>(),
    ) {
        let header = items.join(",");
        let result = Verifier::new(["whsec_x"]).verify_at(Some(&header), b"{}", now);
        // Nothing here was signed with the secret: it can never succeed.
        prop_assert!(result.is_err());
    }

    #[test]
    fn arbitrary_header_bytes_never_panic(header in proptest::collection::vec(any::<u8>(), 0..300)) {
        let verifier = Verifier::new(["whsec_x"]);
        let result = verifier.verify_bytes_at(Some(&header), b"{}", 0);
        if std::str::from_utf8(&header).is_err() {
            prop_assert!(matches!(result, Err(Error::SignatureHeaderMalformed { .. })), "{:?}", result);
        }
    }

    #[test]
    fn parse_round_trips_through_display(t in timestamp(), sigs in proptest::collection::vec("[0-9a-f]{64}", 1..4)) {
        let header = SignatureHeader::parse(&format!("t={t},v1={}", sigs.join(",v1="))).unwrap();
        prop_assert_eq!(header.timestamp(), t);
        prop_assert_eq!(header.v1(), &sigs[..]);
        prop_assert_eq!(SignatureHeader::parse(&header.to_string()).unwrap(), header);
    }
}
