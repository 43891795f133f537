//! The admin's request and response as plain data: what an adapter reads from its framework's
//! request, and what it writes back.

use djstripe_core::app::Body;

/// The largest form body the admin reads (256 KiB, actix-web's default for a body extractor);
/// a larger one is answered 413.
pub const MAX_FORM_BODY: usize = 256 * 1024;

/// How long a form body may take to arrive (a stalled upload holds a connection and memory;
/// the login form answers without credentials).
pub const FORM_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The request methods the admin tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`: answered like `GET` (the server drops the body).
    Head,
    /// `POST`.
    Post,
    /// Any other method (refused).
    Other,
}

impl Method {
    /// From the method's name, as HTTP spells it.
    ///
    /// ```
    /// use djstripe_admin::Method;
    /// assert_eq!((Method::parse("POST"), Method::parse("PUT")), (Method::Post, Method::Other));
    /// ```
    pub fn parse(name: &str) -> Self {
        match name {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            _ => Method::Other,
        }
    }

    /// `GET` or `HEAD`: reads only.
    pub(crate) fn is_read(self) -> bool {
        matches!(self, Method::Get | Method::Head)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Other => "this method",
        }
    }
}

/// One request to the admin, as plain data.
///
/// ```
/// use djstripe_admin::{AdminRequest, Method};
/// use djstripe_core::app::Body;
/// let request = AdminRequest::new(Method::Get, "/stripe/admin", "/triggers/", "failed=yes")
///     .headers([("host", &b"shop.example.com"[..]), ("cookie", b"a=1"), ("cookie", b"b=2")])
///     .body(Body::Complete(Vec::new()));
/// assert_eq!(request.cookie.as_deref(), Some("a=1; b=2"));
/// assert_eq!(request.origin(), ("http", "shop.example.com"));
/// ```
#[derive(Clone)]
pub struct AdminRequest {
    /// The method.
    pub method: Method,
    /// Where the admin is mounted, without a trailing slash (`/stripe/admin`): links, redirects
    /// and the cookies' `Path` are under it.
    pub prefix: String,
    /// The path below the prefix (`""`, `/`, `/triggers/12/`), as sent (not decoded).
    pub path: String,
    /// The query string, without `?` (empty when there is none).
    pub query: String,
    /// The `Cookie` header(s), joined with `; `.
    pub cookie: Option<String>,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// `Host`, where the app is reached (the "add endpoint" form's default base URL).
    pub host: Option<String>,
    /// `Forwarded` (RFC 7239): its first `proto=` and `host=` win over the others.
    pub forwarded: Option<String>,
    /// `X-Forwarded-Host`.
    pub forwarded_host: Option<String>,
    /// `X-Forwarded-Proto`.
    pub forwarded_proto: Option<String>,
    /// `X-Forwarded-For` (believed only from `DJSTRIPE_TRUSTED_PROXIES`, see
    /// [`djstripe_core::app::client_ip`]).
    pub forwarded_for: Option<String>,
    /// `Origin`: a state-changing request from another site is refused.
    pub sent_origin: Option<String>,
    /// `Sec-Fetch-Site`: a state-changing request that is not `same-origin` is refused.
    pub fetch_site: Option<String>,
    /// The connection's peer address, when the adapter knows it: failed logins are counted per
    /// client address.
    pub peer: Option<std::net::IpAddr>,
    /// The connection itself is TLS (when no header says otherwise, the scheme is `https`).
    pub tls: bool,
    /// The body, read within [`MAX_FORM_BODY`].
    pub body: Body<Vec<u8>>,
}

/// Shows the request without its credentials: which cookies (not their values), which kind of
/// `Authorization` (not the credential), and the body's size.
impl std::fmt::Debug for AdminRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cookies: Option<Vec<&str>> = self
            .cookie
            .as_deref()
            .map(|c| c.split(';').map(|pair| pair.split('=').next().unwrap_or("").trim()).collect());
        let scheme = self.authorization.as_deref().map(|a| a.split(' ').next().unwrap_or(""));
        let body = match &self.body {
            Body::Complete(b) => format!("{} bytes", b.len()),
            Body::TooLarge(_) => "too large".to_owned(),
            Body::TimedOut(_) => "timed out".to_owned(),
        };
        f.debug_struct("AdminRequest")
            .field("method", &self.method)
            .field("prefix", &self.prefix)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("cookies", &cookies)
            .field("authorization", &scheme)
            .field("host", &self.host)
            .field("peer", &self.peer)
            .field("tls", &self.tls)
            .field("body", &body)
            .finish_non_exhaustive()
    }
}

impl AdminRequest {
    /// A request with no headers, no body and a plain-HTTP connection.
    pub fn new(method: Method, prefix: &str, path: &str, query: &str) -> Self {
        Self {
            method,
            prefix: prefix.trim_end_matches('/').to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            cookie: None,
            authorization: None,
            host: None,
            forwarded: None,
            forwarded_host: None,
            forwarded_proto: None,
            forwarded_for: None,
            sent_origin: None,
            fetch_site: None,
            peer: None,
            tls: false,
            body: Body::Complete(Vec::new()),
        }
    }

    /// Keeps the headers the admin reads (names in any case; values that are not text are
    /// dropped); the others are ignored.
    pub fn headers<'a>(mut self, headers: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Self {
        for (name, value) in headers {
            let Ok(value) = std::str::from_utf8(value) else { continue };
            let slot = match name.to_ascii_lowercase().as_str() {
                "cookie" => {
                    self.cookie = Some(match self.cookie.take() {
                        Some(before) => format!("{before}; {value}"),
                        None => value.to_owned(),
                    });
                    continue;
                }
                "authorization" => &mut self.authorization,
                "host" => &mut self.host,
                "forwarded" => &mut self.forwarded,
                "x-forwarded-host" => &mut self.forwarded_host,
                "x-forwarded-proto" => &mut self.forwarded_proto,
                "origin" => &mut self.sent_origin,
                "sec-fetch-site" => &mut self.fetch_site,
                "x-forwarded-for" => {
                    self.forwarded_for = Some(match self.forwarded_for.take() {
                        Some(before) => format!("{before}, {value}"),
                        None => value.to_owned(),
                    });
                    continue;
                }
                _ => continue,
            };
            slot.get_or_insert_with(|| value.to_owned());
        }
        self
    }

    /// The connection's peer address (failed logins are limited per client address).
    ///
    /// ```
    /// let request = djstripe_admin::AdminRequest::new(djstripe_admin::Method::Get, "/a", "/", "")
    ///     .peer(Some("127.0.0.1".parse().unwrap()));
    /// assert!(request.peer.is_some());
    /// ```
    pub fn peer(mut self, peer: Option<std::net::IpAddr>) -> Self {
        self.peer = peer;
        self
    }

    /// Whether the connection is TLS.
    pub fn tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    /// The body as read (see [`djstripe_core::app::read_body`] with [`MAX_FORM_BODY`]).
    pub fn body(mut self, body: Body<Vec<u8>>) -> Self {
        self.body = body;
        self
    }

    /// A cookie's value.
    pub(crate) fn cookie(&self, name: &str) -> Option<&str> {
        self.cookie
            .as_deref()?
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim_matches('"'))
            .filter(|v| !v.is_empty())
    }

    /// Scheme and host the client used: `Forwarded`, then `X-Forwarded-Proto` /
    /// `X-Forwarded-Host`, then the connection and `Host` (the way actix-web's `ConnectionInfo`
    /// reads them).
    pub fn origin(&self) -> (&str, &str) {
        let forwarded = |key: &str| {
            self.forwarded.as_deref().and_then(|f| {
                f.split([',', ';'])
                    .filter_map(|pair| pair.trim().split_once('='))
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v.trim().trim_matches('"'))
            })
        };
        fn first(value: &Option<String>) -> Option<&str> {
            value.as_deref().and_then(|v| v.split(',').next()).map(str::trim)
        }
        let scheme = forwarded("proto").or_else(|| first(&self.forwarded_proto)).unwrap_or(if self.tls {
            "https"
        } else {
            "http"
        });
        let host =
            forwarded("host").or_else(|| first(&self.forwarded_host)).or(self.host.as_deref()).unwrap_or("localhost");
        (scheme, host)
    }

    /// The request with its forwarding headers (`Forwarded`, `X-Forwarded-*`) dropped unless
    /// the peer is one of `trusted` (`DJSTRIPE_TRUSTED_PROXIES`): anyone can send them, and they
    /// decide the `Secure` cookie flag, the origin check and the form's base URL.
    ///
    /// ```
    /// use djstripe_admin::{AdminRequest, Method};
    /// let proxy: std::net::IpAddr = "10.0.0.2".parse().unwrap();
    /// let request = AdminRequest::new(Method::Get, "/a", "/", "")
    ///     .headers([("host", &b"inside:8000"[..]), ("x-forwarded-proto", b"https"), ("x-forwarded-host", b"shop.example")]);
    /// let direct = request.clone().peer(Some("203.0.113.9".parse().unwrap())).trusting(&[proxy]);
    /// assert_eq!(direct.origin(), ("http", "inside:8000"));
    /// let proxied = request.peer(Some(proxy)).trusting(&[proxy]);
    /// assert_eq!(proxied.origin(), ("https", "shop.example"));
    /// ```
    pub fn trusting(mut self, trusted: &[std::net::IpAddr]) -> Self {
        if !self.peer.is_some_and(|peer| trusted.contains(&peer)) {
            self.forwarded = None;
            self.forwarded_host = None;
            self.forwarded_proto = None;
            self.forwarded_for = None;
        }
        self
    }

    /// Whether the client talks https (cookies get `Secure`).
    pub(crate) fn secure(&self) -> bool {
        self.origin().0.eq_ignore_ascii_case("https")
    }

    /// The path with prefix and query, as the client asked for it.
    pub(crate) fn full_path(&self) -> String {
        let path = format!("{}{}", self.prefix, self.path);
        let path = if path.is_empty() { "/".to_owned() } else { path };
        if self.query.is_empty() { path } else { format!("{path}?{}", self.query) }
    }
}

/// The admin's answer, as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminResponse {
    /// The HTTP status.
    pub status: u16,
    /// Headers in order; `Set-Cookie` may occur more than once.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl AdminResponse {
    /// An answer with no header and no body.
    pub(crate) fn empty(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: Vec::new() }
    }

    /// An HTML page.
    pub(crate) fn html(status: u16, html: String) -> Self {
        Self::empty(status).header("Content-Type", "text/html; charset=utf-8").with_body(html)
    }

    /// A plain-text answer.
    pub(crate) fn text(status: u16, text: impl Into<String>) -> Self {
        Self::empty(status).header("Content-Type", "text/plain; charset=utf-8").with_body(text.into())
    }

    /// The answer with its `Content-Type` replaced.
    pub(crate) fn with_content_type(mut self, content_type: &'static str) -> Self {
        self.headers.retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
        self.header("Content-Type", content_type)
    }

    /// A redirect to `location` (303 after a form, 308 for a missing slash).
    pub(crate) fn redirect(status: u16, location: impl Into<String>) -> Self {
        Self::empty(status).header("Location", location)
    }

    /// With one more header.
    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn with_body(mut self, body: String) -> Self {
        self.body = body.into_bytes();
        self
    }

    /// The first value of a header (names in any case).
    ///
    /// ```
    /// # use djstripe_admin::AdminResponse;
    /// let response = AdminResponse { status: 303, headers: vec![("Location", "/x".into())], body: vec![] };
    /// assert_eq!(response.header_value("location"), Some("/x"));
    /// ```
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_headers_win_over_host() {
        let request = AdminRequest::new(Method::Get, "/a", "/", "").headers([
            ("Host", &b"inside:8000"[..]),
            ("X-Forwarded-Proto", b"https, http"),
            ("X-Forwarded-Host", b"shop.example.com"),
        ]);
        assert_eq!(request.origin(), ("https", "shop.example.com"));
        assert!(request.secure());
        let request = request.headers([("Forwarded", &b"for=1.2.3.4;proto=http;host=other.example"[..])]);
        assert_eq!(request.origin(), ("http", "other.example"));
        let bare = AdminRequest::new(Method::Get, "", "", "").tls(true);
        assert_eq!(bare.origin(), ("https", "localhost"));
        assert_eq!(bare.full_path(), "/");
    }

    /// Issue 15, 6: no credential of a request in its `Debug` output.
    #[test]
    fn debug_shows_no_credential() {
        let request = AdminRequest::new(Method::Post, "/a", "/login", "")
            .headers([
                ("cookie", &b"djstripe_admin_session=SESSIONKEY; x=1"[..]),
                ("authorization", b"Basic QUxBRERJTg=="),
            ])
            .body(Body::Complete(b"password=PASSWORD".to_vec()));
        let out = format!("{request:?} {request:#?}");
        for secret in ["SESSIONKEY", "QUxBRERJTg", "PASSWORD"] {
            assert!(!out.contains(secret), "{out}");
        }
        assert!(out.contains("djstripe_admin_session") && out.contains("Basic"), "{out}");
    }

    #[test]
    fn cookies_are_found_by_name() {
        let request = AdminRequest::new(Method::Get, "/a", "/", "")
            .headers([("cookie", &b"x=1; djstripe_admin_csrf=\"abc\""[..]), ("Cookie", b"empty=")]);
        assert_eq!(request.cookie("djstripe_admin_csrf"), Some("abc"));
        assert_eq!((request.cookie("empty"), request.cookie("none")), (None, None));
    }
}
