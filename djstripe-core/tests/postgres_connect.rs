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

use std::fs;
use std::io::Read as _;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

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
struct TlsServer {
    postmaster: Child,
    port: u16,
    /// Data directory, certificates, the server's log; removed after the server stopped.
    dir: tempfile::TempDir,
}

impl TlsServer {
    fn start() -> Self {
        let bin = server_programs();
        let dir = tempfile::tempdir().unwrap();
        let owner = ServerUser::for_this_process();
        owner.give(dir.path());

        let data = dir.path().join("data");
        let mut initdb = owner.command(&bin.join("initdb"));
        initdb.args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
            "-D",
        ]);
        initdb.arg(&data).current_dir(dir.path());
        let output = initdb.output().unwrap_or_else(|e| panic!("running {}: {e}", bin.join("initdb").display()));
        check(&output, "initdb");

        // The server's certificate, for `localhost`, signed by a CA of its own; another CA that
        // signed nothing.
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
        write(dir.path(), "ca.pem", &ca.pem());
        write(dir.path(), "wrong-ca.pem", &wrong.pem());
        write(dir.path(), "server.crt", &server_cert.pem());
        write(dir.path(), "server.key", &server_key.serialize_pem());
        write(dir.path(), "client.crt", &client_cert.pem());
        write(dir.path(), "client.key", &client_key.serialize_pem());
        // PostgreSQL and libpq refuse a key others can read.
        for key in ["server.key", "client.key"] {
            fs::set_permissions(dir.path().join(key), fs::Permissions::from_mode(0o600)).unwrap();
        }
        write(
            &data,
            "pg_hba.conf",
            "hostssl   all certuser 127.0.0.1/32 cert\n\
             hostssl   all all      127.0.0.1/32 trust\n\
             hostnossl all all      127.0.0.1/32 reject\n",
        );
        for file in ["server.crt", "server.key"] {
            owner.give(&dir.path().join(file));
        }
        owner.give(&data.join("pg_hba.conf"));

        let port = free_port();
        let log_path = dir.path().join("server.log");
        let log = fs::File::create(&log_path).unwrap();
        owner.give(&log_path);
        let mut postgres = owner.command(&bin.join("postgres"));
        postgres.arg("-D").arg(&data).current_dir(dir.path());
        for setting in [
            "listen_addresses=127.0.0.1".to_owned(),
            format!("port={port}"),
            "unix_socket_directories=".to_owned(),
            "ssl=on".to_owned(),
            format!("ssl_cert_file={}", dir.path().join("server.crt").display()),
            format!("ssl_key_file={}", dir.path().join("server.key").display()),
            format!("ssl_ca_file={}", dir.path().join("ca.pem").display()),
            "fsync=off".to_owned(),
            "max_connections=30".to_owned(),
        ] {
            postgres.arg("-c").arg(setting);
        }
        postgres.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log);
        let postmaster =
            postgres.spawn().unwrap_or_else(|e| panic!("starting {}: {e}", bin.join("postgres").display()));
        let mut server = Self { postmaster, port, dir };
        server.wait_until_ready(&log_path);
        server
    }

    /// Waits for the log's "ready to accept connections"; panics with the log if the server
    /// exits or takes more than 20 s.
    fn wait_until_ready(&mut self, log_path: &Path) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut log = String::new();
            fs::File::open(log_path).unwrap().read_to_string(&mut log).unwrap();
            if log.contains("ready to accept connections") {
                return;
            }
            if let Some(status) = self.postmaster.try_wait().unwrap() {
                panic!("the PostgreSQL server exited ({status}) while starting:\n{log}");
            }
            assert!(Instant::now() < deadline, "the PostgreSQL server did not start within 20 s:\n{log}");
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// A `postgres://` URL to the server's `postgres` database through `host` with `query`.
    fn url(&self, host: &str, query: &str) -> String {
        self.url_as("postgres", host, query)
    }

    /// [`TlsServer::url`] as `user`.
    fn url_as(&self, user: &str, host: &str, query: &str) -> String {
        format!("postgres://{user}@{host}:{}/postgres?{query}", self.port)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        // SIGINT is PostgreSQL's fast shutdown: it closes the sessions and stops.
        let interrupted = Command::new("kill").arg("-INT").arg(self.postmaster.id().to_string()).status();
        if interrupted.is_ok_and(|s| s.success()) {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.postmaster.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.postmaster.kill();
        let _ = self.postmaster.wait();
    }
}

fn ca_params(name: &str) -> rcgen::CertificateParams {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    params
}

fn write(dir: &Path, name: &str, contents: &str) {
    fs::write(dir.join(name), contents).unwrap_or_else(|e| panic!("writing {}: {e}", dir.join(name).display()));
}

fn check(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A port of 127.0.0.1 nothing listens on (the OS's choice, released for the server).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The directory of PostgreSQL's server programs: the one of `initdb` on `PATH`, else the newest
/// `/usr/lib/postgresql/<version>/bin` (Debian keeps them off `PATH`). Panics if there is none.
fn server_programs() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|dir| dir.join("initdb").is_file() && dir.join("postgres").is_file());
    let debian = || {
        let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| Some((entry.file_name().to_str()?.parse().ok()?, entry.path().join("bin"))))
            .filter(|(_, bin)| bin.join("initdb").is_file() && bin.join("postgres").is_file())
            .collect();
        versions.sort();
        versions.pop().map(|(_, bin)| bin)
    };
    on_path.or_else(debian).unwrap_or_else(|| {
        panic!(
            "this test starts a PostgreSQL server of its own and needs its programs `initdb` and `postgres`: \
             none on PATH nor in /usr/lib/postgresql/*/bin (Debian: apt-get install postgresql)"
        )
    })
}

/// Who runs the server: this process's user, or `postgres` when this is root (PostgreSQL
/// refuses to run as root).
enum ServerUser {
    Me,
    Postgres { uid: u32, gid: u32 },
}

impl ServerUser {
    fn for_this_process() -> Self {
        use std::os::unix::fs::MetadataExt as _;
        // /proc/self belongs to the process's effective user.
        if fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(1) != 0 {
            return ServerUser::Me;
        }
        let id = |flag: &str| -> u32 {
            let output = Command::new("id").args([flag, "postgres"]).output().expect("running id");
            check(&output, "looking up the `postgres` user (`id postgres`), as which a root test runs the server");
            String::from_utf8_lossy(&output.stdout).trim().parse().expect("a numeric id")
        };
        ServerUser::Postgres { uid: id("-u"), gid: id("-g") }
    }

    /// Makes `path` the server user's.
    fn give(&self, path: &Path) {
        if let ServerUser::Postgres { uid, gid } = self {
            std::os::unix::fs::chown(path, Some(*uid), Some(*gid))
                .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
        }
    }

    /// `program`, run as the server user. `setpriv` (util-linux) execs it, so that the child is
    /// the program itself (and stopping it stops the server).
    fn command(&self, program: &Path) -> Command {
        match self {
            ServerUser::Me => Command::new(program),
            ServerUser::Postgres { uid, gid } => {
                let mut command = Command::new("setpriv");
                command.arg(format!("--reuid={uid}")).arg(format!("--regid={gid}")).arg("--clear-groups").arg("--");
                command.arg(program);
                command
            }
        }
    }
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
