//! Creating and deleting webhook endpoints at Stripe from the admin, and the base-URL check that
//! refuses what Stripe would refuse (with a message that says why).
//!
//! Kept behind two small functions ([`create_endpoint`], [`delete_endpoint`]) so that they can
//! call djstripe-core's endpoint management API once it lands, without touching the pages.

use std::net::IpAddr;

use djstripe_core::db::{NewWebhookEndpoint, WebhookEndpoint};

use crate::{Djstripe, Error};

/// Checks a base URL for a new endpoint the way Stripe will: an `https://` URL (or `http://` in
/// test mode) whose host is a public name or address. Returns the URL without a trailing slash,
/// or a message saying what is wrong.
///
/// ```
/// use djstripe_actix::admin::validate_base_url;
/// assert_eq!(validate_base_url("https://shop.example.com/", true).unwrap(), "https://shop.example.com");
/// assert!(validate_base_url("http://shop.example.com", true).unwrap_err().contains("https"));
/// assert!(validate_base_url("http://localhost:8000", false).unwrap_err().contains("localhost"));
/// assert!(validate_base_url("https://10.0.0.7", false).unwrap_err().contains("private"));
/// ```
pub fn validate_base_url(base: &str, livemode: bool) -> Result<String, String> {
    let base = base.trim().trim_end_matches('/');
    let (scheme, rest) =
        base.split_once("://").ok_or_else(|| format!("`{base}` is not a URL: it must start with https://"))?;
    match scheme.to_ascii_lowercase().as_str() {
        "https" => {}
        "http" if livemode => {
            return Err(format!(
                "`{base}`: Stripe only delivers live-mode events to https:// URLs; use https (or test mode)"
            ));
        }
        "http" => {}
        other => return Err(format!("`{base}`: the scheme `{other}` is not http or https")),
    }
    if rest.contains(['?', '#']) {
        return Err(format!("`{base}`: a base URL has no query or fragment"));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    if host.is_empty() {
        return Err(format!("`{base}` has no host name"));
    }
    let lower = host.to_ascii_lowercase();
    let unreachable =
        "Stripe cannot reach it from the internet (for local development use `stripe listen` or a tunnel)";
    if lower == "localhost" || lower.ends_with(".localhost") {
        return Err(format!("`{base}`: the host `{host}` is localhost: {unreachable}"));
    }
    if let Ok(ip) = lower.parse::<IpAddr>() {
        if !is_public(ip) {
            return Err(format!("`{base}`: `{host}` is a private or local address: {unreachable}"));
        }
    } else if !lower.contains('.') || [".local", ".internal", ".lan", ".home.arpa"].iter().any(|s| lower.ends_with(s)) {
        return Err(format!("`{base}`: `{host}` is not a public host name: {unreachable}"));
    }
    Ok(base.to_owned())
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback() || v6.is_unspecified() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// What the "add endpoint" form asks for.
#[derive(Debug, Clone)]
pub(crate) struct NewEndpoint {
    /// The Connect account (`acct_...`), or the platform's own.
    pub(crate) account: Option<String>,
    pub(crate) livemode: bool,
    /// Validated with [`validate_base_url`].
    pub(crate) base_url: String,
    pub(crate) enabled_events: Vec<String>,
    pub(crate) description: String,
}

/// Creates the endpoint at Stripe (its URL ends in a fresh uuid under `webhook_prefix`) and stores
/// it with the signing secret Stripe returned.
pub(crate) fn create_endpoint(
    djstripe: &Djstripe,
    webhook_prefix: &str,
    new: &NewEndpoint,
) -> Result<WebhookEndpoint, Error> {
    let stripe =
        djstripe.engine().config().stripe.clone().ok_or_else(|| Error::Cli("Stripe's API is not configured".into()))?;
    let mut row = NewWebhookEndpoint::local("");
    let url = format!("{}{webhook_prefix}/webhook/{}/", new.base_url, row.djstripe_uuid);
    let mut form: Vec<(&str, &str)> = vec![
        ("url", &url),
        ("api_version", djstripe_core::stripe_api::API_VERSION),
        ("metadata[djstripe_uuid]", &row.djstripe_uuid),
    ];
    if !new.description.is_empty() {
        form.push(("description", &new.description));
    }
    for event in &new.enabled_events {
        form.push(("enabled_events[]", event));
    }
    let created = stripe.call(
        "POST",
        "/v1/webhook_endpoints",
        &form,
        new.livemode,
        new.account.as_deref(),
        Some(&row.djstripe_uuid),
    )?;
    let stripe_id = created["id"].as_str().unwrap_or_default();
    let secret = created["secret"].as_str().unwrap_or_default();
    if stripe_id.is_empty() || secret.is_empty() {
        return Err(Error::Cli("Stripe's answer had no endpoint id or secret".into()));
    }
    row.stripe_id = Some(stripe_id.to_owned());
    row.secret = secret.to_owned();
    row.url = url.clone();
    row.livemode = new.livemode;
    row.account = new.account.clone();
    row.description = new.description.clone();
    row.api_version = Some(djstripe_core::stripe_api::API_VERSION.to_owned());
    row.enabled_events = serde_json::to_string(&new.enabled_events).unwrap_or_else(|_| r#"["*"]"#.into());
    Ok(djstripe.engine().database().insert_endpoint(&row)?)
}

/// Deletes the endpoint at Stripe (when it was created there; one Stripe no longer knows is fine)
/// and then here.
pub(crate) fn delete_endpoint(djstripe: &Djstripe, endpoint: &WebhookEndpoint) -> Result<(), Error> {
    if let Some(stripe_id) = &endpoint.stripe_id {
        let stripe = djstripe
            .engine()
            .config()
            .stripe
            .clone()
            .ok_or_else(|| Error::Cli("Stripe's API is not configured".into()))?;
        let path = format!("/v1/webhook_endpoints/{stripe_id}");
        match stripe.call("DELETE", &path, &[], endpoint.livemode, endpoint.account.as_deref(), None) {
            Ok(_) => {}
            Err(djstripe_core::Error::StripeApi(message)) if message.contains(" 404") => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(djstripe.engine().database().delete_endpoint(endpoint.id)?)
}

#[cfg(test)]
mod tests {
    use super::validate_base_url;

    #[test]
    fn refuses_what_stripe_refuses() {
        assert!(validate_base_url("https://shop.example.com/app/", true).is_ok());
        assert!(validate_base_url("http://shop.example.com", false).is_ok());
        assert!(validate_base_url("https://8.8.8.8", true).is_ok());
        for bad in [
            "shop.example.com",
            "ftp://x.com",
            "https://",
            "https://127.0.0.1:8000",
            "https://[::1]:80",
            "https://192.168.1.2",
            "https://intranet",
            "https://shop.local",
            "https://a.b?x=1",
        ] {
            assert!(validate_base_url(bad, false).is_err(), "{bad}");
        }
    }
}
