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
//! - behind a trusted proxy: the peer, or an address from the headers that is not a trusted
//!   proxy; and what the client put in front of the headers (the left-most entries) never
//!   changes the answer once a header entry was chosen.
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
    let chosen: IpAddr = ip.parse().unwrap_or_else(|_| panic!("not an address: {ip:?}"));
    if chosen == peer {
        return;
    }
    assert!(!trusted.contains(&chosen), "a trusted proxy {chosen} taken for the client");
    let listed = forwarded.iter().flat_map(|h| h.split(',')).any(|e| e.trim().parse::<IpAddr>().ok() == Some(chosen));
    assert!(listed, "{chosen} is in no header");

    // The client controls the left end of the list: writing more there changes nothing.
    let mut spoofed: Vec<String> = forwarded.iter().map(|h| (*h).to_owned()).collect();
    match spoofed.first_mut() {
        Some(first) => first.insert_str(0, "6.6.6.6, "),
        None => unreachable!("an address was taken from the headers"),
    }
    spoofed.insert(0, String::from("7.7.7.7"));
    assert_eq!(client_ip(Some(peer), spoofed.iter().map(String::as_str), trusted), ip, "spoofed entries believed");
}
