//! [`check_base_url`]: refuses, before any API call, a base URL that Stripe would refuse or could
//! not reach.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::Error;

/// Checks a webhook base URL (`https://shop.example.com`, optionally with a path) and returns it
/// without a trailing slash.
///
/// Refused, with the reason and a suggestion (a tunnel or a public URL): anything but http(s),
/// plain http in live mode, `localhost`, loopback (127.0.0.0/8, ::1), private (10/8, 172.16/12,
/// 192.168/16, fc00::/7), link-local (169.254/16, fe80::/10), unspecified and shared (100.64/10)
/// addresses, `.local`/`.internal`/`.localhost` names and single-label host names, a query or a
/// fragment.
///
/// ```
/// use djstripe_core::endpoints::check_base_url;
/// assert_eq!(check_base_url("https://shop.example.com/", true).unwrap(), "https://shop.example.com");
/// let err = check_base_url("http://localhost:8000", false).unwrap_err().to_string();
/// assert!(err.contains("localhost") && err.contains("stripe listen"), "{err}");
/// ```
pub fn check_base_url(base: &str, livemode: bool) -> Result<String, Error> {
    let base = base.trim();
    // Slashes and whitespace together: `https://shop.example.com/app /` is `.../app`, not `.../app `.
    let accepted = || Ok(base.trim_end_matches(|c: char| c == '/' || c.is_whitespace()).to_owned());
    reason(base, livemode).map_or_else(accepted, |why| Err(rejected(base, &why)))
}

fn rejected(base: &str, why: &str) -> Error {
    Error::BaseUrlRejected { url: base.to_owned(), reason: why.to_owned() }
}

/// Why `base` is refused, or `None`.
fn reason(base: &str, livemode: bool) -> Option<String> {
    let (scheme, rest) = match base.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        None => return Some("it is not an http(s) URL (it has no scheme)".into()),
    };
    match scheme.as_str() {
        "https" => {}
        "http" if livemode => return Some("live-mode endpoints must use https".into()),
        "http" => {}
        other => return Some(format!("`{other}` is not http or https")),
    }
    if rest.contains('?') || rest.contains('#') {
        return Some("a base URL cannot have a query or a fragment (the endpoint path is appended to it)".into());
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        return Some("a base URL cannot hold a user name or password".into());
    }
    let host = host_of(authority);
    if host.is_empty() {
        return Some("it has no host".into());
    }
    let lower = host.to_ascii_lowercase();
    let lower = lower.trim_end_matches('.');
    if let Some(inner) = lower.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return match inner.parse::<Ipv6Addr>() {
            Ok(ip) => ip_reason(IpAddr::V6(ip)),
            Err(_) => Some(format!("`{host}` is not an IPv6 address (only those are written in brackets)")),
        };
    }
    if lower.contains(':') {
        return Some(format!("`{host}` is not a host name (an IPv6 address is written in brackets: `[::1]`)"));
    }
    if let Ok(ip) = lower.parse::<Ipv4Addr>() {
        return v4_reason(ip);
    }
    if ends_in_a_number(lower) {
        return Some(format!(
            "`{host}` ends in a number, so it is read as an IPv4 address (as `127.1` and `0x7f.0.0.1` are \
             127.0.0.1), but it is not one written as four decimal numbers"
        ));
    }
    if lower == "localhost" || lower.ends_with(".localhost") {
        return Some(format!("`{host}` is this machine, which Stripe cannot reach"));
    }
    for suffix in [".local", ".internal", ".lan", ".home.arpa"] {
        if lower.ends_with(suffix) {
            return Some(format!("`{host}` is a local-network name ({suffix}), not resolvable from the internet"));
        }
    }
    if !lower.contains('.') {
        return Some(format!("`{host}` is a single-label host name, not resolvable from the internet"));
    }
    if !lower.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') {
        return Some(format!("`{host}` is not a valid host name"));
    }
    None
}

/// Whether URL parsers (the WHATWG URL standard: browsers, Stripe) read `host` as an IPv4 address:
/// its last label is a decimal or `0x` hexadecimal number. Such a host that did not parse as four
/// decimal numbers is an address in disguise (`127.1`, `0x7f.1`, `0177.0.0.1` are all loopback) or
/// no valid host at all (`1.2.3.4.5`): checking it as a name would let a loopback or private
/// address through.
fn ends_in_a_number(host: &str) -> bool {
    let last = host.rsplit('.').next().unwrap_or_default();
    let decimal = !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit());
    let hex = last.strip_prefix("0x").is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_hexdigit()));
    decimal || hex
}

/// The host of `host[:port]` or `[v6][:port]`, brackets included (empty when the port is not a
/// number from 0 to 65535 written in digits, or when anything but a port follows the `]`: the
/// URL is unusable).
fn host_of(authority: &str) -> &str {
    let (host, port) = match authority.find(']') {
        Some(end) if authority.starts_with('[') => (&authority[..=end], authority[end + 1..].strip_prefix(':')),
        _ => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let after_host = &authority[host.len()..];
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok());
    if port_ok && (after_host.is_empty() || port.is_some()) { host } else { "" }
}

fn ip_reason(ip: IpAddr) -> Option<String> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4_reason(v4);
            }
            let first = v6.segments()[0];
            if v6 == Ipv6Addr::LOCALHOST {
                Some(format!("`{v6}` is the loopback address of this machine, which Stripe cannot reach"))
            } else if v6.is_unspecified() {
                Some(format!("`{v6}` is the unspecified address"))
            } else if first & 0xfe00 == 0xfc00 {
                Some(format!("`{v6}` is a private (unique local, fc00::/7) address"))
            } else if first & 0xffc0 == 0xfe80 {
                Some(format!("`{v6}` is a link-local (fe80::/10) address"))
            } else {
                None
            }
        }
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<String> {
    let [a, b, ..] = ip.octets();
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
    fn public_urls_pass_and_lose_the_trailing_slash() {
        for (url, live, expected) in [
            ("https://shop.example.com", true, "https://shop.example.com"),
            ("https://shop.example.com/", true, "https://shop.example.com"),
            ("https://shop.example.com:8443/app/", true, "https://shop.example.com:8443/app"),
            ("http://shop.example.com", false, "http://shop.example.com"),
            ("https://abcd.ngrok-free.app", true, "https://abcd.ngrok-free.app"),
            ("https://93.184.216.34", true, "https://93.184.216.34"),
            ("https://[2606:4700::1]:443", true, "https://[2606:4700::1]:443"),
            ("HTTPS://Shop.Example.com", true, "HTTPS://Shop.Example.com"),
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
            ("https://printer.local", false, ".local"),
            ("https://api.corp.internal", false, ".internal"),
            ("https://intranet", false, "single-label"),
            ("http://shop.example.com", true, "https"),
            ("ftp://shop.example.com", false, "not http or https"),
            ("shop.example.com", false, "no scheme"),
            ("https://", false, "no host"),
            ("https://shop.example.com?x=1", false, "query"),
            ("https://user:pw@shop.example.com", false, "password"),
            ("https://shop.example.com:99999", false, "no host"),
        ] {
            let err = check_base_url(url, live).unwrap_err();
            assert!(matches!(err, Error::BaseUrlRejected { .. }), "{url}: {err:?}");
            let message = err.to_string();
            assert!(message.contains(why), "{url}: {message}");
            assert!(message.contains("tunnel") && message.contains("public"), "{url}: {message}");
        }
    }

    /// Inputs the fuzzer found (fuzz/corpus/base_url/regression-*): each was accepted although a
    /// URL parser reads it as another host than the check did, or as no URL at all.
    #[test]
    fn fuzz_regressions_are_refused() {
        for (url, why) in [
            // WHATWG parsers read a host ending in a number as an IPv4 address: these are 127.0.0.1.
            ("http://127.1", "ends in a number"),
            ("http://0x7f.0.0.1", "ends in a number"),
            ("http://0177.0.0.1", "ends in a number"),
            ("http://2130706433.", "ends in a number"),
            ("http://200.64.p.1", "ends in a number"),
            ("http://1.2.3.4.5", "ends in a number"),
            // Text after the brackets of an IPv6 address; a port that is not digits.
            ("https://[2606:4700::1]:4431]:", "no host"),
            ("https://[2606:4700::1]x", "no host"),
            ("https://shop.example.com:+443", "no host"),
            ("https://[shop.example.com]", "not an IPv6 address"),
            // An IPv6 address without brackets (`::ffff` and a port `0`).
            ("http://::ffff:0", "brackets"),
        ] {
            let err = check_base_url(url, false).unwrap_err();
            assert!(err.to_string().contains(why), "{url}: {err}");
        }
        // Names that merely contain digits still pass.
        for url in ["https://shop1.example.com", "https://1.example.com", "https://shop.example.com.:443"] {
            assert!(check_base_url(url, true).is_ok(), "{url}");
        }
        // Found by the fuzzer too: whitespace before a trailing slash stayed in the URL.
        assert_eq!(check_base_url("http://0.la/2 /", false).unwrap(), "http://0.la/2");
    }

    #[test]
    fn public_neighbours_of_private_ranges_pass() {
        for url in [
            "http://172.15.255.255",
            "http://172.32.0.1",
            "http://11.0.0.1",
            "http://100.128.0.1",
            "http://169.255.0.1",
        ] {
            assert!(check_base_url(url, false).is_ok(), "{url}");
        }
    }
}
