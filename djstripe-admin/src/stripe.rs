//! The admin's endpoint actions at Stripe, delegated to djstripe-core's
//! [`EndpointManager`](djstripe_core::endpoints::EndpointManager), so the admin and the CLI create,
//! enable, disable, delete and refuse parameters the same way, with the same messages: one
//! operation per action.

use djstripe_core::db::WebhookEndpoint;
use djstripe_core::endpoints::{
    CreateEndpoint, Deleted, EndpointManager, EndpointStatus, UpdateEndpoint, check_base_url,
};

use djstripe_core::Error;
use djstripe_core::app::Djstripe;

/// Checks a base URL for a new endpoint the way Stripe will (see
/// [`djstripe_core::endpoints::check_base_url`]): the URL without a trailing slash, or the
/// message that says why Stripe would refuse it.
///
/// ```
/// use djstripe_admin::validate_base_url;
/// assert_eq!(validate_base_url("https://shop.example.com/", true).unwrap(), "https://shop.example.com");
/// assert!(validate_base_url("http://localhost:8000", false).unwrap_err().contains("localhost"));
/// ```
pub fn validate_base_url(base: &str, livemode: bool) -> Result<String, String> {
    check_base_url(base, livemode).map_err(|e| e.to_string())
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
    /// Receive events of connected accounts.
    pub(crate) connect: bool,
    /// Stripe's `api_version` (checked by the manager), or the account's default.
    pub(crate) api_version: Option<String>,
}

fn manager(djstripe: &Djstripe, webhook_prefix: &str) -> EndpointManager {
    djstripe.endpoint_manager(webhook_prefix)
}

/// Creates the endpoint at Stripe (its URL ends in a fresh uuid under `webhook_prefix`) and stores
/// it with the signing secret Stripe returned.
pub(crate) fn create_endpoint(
    djstripe: &Djstripe,
    webhook_prefix: &str,
    new: &NewEndpoint,
) -> Result<WebhookEndpoint, Error> {
    let mut request = CreateEndpoint::new(&new.base_url);
    request.account = new.account.clone();
    request.livemode = new.livemode;
    request.enabled_events = new.enabled_events.clone();
    request.description = Some(new.description.clone()).filter(|d| !d.is_empty());
    request.connect = new.connect;
    request.api_version = new.api_version.clone();
    Ok(manager(djstripe, webhook_prefix).create(&request)?.endpoint)
}

/// Enables or disables the endpoint: at Stripe first (so that Stripe stops, or resumes,
/// delivering), then here; what `endpoints update --enable/--disable` does.
pub(crate) fn set_status(
    djstripe: &Djstripe,
    webhook_prefix: &str,
    id: i64,
    status: EndpointStatus,
) -> Result<WebhookEndpoint, Error> {
    let update = UpdateEndpoint { status: Some(status), ..Default::default() };
    manager(djstripe, webhook_prefix).update(&id.to_string(), &update)
}

/// Deletes the endpoint at Stripe (when it was created there; one Stripe no longer knows is fine)
/// and then here.
pub(crate) fn delete_endpoint(
    djstripe: &Djstripe,
    webhook_prefix: &str,
    endpoint: &WebhookEndpoint,
) -> Result<Deleted, Error> {
    manager(djstripe, webhook_prefix).delete(&endpoint.id.to_string())
}
