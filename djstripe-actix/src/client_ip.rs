//! The client's address: the connection's peer, or `X-Forwarded-For` behind trusted proxies.

use std::net::IpAddr;

use actix_web::HttpRequest;

/// The connection's peer address; when that peer is a trusted proxy, the right-most address in
/// `X-Forwarded-For` that is not itself a trusted proxy (the left-most entries are whatever the
/// client chose to send, so they are never believed).
pub(crate) fn client_ip(req: &HttpRequest, trusted: &[IpAddr]) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else { return String::new() };
    if trusted.is_empty() || !trusted.contains(&peer) {
        return peer.to_string();
    }
    let forwarded =
        req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
    forwarded
        .rsplit(',')
        .filter_map(|ip| ip.trim().parse::<IpAddr>().ok())
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn forwarded_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let req = TestRequest::default()
            .peer_addr("10.0.0.1:5000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "6.6.6.6, 203.0.113.9"))
            .to_http_request();
        assert_eq!(client_ip(&req, &[proxy]), "203.0.113.9");
        assert_eq!(client_ip(&req, &[]), "10.0.0.1", "untrusted: the peer");
        let direct = TestRequest::default()
            .peer_addr("198.51.100.2:5000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "6.6.6.6"))
            .to_http_request();
        assert_eq!(client_ip(&direct, &[proxy]), "198.51.100.2", "a spoofed header from a non-proxy is ignored");
    }
}
