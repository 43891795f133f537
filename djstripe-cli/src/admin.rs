//! `admin set-password|users|delete-user|hash-password`: the admin pages' users, stored in the
//! database (`djstripe_admin_user`) with argon2 hashes, the way Django's `createsuperuser` and
//! `changepassword` store dj-stripe's admin users.
//!
//! The password is asked twice on the terminal without echo; when stdin is not a terminal
//! (scripts, tests) its first line is the password.

use std::io::{BufRead, IsTerminal};

use djstripe_core::db::PasswordChange;

use super::{Cli, Open};
use crate::output::{print, table};
use crate::{Error, PasswordProblem, Result};

/// The shortest password `admin set-password` accepts (Django's default validator's length).
///
/// ```
/// assert_eq!(djstripe_cli::MIN_PASSWORD, 8);
/// ```
pub const MIN_PASSWORD: usize = 8;

#[derive(clap::Subcommand, Debug)]
pub(super) enum AdminCommand {
    /// Create an admin user or change their password (Django's createsuperuser /
    /// changepassword): asked twice without echo, or the first line of stdin when it is not a
    /// terminal. Stored as an argon2 hash in the database; the user's sessions end.
    SetPassword {
        /// The user name (letters, digits and @ . + - _).
        #[arg(long, default_value = "admin")]
        user: String,
    },
    /// The admin users stored in the database.
    Users,
    /// Remove an admin user: they can no longer log in, their sessions end.
    DeleteUser {
        /// The user name.
        user: String,
    },
    /// Print the argon2 hash of a password (asked like set-password), for
    /// DJSTRIPE_ADMIN_PASSWORD_HASH; nothing is stored.
    HashPassword,
}

pub(super) fn admin(cli: &Cli, command: AdminCommand) -> Result<()> {
    match command {
        AdminCommand::SetPassword { user } => {
            djstripe_core::db::check_username(&user)?;
            let djstripe = cli.start(Open::Existing)?;
            let password = read_new_password(&user)?;
            let hash = djstripe_admin::hash_password(&password);
            let change = djstripe.engine().database().set_admin_password(&user, &hash)?;
            match change {
                PasswordChange::Created => say!(
                    "admin user `{user}` created: it logs in to the admin pages (`{} serve` mounts them at its next start)",
                    cli.name
                )?,
                PasswordChange::Changed => say!("password of admin user `{user}` changed: its sessions have ended")?,
            }
            if let Err(e) = djstripe_admin::AdminConfig::from_env() {
                warn(cli, &format!("the admin pages will not start until this is fixed: {e}"));
            }
            Ok(())
        }
        AdminCommand::Users => {
            let djstripe = cli.start(Open::Existing)?;
            let users = djstripe.engine().database().admin_users()?;
            if users.is_empty() {
                return say!("no admin users: `{} admin set-password --user NAME` creates one", cli.name);
            }
            let mut rows = table(["user", "created", "password set"]);
            for u in users {
                rows.add_row([
                    u.username,
                    u.created.format("%Y-%m-%d %H:%M:%S").to_string(),
                    u.updated.format("%Y-%m-%d %H:%M:%S").to_string(),
                ]);
            }
            print(&rows)
        }
        AdminCommand::DeleteUser { user } => {
            let djstripe = cli.start(Open::Existing)?;
            djstripe.engine().database().delete_admin_user(&user)?;
            say!("admin user `{user}` deleted")
        }
        AdminCommand::HashPassword => {
            let password = read_new_password("DJSTRIPE_ADMIN_PASSWORD_HASH")?;
            say!("{}", djstripe_admin::hash_password(&password))
        }
    }
}

fn warn(cli: &Cli, message: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{}: warning: {message}", cli.name);
}

/// A new password: typed twice on the terminal (no echo), or the first line of stdin.
fn read_new_password(for_whom: &str) -> Result<String> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("Password for {for_whom}: ")).map_err(Error::Stdin)?;
        check_password(&first)?;
        let again = rpassword::prompt_password("Password (again): ").map_err(Error::Stdin)?;
        if again != first {
            return Err(Error::Password(PasswordProblem::Mismatch));
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(Error::Stdin)?;
        line.strip_suffix('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).unwrap_or(&line).to_owned()
    };
    check_password(&password)?;
    Ok(password)
}

fn check_password(password: &str) -> Result<()> {
    if password.is_empty() {
        Err(Error::Password(PasswordProblem::Empty))
    } else if password.chars().count() < MIN_PASSWORD {
        Err(Error::Password(PasswordProblem::TooShort { min: MIN_PASSWORD }))
    } else {
        Ok(())
    }
}
