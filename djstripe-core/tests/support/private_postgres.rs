//! What the tests that run a PostgreSQL server of their own share: [`PrivatePostgres`], started
//! by `initdb` into a temporary directory on a free port of 127.0.0.1, as the `postgres` user
//! when the tests run as root. Without PostgreSQL's server programs the tests fail saying so:
//! they never skip.

use std::fs;
use std::io::Read as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A private PostgreSQL server; stopped (fast shutdown) when dropped.
pub struct PrivatePostgres {
    postmaster: Option<Child>,
    pub port: u16,
    /// Data directory, the server's log and whatever `prepare` wrote; removed after the server
    /// stopped.
    pub dir: tempfile::TempDir,
    bin: PathBuf,
    owner: ServerUser,
    settings: Vec<String>,
}

impl PrivatePostgres {
    /// `initdb`, then `prepare(dir, data directory, owner)` (certificates, `pg_hba.conf`, …),
    /// which returns extra `-c` settings; then starts the server and waits until it is ready.
    pub fn start(prepare: impl FnOnce(&Path, &Path, &ServerUser) -> Vec<String>) -> Self {
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
        let mut settings = vec![
            "listen_addresses=127.0.0.1".to_owned(),
            "unix_socket_directories=".to_owned(),
            "max_connections=40".to_owned(),
        ];
        settings.extend(prepare(dir.path(), &data, &owner));
        let mut server = Self { postmaster: None, port: free_port(), dir, bin, owner, settings };
        server.start_again();
        server
    }

    /// A plain server (durable commits, as in production).
    pub fn plain() -> Self {
        Self::start(|_, _, _| Vec::new())
    }

    /// Starts the stopped server again, on the same port and data.
    pub fn start_again(&mut self) {
        assert!(self.postmaster.is_none(), "the server runs already");
        let log_path = self.dir.path().join("server.log");
        let log = fs::OpenOptions::new().create(true).append(true).open(&log_path).unwrap();
        self.owner.give(&log_path);
        let offset = fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0) as usize;
        let mut postgres = self.owner.command(&self.bin.join("postgres"));
        postgres.arg("-D").arg(self.dir.path().join("data")).current_dir(self.dir.path());
        postgres.arg("-c").arg(format!("port={}", self.port));
        for setting in &self.settings {
            postgres.arg("-c").arg(setting);
        }
        postgres.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log);
        let child =
            postgres.spawn().unwrap_or_else(|e| panic!("starting {}: {e}", self.bin.join("postgres").display()));
        self.postmaster = Some(child);
        self.wait_until_ready(&log_path, offset);
    }

    /// `pg_ctl stop -m immediate`: the server quits at once, without a checkpoint (a crash, as
    /// far as clients can tell).
    pub fn stop_immediate(&mut self) {
        self.signal("QUIT");
    }

    /// The `postgres` database through `host` with `query`, as `user`.
    pub fn url_as(&self, user: &str, host: &str, query: &str) -> String {
        format!("postgres://{user}@{host}:{}/postgres?{query}", self.port)
    }

    /// [`PrivatePostgres::url_as`] as `postgres`.
    pub fn url(&self, host: &str, query: &str) -> String {
        self.url_as("postgres", host, query)
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn signal(&mut self, signal: &str) {
        let Some(mut postmaster) = self.postmaster.take() else { return };
        let sent = Command::new("kill").arg(format!("-{signal}")).arg(postmaster.id().to_string()).status();
        if sent.is_ok_and(|s| s.success()) {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = postmaster.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = postmaster.kill();
        let _ = postmaster.wait();
    }

    /// Waits for the log's "ready to accept connections" after `offset`; panics with the log if
    /// the server exits or takes more than 20 s.
    fn wait_until_ready(&mut self, log_path: &Path, offset: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut log = String::new();
            fs::File::open(log_path).unwrap().read_to_string(&mut log).unwrap();
            if log.get(offset..).is_some_and(|l| l.contains("ready to accept connections")) {
                return;
            }
            let postmaster = self.postmaster.as_mut().expect("started");
            if let Some(status) = postmaster.try_wait().unwrap() {
                panic!("the PostgreSQL server exited ({status}) while starting:\n{log}");
            }
            assert!(Instant::now() < deadline, "the PostgreSQL server did not start within 20 s:\n{log}");
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        // SIGINT is PostgreSQL's fast shutdown: it closes the sessions and stops.
        self.signal("INT");
    }
}

pub fn write(dir: &Path, name: &str, contents: &str) {
    fs::write(dir.join(name), contents).unwrap_or_else(|e| panic!("writing {}: {e}", dir.join(name).display()));
}

pub fn check(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A port of 127.0.0.1 nothing listens on (the OS's choice, released for the server).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The directory of PostgreSQL's server programs: the one of `initdb` on `PATH`, else the newest
/// `/usr/lib/postgresql/<version>/bin` (Debian keeps them off `PATH`). Panics if there is none.
pub fn server_programs() -> PathBuf {
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
pub enum ServerUser {
    Me,
    Postgres { uid: u32, gid: u32 },
}

impl ServerUser {
    pub fn for_this_process() -> Self {
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
    pub fn give(&self, path: &Path) {
        if let ServerUser::Postgres { uid, gid } = self {
            std::os::unix::fs::chown(path, Some(*uid), Some(*gid))
                .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
        }
    }

    /// `program`, run as the server user. `setpriv` (util-linux) execs it, so that the child is
    /// the program itself (and stopping it stops the server).
    pub fn command(&self, program: &Path) -> Command {
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
