//! [`check_base_url`]: refuses, before any API call, a base URL that Stripe would refuse or could
//! not reach.
//!
//! The URL is parsed first, by the WHATWG URL parser (the `url` crate: how Stripe, browsers and
//! HTTP clients read it), and the rules run on what it parsed: `http://127.1`, `0x7f.0.0.1`,
//! `0177.0.0.1` and `[::127.0.0.1]` are all the loopback address to a URL parser and to the OS,
//! so they are addresses here too, never host names. A Unicode host name becomes its punycode
//! (`bücher.example` → `xn--bcher-kva.example`). What is accepted is the parsed URL written out
//! again, so the URL Stripe gets is exactly the one that was checked.

use std::net::{Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::Error;

/// Checks a webhook base URL (`https://shop.example.com`, optionally with a path) and returns it
/// as the URL parser reads it (scheme and host in lower case, a Unicode host in punycode, a
/// default port dropped) without a trailing slash.
///
/// Refused, with the reason and a suggestion (a tunnel or a public URL): anything but http(s),
/// plain http in live mode, port 0, `localhost`, `*.localhost`, `localhost.localdomain`, loopback
/// (127.0.0.0/8, ::1), private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16,
/// fe80::/10), unspecified, shared (100.64/10), documentation and benchmarking addresses,
/// multicast and reserved ones, IPv6 addresses that carry one of those IPv4 addresses
/// (IPv4-mapped `::ffff:0:0/96`, IPv4-compatible `::/96`, NAT64 `64:ff9b::/96`, 6to4
/// `2002::/16`), `.local`/`.internal`/`.lan`/`.home.arpa` names and single-label host names, a
/// user name or password, a query or a fragment. However an address is spelled (`127.1`,
/// `0x7f.0.0.1`, `0177.0.0.1`, `127.000.000.001`, `10.1`, `[::127.0.0.1]`), it is the address
/// that is checked.
///
/// ```
/// use djstripe_core::endpoints::check_base_url;
/// assert_eq!(check_base_url("https://shop.example.com/", true).unwrap(), "https://shop.example.com");
/// assert_eq!(check_base_url("https://bücher.example/", true).unwrap(), "https://xn--bcher-kva.example");
/// let err = check_base_url("http://localhost:8000", false).unwrap_err().to_string();
/// assert!(err.contains("localhost") && err.contains("stripe listen"), "{err}");
/// let err = check_base_url("http://0x7f.1", false).unwrap_err().to_string();
/// assert!(err.contains("127.0.0.1") && err.contains("loopback"), "{err}");
/// ```
pub fn check_base_url(base: &str, livemode: bool) -> Result<String, Error> {
    let base = base.trim();
    // Slashes and whitespace together: `https://shop.example.com/app /` is `.../app`, not `.../app%20`.
    let trimmed = base.trim_end_matches(|c: char| c == '/' || c.is_whitespace());
    match parse(base, trimmed, livemode) {
        Ok(url) => Ok(url.as_str().trim_end_matches('/').to_owned()),
        Err(why) => Err(Error::BaseUrlRejected { url: base.to_owned(), reason: why }),
    }
}

/// The parsed URL (of `base` without its trailing slashes: `trimmed`), or why it is refused.
fn parse(base: &str, trimmed: &str, livemode: bool) -> Result<Url, String> {
    // The WHATWG parser forgives what a person would not mean: tabs and newlines inside the URL,
    // backslashes for slashes, `http:host` without slashes. Refused here, so that the URL the
    // operator typed and the one Stripe gets look alike.
    if base.chars().any(|c| c.is_control() || c.is_whitespace() && c != ' ') || base.contains('\\') {
        return Err("it holds a control character, a tab or a backslash".into());
    }
    let Some((scheme, _)) = base.split_once("://") else {
        return Err("it is not an http(s) URL (it has no scheme)".into());
    };
    match scheme.to_ascii_lowercase().as_str() {
        "https" => {}
        "http" if livemode => return Err("live-mode endpoints must use https".into()),
        "http" => {}
        other => return Err(format!("`{other}` is not http or https")),
    }
    let url = Url::parse(trimmed).map_err(|e| match e {
        url::ParseError::EmptyHost => "it has no host".to_owned(),
        url::ParseError::InvalidPort => "its port is not a number from 1 to 65535".to_owned(),
        url::ParseError::InvalidIpv4Address => {
            "its host ends in a number, so URL parsers read it as an IPv4 address, but it is not one".to_owned()
        }
        url::ParseError::InvalidIpv6Address => "its host is not a valid IPv6 address (written in brackets)".to_owned(),
        url::ParseError::IdnaError => "its host is not a valid internationalized domain name".to_owned(),
        other => format!("it is not a valid URL ({other})"),
    })?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err("a base URL cannot have a query or a fragment (the endpoint path is appended to it)".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a base URL cannot hold a user name or password".into());
    }
    if url.port() == Some(0) {
        return Err("port 0 is no port to connect to".into());
    }
    let reason = match url.host() {
        None => Some("it has no host".to_owned()),
        Some(Host::Ipv4(ip)) => v4_reason(ip),
        Some(Host::Ipv6(ip)) => v6_reason(ip),
        Some(Host::Domain(name)) => name_reason(name),
    };
    reason.map_or(Ok(url), Err)
}

/// Why a host name (as the parser wrote it: lower case, punycode) is refused, or `None`.
fn name_reason(host: &str) -> Option<String> {
    let name = host.strip_suffix('.').unwrap_or(host);
    if name == "localhost" || name.ends_with(".localhost") || name == "localhost.localdomain" {
        return Some(format!("`{host}` is this machine, which Stripe cannot reach"));
    }
    for suffix in [".local", ".internal", ".lan", ".home.arpa", ".localdomain"] {
        if name.ends_with(suffix) {
            return Some(format!("`{host}` is a local-network name ({suffix}), not resolvable from the internet"));
        }
    }
    if !name.contains('.') {
        return Some(format!("`{host}` is a single-label host name, not resolvable from the internet"));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if !name.split('.').all(label_ok) {
        return Some(format!("`{host}` is not a valid host name"));
    }
    None
}

fn v6_reason(ip: Ipv6Addr) -> Option<String> {
    let s = ip.segments();
    let embedded = |v4: Ipv4Addr, how: &str| v4_reason(v4).map(|why| format!("`[{ip}]` is {how} {why}"));
    if ip == Ipv6Addr::LOCALHOST {
        Some(format!("`[{ip}]` is the loopback address of this machine, which Stripe cannot reach"))
    } else if ip.is_unspecified() {
        Some(format!("`[{ip}]` is the unspecified address"))
    } else if let Some(v4) = ip.to_ipv4_mapped() {
        embedded(v4, "IPv4-mapped:")
    } else if s[..6] == [0; 6] {
        // IPv4-compatible (`::a.b.c.d`, deprecated): the address is the IPv4 one.
        embedded(Ipv4Addr::from(ip.to_bits() as u32), "IPv4-compatible:")
    } else if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        embedded(Ipv4Addr::from(ip.to_bits() as u32), "NAT64 (64:ff9b::/96), translated to")
    } else if s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 {
        Some(format!("`[{ip}]` is a local-use NAT64 (64:ff9b:1::/48) address"))
    } else if s[0] == 0x2002 {
        embedded(Ipv4Addr::from(((u32::from(s[1])) << 16) | u32::from(s[2])), "6to4 (2002::/16), carrying")
    } else if s[0] & 0xfe00 == 0xfc00 {
        Some(format!("`[{ip}]` is a private (unique local, fc00::/7) address"))
    } else if s[0] & 0xffc0 == 0xfe80 || s[0] & 0xffc0 == 0xfec0 {
        Some(format!("`[{ip}]` is a link-local (fe80::/10) or site-local (fec0::/10) address"))
    } else if s[0] & 0xff00 == 0xff00 {
        Some(format!("`[{ip}]` is a multicast address"))
    } else if s[0] == 0x2001 && s[1] == 0x0db8 || s[0] == 0x3fff && s[1] & 0xf000 == 0 {
        Some(format!("`[{ip}]` is a documentation address (2001:db8::/32, 3fff::/20)"))
    } else if s[0] == 0x0100 && s[1..4] == [0, 0, 0] {
        Some(format!("`[{ip}]` is a discard-only (100::/64) address"))
    } else {
        None
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<String> {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        Some(format!("`{ip}` is a loopback address (127.0.0.0/8) of this machine, which Stripe cannot reach"))
    } else if ip.is_private() {
        Some(format!("`{ip}` is a private address (10/8, 172.16/12, 192.168/16)"))
    } else if ip.is_link_local() {
        Some(format!("`{ip}` is a link-local address (169.254/16)"))
    } else if ip.is_unspecified() || a == 0 {
        Some(format!("`{ip}` is not a routable address"))
    } else if a == 100 && (64..128).contains(&b) {
        Some(format!("`{ip}` is a shared (carrier-grade NAT, 100.64/10) address"))
    } else if ip.is_documentation() {
        Some(format!("`{ip}` is a documentation address (192.0.2/24, 198.51.100/24, 203.0.113/24)"))
    } else if a == 198 && (b == 18 || b == 19) {
        Some(format!("`{ip}` is a benchmarking address (198.18/15)"))
    } else if a == 192 && b == 0 && c == 0 {
        Some(format!("`{ip}` is an IETF protocol address (192.0.0/24)"))
    } else if ip.is_broadcast() || a >= 224 {
        Some(format!("`{ip}` is a multicast or reserved address"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_pass_normalized_and_lose_the_trailing_slash() {
        for (url, live, expected) in [
            ("https://shop.example.com", true, "https://shop.example.com"),
            ("https://shop.example.com/", true, "https://shop.example.com"),
            ("https://shop.example.com:8443/app/", true, "https://shop.example.com:8443/app"),
            ("http://shop.example.com", false, "http://shop.example.com"),
            ("https://abcd.ngrok-free.app", true, "https://abcd.ngrok-free.app"),
            ("https://93.184.216.34", true, "https://93.184.216.34"),
            ("https://[2606:4700::1]:8443", true, "https://[2606:4700::1]:8443"),
            // What the URL parser makes of it: lower case, the default port dropped.
            ("HTTPS://Shop.Example.com", true, "https://shop.example.com"),
            ("https://[2606:4700::1]:443", true, "https://[2606:4700::1]"),
            ("https://shop.example.com:443/", true, "https://shop.example.com"),
            // A public address, however spelled, is written as four decimal numbers.
            ("https://0x5d.0xb8.0xd8.0x22", true, "https://93.184.216.34"),
            ("https://1572395042", true, "https://93.184.216.34"),
            // Unicode host names are converted to punycode, not refused (issue 15, item 7).
            ("https://bücher.example", true, "https://xn--bcher-kva.example"),
            ("https://ШОП.рф/app", true, "https://xn--n1acz.xn--p1ai/app"),
        ] {
            assert_eq!(check_base_url(url, live).unwrap(), expected, "{url}");
        }
    }

    #[test]
    fn refused_urls_say_why() {
        for (url, live, why) in [
            ("http://localhost:8000", false, "this machine"),
            ("https://app.localhost", false, "this machine"),
            ("http://127.0.0.1:8000", false, "loopback"),
            ("http://127.8.9.10", false, "loopback"),
            ("http://[::1]:8000", false, "loopback"),
            ("http://10.1.2.3", false, "private"),
            ("http://172.16.0.1", false, "private"),
            ("http://172.31.255.255", false, "private"),
            ("http://192.168.1.10", false, "private"),
            ("http://169.254.169.254", false, "link-local"),
            ("http://[fd12:3456::1]", false, "fc00::/7"),
            ("http://[fe80::1]", false, "link-local"),
            ("http://[::ffff:10.0.0.1]", false, "private"),
            ("http://0.0.0.0:8000", false, "routable"),
            ("http://100.64.0.1", false, "carrier-grade"),
            ("http://192.0.2.7", false, "documentation"),
            ("http://[2001:db8::1]", false, "documentation"),
            ("http://198.18.0.1", false, "benchmarking"),
            ("http://[ff02::1]", false, "multicast"),
            ("https://printer.local", false, ".local"),
            ("https://api.corp.internal", false, ".internal"),
            ("https://intranet", false, "single-label"),
            ("http://shop.example.com", true, "https"),
            ("ftp://shop.example.com", false, "not http or https"),
            ("shop.example.com", false, "no scheme"),
            ("https://", false, "no host"),
            ("https://shop.example.com?x=1", false, "query"),
            ("https://shop.example.com#top", false, "query or a fragment"),
            ("https://user:pw@shop.example.com", false, "password"),
            ("https://shop.example.com:99999", false, "port"),
            ("https://shop.example.com:+443", false, "port"),
            ("https://shop\\example.com", false, "backslash"),
            ("https://shop.exa\tmple.com", false, "tab"),
            ("https://shop..example.com", false, "not a valid host name"),
            ("https://-shop.example.com", false, "not a valid host name"),
        ] {
            let err = check_base_url(url, live).unwrap_err();
            assert!(matches!(err, Error::BaseUrlRejected { .. }), "{url}: {err:?}");
            let message = err.to_string();
            assert!(message.contains(why), "{url}: {message}");
            assert!(message.contains("tunnel") && message.contains("public"), "{url}: {message}");
        }
    }

    /// Issue 15, item 7: every spelling the attack used was accepted (the check read a host that is
    /// not four decimal numbers as a name; URL parsers and the OS read it as an address). Each is
    /// refused now, naming the address it really is.
    #[test]
    fn every_spelling_of_an_address_is_the_address() {
        for (url, address, why) in [
            ("http://127.1", "127.0.0.1", "loopback"),
            ("http://0x7f.0.0.1", "127.0.0.1", "loopback"),
            ("http://0177.0.0.1", "127.0.0.1", "loopback"),
            ("http://127.000.000.001", "127.0.0.1", "loopback"),
            ("http://2130706433", "127.0.0.1", "loopback"),
            ("http://2130706433.", "127.0.0.1", "loopback"),
            ("http://0x7F000001:8000", "127.0.0.1", "loopback"),
            ("http://10.1", "10.0.0.1", "private"),
            ("http://192.168.1", "192.168.0.1", "private"),
            ("http://0xa9.0xfe.0xa9.0xfe", "169.254.169.254", "link-local"),
            ("http://0", "0.0.0.0", "routable"),
            ("http://[::127.0.0.1]", "[::7f00:1]", "IPv4-compatible: `127.0.0.1` is a loopback"),
            ("http://[::ffff:127.0.0.1]", "[::ffff:127.0.0.1]", "IPv4-mapped: `127.0.0.1` is a loopback"),
            ("http://[::ffff:7f00:1]", "[::ffff:127.0.0.1]", "loopback"),
            ("http://[0:0:0:0:0:0:0:1]", "[::1]", "loopback"),
            ("http://[::]", "[::]", "unspecified"),
            ("http://[64:ff9b::7f00:1]", "[64:ff9b::7f00:1]", "NAT64 (64:ff9b::/96), translated to `127.0.0.1`"),
            ("http://[64:ff9b::10.0.0.1]", "[64:ff9b::a00:1]", "private"),
            ("http://[64:ff9b:1::1]", "[64:ff9b:1::1]", "local-use NAT64"),
            ("http://[2002:7f00:1::1]", "[2002:7f00:1::1]", "6to4 (2002::/16), carrying `127.0.0.1`"),
            ("http://[FE80::1]", "[fe80::1]", "link-local"),
            ("http://LOCALHOST", "localhost", "this machine"),
            ("http://localhost.", "localhost.", "this machine"),
            ("http://localhost.localdomain", "localhost.localdomain", "this machine"),
            ("http://api.LocalHost.", "api.localhost.", "this machine"),
            ("http://ｌｏｃａｌｈｏｓｔ", "localhost", "this machine"),
            ("http://shop.example.com:0", "", "port 0"),
        ] {
            let message = check_base_url(url, false).unwrap_err().to_string();
            assert!(message.contains(why), "{url}: {message}");
            assert!(message.contains(&format!("`{address}`")) || address.is_empty(), "{url}: {message}");
        }
        // A host ending in a number that is no IPv4 address is no URL at all.
        for url in ["http://1.2.3.4.5", "http://200.64.p.1", "http://0x7g.1", "http://256.1.1.1"] {
            let message = check_base_url(url, false).unwrap_err().to_string();
            assert!(message.contains("IPv4"), "{url}: {message}");
        }
    }

    /// Inputs the fuzzer found (fuzz/corpus/base_url/regression-*): each was accepted although a
    /// URL parser reads it as another host than the check did, or as no URL at all.
    #[test]
    fn fuzz_regressions_are_refused() {
        for url in [
            "https://[2606:4700::1]:4431]:",
            "https://[2606:4700::1]x",
            "https://shop.example.com:+443",
            "https://[shop.example.com]",
            "http://::ffff:0",
        ] {
            assert!(check_base_url(url, false).is_err(), "{url}");
        }
        // Names that merely contain digits still pass.
        for url in ["https://shop1.example.com", "https://1.example.com", "https://shop.example.com.:443"] {
            assert!(check_base_url(url, true).is_ok(), "{url}");
        }
        // Found by the fuzzer too: whitespace before a trailing slash stayed in the URL.
        assert_eq!(check_base_url("http://0.la/2 /", false).unwrap(), "http://0.la/2");
    }

    /// What is accepted is accepted again as it is, and the URL parser reads it the same way.
    #[test]
    fn accepted_urls_are_stable() {
        for url in ["https://bücher.example/a/b/", "HTTPS://Shop.Example.com:443", "https://1572395042/x"] {
            let once = check_base_url(url, true).unwrap();
            assert_eq!(check_base_url(&once, true).unwrap(), once, "{url}");
            assert_eq!(Url::parse(&once).unwrap().as_str().trim_end_matches('/'), once);
        }
    }

    proptest::proptest! {
        /// The fuzz target's properties (fuzz/fuzz_targets/base_url.rs), on URL-shaped input: what
        /// is accepted is what the URL parser reads, accepted again as it is, https in live mode.
        #[test]
        fn accepted_is_what_the_parser_reads(
            input in "(https?|HTTP|ftp)://[a-zA-Z0-9.\\[\\]:%@_ü-]{0,24}(:[0-9]{0,6})?(/[a-z0-9./% ]{0,8}){0,2}/?",
            live in proptest::bool::ANY,
        ) {
            if let Ok(accepted) = check_base_url(&input, live) {
                let trimmed = input.trim().trim_end_matches(|c: char| c == '/' || c.is_whitespace());
                let parsed = Url::parse(trimmed).unwrap();
                proptest::prop_assert_eq!(parsed.as_str().trim_end_matches('/'), accepted.as_str());
                proptest::prop_assert_eq!(check_base_url(&accepted, live).ok(), Some(accepted.clone()));
                proptest::prop_assert!(!live || parsed.scheme() == "https");
                let endpoint = Url::parse(&format!("{accepted}/stripe/webhook/6f1c1d0e-8a4b-4c43-9d7e-2f0a6f1c1d0e/"));
                proptest::prop_assert!(endpoint.is_ok_and(|e| e.host() == parsed.host()));
            }
        }
    }

    #[test]
    fn public_neighbours_of_private_ranges_pass() {
        for url in [
            "http://172.15.255.255",
            "http://172.32.0.1",
            "http://11.0.0.1",
            "http://100.128.0.1",
            "http://169.255.0.1",
            "http://[64:ff9b::5db8:d822]",
            "http://[2002:5db8:d822::1]",
        ] {
            assert!(check_base_url(url, false).is_ok(), "{url}");
        }
    }
}
