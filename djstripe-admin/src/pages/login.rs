//! The login form (user + password; the bearer token is no password) and logout.

use djstripe_core::app::Blocking;
use minijinja::context;
use serde::Deserialize;

use super::Page;
use crate::auth::{Attempt, Via, SESSION_COOKIE, SESSION_SECONDS, new_session, verify_login};
use crate::csrf::set_cookie;
use crate::{AdminRequest, AdminResponse, Result};

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
    done: Option<String>,
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// Only a path inside the admin is a place to go back to (no open redirect).
fn safe_next(req: &AdminRequest, next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with(&format!("{}/", req.prefix)) && !n.contains("//") && !n.contains('\\') => n.to_owned(),
        _ => format!("{}/triggers/", req.prefix),
    }
}

pub(crate) fn form<B: Blocking>(p: &Page<'_, B>) -> Result<AdminResponse> {
    let query: LoginQuery = p.query()?;
    let next = safe_next(p.req, query.next.as_deref());
    let notice = super::notice(&query.done);
    p.page("login.html", context! { next, notice, user => "admin" })
}

pub(crate) async fn submit<B: Blocking>(p: &Page<'_, B>) -> Result<AdminResponse> {
    let form: LoginForm = p.form()?;
    let config = &p.admin.config;
    let user = form.user.trim();
    // The token is a token only: as a password it would log in with any user name.
    let attempt = Attempt { user, password: &form.password, client: p.client, remember: false, via: Via::Form };
    let login = verify_login(config, &p.admin.guard, p.db(), p.blocking, attempt).await?;
    let next = safe_next(p.req, form.next.as_deref());
    if p.secure && !p.req.secure() {
        return Err(crate::Error::InsecureLogin);
    }
    let Some(login) = login else {
        let error = "Wrong user name or password.";
        return p.render(401, "login.html", context! { next, error, user => form.user });
    };
    tracing::info!(user = %login.user, source = ?login.source, "admin login");
    let (key, row) = new_session(&login);
    let db = p.db();
    p.run(move || db.insert_admin_session(&row)).await?;
    let cookie = set_cookie(SESSION_COOKIE, &key, &p.req.prefix, Some(SESSION_SECONDS), p.secure);
    Ok(AdminResponse::redirect(303, next).header("Set-Cookie", cookie))
}

/// Ends the session: its row is deleted, so the cookie is worth nothing anywhere, even if kept.
pub(crate) async fn logout<B: Blocking>(p: &Page<'_, B>) -> Result<AdminResponse> {
    p.form::<serde::de::IgnoredAny>()?;
    if let Some(id) = p.session.clone() {
        let db = p.db();
        p.run(move || db.delete_admin_session(&id)).await?;
    }
    let cookie = set_cookie(SESSION_COOKIE, "", &p.req.prefix, Some(0), p.secure);
    Ok(p.see_other("/login?done=logged_out").header("Set-Cookie", cookie))
}
