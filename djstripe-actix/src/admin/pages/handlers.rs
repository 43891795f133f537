//! Every `#[webhook_handler]` registration: patterns, path, source location.

use actix_web::{HttpRequest, HttpResponse, web};
use djstripe_core::registry::{self, HandlerRegistration};
use minijinja::context;
use serde::Serialize;

use crate::admin::Admin;
use crate::admin::render::page;

/// A registration as the templates see it.
#[derive(Serialize)]
pub(crate) struct Handler {
    path: &'static str,
    patterns: Vec<&'static str>,
    location: String,
}

impl From<&HandlerRegistration> for Handler {
    fn from(h: &HandlerRegistration) -> Self {
        Self { path: h.path(), patterns: h.patterns().to_vec(), location: format!("{}:{}", h.file(), h.line()) }
    }
}

pub(crate) async fn list(req: HttpRequest, admin: web::Data<Admin>) -> HttpResponse {
    let handlers: Vec<Handler> = registry::all().iter().map(|h| Handler::from(*h)).collect();
    page(&req, &admin, "handlers.html", context! { section => "handlers", handlers })
}
