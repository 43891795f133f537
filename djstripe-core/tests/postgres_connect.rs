//! Connecting to PostgreSQL through djstripe's own API: TLS (`sslmode`, `sslrootcert`) against a
//! private server started here, and the fast, explained failure of a database that is missing
//! or a port where nothing listens.
//!
//! The TLS server is real: `initdb` into a temporary directory, `ssl=on` with a certificate for
//! `localhost` signed by a CA made here (rcgen), and a `pg_hba.conf` that admits TLS connections
//! only. It is stopped when the test ends, also when it panics. Without PostgreSQL's server
//! programs (`initdb`, `postgres`) the test fails saying so: it never skips.
#![cfg(feature = "postgres")]
#![allow(missing_docs)]

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::time::{Duration, Instant};

use support::private_postgres::{PrivatePostgres, write};

use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection as _;
use djstripe_core::Error;
use djstripe_core::app::{Djstripe, Settings};
use djstripe_core::db::Database;
use djstripe_core::error::ConnectFailure;

/// The cause of a [`Error::DatabaseUnavailable`], with its message; panics on anything else.
fn unavailable<T: std::fmt::Debug>(result: Result<T, Error>) -> (Option<ConnectFailure>, String) {
    match result {
        Err(error @ Error::DatabaseUnavailable { .. }) => {
            let message = error.to_string();
            let Error::DatabaseUnavailable { cause, .. } = error else { unreachable!() };
            (cause, message)
        }
        other => panic!("expected DatabaseUnavailable, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// TLS

/// The TLS state of the session of one of `db`'s connections, from `pg_stat_ssl`.
#[derive(diesel::QueryableByName)]
struct SessionTls {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    ssl: bool,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    version: Option<String>,
    /// The subject of the client's certificate, if it sent one.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    client_dn: Option<String>,
}

fn session_tls(db: &Database) -> SessionTls {
    let mut conn = db.get().unwrap();
    diesel::sql_query("SELECT ssl, version, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .get_result(&mut *conn)
        .unwrap()
}

#[test]
fn tls_sslmodes_against_a_server_that_requires_tls() {
    let server = TlsServer::start();
    let ca = server.file("ca.pem");
    let wrong_ca = server.file("wrong-ca.pem");

    // require: encrypted, no certificate check. djstripe's migrations run over it.
    let db = Database::connect(&server.url("localhost", "sslmode=require")).unwrap();
    assert!(db.migrate().unwrap() > 0, "a fresh database has migrations to apply");
    let session = session_tls(&db);
    assert!(session.ssl, "sslmode=require must give an encrypted session");
    assert!(session.version.as_deref().is_some_and(|v| v.starts_with("TLSv1.")), "{:?}", session.version);
    assert_eq!(session.client_dn, None);

    // verify-full with the CA that signed the server's certificate, through the app's startup.
    let url = server.url("localhost", &format!("sslmode=verify-full&sslrootcert={}", ca.display()));
    let djstripe = Djstripe::start(Settings::new(url)).unwrap();
    assert!(session_tls(djstripe.engine().database()).ssl);

    // verify-full also checks the name: the certificate names localhost, not 127.0.0.1 ...
    let by_ip = server.url("127.0.0.1", &format!("sslmode=verify-full&sslrootcert={}", ca.display()));
    let (cause, message) = unavailable(Database::connect(&by_ip).unwrap().get());
    assert_eq!(cause, Some(ConnectFailure::CertificateNameMismatch), "{message}");
    assert!(message.contains("does not match host name \"127.0.0.1\""), "{message}");
    // ... which verify-ca does not check.
    let verify_ca = server.url("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={}", ca.display()));
    assert!(session_tls(&Database::connect(&verify_ca).unwrap()).ssl);

    // verify-full with a CA that did not sign the certificate: refused, and the message says why.
    let url = server.url("localhost", &format!("sslmode=verify-full&sslrootcert={}", wrong_ca.display()));
    let started = Instant::now();
    let (cause, message) = unavailable(Djstripe::start(Settings::new(url)));
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert_eq!(cause, Some(ConnectFailure::UntrustedCertificate { system_roots: false }), "{message}");
    assert!(message.contains("certificate verify failed"), "{message}");
    assert!(message.contains("not signed by a CA in sslrootcert"), "{message}");

    // sslrootcert=system: the bundled OpenSSL's CA store, which has no CA of this test; the hint
    // says how to point it at the system's (SSL_CERT_FILE).
    let url = server.url("localhost", "sslmode=verify-full&sslrootcert=system");
    let (cause, message) = unavailable(Database::connect(&url).unwrap().get());
    assert_eq!(cause, Some(ConnectFailure::UntrustedCertificate { system_roots: true }), "{message}");
    assert!(message.contains("SSL_CERT_FILE"), "{message}");

    // A CA file that does not exist: libpq's own explanation.
    let url = server.url("localhost", "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem");
    let (_, message) = unavailable(Database::connect(&url).unwrap().get());
    assert!(message.contains("root certificate file \"/nonexistent/ca.pem\" does not exist"), "{message}");

    // disable: the server admits no unencrypted connection.
    let (cause, message) = unavailable(Database::connect(&server.url("127.0.0.1", "sslmode=disable")).unwrap().get());
    assert_eq!(cause, Some(ConnectFailure::TlsRequired), "{message}");
    assert!(message.contains("no encryption"), "{message}");
    assert!(message.contains("use sslmode=verify-full"), "{message}");

    // prefer (libpq's default) tries TLS first, and gets it.
    assert!(session_tls(&Database::connect(&server.url("127.0.0.1", "sslmode=prefer")).unwrap()).ssl);

    // Client certificates (sslcert, sslkey): the role `certuser` logs in only with one.
    db.get().unwrap().batch_execute("CREATE ROLE certuser LOGIN").unwrap();
    let verified = format!("sslmode=verify-full&sslrootcert={}", ca.display());
    let (cert, key) = (server.file("client.crt"), server.file("client.key"));
    let with_cert = format!("{verified}&sslcert={}&sslkey={}", cert.display(), key.display());
    let session = session_tls(&Database::connect(&server.url_as("certuser", "localhost", &with_cert)).unwrap());
    assert!(session.ssl);
    assert_eq!(session.client_dn.as_deref(), Some("/CN=certuser"));
    let (cause, message) =
        unavailable(Database::connect(&server.url_as("certuser", "localhost", &verified)).unwrap().get());
    assert_eq!(cause, Some(ConnectFailure::ClientCertificateRequired), "{message}");
    assert!(message.contains("requires a valid client certificate"), "{message}");
}

/// A private PostgreSQL server with `ssl=on` that admits TLS connections only, on a free port of
/// 127.0.0.1; stopped (fast shutdown) when dropped.
struct TlsServer;

impl TlsServer {
    fn start() -> PrivatePostgres {
        PrivatePostgres::start(|dir, data, owner| {
            // The server's certificate, for `localhost`, signed by a CA of its own; another CA
            // that signed nothing.
            let ca_key = rcgen::KeyPair::generate().unwrap();
            let ca = rcgen::CertifiedIssuer::self_signed(ca_params("djstripe test CA"), ca_key).unwrap();
            let wrong_key = rcgen::KeyPair::generate().unwrap();
            let wrong = rcgen::CertifiedIssuer::self_signed(ca_params("djstripe unrelated CA"), wrong_key).unwrap();
            let server_key = rcgen::KeyPair::generate().unwrap();
            let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
            params.distinguished_name.push(rcgen::DnType::CommonName, "localhost");
            let server_cert = params.signed_by(&server_key, &ca).unwrap();
            let client_key = rcgen::KeyPair::generate().unwrap();
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            params.distinguished_name.push(rcgen::DnType::CommonName, "certuser");
            let client_cert = params.signed_by(&client_key, &ca).unwrap();
            write(dir, "ca.pem", &ca.pem());
            write(dir, "wrong-ca.pem", &wrong.pem());
            write(dir, "server.crt", &server_cert.pem());
            write(dir, "server.key", &server_key.serialize_pem());
            write(dir, "client.crt", &client_cert.pem());
            write(dir, "client.key", &client_key.serialize_pem());
            // PostgreSQL and libpq refuse a key others can read.
            for key in ["server.key", "client.key"] {
                fs::set_permissions(dir.join(key), fs::Permissions::from_mode(0o600)).unwrap();
            }
            write(
                data,
                "pg_hba.conf",
                "hostssl   all certuser 127.0.0.1/32 cert\n\
                 hostssl   all all      127.0.0.1/32 trust\n\
                 hostnossl all all      127.0.0.1/32 reject\n",
            );
            for file in ["server.crt", "server.key"] {
                owner.give(&dir.join(file));
            }
            owner.give(&data.join("pg_hba.conf"));
            vec![
                "ssl=on".to_owned(),
                format!("ssl_cert_file={}", dir.join("server.crt").display()),
                format!("ssl_key_file={}", dir.join("server.key").display()),
                format!("ssl_ca_file={}", dir.join("ca.pem").display()),
                "fsync=off".to_owned(),
            ]
        })
    }
}

fn ca_params(name: &str) -> rcgen::CertificateParams {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    params
}

// ---------------------------------------------------------------------------------------------
// Fast, explained failures

#[test]
fn a_missing_database_fails_at_once_with_the_createdb_command() {
    let server = djstripe_core::testing::postgres_server();
    let name = format!("djstripe_missing_{}", std::process::id());
    let started = Instant::now();
    let (cause, message) = unavailable(Djstripe::start(Settings::new(format!("{server}/{name}"))));
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}: {message}");
    assert!(message.contains(&format!("database \"{name}\" does not exist (create it: createdb ")), "{message}");
    assert!(matches!(&cause, Some(ConnectFailure::MissingDatabase { database, .. }) if *database == name), "{cause:?}");
    if server == "postgres://postgres@127.0.0.1:5432" {
        assert!(message.ends_with(&format!("(create it: createdb -h 127.0.0.1 -U postgres {name})")), "{message}");
    }
    // Once more: the pool has not been left retrying; the second attempt is as quick.
    let db = Database::connect(&format!("{server}/{name}")).unwrap();
    for _ in 0..2 {
        let started = Instant::now();
        let (cause, _) = unavailable(db.migrate());
        assert!(matches!(cause, Some(ConnectFailure::MissingDatabase { .. })));
        assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    }
}

#[test]
fn a_refused_connection_fails_at_once_asking_whether_postgres_runs() {
    let started = Instant::now();
    let (cause, message) = unavailable(Djstripe::start(Settings::new("postgres://postgres@127.0.0.1:1/shop")));
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}: {message}", started.elapsed());
    assert_eq!(cause, Some(ConnectFailure::Refused { address: "127.0.0.1:1".into() }));
    assert!(message.contains("Connection refused (is PostgreSQL running on 127.0.0.1:1?)"), "{message}");
    assert!(!message.contains("Is the server running"), "libpq's own hint is replaced: {message}");
    // Many callers at once: each gets the answer quickly (one probe at a time, shared).
    let db = Database::connect("postgres://postgres@127.0.0.1:1/shop").unwrap();
    let started = Instant::now();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..8).map(|_| s.spawn(|| unavailable(db.get()).0)).collect();
        for handle in handles {
            assert!(matches!(handle.join().unwrap(), Some(ConnectFailure::Refused { .. })));
        }
    });
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
}
