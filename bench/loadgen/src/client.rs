//! The load generator's HTTP/1.1 client: one persistent keep-alive connection per in-flight
//! delivery, all of them on one thread.
//!
//! Why a client of its own: the generator runs on the same cores as the server it measures, so
//! every microsecond it spends per delivery is taken from the server and shows up as a lower
//! figure. A general client (TLS, redirects, pools, chunked bodies) costs more CPU per request than
//! the server can afford to lose on a small machine. This one only does what the generator needs:
//! POST a signed JSON body over plain TCP with one write, and read back a response whose size is
//! given by `Content-Length`. Anything else is a clear error, never a guess.

use std::io::{self, Write};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Error;

/// How long one delivery may take, connecting included, before it counts as unanswered.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Bounds on what a webhook answer may be; beyond them the response is treated as malformed
/// rather than buffered without limit.
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 16 * 1024 * 1024;
const MAX_HEADERS: usize = 32;

/// Where the deliveries go, parsed once from a plain `http://host[:port]/path` URL.
#[derive(Debug, PartialEq)]
pub(super) struct Endpoint {
    /// `host:port`, as given to `connect` (which resolves names).
    address: String,
    /// The `Host` header: the URL's authority as written.
    host: String,
    /// The request target: path and query.
    path: String,
}

impl Endpoint {
    /// Parses `url`; an `https://` URL, or anything that is not `http://authority[/path]`, is
    /// refused up front with one clear line instead of failing every delivery.
    pub(super) fn parse(url: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error(format!("cannot use the URL `{url}`: {why}"));
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(bad("expected http://host[:port]/path"));
        };
        if scheme.eq_ignore_ascii_case("https") {
            return Err(bad("the load generator speaks plain http:// only (no TLS)"));
        }
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(bad("expected http://host[:port]/path"));
        }
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (host, path) = rest.split_at(split);
        if host.is_empty() || host.contains('@') {
            return Err(bad("expected http://host[:port]/path"));
        }
        // The port follows the last ':' unless that ':' is inside an IPv6 literal `[...]`.
        let address = match host.rsplit_once(':').filter(|(_, port)| !port.contains(']')) {
            Some((_, port)) if port.parse::<u16>().is_err() => return Err(bad("the port is not a number")),
            Some(_) => host.to_owned(),
            None => format!("{host}:80"),
        };
        let path = if path.starts_with('/') { path.to_owned() } else { format!("/{path}") };
        Ok(Endpoint { address, host: host.to_owned(), path })
    }
}

/// What the server answered to one delivery.
pub(super) struct Answer<'a> {
    pub(super) status: u16,
    pub(super) body: &'a [u8],
}

/// A keep-alive connection, opened on first use and again after the server closed it.
///
/// A delivery is never re-sent: if the connection fails after the request may have reached the
/// server, the delivery counts as unanswered (a silent re-send would be a duplicate the
/// benchmark's exact counts would not expect) and the next delivery opens a new connection.
pub(super) struct Connection<'e> {
    endpoint: &'e Endpoint,
    stream: Option<TcpStream>,
    /// Reused for every request and response of the connection: no allocation per delivery.
    request: Vec<u8>,
    response: Vec<u8>,
}

/// The parts of a response head the client acts on.
struct Head {
    status: u16,
    len: usize,
    content_length: usize,
    close: bool,
}

impl<'e> Connection<'e> {
    pub(super) fn new(endpoint: &'e Endpoint) -> Self {
        Connection { endpoint, stream: None, request: Vec::new(), response: Vec::with_capacity(4096) }
    }

    /// POSTs `body` signed with `signature` and reads the answer, within [`TIMEOUT`].
    pub(super) async fn post(&mut self, signature: &str, body: &[u8]) -> io::Result<Answer<'_>> {
        let (status, start, end) = tokio::time::timeout(TIMEOUT, self.exchange(signature, body))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer within 60 s"))??;
        Ok(Answer { status, body: &self.response[start..end] })
    }

    /// One request and its response: (status, body range in `self.response`). The stream is
    /// taken out for the exchange and put back only if it is fit for the next one, so any
    /// failure (or the timeout dropping this future) leaves no half-used connection behind.
    async fn exchange(&mut self, signature: &str, body: &[u8]) -> io::Result<(u16, usize, usize)> {
        self.write_request(signature, body);
        let mut stream = self.reuse_or_connect().await?;
        stream.write_all(&self.request).await?;
        self.response.clear();
        let head = loop {
            if let Some(head) = parse_head(&self.response)? {
                break head;
            }
            if self.response.len() > MAX_HEAD {
                return Err(malformed("the response head is too large"));
            }
            read_more(&mut stream, &mut self.response, "before answering").await?;
        };
        let end = head.len + head.content_length;
        while self.response.len() < end {
            read_more(&mut stream, &mut self.response, "in the middle of the answer").await?;
        }
        // Bytes past the declared body mean the two sides disagree on where a response ends.
        if !head.close && self.response.len() == end {
            self.stream = Some(stream);
        }
        Ok((head.status, head.len, end))
    }

    /// The whole request in one buffer, so it goes out in one write.
    fn write_request(&mut self, signature: &str, body: &[u8]) {
        let Endpoint { host, path, .. } = self.endpoint;
        self.request.clear();
        // Writing to a Vec cannot fail.
        let _ = write!(
            self.request,
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nStripe-Signature: {signature}\r\n\r\n",
            body.len()
        );
        self.request.extend_from_slice(body);
    }

    /// The kept connection, or a new one. A kept connection that the server has closed (or
    /// written to unasked) since its last answer, as far as the runtime has seen, is replaced
    /// before anything is sent on it: an idle keep-alive timeout then costs no delivery.
    async fn reuse_or_connect(&mut self) -> io::Result<TcpStream> {
        if let Some(stream) = self.stream.take() {
            match stream.try_read(&mut [0u8; 1]) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(stream),
                _ => {} // end of stream, stray bytes or an error: start afresh
            }
        }
        let stream = TcpStream::connect(&self.endpoint.address).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

/// Reads what the server sent next into `buffer`; the end of the stream is an error, named
/// `when` it happened.
async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>, when: &str) -> io::Result<()> {
    buffer.reserve(4096);
    if stream.read_buf(buffer).await? == 0 {
        let what = format!("the server closed the connection {when} (not re-sent)");
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, what));
    }
    Ok(())
}

/// The head of the response at the start of `buffer`, `None` while it is incomplete.
fn parse_head(buffer: &[u8]) -> io::Result<Option<Head>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buffer) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(malformed(&format!("malformed response head: {e}"))),
    };
    let status = response.code.unwrap_or_default();
    // HTTP/1.0 closes after each response unless it says otherwise.
    let mut close = response.version == Some(0);
    let mut content_length = None;
    for header in response.headers.iter() {
        let value = std::str::from_utf8(header.value).unwrap_or_default().trim();
        if header.name.eq_ignore_ascii_case("content-length") {
            let n = value.parse::<usize>().map_err(|_| malformed("malformed Content-Length"))?;
            content_length = Some(n);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(malformed(&format!("unsupported Transfer-Encoding `{value}` (only Content-Length bodies)")));
        } else if header.name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close") || (close && !value.eq_ignore_ascii_case("keep-alive"));
        }
    }
    let content_length = match (content_length, status) {
        (Some(n), _) if n > MAX_BODY => return Err(malformed("the response body is too large")),
        (Some(n), _) => n,
        (None, 204 | 304) => 0,
        (None, _) => return Err(malformed("a response without Content-Length (only sized bodies)")),
    };
    Ok(Some(Head { status, len, content_length, close }))
}

fn malformed(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read};
    use std::net::TcpListener;

    use super::*;

    /// A server answering each connection's requests with the given canned responses in turn,
    /// then closing it. Returns the URL and the requests it received, per connection.
    fn server(connections: Vec<Vec<&'static str>>) -> (String, std::thread::JoinHandle<Vec<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/stripe/webhook/?x=1", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for answers in connections {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream);
                let mut requests = Vec::new();
                for answer in answers {
                    let Some(request) = read_request(&mut reader) else { break };
                    requests.push(request);
                    reader.get_mut().write_all(answer.as_bytes()).unwrap();
                }
                seen.push(requests);
            }
            seen
        });
        (url, handle)
    }

    /// One request, head and body, as text; `None` at the end of the stream.
    fn read_request(reader: &mut BufReader<std::net::TcpStream>) -> Option<String> {
        let mut request = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 {
                return None;
            }
            if let Some(n) = line.strip_prefix("Content-Length: ") {
                length = n.trim().parse().unwrap();
            }
            request.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        Some(request + std::str::from_utf8(&body).unwrap())
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
    }

    const OK: &str =
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 20\r\n\r\n{\"status\":\"handled\"}";

    #[test]
    fn keeps_one_connection_and_sends_the_whole_request() {
        let (url, server) = server(vec![vec![OK, OK]]);
        let endpoint = Endpoint::parse(&url).unwrap();
        block_on(async {
            let mut connection = Connection::new(&endpoint);
            for _ in 0..2 {
                let answer = connection.post("t=1,v1=ab", b"{\"id\":1}").await.unwrap();
                assert_eq!((answer.status, answer.body), (200, &b"{\"status\":\"handled\"}"[..]));
            }
        });
        let seen = server.join().unwrap();
        assert_eq!(seen.len(), 1, "one connection for both deliveries");
        let host = url.trim_start_matches("http://").split('/').next().unwrap();
        assert_eq!(
            seen[0][0],
            format!(
                "POST /stripe/webhook/?x=1 HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
                 Content-Length: 8\r\nStripe-Signature: t=1,v1=ab\r\n\r\n{{\"id\":1}}"
            )
        );
    }

    #[test]
    fn reconnects_after_connection_close() {
        let close = "HTTP/1.1 500 Internal Server Error\r\nconnection: close\r\ncontent-length: 2\r\n\r\n{}";
        let (url, server) = server(vec![vec![close], vec![OK]]);
        let endpoint = Endpoint::parse(&url).unwrap();
        block_on(async {
            let mut connection = Connection::new(&endpoint);
            assert_eq!(connection.post("s", b"1").await.unwrap().status, 500);
            assert_eq!(connection.post("s", b"2").await.unwrap().status, 200);
        });
        assert_eq!(server.join().unwrap().len(), 2);
    }

    #[test]
    fn a_closed_idle_connection_is_replaced_before_sending() {
        // The server closes after one answer without saying so: the next delivery must notice
        // before writing, and go out on a new connection rather than fail.
        let (url, server) = server(vec![vec![OK], vec![OK]]);
        let endpoint = Endpoint::parse(&url).unwrap();
        block_on(async {
            let mut connection = Connection::new(&endpoint);
            connection.post("s", b"1").await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert_eq!(connection.post("s", b"2").await.unwrap().status, 200);
        });
        let seen = server.join().unwrap();
        assert_eq!((seen.len(), seen[0].len(), seen[1].len()), (2, 1, 1));
    }

    #[test]
    fn refuses_chunked_and_unsized_responses() {
        let chunked = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        let unsized_ = "HTTP/1.1 200 OK\r\n\r\n{}";
        let (url, server) = server(vec![vec![chunked], vec![unsized_]]);
        let endpoint = Endpoint::parse(&url).unwrap();
        block_on(async {
            let mut connection = Connection::new(&endpoint);
            let e = connection.post("s", b"1").await.err().unwrap();
            assert!(e.to_string().contains("Transfer-Encoding `chunked`"), "{e}");
            let e = connection.post("s", b"2").await.err().unwrap();
            assert!(e.to_string().contains("without Content-Length"), "{e}");
        });
        server.join().unwrap();
    }

    #[test]
    fn a_server_closing_mid_answer_is_an_error_not_a_resend() {
        let (url, server) = server(vec![vec!["HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n{\"sta"], vec![OK]]);
        let endpoint = Endpoint::parse(&url).unwrap();
        block_on(async {
            let mut connection = Connection::new(&endpoint);
            let e = connection.post("s", b"1").await.err().unwrap();
            assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
            assert!(e.to_string().contains("in the middle of the answer"), "{e}");
            assert_eq!(connection.post("s", b"2").await.unwrap().status, 200);
        });
        let seen = server.join().unwrap();
        assert_eq!((seen[0].len(), seen[1].len()), (1, 1), "each delivery sent once");
    }

    #[test]
    fn a_garbage_answer_is_malformed() {
        let (url, server) = server(vec![vec!["SMTP ready\r\n\r\n"]]);
        let endpoint = Endpoint::parse(&url).unwrap();
        block_on(async {
            let e = Connection::new(&endpoint).post("s", b"1").await.err().unwrap();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
        });
        server.join().unwrap();
    }

    #[test]
    fn parses_http_urls_only() {
        let parsed = Endpoint::parse("http://localhost:8000/stripe/webhook/?a=b#frag").unwrap();
        assert_eq!(
            parsed,
            Endpoint {
                address: "localhost:8000".into(),
                host: "localhost:8000".into(),
                path: "/stripe/webhook/?a=b".into()
            }
        );
        let bare = Endpoint::parse("HTTP://example.test").unwrap();
        assert_eq!((bare.address.as_str(), bare.path.as_str()), ("example.test:80", "/"));
        assert_eq!(Endpoint::parse("http://[::1]:9/x").unwrap().address, "[::1]:9");
        assert_eq!(Endpoint::parse("http://[::1]/x").unwrap().address, "[::1]:80");
        for (url, needle) in [
            ("https://example.test/", "plain http:// only"),
            ("example.test/webhook", "expected http://"),
            ("ftp://example.test/", "expected http://"),
            ("http:///path", "expected http://"),
            ("http://user@host/", "expected http://"),
            ("http://host:port/", "not a number"),
        ] {
            let e = Endpoint::parse(url).err().unwrap().to_string();
            assert!(e.contains(needle) && e.contains(url), "{url}: {e}");
        }
    }
}
