//! The login form (user + password; the bearer token is no password) and logout.

use djstripe_core::app::Blocking;
use minijinja::context;
use serde::Deserialize;

use super::Page;
use crate::auth::{Attempt, SESSION_COOKIE, SESSION_SECONDS, Via, new_session, verify_login};
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

/// Where to go after the login: `next` resolved the way a browser will resolve it (WHATWG URL
/// parsing: `..` and `%2e%2e` segments, backslashes as slashes, `//host`), and only when the
/// result is a path inside the admin (no open redirect, no leaving the admin through `..`);
/// else the triggers.
fn safe_next(req: &AdminRequest, next: Option<&str>) -> String {
    const BASE: &str = "http://admin.invalid";
    let fallback = format!("{}/triggers/", req.prefix);
    let Some(next) = next.filter(|n| n.starts_with('/')) else { return fallback };
    let Ok(base) = url::Url::parse(&format!("{BASE}{}/", req.prefix)) else { return fallback };
    let Ok(url) = base.join(next) else { return fallback };
    let inside = url.origin() == base.origin() && url.path().starts_with(base.path());
    // A still-encoded dot or slash would be decoded by some server behind the admin.
    let lower = url.path().to_ascii_lowercase();
    if !inside || lower.contains("%2e") || lower.contains("%2f") || lower.contains("%5c") {
        return fallback;
    }
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
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

#[cfg(test)]
mod tests {
    use crate::{AdminRequest, Method};

    /// Issue 15, 5: `/stripe/admin/../../x` left the admin.
    #[test]
    fn next_stays_inside_the_admin() {
        let req = AdminRequest::new(Method::Get, "/stripe/admin", "/login", "");
        let next = |n: &str| super::safe_next(&req, Some(n));
        assert_eq!(next("/stripe/admin/events/?type=x"), "/stripe/admin/events/?type=x");
        assert_eq!(next("/stripe/admin/a/../events/"), "/stripe/admin/events/", "resolved like a browser");
        for outside in [
            "/stripe/admin/../../x",
            "/stripe/admin/%2e%2e/%2e%2e/x",
            "/stripe/admin/%2E%2E%2fx",
            "/stripe/admin/..%2f..%2fx",
            "/stripe/admin\\..\\..\\x",
            "/stripe/administrator/",
            "/stripe/admin",
            "//evil.example/stripe/admin/",
            "/\\evil.example/stripe/admin/",
            "https://evil.example/stripe/admin/",
            "stripe/admin/x",
            "/stripe/admin/\t/../../x",
        ] {
            assert_eq!(next(outside), "/stripe/admin/triggers/", "{outside}");
        }
        assert_eq!(super::safe_next(&req, None), "/stripe/admin/triggers/");
    }
}
