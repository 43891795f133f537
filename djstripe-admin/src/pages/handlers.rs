//! Every `#[webhook_handler]` registration: patterns, path, source location.

use djstripe_core::app::Blocking;
use djstripe_core::registry::{self, HandlerRegistration};
use minijinja::context;
use serde::Serialize;

use super::Page;
use crate::{AdminResponse, Result};

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

pub(crate) fn list<B: Blocking>(p: &Page<'_, B>) -> Result<AdminResponse> {
    let handlers: Vec<Handler> = registry::all().iter().map(|h| Handler::from(*h)).collect();
    p.page("handlers.html", context! { section => "handlers", handlers })
}
