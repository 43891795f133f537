//! The login form (user + password, or the token as the password) and logout.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::context;
use serde::Deserialize;

use crate::admin::Admin;
use crate::admin::auth::{SESSION_COOKIE, SESSION_SECONDS, check_password, check_token, new_session};
use crate::admin::csrf::{CsrfForm, set_cookie};
use crate::admin::render::{page, render};

#[derive(Deserialize)]
pub(crate) struct LoginQuery {
    next: Option<String>,
    done: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// Only a path inside the admin is a place to go back to (no open redirect).
fn safe_next(admin: &Admin, next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with(&format!("{}/", admin.prefix)) && !n.contains("//") && !n.contains('\\') => {
            n.to_owned()
        }
        _ => format!("{}/deliveries/", admin.prefix),
    }
}

pub(crate) async fn form(req: HttpRequest, admin: web::Data<Admin>, query: web::Query<LoginQuery>) -> HttpResponse {
    let next = safe_next(&admin, query.next.as_deref());
    let notice = super::notice(&query.done);
    page(&req, &admin, "login.html", context! { next, notice, user => "admin" })
}

pub(crate) async fn submit(req: HttpRequest, admin: web::Data<Admin>, form: CsrfForm<LoginForm>) -> HttpResponse {
    let form = form.0;
    let ok =
        check_password(&admin.config, form.user.trim(), &form.password) | check_token(&admin.config, &form.password);
    let next = safe_next(&admin, form.next.as_deref());
    if !ok {
        tracing::warn!(user = %form.user, "admin login failed");
        let error = "Wrong user name or password.";
        return render(
            &req,
            &admin,
            StatusCode::UNAUTHORIZED,
            "login.html",
            context! { next, error, user => form.user },
        );
    }
    let secure = req.connection_info().scheme() == "https";
    let cookie = set_cookie(SESSION_COOKIE, &new_session(&admin.config), &admin.prefix, Some(SESSION_SECONDS), secure);
    HttpResponse::SeeOther().insert_header(("Set-Cookie", cookie)).insert_header(("Location", next)).finish()
}

pub(crate) async fn logout(
    req: HttpRequest,
    admin: web::Data<Admin>,
    _form: CsrfForm<serde::de::IgnoredAny>,
) -> HttpResponse {
    let secure = req.connection_info().scheme() == "https";
    HttpResponse::SeeOther()
        .insert_header(("Set-Cookie", set_cookie(SESSION_COOKIE, "", &admin.prefix, Some(0), secure)))
        .insert_header(("Location", format!("{}/login?done=logged_out", admin.prefix)))
        .finish()
}
