//! What an adapter reads from a webhook request before any signature check: the path below
//! `{prefix}/webhook` (`webhook_path`) and the client's address (`client_ip`, from the peer and
//! `X-Forwarded-For`).
//!
//! Input, one item a line: the path, the peer address, the trusted proxies (comma-separated),
//! then one `X-Forwarded-For` header a line.
//!
//! Properties, beyond "no panic":
//! - `Legacy` for `""` and `"/"` only; `Endpoint(uuid)` only for `/{uuid}` or `/{uuid}/`, with a
//!   non-empty `uuid` that never contains '/'; anything else `NotFound`;
//! - no peer: no address; a peer that is not a trusted proxy: the peer, whatever the headers say;
//! - behind a trusted proxy: the peer (no header entry), no address (an entry read before the
//!   first untrusted one is no address), or an address listed in the headers, which is not a
//!   trusted proxy unless every entry is one (then the left-most); and once an untrusted entry
//!   or a bad one decided, what the client put in front (the left-most entries) changes nothing.
#![no_main]

use std::net::IpAddr;

use djstripe_core::app::{WebhookPath, client_ip, webhook_path};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut lines = text.split('\n');
    let path = lines.next().unwrap_or_default();
    check_path(path);

    let peer = lines.next().and_then(|l| l.trim().parse::<IpAddr>().ok());
    let trusted: Vec<IpAddr> =
        lines.next().unwrap_or_default().split(',').filter_map(|ip| ip.trim().parse().ok()).collect();
    let forwarded: Vec<&str> = lines.collect();
    check_client_ip(peer, &forwarded, &trusted);
});

fn check_path(rest: &str) {
    match webhook_path(rest) {
        WebhookPath::Legacy => assert!(rest.is_empty() || rest == "/", "legacy for {rest:?}"),
        WebhookPath::Endpoint(uuid) => {
            assert!(!uuid.is_empty() && !uuid.contains('/'), "endpoint {uuid:?} for {rest:?}");
            assert!(rest == format!("/{uuid}") || rest == format!("/{uuid}/"), "endpoint {uuid:?} for {rest:?}");
        }
        WebhookPath::NotFound => {
            let inner = rest.strip_prefix('/').map(|r| r.strip_suffix('/').unwrap_or(r));
            let names_one = inner.is_some_and(|u| !u.is_empty() && !u.contains('/'));
            assert!(!names_one && !rest.is_empty() && rest != "/", "not found: {rest:?}");
        }
    }
}

fn check_client_ip(peer: Option<IpAddr>, forwarded: &[&str], trusted: &[IpAddr]) {
    let ip = client_ip(peer, forwarded.iter().copied(), trusted);
    let Some(peer) = peer else {
        assert_eq!(ip, "", "an address without a peer");
        return;
    };
    if !trusted.contains(&peer) {
        assert_eq!(ip, peer.to_string(), "a direct client's headers were believed");
        return;
    }
    // The entries as the rule reads them: right to left.
    let entries: Vec<&str> = forwarded.iter().rev().flat_map(|h| h.rsplit(',')).map(str::trim).collect();
    let parsed: Vec<Option<IpAddr>> = entries.iter().map(|e| address(e)).collect();
    let decided = parsed.iter().position(|a| a.is_none_or(|a| !trusted.contains(&a)));
    if ip.is_empty() {
        let first_bad = parsed.iter().position(Option::is_none);
        assert!(first_bad.is_some() && first_bad == decided, "no address, yet every entry up to the client's parses");
    } else {
        let chosen: IpAddr = ip.parse().unwrap_or_else(|_| panic!("not an address: {ip:?}"));
        match decided {
            Some(i) => assert_eq!(parsed[i], Some(chosen), "not the first untrusted entry from the right"),
            None if entries.is_empty() => assert_eq!(chosen, peer, "no entry, yet not the peer"),
            None => {
                assert!(trusted.contains(&chosen), "every entry a trusted proxy, yet {chosen} chosen");
                assert_eq!(parsed.last().copied().flatten(), Some(chosen), "not the left-most trusted proxy");
            }
        }
    }
    if decided.is_none() {
        return;
    }

    // The client controls the left end of the list: writing more there changes nothing.
    let mut spoofed: Vec<String> = forwarded.iter().map(|h| (*h).to_owned()).collect();
    match spoofed.first_mut() {
        Some(first) => first.insert_str(0, "6.6.6.6, "),
        None => unreachable!("an entry decided"),
    }
    spoofed.insert(0, String::from("7.7.7.7"));
    assert_eq!(client_ip(Some(peer), spoofed.iter().map(String::as_str), trusted), ip, "spoofed entries believed");
}

/// One entry's address as the documented rule reads it: an address, with or without a port.
fn address(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| entry.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
}
