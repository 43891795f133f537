//! Webhook endpoints: the list, the "add endpoint" form (created at Stripe), delete, enable /
//! disable, and adding or dropping a signing secret. Secrets are never rendered.

use djstripe_core::app::Blocking;
use djstripe_core::db::{PreviousSecret, Processing, WebhookEndpoint};
use djstripe_core::endpoints::{DeletedAt, EndpointStatus, check_account};
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::{Page, notice};
use crate::stripe::{self, NewEndpoint, validate_base_url};
use crate::{AdminResponse, Error, Result};

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
    /// Whether v2 event notifications are completed from Stripe before their handlers run.
    fetch_thin_events: bool,
    /// `inline` or `inbox`: the endpoint's own, or the app's (`default`).
    processing: &'static str,
    processing_is_own: bool,
}

fn row(e: &WebhookEndpoint, default_processing: Processing) -> Row {
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
        created: crate::render::time(e.created),
        fetch_thin_events: e.fetch_thin_events,
        processing: e.processing().unwrap_or(default_processing).as_str(),
        processing_is_own: e.processing().is_some(),
    }
}

#[derive(Deserialize)]
struct ListQuery {
    done: Option<String>,
}

pub(crate) async fn list<B: Blocking>(p: &Page<'_, B>) -> Result<AdminResponse> {
    let query: ListQuery = p.query()?;
    let db = p.db();
    let endpoints = p.run(move || db.endpoints()).await?;
    let ctx = context! {
        section => "endpoints",
        rows => endpoints.iter().map(|e| row(e, p.admin.djstripe.settings().processing)).collect::<Vec<_>>(),
        notice => notice(&query.done),
    };
    p.page("endpoints.html", ctx)
}

/// What the form holds (also when it is shown again with an error).
#[derive(Deserialize, Serialize, Default, Clone)]
struct NewForm {
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
    /// A checkbox: present (`on`) when ticked.
    #[serde(default)]
    connect: String,
    #[serde(default)]
    api_version: String,
}

async fn form_page<B: Blocking>(p: &Page<'_, B>, form: NewForm, error: Option<String>) -> Result<AdminResponse> {
    let db = p.db();
    let (endpoints, keys) = p.run(move || Ok((db.endpoints()?, db.account_keys()?))).await?;
    // Suggestions only: any `acct_...` may be typed.
    let mut accounts: Vec<String> =
        endpoints.iter().filter_map(|e| e.account.clone()).chain(keys.into_iter().map(|k| k.account)).collect();
    accounts.sort();
    accounts.dedup();
    let settings = p.admin.djstripe.settings();
    let status = if error.is_some() { 422 } else { 200 };
    let ctx = context! {
        section => "endpoints",
        form => Value::from_serialize(&form),
        accounts,
        test_key => settings.test_secret_key.is_some(),
        live_key => settings.live_secret_key.is_some(),
        webhook_prefix => &p.admin.config.webhook_prefix,
        base_url_from_env => settings.webhook_base_url.is_some(),
        error,
    };
    p.render(status, "endpoint_new.html", ctx)
}

/// The form, its base URL prefilled with `DJSTRIPE_WEBHOOK_BASE_URL` (what `endpoints create`
/// uses too), else with this site's own address as the request shows it, but only a URL the
/// form then accepts: never `http://127.0.0.1:8000`, which Stripe cannot reach.
pub(crate) async fn new_form<B: Blocking>(p: &Page<'_, B>) -> Result<AdminResponse> {
    let (scheme, host) = p.req.origin();
    let configured = p.admin.djstripe.settings().webhook_base_url.clone();
    let base_url = configured
        .into_iter()
        .chain([format!("{scheme}://{host}")])
        .find_map(|base| validate_base_url(&base, false).ok())
        .unwrap_or_default();
    let form = NewForm { mode: "test".into(), base_url, enabled_events: "*".into(), ..Default::default() };
    form_page(p, form, None).await
}

pub(crate) async fn create<B: Blocking>(p: &Page<'_, B>) -> Result<AdminResponse> {
    let form: NewForm = p.form()?;
    let livemode = match form.mode.as_str() {
        "live" => true,
        "test" | "" => false,
        other => {
            let error = format!("`{other}` is not a mode: choose test or live");
            return form_page(p, form.clone(), Some(error)).await;
        }
    };
    let base_url = match validate_base_url(&form.base_url, livemode) {
        Ok(url) => url,
        Err(message) => return form_page(p, form, Some(message)).await,
    };
    let enabled_events: Vec<String> = form
        .enabled_events
        .split([',', '\n', ' ', '\r', '\t'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let enabled_events = if enabled_events.is_empty() { vec!["*".to_owned()] } else { enabled_events };
    let account = match Some(form.account.trim()).filter(|a| !a.is_empty()).map(check_account).transpose() {
        Ok(account) => account,
        Err(e) => return form_page(p, form.clone(), Some(e.to_string())).await,
    };
    let new = NewEndpoint {
        account,
        livemode,
        base_url,
        enabled_events,
        description: form.description.trim().to_owned(),
        connect: matches!(form.connect.as_str(), "on" | "true" | "1"),
        api_version: Some(form.api_version.trim().to_owned()).filter(|v| !v.is_empty()),
    };
    let djstripe = p.admin.djstripe.clone();
    let prefix = p.admin.config.webhook_prefix.clone();
    match p.run(move || stripe::create_endpoint(&djstripe, &prefix, &new)).await {
        Ok(endpoint) => {
            tracing::info!(endpoint = endpoint.id, stripe_id = ?endpoint.stripe_id, "webhook endpoint created from the admin");
            Ok(p.see_other("/endpoints/?done=created"))
        }
        // What Stripe or the configuration says is shown with the form, to fix and resend.
        Err(Error::Core(
            e @ (djstripe_core::Error::StripeApi { .. }
            | djstripe_core::Error::StripeNotFound { .. }
            | djstripe_core::Error::StripeKeyRefused { .. }
            | djstripe_core::Error::StripeUnavailable { .. }
            | djstripe_core::Error::StripeUnreachable { .. }
            | djstripe_core::Error::StripeUnexpectedAnswer { .. }
            | djstripe_core::Error::MissingApiKey { .. }
            | djstripe_core::Error::InvalidInput { .. }
            | djstripe_core::Error::BaseUrlRejected { .. }
            // Cut off: the same form sent again resumes the creation (same key, same endpoint).
            | djstripe_core::Error::CreationUnfinished { .. }),
        )) => form_page(p, form, Some(e.to_string())).await,
        Err(e) => Err(e),
    }
}

async fn endpoint<B: Blocking>(p: &Page<'_, B>, id: i64) -> Result<WebhookEndpoint> {
    let db = p.db();
    p.run(move || db.endpoints()).await?.into_iter().find(|e| e.id == id).ok_or_else(|| Error::no_endpoint(id))
}

pub(crate) async fn delete<B: Blocking>(p: &Page<'_, B>, id: i64) -> Result<AdminResponse> {
    p.form::<serde::de::IgnoredAny>()?;
    let found = endpoint(p, id).await?;
    let djstripe = p.admin.djstripe.clone();
    let prefix = p.admin.config.webhook_prefix.clone();
    let deleted = p.run(move || stripe::delete_endpoint(&djstripe, &prefix, &found)).await?;
    Ok(p.see_other(match deleted.at_stripe {
        DeletedAt::NotFoundAtStripe => "/endpoints/?done=deleted_gone",
        DeletedAt::Stripe | DeletedAt::LocalOnly => "/endpoints/?done=deleted",
    }))
}

#[derive(Deserialize)]
struct StatusForm {
    status: String,
}

/// Enable or disable: at Stripe, then here (the same operation as the CLI's `endpoints update`),
/// so that Stripe stops delivering to a disabled endpoint instead of meeting 404s.
pub(crate) async fn status<B: Blocking>(p: &Page<'_, B>, id: i64) -> Result<AdminResponse> {
    let value = p.form::<StatusForm>()?.status;
    let status = match value.as_str() {
        "enabled" => EndpointStatus::Enabled,
        "disabled" => EndpointStatus::Disabled,
        _ => return Err(Error::EndpointStatus { value }),
    };
    let djstripe = p.admin.djstripe.clone();
    let prefix = p.admin.config.webhook_prefix.clone();
    p.run(move || stripe::set_status(&djstripe, &prefix, id, status)).await?;
    Ok(p.see_other("/endpoints/?done=status"))
}

#[derive(Deserialize)]
struct SecretForm {
    secret: String,
    #[serde(default)]
    keep_hours: String,
}

pub(crate) async fn add_secret<B: Blocking>(p: &Page<'_, B>, id: i64) -> Result<AdminResponse> {
    let form: SecretForm = p.form()?;
    let secret = form.secret.trim().to_owned();
    if !secret.starts_with("whsec_") || secret.len() < 16 {
        return Err(Error::SigningSecret);
    }
    let keep_hours: i64 = match form.keep_hours.trim() {
        "" => 24,
        h => h
            .parse()
            .ok()
            .filter(|h| (0..=24 * 30).contains(h))
            .ok_or_else(|| Error::KeepHours { value: h.to_owned() })?,
    };
    let found = endpoint(p, id).await?;
    let now = chrono::Utc::now().timestamp();
    let mut previous: Vec<PreviousSecret> = found.previous().into_iter().filter(|p| p.expires > now).collect();
    if keep_hours > 0 && !found.secret.is_empty() {
        previous.push(PreviousSecret { secret: found.secret.clone(), expires: now + keep_hours * 3600 });
    }
    let db = p.db();
    p.run(move || db.set_endpoint_secrets(found.id, &secret, &previous)).await?;
    Ok(p.see_other("/endpoints/?done=secret_added"))
}

#[derive(Deserialize)]
struct DropForm {
    index: usize,
}

pub(crate) async fn drop_secret<B: Blocking>(p: &Page<'_, B>, id: i64) -> Result<AdminResponse> {
    let index = p.form::<DropForm>()?.index;
    let found = endpoint(p, id).await?;
    let mut previous = found.previous();
    if index >= previous.len() {
        return Err(Error::NoPreviousSecret { index });
    }
    previous.remove(index);
    let db = p.db();
    p.run(move || db.set_endpoint_secrets(found.id, &found.secret, &previous)).await?;
    Ok(p.see_other("/endpoints/?done=secret_dropped"))
}
