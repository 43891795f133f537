//! Base-URL validation (`endpoints::check_base_url`) on hostile input, against the WHATWG URL
//! parser (the `url` crate): how Stripe, browsers and HTTP clients read the URL.
//!
//! Properties, beyond "no panic", in test and live mode:
//! - a refusal is `BaseUrlRejected` naming the (trimmed) URL;
//! - an accepted URL is what the URL parser makes of the trimmed input, without trailing '/', and
//!   is accepted again as is (idempotent); accepted in live mode means https and accepted in test
//!   mode too;
//! - an accepted URL is a valid URL with an endpoint path appended, without user, password,
//!   query or fragment;
//! - the host the URL parser sees is acceptable written plainly: an address (`127.1`,
//!   `0x7f.0.0.1` are 127.0.0.1) must be a public one, a name must not be local.
#![no_main]

use djstripe_core::Error;
use djstripe_core::endpoints::check_base_url;
use libfuzzer_sys::fuzz_target;
use url::{Host, Url};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    let test_mode = check(input, false);
    let live = check(input, true);
    if live {
        assert!(test_mode, "accepted in live mode only: {input:?}");
    }
});

/// Checks `input` in one mode; whether it was accepted.
fn check(input: &str, livemode: bool) -> bool {
    let accepted = match check_base_url(input, livemode) {
        Ok(accepted) => accepted,
        Err(Error::BaseUrlRejected { url, .. }) => {
            assert_eq!(url, input.trim());
            return false;
        }
        Err(other) => panic!("not BaseUrlRejected: {other:?}"),
    };
    let parsed = Url::parse(input.trim().trim_end_matches(|c: char| c == '/' || c.is_whitespace()));
    assert_eq!(parsed.map(|u| u.as_str().trim_end_matches('/').to_owned()).ok().as_deref(), Some(accepted.as_str()));
    assert!(!accepted.ends_with('/'));
    assert_eq!(check_base_url(&accepted, livemode).ok().as_deref(), Some(accepted.as_str()), "not idempotent");

    let endpoint = format!("{accepted}/stripe/webhook/6f1c1d0e-8a4b-4c43-9d7e-2f0a6f1c1d0e/");
    let url = Url::parse(&endpoint).unwrap_or_else(|e| panic!("accepted {accepted:?}, not a URL: {e}"));
    assert!(matches!(url.scheme(), "https" | "http"));
    if livemode {
        assert_eq!(url.scheme(), "https");
    }
    assert!(url.username().is_empty() && url.password().is_none(), "{accepted:?}: credentials");
    assert!(url.query().is_none() && url.fragment().is_none(), "{accepted:?}: query or fragment");
    let plain = match url.host() {
        Some(Host::Domain(name)) => format!("https://{name}"),
        Some(Host::Ipv4(ip)) => format!("https://{ip}"),
        Some(Host::Ipv6(ip)) => format!("https://[{ip}]"),
        None => panic!("accepted {accepted:?}, no host"),
    };
    assert!(check_base_url(&plain, false).is_ok(), "accepted {accepted:?}, whose host is {plain:?}: refused");
    true
}
