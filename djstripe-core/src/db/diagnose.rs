//! What a failed connection means: libpq's message tidied into one line, and the
//! [`ConnectFailure`] it shows (the hint at the end of an [`Error::DatabaseUnavailable`]).

use crate::Error;
use crate::db::Backend;
use crate::error::ConnectFailure;

/// The error for a connection `url` could not open, from the driver's `message`.
pub(crate) fn connect_error(backend: Backend, url: &str, message: &str) -> Error {
    match backend {
        Backend::Postgres => postgres_error(url, message),
        Backend::Sqlite => Error::unavailable(one_line(message.lines())),
    }
}

fn postgres_error(url: &str, message: &str) -> Error {
    let lines: Vec<&str> = message.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let cause = classify(url, &lines);
    // libpq's own hint for a refused connection says what ours says, less precisely.
    let lines = lines
        .into_iter()
        .filter(|l| !(matches!(cause, Some(ConnectFailure::Refused { .. })) && l.starts_with("Is the server running")));
    Error::DatabaseUnavailable { reason: one_line(lines), cause }
}

/// The lines joined with `; `, runs of whitespace made one space, repeated lines dropped.
fn one_line<'a>(lines: impl Iterator<Item = &'a str>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for line in lines {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if !line.is_empty() && !seen.contains(&line) {
            seen.push(line);
        }
    }
    seen.join("; ")
}

/// The most specific cause the lines show: what a server answered before what a socket did
/// (libpq tries each address of a host, and `sslmode=prefer` tries twice).
fn classify(url: &str, lines: &[&str]) -> Option<ConnectFailure> {
    let find = |needle: &str| lines.iter().copied().find(|l| l.contains(needle));
    if let Some(line) = find("\" does not exist").filter(|l| l.contains("database \"")) {
        let (host, port) = server_of(line).map_or((None, None), |(h, p)| (Some(h), p));
        return Some(ConnectFailure::MissingDatabase {
            database: quoted_after(line, "database \"")?,
            host,
            port,
            user: url_parameter(url, "user"),
        });
    }
    if find("password authentication failed").or_else(|| find("authentication failed for user")).is_some() {
        return Some(ConnectFailure::AuthenticationFailed);
    }
    if find("requires a valid client certificate").is_some() {
        return Some(ConnectFailure::ClientCertificateRequired);
    }
    let hba = find("pg_hba.conf rejects connection").or_else(|| find("no pg_hba.conf entry"));
    if let Some(line) = hba {
        return Some(if line.ends_with("no encryption") {
            ConnectFailure::TlsRequired
        } else {
            ConnectFailure::NotAdmitted
        });
    }
    if find("does not match host name").is_some() {
        return Some(ConnectFailure::CertificateNameMismatch);
    }
    if find("certificate verify failed").is_some() {
        let system_roots = url_parameter(url, "sslrootcert").is_some_and(|v| v == "system");
        return Some(ConnectFailure::UntrustedCertificate { system_roots });
    }
    if find("server does not support SSL").is_some() {
        return Some(ConnectFailure::TlsUnsupported);
    }
    if let Some(line) = find("timeout expired") {
        return Some(ConnectFailure::TimedOut { address: address_of(line)? });
    }
    let refused =
        find("Connection refused").or_else(|| find("No such file or directory").filter(|l| l.contains("socket")));
    if let Some(line) = refused {
        return Some(ConnectFailure::Refused { address: address_of(line)? });
    }
    None
}

/// The text between `prefix` and the next `"`.
fn quoted_after(line: &str, prefix: &str) -> Option<String> {
    let rest = &line[line.find(prefix)? + prefix.len()..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// The server libpq names in `connection to server at "host" (ip), port 5432 failed: ...` or
/// `connection to server on socket "/dir/.s.PGSQL.5432" failed: ...`: host (or socket directory)
/// and port.
fn server_of(line: &str) -> Option<(String, Option<u16>)> {
    if let Some(host) = quoted_after(line, "server at \"") {
        let port = line.split_once(", port ").and_then(|(_, rest)| rest.split(' ').next()?.parse().ok());
        return Some((host, port));
    }
    let socket = quoted_after(line, "on socket \"")?;
    let (dir, file) = socket.rsplit_once('/')?;
    Some((dir.to_owned(), file.strip_prefix(".s.PGSQL.").and_then(|p| p.parse().ok())))
}

/// `host:port` (`[v6]:port`) of the server a line names, or its socket's path.
fn address_of(line: &str) -> Option<String> {
    if let Some(socket) = quoted_after(line, "on socket \"") {
        return Some(socket);
    }
    let (host, port) = server_of(line)?;
    let host = if host.contains(':') { format!("[{host}]") } else { host };
    Some(match port {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// A connection parameter of a `postgres://` URL: `?name=` in the query, else (for `user`) the
/// user of the authority. Percent-decoded.
pub(crate) fn url_parameter(url: &str, name: &str) -> Option<String> {
    let (before, query) = url.split_once('?').unwrap_or((url, ""));
    let from_query = query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (percent_decode(key) == name).then(|| percent_decode(value))
    });
    if from_query.is_some() || name != "user" {
        return from_query;
    }
    let authority = before.split_once("://")?.1.split('/').next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let user = percent_decode(userinfo.split(':').next()?);
    (!user.is_empty()).then_some(user)
}

/// `%XX` escapes decoded (a malformed one is kept as it is).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(url: &str, message: &str) -> (String, Option<ConnectFailure>) {
        match postgres_error(url, message) {
            Error::DatabaseUnavailable { reason, cause } => (reason, cause),
            other => panic!("{other:?}"),
        }
    }

    // The messages below are libpq 18's (pq-src), copied from real failures.

    #[test]
    fn missing_database() {
        let (reason, cause) = pg(
            "postgres://postgres@127.0.0.1:5433/shop",
            "connection to server at \"127.0.0.1\", port 5433 failed: FATAL:  database \"shop\" does not exist\n",
        );
        assert_eq!(
            reason,
            "connection to server at \"127.0.0.1\", port 5433 failed: FATAL: database \"shop\" does not exist"
        );
        assert_eq!(cause.unwrap().to_string(), "create it: createdb -h 127.0.0.1 -p 5433 -U postgres shop");
        let (_, cause) = pg(
            "postgresql:///my%20shop?host=/run/postgresql",
            "connection to server on socket \"/run/postgresql/.s.PGSQL.5432\" failed: FATAL:  database \"my shop\" does not exist",
        );
        assert_eq!(cause.unwrap().to_string(), "create it: createdb -h /run/postgresql 'my shop'");
    }

    #[test]
    fn refused() {
        let message = "connection to server at \"localhost\" (::1), port 1 failed: Connection refused\n\tIs the server \
                       running on that host and accepting TCP/IP connections?\nconnection to server at \"localhost\" \
                       (127.0.0.1), port 1 failed: Connection refused\n\tIs the server running on that host and \
                       accepting TCP/IP connections?\n";
        let error = postgres_error("postgres://localhost:1/x", message);
        assert_eq!(
            error.to_string(),
            "database unavailable: connection to server at \"localhost\" (::1), port 1 failed: Connection refused; \
             connection to server at \"localhost\" (127.0.0.1), port 1 failed: Connection refused \
             (is PostgreSQL running on localhost:1?)"
        );
        let (_, cause) = pg(
            "postgres:///x",
            "connection to server on socket \"/tmp/.s.PGSQL.5432\" failed: No such file or directory\n\tIs the server \
             running locally and accepting connections on that socket?",
        );
        assert_eq!(cause, Some(ConnectFailure::Refused { address: "/tmp/.s.PGSQL.5432".into() }));
    }

    #[test]
    fn tls() {
        let (_, cause) = pg(
            "postgres://h/x?sslmode=disable",
            "connection to server at \"127.0.0.1\", port 5433 failed: FATAL:  pg_hba.conf rejects connection for host \
             \"127.0.0.1\", user \"postgres\", database \"postgres\", no encryption",
        );
        assert_eq!(cause, Some(ConnectFailure::TlsRequired));
        let (_, cause) = pg(
            "postgres://h/x?sslmode=verify-full&sslrootcert=system",
            "connection to server at \"h\" (10.0.0.1), port 5432 failed: SSL error: certificate verify failed",
        );
        assert_eq!(cause, Some(ConnectFailure::UntrustedCertificate { system_roots: true }));
        let (_, cause) = pg(
            "postgres://h/x?sslmode=require",
            "connection to server at \"h\" (10.0.0.1), port 5432 failed: server does not support SSL, but SSL was required",
        );
        assert_eq!(cause, Some(ConnectFailure::TlsUnsupported));
    }

    #[test]
    fn unrecognised_messages_have_no_cause() {
        assert_eq!(pg("postgres://h/x", "something new\n"), ("something new".into(), None));
    }

    #[test]
    fn url_parameters() {
        assert_eq!(url_parameter("postgres://a%40b:secret@h/x", "user").as_deref(), Some("a@b"));
        assert_eq!(url_parameter("postgres://a@h/x?user=c", "user").as_deref(), Some("c"));
        assert_eq!(url_parameter("postgres://h/x", "user"), None);
        assert_eq!(
            url_parameter("postgres://h/x?sslrootcert=%2Fetc%2Fca.pem", "sslrootcert").as_deref(),
            Some("/etc/ca.pem")
        );
        assert_eq!(url_parameter("postgres://u@h/x", "sslmode"), None);
    }
}
