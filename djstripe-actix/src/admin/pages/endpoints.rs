//! Webhook endpoints: the list, the "add endpoint" form (created at Stripe), delete, enable /
//! disable, and adding or dropping a signing secret. Secrets are never rendered.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use djstripe_core::db::{PreviousSecret, WebhookEndpoint};
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::notice;
use crate::admin::Admin;
use crate::admin::csrf::CsrfForm;
use crate::admin::render::{PageError, blocking, page, render, see_other};
use crate::admin::stripe::{self, NewEndpoint, validate_base_url};

#[derive(Serialize)]
struct Row {
    id: i64,
    stripe_id: Option<String>,
    uuid: String,
    url: String,
    description: String,
    livemode: bool,
    status: String,
    account: Option<String>,
    enabled_events: Vec<String>,
    has_secret: bool,
    /// Expiry times of the previous secrets (the secrets themselves are never shown).
    previous: Vec<String>,
    created: String,
}

fn row(e: &WebhookEndpoint) -> Row {
    Row {
        id: e.id,
        stripe_id: e.stripe_id.clone(),
        uuid: e.djstripe_uuid.clone(),
        url: e.url.clone(),
        description: e.description.clone(),
        livemode: e.livemode,
        status: e.status.clone(),
        account: e.account.clone(),
        enabled_events: serde_json::from_str(&e.enabled_events).unwrap_or_default(),
        has_secret: !e.secret.is_empty(),
        previous: e
            .previous()
            .iter()
            .map(|p| {
                chrono::DateTime::from_timestamp(p.expires, 0)
                    .map_or_else(|| p.expires.to_string(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            })
            .collect(),
        created: crate::admin::render::time(e.created),
    }
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    done: Option<String>,
}

pub(crate) async fn list(
    req: HttpRequest,
    admin: web::Data<Admin>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let db = admin.djstripe.engine().database().clone();
    let endpoints = blocking(move || Ok(db.endpoints()?)).await?;
    let ctx = context! {
        section => "endpoints",
        rows => endpoints.iter().map(row).collect::<Vec<_>>(),
        notice => notice(&query.done),
    };
    Ok(page(&req, &admin, "endpoints.html", ctx))
}

/// What the form holds (also when it is shown again with an error).
#[derive(Deserialize, Serialize, Default, Clone)]
pub(crate) struct NewForm {
    #[serde(default)]
    account: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    enabled_events: String,
    #[serde(default)]
    description: String,
}

async fn form_page(
    req: &HttpRequest,
    admin: &Admin,
    form: NewForm,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let db = admin.djstripe.engine().database().clone();
    let endpoints = blocking(move || Ok(db.endpoints()?)).await?;
    let mut accounts: Vec<String> = endpoints.iter().filter_map(|e| e.account.clone()).collect();
    accounts.sort();
    accounts.dedup();
    let config = admin.djstripe.settings();
    let ctx = context! {
        section => "endpoints",
        form => Value::from_serialize(&form),
        accounts,
        test_key => config.test_secret_key.is_some(),
        live_key => config.live_secret_key.is_some(),
        webhook_prefix => &admin.config.webhook_prefix,
        error,
    };
    let status = if ctx.get_attr("error").is_ok_and(|e| !e.is_none()) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(render(req, admin, status, "endpoint_new.html", ctx))
}

pub(crate) async fn new_form(req: HttpRequest, admin: web::Data<Admin>) -> Result<HttpResponse, PageError> {
    let base_url = {
        let info = req.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    };
    let form = NewForm { mode: "test".into(), base_url, enabled_events: "*".into(), ..Default::default() };
    form_page(&req, &admin, form, None).await
}

pub(crate) async fn create(
    req: HttpRequest,
    admin: web::Data<Admin>,
    form: CsrfForm<NewForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.0;
    let livemode = match form.mode.as_str() {
        "live" => true,
        "test" | "" => false,
        other => {
            return form_page(
                &req,
                &admin,
                form.clone(),
                Some(format!("`{other}` is not a mode: choose test or live")),
            )
            .await;
        }
    };
    let base_url = match validate_base_url(&form.base_url, livemode) {
        Ok(url) => url,
        Err(message) => return form_page(&req, &admin, form, Some(message)).await,
    };
    let enabled_events: Vec<String> = form
        .enabled_events
        .split([',', '\n', ' ', '\r', '\t'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let enabled_events = if enabled_events.is_empty() { vec!["*".to_owned()] } else { enabled_events };
    let account = Some(form.account.trim().to_owned()).filter(|a| !a.is_empty());
    if let Some(a) = &account
        && (!a.starts_with("acct_") || !a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    {
        return form_page(&req, &admin, form.clone(), Some(format!("`{a}` is not a Stripe account id (acct_...)")))
            .await;
    }
    let new =
        NewEndpoint { account, livemode, base_url, enabled_events, description: form.description.trim().to_owned() };
    let djstripe = admin.djstripe.clone();
    let prefix = admin.config.webhook_prefix.clone();
    let created = web::block(move || stripe::create_endpoint(&djstripe, &prefix, &new)).await;
    match created {
        Ok(Ok(endpoint)) => {
            tracing::info!(endpoint = endpoint.id, stripe_id = ?endpoint.stripe_id, "webhook endpoint created from the admin");
            Ok(see_other(&admin, "/endpoints/?done=created"))
        }
        // What Stripe or the configuration says is shown with the form, to fix and resend.
        Ok(Err(crate::Error::Core(
            e @ (djstripe_core::Error::StripeApi { .. }
            | djstripe_core::Error::StripeUnreachable { .. }
            | djstripe_core::Error::StripeUnexpectedAnswer { .. }
            | djstripe_core::Error::MissingApiKey { .. }
            | djstripe_core::Error::InvalidInput { .. }
            | djstripe_core::Error::BaseUrlRejected { .. }),
        ))) => form_page(&req, &admin, form, Some(e.to_string())).await,
        Ok(Err(e)) => Err(e.into()),
        Err(e) => Err(PageError::bad_request(format!("blocking pool: {e}"))),
    }
}

async fn endpoint(admin: &Admin, id: i64) -> Result<WebhookEndpoint, PageError> {
    let db = admin.djstripe.engine().database().clone();
    blocking(move || {
        db.endpoints()?.into_iter().find(|e| e.id == id).ok_or_else(|| {
            djstripe_core::Error::NotFound {
                resource: djstripe_core::error::Resource::WebhookEndpoint,
                id: id.to_string(),
            }
            .into()
        })
    })
    .await
}

pub(crate) async fn delete(
    admin: web::Data<Admin>,
    id: web::Path<i64>,
    _form: CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse, PageError> {
    let found = endpoint(&admin, id.into_inner()).await?;
    let djstripe = admin.djstripe.clone();
    let prefix = admin.config.webhook_prefix.clone();
    blocking(move || stripe::delete_endpoint(&djstripe, &prefix, &found)).await?;
    Ok(see_other(&admin, "/endpoints/?done=deleted"))
}

#[derive(Deserialize)]
pub(crate) struct StatusForm {
    status: String,
}

pub(crate) async fn status(
    admin: web::Data<Admin>,
    id: web::Path<i64>,
    form: CsrfForm<StatusForm>,
) -> Result<HttpResponse, PageError> {
    let status = form.0.status;
    if status != "enabled" && status != "disabled" {
        return Err(PageError::bad_request("the status is enabled or disabled"));
    }
    let id = id.into_inner();
    let db = admin.djstripe.engine().database().clone();
    blocking(move || Ok(db.set_endpoint_status(id, &status)?)).await?;
    Ok(see_other(&admin, "/endpoints/?done=status"))
}

#[derive(Deserialize)]
pub(crate) struct SecretForm {
    secret: String,
    #[serde(default)]
    keep_hours: String,
}

pub(crate) async fn add_secret(
    admin: web::Data<Admin>,
    id: web::Path<i64>,
    form: CsrfForm<SecretForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.0;
    let secret = form.secret.trim().to_owned();
    if !secret.starts_with("whsec_") || secret.len() < 16 {
        return Err(PageError::bad_request("a signing secret starts with whsec_ (copy it from the Stripe Dashboard)"));
    }
    let keep_hours: i64 = match form.keep_hours.trim() {
        "" => 24,
        h => h
            .parse()
            .ok()
            .filter(|h| (0..=24 * 30).contains(h))
            .ok_or_else(|| PageError::bad_request("keep the old secret for 0 to 720 hours"))?,
    };
    let found = endpoint(&admin, id.into_inner()).await?;
    let now = chrono::Utc::now().timestamp();
    let mut previous: Vec<PreviousSecret> = found.previous().into_iter().filter(|p| p.expires > now).collect();
    if keep_hours > 0 && !found.secret.is_empty() {
        previous.push(PreviousSecret { secret: found.secret.clone(), expires: now + keep_hours * 3600 });
    }
    let db = admin.djstripe.engine().database().clone();
    blocking(move || Ok(db.set_endpoint_secrets(found.id, &secret, &previous)?)).await?;
    Ok(see_other(&admin, "/endpoints/?done=secret_added"))
}

#[derive(Deserialize)]
pub(crate) struct DropForm {
    index: usize,
}

pub(crate) async fn drop_secret(
    admin: web::Data<Admin>,
    id: web::Path<i64>,
    form: CsrfForm<DropForm>,
) -> Result<HttpResponse, PageError> {
    let found = endpoint(&admin, id.into_inner()).await?;
    let mut previous = found.previous();
    if form.0.index >= previous.len() {
        return Err(PageError::bad_request("no such previous secret"));
    }
    previous.remove(form.0.index);
    let db = admin.djstripe.engine().database().clone();
    blocking(move || Ok(db.set_endpoint_secrets(found.id, &found.secret, &previous)?)).await?;
    Ok(see_other(&admin, "/endpoints/?done=secret_dropped"))
}
