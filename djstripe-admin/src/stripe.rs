//! The admin's endpoint actions at Stripe, delegated to djstripe-core's
//! [`EndpointManager`](djstripe_core::endpoints::EndpointManager), so the admin and the CLI create,
//! delete and refuse base URLs the same way, with the same messages.

use djstripe_core::db::WebhookEndpoint;
use djstripe_core::endpoints::{CreateEndpoint, EndpointManager, check_base_url};

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
    Ok(manager(djstripe, webhook_prefix).create(&request)?.endpoint)
}

/// Deletes the endpoint at Stripe (when it was created there; one Stripe no longer knows is fine)
/// and then here.
pub(crate) fn delete_endpoint(
    djstripe: &Djstripe,
    webhook_prefix: &str,
    endpoint: &WebhookEndpoint,
) -> Result<(), Error> {
    manager(djstripe, webhook_prefix).delete(&endpoint.id.to_string()).map(drop)
}
