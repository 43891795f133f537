//! The admin's routes, one file per section.
//!
//! | route | page |
//! |---|---|
//! | `GET /` | redirects to the deliveries |
//! | `GET/POST /login`, `POST /logout` | `login.rs` |
//! | `GET /endpoints/`, `GET /endpoints/new`, `POST /endpoints/`, `POST /endpoints/{id}/{action}` | `endpoints.rs` |
//! | `GET /deliveries/`, `GET /deliveries/{id}/`, `POST /deliveries/{id}/reprocess` | `deliveries.rs` |
//! | `GET /events/`, `GET /events/{id}/` | `events.rs` |
//! | `GET /handlers/` | `handlers.rs` |

mod deliveries;
mod endpoints;
mod events;
mod handlers;
mod login;

use actix_web::{HttpResponse, web};

use super::Admin;
use super::render::see_other;

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("", web::get().to(index))
        .route("/", web::get().to(index))
        .route("/login", web::get().to(login::form))
        .route("/login", web::post().to(login::submit))
        .route("/logout", web::post().to(login::logout))
        .route("/endpoints/", web::get().to(endpoints::list))
        .route("/endpoints/", web::post().to(endpoints::create))
        .route("/endpoints/new", web::get().to(endpoints::new_form))
        .route("/endpoints/{id}/delete", web::post().to(endpoints::delete))
        .route("/endpoints/{id}/status", web::post().to(endpoints::status))
        .route("/endpoints/{id}/secrets", web::post().to(endpoints::add_secret))
        .route("/endpoints/{id}/secrets/drop", web::post().to(endpoints::drop_secret))
        .route("/deliveries/", web::get().to(deliveries::list))
        .route("/deliveries/{id}/", web::get().to(deliveries::detail))
        .route("/deliveries/{id}/reprocess", web::post().to(deliveries::reprocess))
        .route("/events/", web::get().to(events::list))
        .route("/events/{id}/", web::get().to(events::detail))
        .route("/handlers/", web::get().to(handlers::list));
}

/// `GET /handlers` → `/handlers/` (the list pages end in a slash); anything else is a 404.
pub(crate) async fn add_slash(req: actix_web::HttpRequest) -> Result<HttpResponse, super::render::PageError> {
    let path = req.path();
    if (req.method() == actix_web::http::Method::GET || req.method() == actix_web::http::Method::HEAD)
        && !path.ends_with('/')
    {
        let query = req.query_string();
        let location = if query.is_empty() { format!("{path}/") } else { format!("{path}/?{query}") };
        return Ok(HttpResponse::PermanentRedirect().insert_header(("Location", location)).finish());
    }
    let resource = djstripe_core::error::Resource::WebhookPath;
    Err(crate::Error::Core(djstripe_core::Error::NotFound { resource, id: path.to_owned() }).into())
}

async fn index(admin: web::Data<Admin>) -> HttpResponse {
    see_other(&admin, "/deliveries/")
}

/// `?page=N` (1-based) → (offset, page).
pub(crate) fn page_window(page: Option<u32>, size: i64) -> (i64, u32) {
    let page = page.unwrap_or(1).max(1);
    ((i64::from(page) - 1) * size, page)
}

/// An optional filter value: empty = not set.
pub(crate) fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// `yes` / `no` / empty.
pub(crate) fn yes_no(name: &str, value: &Option<String>) -> Result<Option<bool>, super::render::PageError> {
    match non_empty(value) {
        None => Ok(None),
        Some("yes" | "true" | "1") => Ok(Some(true)),
        Some("no" | "false" | "0") => Ok(Some(false)),
        Some(other) => {
            Err(super::render::PageError::bad_request(format!("`{other}` is not a value of {name}: use yes or no")))
        }
    }
}

/// Fixed notices for `?done=...` after a redirect (never free text from the query).
pub(crate) fn notice(done: &Option<String>) -> Option<&'static str> {
    Some(match done.as_deref()? {
        "created" => "Endpoint created at Stripe and saved. Its signing secret is stored, never shown.",
        "deleted" => "Endpoint deleted.",
        "status" => "Endpoint status changed.",
        "secret_added" => "New signing secret saved; the previous one stays valid for the time you chose.",
        "secret_dropped" => "Previous secret dropped.",
        "reprocessed" => "Reprocessed: this is the new attempt.",
        "logged_out" => "Logged out.",
        _ => return None,
    })
}
