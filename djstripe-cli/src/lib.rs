//! # djstripe-cli
//!
//! The manage.py-style command line of a djstripe-rs app, whatever its web framework: `serve`
//! (through the adapter's [`Server`]), `migrate`, `handlers`, `triggers`, `events`, `trigger`,
//! `endpoints`, `accounts`, `admin` (the admin pages' users), `inbox` (inbox mode's queue).
//!
//! ```no_run
//! # struct MyAdapterServer;
//! # impl djstripe_core::app::Server for MyAdapterServer {
//! #     fn serve(&self, _: djstripe_core::app::Djstripe, _: &djstripe_core::app::ServeOptions, _: djstripe_core::app::Ready<'_>) -> djstripe_core::Result<()> { Ok(()) }
//! # }
//! fn main() -> std::process::ExitCode {
//!     djstripe_cli::Cli::new("shop")
//!         .default_database_url("sqlite://shop.sqlite3")
//!         .server(MyAdapterServer) // djstripe_actix::Server::new() or djstripe_axum::Server::new()
//!         .run()
//! }
//! ```
//!
//! | file | command |
//! |---|---|
//! | `serve.rs` | `serve` (the default): migrations, the adapter's server, the banner |
//! | `inspect.rs` | `migrate`, `handlers`, `triggers list/prune`, `events list/show/reprocess` |
//! | `trigger.rs` | `trigger`: sign Stripe-shaped test events and POST them, like `stripe trigger` (feature `trigger`, default) |
//! | `endpoints.rs` | `endpoints create/list/sync/update/delete/add-secret/drop-secret`, `accounts set-key/list/remove-key` |
//! | `admin.rs` | `admin set-password/users/delete-user/hash-password`: the admin pages' users |
//! | `inbox.rs` | `inbox list/stats/retry/process`: inbox mode's waiting and dead-lettered events |
//! | `output.rs` | tables (`comfy-table`), `say!` (stdout that a closed pipe ends quietly) |
//! | `error.rs` | [`Error`] |
//!
//! # Which database
//! Every command that uses the database names it on stderr (`shop: database: ...`, password
//! hidden): `--database-url`, else `DATABASE_URL`, else the app's default (`sqlite://shop.sqlite3`
//! for `Cli::new("shop")`). `serve` and `migrate` create a SQLite file that is not there yet and
//! migrate it; every other command refuses to, so that a typo or another working directory is an
//! error ("no database at ./shop.sqlite3: run `shop migrate` first ...") instead of a new, empty
//! database.
//!
//! # Output
//! Listings are tables whose columns fit their content (one header line, then one line per
//! row; `-` for an empty cell), for people and for `awk`. A closed stdout (`shop events show
//! evt_1 | head`) ends the command quietly, with exit code 0.

#[macro_use]
mod output;
mod admin;
mod endpoints;
mod error;
mod inbox;
mod inspect;
mod serve;
#[cfg(feature = "trigger")]
mod trigger;

use std::process::ExitCode;
use std::sync::Arc;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use djstripe_core::app::{AppMigrations, Djstripe, Server, Settings};

pub use admin::MIN_PASSWORD;
pub use error::{Error, PasswordProblem, Result};

/// The command line of an app. Build it in `main` and call [`Cli::run`].
///
/// ```no_run
/// use djstripe_cli::Cli;
/// fn main() -> std::process::ExitCode {
///     Cli::new("shop").default_database_url("sqlite://shop.sqlite3").dev_endpoint(true).run()
/// }
/// ```
#[derive(Clone)]
pub struct Cli {
    name: &'static str,
    default_database_url: String,
    prefix: String,
    migrations: Option<AppMigrations>,
    dev_endpoint: bool,
    settings: Option<Settings>,
    server: Option<Arc<dyn Server>>,
    /// `--database-url` as typed on the command line (the variable is read with the settings).
    database_url_flag: Option<String>,
}

/// Whether a command may create the SQLite file it is pointed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Open {
    /// `serve`, `migrate`: create and migrate it.
    Create,
    /// Every other command: the database must exist.
    Existing,
}

impl Cli {
    /// A command line named `name` (as the binary is).
    ///
    /// ```
    /// let cli = djstripe_cli::Cli::new("shop");
    /// # let _ = cli;
    /// ```
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            default_database_url: format!("sqlite://{name}.sqlite3"),
            prefix: "/stripe".into(),
            migrations: None,
            dev_endpoint: false,
            settings: None,
            server: None,
            database_url_flag: None,
        }
    }

    /// The database when neither `--database-url` nor `DATABASE_URL` names one (default
    /// `sqlite://{name}.sqlite3`).
    ///
    /// ```
    /// let cli = djstripe_cli::Cli::new("shop").default_database_url("sqlite://data/shop.sqlite3");
    /// # let _ = cli;
    /// ```
    pub fn default_database_url(mut self, url: impl Into<String>) -> Self {
        self.default_database_url = url.into();
        self
    }

    /// Where the webhook routes are mounted (default `/stripe`).
    ///
    /// ```
    /// let cli = djstripe_cli::Cli::new("shop").prefix("/payments/stripe");
    /// # let _ = cli;
    /// ```
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into().trim_end_matches('/').to_owned();
        self
    }

    /// The app's own migrations (e.g. `CREATE TABLE IF NOT EXISTS` or diesel's embedded ones),
    /// run by `migrate` and at every command's start, after djstripe's.
    ///
    /// ```
    /// use diesel::connection::SimpleConnection;
    /// use djstripe_core::app::AppMigrations;
    /// let cli = djstripe_cli::Cli::new("shop").migrations(AppMigrations::function(|conn| {
    ///     conn.batch_execute("CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY)")?;
    ///     Ok(())
    /// }));
    /// # let _ = cli;
    /// ```
    pub fn migrations(mut self, migrations: AppMigrations) -> Self {
        self.migrations = Some(migrations);
        self
    }

    /// For examples and local development: when the database has no webhook endpoint, `serve`
    /// creates a local one with a fresh secret, so `trigger --endpoint` works at once.
    /// Never turn this on in production.
    ///
    /// ```
    /// let cli = djstripe_cli::Cli::new("shop").dev_endpoint(true);
    /// # let _ = cli;
    /// ```
    pub fn dev_endpoint(mut self, on: bool) -> Self {
        self.dev_endpoint = on;
        self
    }

    /// Uses these settings instead of reading the environment.
    ///
    /// ```
    /// let cli = djstripe_cli::Cli::new("shop").settings(djstripe_core::app::Settings::new("sqlite://shop.sqlite3"));
    /// # let _ = cli;
    /// ```
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = Some(settings);
        self
    }

    /// The web adapter's server that `serve` runs (`djstripe_actix::Server`,
    /// `djstripe_axum::Server`). Without one, `serve` is an error; every other command works.
    pub fn server(mut self, server: impl Server + 'static) -> Self {
        self.server = Some(Arc::new(server));
        self
    }

    /// Parses the process's arguments and runs the command. Errors are one line on stderr and
    /// exit code 1 (2 for usage errors, from clap).
    pub fn run(self) -> ExitCode {
        self.run_from(std::env::args_os())
    }

    /// [`Cli::run`] with explicit arguments (the first is the program name).
    ///
    /// ```
    /// let code = djstripe_cli::Cli::new("shop").run_from(["shop", "--version"]);
    /// # let _ = code;
    /// ```
    pub fn run_from<I, T>(mut self, args: I) -> ExitCode
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let default_url = self.default_database_url.clone();
        let command = Args::command().name(self.name).bin_name(self.name).mut_arg("database_url", |arg| {
            arg.help(format!(
                "The database: a SQLite file (path or sqlite://path) or postgres://user@host/db [default: \
                 {default_url}]. Only `serve` and `migrate` create a SQLite file that is not there"
            ))
        });
        let parsed = command.try_get_matches_from(args).and_then(|m| {
            let from_flag = m.value_source("database_url") == Some(ValueSource::CommandLine);
            Args::from_arg_matches(&m).map(|args| (args, from_flag))
        });
        let (args, from_flag) = match parsed {
            Ok(parsed) => parsed,
            Err(e) => {
                let _ = e.print();
                return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
            }
        };
        if from_flag {
            self.database_url_flag = args.database_url;
        }
        init_tracing();
        match self.dispatch(args.command.unwrap_or(Command::Serve(serve::ServeArgs::default()))) {
            Ok(()) => ExitCode::SUCCESS,
            // `shop events show evt_1 | head`: the reader is gone, so is the point of going on.
            Err(Error::Stdout(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                use std::io::Write as _;
                let _ = writeln!(std::io::stderr(), "{}: error: {e}", self.name);
                ExitCode::FAILURE
            }
        }
    }

    fn dispatch(&self, command: Command) -> Result<()> {
        match command {
            Command::Serve(args) => serve::run(self, args),
            Command::Migrate => inspect::migrate(self),
            Command::Handlers => inspect::handlers(),
            Command::Triggers { command } => inspect::triggers(self, command),
            Command::Events { command } => inspect::events(self, command),
            #[cfg(feature = "trigger")]
            Command::Trigger(args) => trigger::run(self, args),
            Command::Endpoints { command } => endpoints::endpoints(self, command),
            Command::Accounts { command } => endpoints::accounts(self, command),
            Command::Admin { command } => admin::admin(self, command),
            Command::Inbox { command } => inbox::inbox(self, command),
        }
    }

    /// The settings: given, or read from the environment (failing on a bad value), with
    /// `--database-url` over either.
    fn load_settings(&self) -> Result<Settings> {
        let flag = self.database_url_flag.clone();
        match &self.settings {
            Some(settings) => {
                let mut settings = settings.clone();
                if let Some(url) = flag {
                    settings.database_url = url;
                }
                settings.check()?;
                Ok(settings)
            }
            None => Ok(Settings::from_lookup(&self.default_database_url, |name| match (name, &flag) {
                ("DATABASE_URL", Some(url)) => Some(url.clone()),
                _ => std::env::var(name).ok(),
            })?),
        }
    }

    /// Where the database URL came from, for the `database:` line.
    fn database_source(&self) -> &'static str {
        if self.database_url_flag.is_some() {
            "--database-url"
        } else if self.settings.is_some() {
            "set by the app"
        } else if std::env::var("DATABASE_URL").is_ok_and(|v| !v.trim().is_empty()) {
            "DATABASE_URL"
        } else {
            "the default; set DATABASE_URL or --database-url for another"
        }
    }

    /// The settings of a command that uses the database: names the database on stderr, and
    /// refuses a SQLite file that is not there unless the command may create it.
    fn database_settings(&self, open: Open) -> Result<Settings> {
        let mut settings = self.load_settings()?;
        if let Some(migrations) = self.migrations {
            settings.app_migrations = Some(migrations);
        }
        {
            use std::io::Write as _;
            let source = self.database_source();
            let _ =
                writeln!(std::io::stderr(), "{}: database: {} ({source})", self.name, settings.redacted_database_url());
        }
        if open == Open::Existing
            && let Some(path) = settings.sqlite_path()
            && !path.exists()
        {
            return Err(Error::NoDatabase { path: path.to_owned(), program: self.name });
        }
        Ok(settings)
    }

    /// Connects and applies djstripe's and the app's migrations, for a command that does not
    /// serve: no inbox workers (a short-lived command would leave the events it claimed to wait
    /// for their lease).
    fn start(&self, open: Open) -> Result<Djstripe> {
        let mut settings = self.database_settings(open)?;
        settings.inbox.workers = Some(0);
        Ok(Djstripe::start(settings)?)
    }

    /// Connects and migrates for `serve`: the inbox's workers run.
    fn start_serving(&self, open: Open) -> Result<Djstripe> {
        Ok(Djstripe::start(self.database_settings(open)?)?)
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,actix_server=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

#[derive(Parser)]
#[command(version, about = "Stripe webhooks, done the dj-stripe way", propagate_version = true)]
struct Args {
    /// The database (the help text names the app's default: see `Cli::run_from`).
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (the default command); applies migrations first.
    Serve(serve::ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// List every registered #[webhook_handler] (patterns, path, source location), then every
    /// #[webhook_hook] (stage, path, source location).
    Handlers,
    /// Recorded deliveries (webhook event triggers).
    Triggers {
        #[command(subcommand)]
        command: inspect::TriggersCommand,
    },
    /// Stored events.
    Events {
        #[command(subcommand)]
        command: inspect::EventsCommand,
    },
    /// Sign Stripe-shaped test events and POST them to a webhook endpoint (like `stripe trigger`).
    #[cfg(feature = "trigger")]
    Trigger(trigger::TriggerArgs),
    /// Webhook endpoints created at Stripe with unguessable URLs; their secrets and rotation.
    Endpoints {
        #[command(subcommand)]
        command: endpoints::EndpointsCommand,
    },
    /// Connected accounts' own API keys (per mode).
    Accounts {
        #[command(subcommand)]
        command: endpoints::AccountsCommand,
    },
    /// The admin pages' users (like Django's createsuperuser / changepassword).
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// Inbox mode's waiting and dead-lettered events (DJSTRIPE_WEBHOOK_PROCESSING=inbox).
    Inbox {
        #[command(subcommand)]
        command: inbox::InboxCommand,
    },
}
