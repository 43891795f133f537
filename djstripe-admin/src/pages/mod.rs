//! The admin's routes, one file per section, and what every page gets ([`Page`]).
//!
//! | route | page |
//! |---|---|
//! | `GET /` | redirects to the triggers |
//! | `GET/POST /login`, `POST /logout` | `login.rs` |
//! | `GET /endpoints/`, `GET /endpoints/new`, `POST /endpoints/`, `POST /endpoints/{id}/{action}` | `endpoints.rs` |
//! | `GET /triggers/`, `GET /triggers/{id}/`, `POST /triggers/{id}/reprocess` | `triggers.rs` |
//! | `GET /events/`, `GET /events/{id}/` | `events.rs` |
//! | `GET /handlers/` | `handlers.rs` |
//! | `GET /inbox/`, `POST /inbox/{event id}/retry` | `inbox.rs` |
//!
//! `HEAD` is answered like `GET`; a page that exists answers another method 405; a `GET` of a
//! path without its trailing slash is redirected (308) to the path with it.

mod endpoints;
mod events;
mod handlers;
mod inbox;
mod login;
mod triggers;

use djstripe_core::app::Blocking;
use djstripe_core::db::Database;
use minijinja::{Value, context};
use serde::de::DeserializeOwned;

use crate::{Admin, AdminRequest, AdminResponse, Error, Method, Result, csrf};

/// What a page handler gets: the admin, the request, the blocking pool, the CSRF token its
/// forms carry (bound to the session or credential; on the login form the request's cookie, or
/// the one this response sets) and the session.
pub(crate) struct Page<'a, B> {
    pub(crate) admin: &'a Admin,
    pub(crate) req: &'a AdminRequest,
    pub(crate) blocking: &'a B,
    /// What the forms' `csrf_token` must be.
    pub(crate) csrf: csrf::Expected,
    /// The token the page's forms carry.
    pub(crate) csrf_token: String,
    /// The session's row id, when a session let the request in (logout ends it).
    pub(crate) session: Option<String>,
    /// Whether cookies are `Secure` and `__Host-` ([`csrf::secure_cookies`]).
    pub(crate) secure: bool,
    /// The client's address (the login form counts failures per address).
    pub(crate) client: Option<std::net::IpAddr>,
}

impl<B: Blocking> Page<'_, B> {
    /// The database (a cheap clone of the pool), for [`Page::run`].
    pub(crate) fn db(&self) -> Database {
        self.admin.djstripe.engine().database().clone()
    }

    /// Runs a blocking database or Stripe call on the adapter's blocking pool.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> djstripe_core::Result<T> + Send + 'static,
    ) -> Result<T> {
        Ok(self.blocking.run(work).await??)
    }

    /// The query string as `T`.
    pub(crate) fn query<T: DeserializeOwned>(&self) -> Result<T> {
        serde_urlencoded::from_str(&self.req.query).map_err(Error::Query)
    }

    /// The form as `T`, once the CSRF check passed.
    pub(crate) fn form<T: DeserializeOwned>(&self) -> Result<T> {
        csrf::form(self.req, &self.csrf, self.secure)
    }

    /// Renders `template` with `page` plus the shared context (`prefix`, `csrf_token`).
    pub(crate) fn render(&self, status: u16, template: &'static str, page: Value) -> Result<AdminResponse> {
        let ctx = context! { prefix => &self.req.prefix, csrf_token => &self.csrf_token, ..page };
        Ok(AdminResponse::html(status, crate::render::render(template, ctx)?))
    }

    /// [`Page::render`] with 200.
    pub(crate) fn page(&self, template: &'static str, page: Value) -> Result<AdminResponse> {
        self.render(200, template, page)
    }

    /// A 303 to `path` under the admin's prefix.
    pub(crate) fn see_other(&self, path: &str) -> AdminResponse {
        AdminResponse::redirect(303, format!("{}{path}", self.req.prefix))
    }
}

/// What `POST /endpoints/{id}/...` does.
#[derive(Debug, Clone, Copy)]
enum EndpointAction {
    Delete,
    Status,
    AddSecret,
    DropSecret,
}

/// The pages, by path (ids still unparsed).
#[derive(Debug, Clone, Copy)]
enum Route<'a> {
    Index,
    Login,
    Logout,
    Endpoints,
    EndpointNew,
    Endpoint(&'a str, EndpointAction),
    Triggers,
    Trigger(&'a str),
    Reprocess(&'a str),
    Events,
    Event(&'a str),
    Handlers,
    Inbox,
    InboxRetry(&'a str),
}

impl<'a> Route<'a> {
    fn parse(path: &'a str) -> Option<Self> {
        if path.is_empty() {
            return Some(Route::Index);
        }
        let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        Some(match segments.as_slice() {
            [""] => Route::Index,
            ["login"] => Route::Login,
            ["logout"] => Route::Logout,
            ["endpoints", ""] => Route::Endpoints,
            ["endpoints", "new"] => Route::EndpointNew,
            ["endpoints", id, "delete"] => Route::Endpoint(id, EndpointAction::Delete),
            ["endpoints", id, "status"] => Route::Endpoint(id, EndpointAction::Status),
            ["endpoints", id, "secrets"] => Route::Endpoint(id, EndpointAction::AddSecret),
            ["endpoints", id, "secrets", "drop"] => Route::Endpoint(id, EndpointAction::DropSecret),
            ["triggers", ""] => Route::Triggers,
            ["triggers", id, ""] => Route::Trigger(id),
            ["triggers", id, "reprocess"] => Route::Reprocess(id),
            ["events", ""] => Route::Events,
            ["events", id, ""] => Route::Event(id),
            ["handlers", ""] => Route::Handlers,
            ["inbox", ""] => Route::Inbox,
            ["inbox", id, "retry"] => Route::InboxRetry(id),
            _ => return None,
        })
    }

    /// The methods the page answers (for 405's `Allow`).
    fn allow(self) -> &'static str {
        match self {
            Route::Login | Route::Endpoints => "GET, HEAD, POST",
            Route::Logout | Route::Endpoint(..) | Route::Reprocess(_) | Route::InboxRetry(_) => "POST",
            _ => "GET, HEAD",
        }
    }
}

/// The page that answers the request (the login check is done).
pub(crate) async fn respond<B: Blocking>(p: &Page<'_, B>) -> Result<AdminResponse> {
    let path = p.req.path.as_str();
    let Some(route) = Route::parse(path) else { return add_slash(p.req) };
    let read = p.req.method.is_read();
    let post = p.req.method == Method::Post;
    let number = |id: &str| id.parse::<i64>().map_err(|_| Error::NoPage { path: path.to_owned() });
    match route {
        Route::Index if read => Ok(p.see_other("/triggers/")),
        Route::Login if read => login::form(p),
        Route::Login if post => login::submit(p).await,
        Route::Logout if post => login::logout(p).await,
        Route::Endpoints if read => endpoints::list(p).await,
        Route::Endpoints if post => endpoints::create(p).await,
        Route::EndpointNew if read => endpoints::new_form(p).await,
        Route::Endpoint(id, action) if post => {
            let id = number(id)?;
            match action {
                EndpointAction::Delete => endpoints::delete(p, id).await,
                EndpointAction::Status => endpoints::status(p, id).await,
                EndpointAction::AddSecret => endpoints::add_secret(p, id).await,
                EndpointAction::DropSecret => endpoints::drop_secret(p, id).await,
            }
        }
        Route::Triggers if read => triggers::list(p).await,
        Route::Trigger(id) if read => triggers::detail(p, number(id)?).await,
        Route::Reprocess(id) if post => triggers::reprocess(p, number(id)?).await,
        Route::Events if read => events::list(p).await,
        Route::Event(id) if read => events::detail(p, id).await,
        Route::Handlers if read => handlers::list(p),
        Route::Inbox if read => inbox::list(p).await,
        Route::InboxRetry(id) if post => inbox::retry(p, id).await,
        other => Err(Error::MethodNotAllowed { method: p.req.method.name().to_owned(), allow: other.allow() }),
    }
}

/// No page here: `GET /handlers` → 308 to `/handlers/` (the list pages end in a slash); anything
/// else is a 404.
fn add_slash(req: &AdminRequest) -> Result<AdminResponse> {
    if !req.method.is_read() || req.path.ends_with('/') {
        return Err(Error::NoPage { path: req.path.clone() });
    }
    let query = if req.query.is_empty() { String::new() } else { format!("?{}", req.query) };
    Ok(AdminResponse::redirect(308, format!("{}{}/{query}", req.prefix, req.path)))
}

/// `?page=N` (1-based) → (offset, page).
pub(crate) fn page_window(page: Option<u32>, size: i64) -> (i64, u32) {
    let page = page.unwrap_or(1).max(1);
    ((i64::from(page) - 1) * size, page)
}

/// An optional filter value: empty = not set.
/// An error's first line, at most `max` characters (`…` marks a cut): what a list shows.
pub(crate) fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line.to_owned()
    }
}

pub(crate) fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// `yes` / `no` / empty.
pub(crate) fn yes_no(filter: &'static str, value: &Option<String>) -> Result<Option<bool>> {
    match non_empty(value) {
        None => Ok(None),
        Some("yes" | "true" | "1") => Ok(Some(true)),
        Some("no" | "false" | "0") => Ok(Some(false)),
        Some(other) => Err(Error::YesNo { filter, value: other.to_owned() }),
    }
}

/// Fixed notices for `?done=...` after a redirect (never free text from the query).
pub(crate) fn notice(done: &Option<String>) -> Option<&'static str> {
    Some(match done.as_deref()? {
        "created" => "Endpoint created at Stripe and saved. Its signing secret is stored, never shown.",
        "deleted" => "Endpoint deleted.",
        "deleted_gone" => "Endpoint not found at Stripe (deleted there before); removed here.",
        "status" => "Endpoint status changed at Stripe and here.",
        "secret_added" => "New signing secret saved; the previous one stays valid for the time you chose.",
        "secret_dropped" => "Previous secret dropped.",
        "reprocessed" => "Reprocessed: this is the new attempt.",
        "inbox_retried" => "Queued again: a worker takes it within a second.",
        "requeued" => "Queued again in the inbox (inbox mode): a worker runs its handlers within a second.",
        "logged_out" => "Logged out.",
        _ => return None,
    })
}
