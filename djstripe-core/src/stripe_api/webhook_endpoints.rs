//! `/v1/webhook_endpoints`: create, list (all pages), retrieve, update, delete.
//!
//! Parameters are form-encoded the way Stripe expects: lists as `enabled_events[]=a&enabled_events[]=b`,
//! maps as `metadata[djstripe_uuid]=...`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Caller, StripeClient};
use crate::Error;

/// A webhook endpoint as Stripe returns it (`"object": "webhook_endpoint"`).
///
/// ```
/// let json = r#"{"id":"we_1","object":"webhook_endpoint","url":"https://example.com/w","enabled_events":["*"],
///   "status":"enabled","livemode":false,"metadata":{},"created":1,"api_version":null,"description":null}"#;
/// let endpoint: djstripe_core::stripe_api::webhook_endpoints::WebhookEndpointObject = serde_json::from_str(json).unwrap();
/// assert!(endpoint.secret.is_none(), "Stripe returns the secret only on creation");
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEndpointObject {
    /// `we_...`.
    pub id: String,
    /// Where Stripe delivers.
    pub url: String,
    /// Event types sent (`["*"]` = all).
    #[serde(default)]
    pub enabled_events: Vec<String>,
    /// `enabled` or `disabled`.
    #[serde(default)]
    pub status: String,
    /// Live or test mode.
    #[serde(default)]
    pub livemode: bool,
    /// The endpoint's metadata (djstripe stores `djstripe_uuid` here).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// The pinned API version, if any.
    #[serde(default)]
    pub api_version: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// The Connect application, for endpoints of connected accounts.
    #[serde(default)]
    pub application: Option<String>,
    /// Creation time, Unix seconds.
    #[serde(default)]
    pub created: i64,
    /// The signing secret: present only in the answer to the creation.
    #[serde(default)]
    pub secret: Option<String>,
}

impl std::fmt::Debug for WebhookEndpointObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpointObject")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("enabled_events", &self.enabled_events)
            .field("status", &self.status)
            .field("livemode", &self.livemode)
            .field("secret", &self.secret.as_ref().map(|_| "whsec_…"))
            .finish_non_exhaustive()
    }
}

/// The parameters of `POST /v1/webhook_endpoints`.
///
/// ```
/// use djstripe_core::stripe_api::webhook_endpoints::CreateParams;
/// let params = CreateParams { url: "https://example.com/stripe/webhook/x/".into(), enabled_events: vec!["*".into()], ..Default::default() };
/// assert!(params.form().contains(&("enabled_events[]".to_string(), "*".to_string())));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateParams {
    /// `url`.
    pub url: String,
    /// `enabled_events[]`.
    pub enabled_events: Vec<String>,
    /// `api_version`.
    pub api_version: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `connect=true`: receive events of connected accounts.
    pub connect: bool,
    /// `metadata[key]=value`.
    pub metadata: BTreeMap<String, String>,
}

impl CreateParams {
    /// The form fields, in Stripe's encoding.
    ///
    /// ```
    /// # use djstripe_core::stripe_api::webhook_endpoints::CreateParams;
    /// let mut params = CreateParams { url: "https://x/".into(), connect: true, ..Default::default() };
    /// params.metadata.insert("djstripe_uuid".into(), "u".into());
    /// let form = params.form();
    /// assert!(form.contains(&("metadata[djstripe_uuid]".into(), "u".into())));
    /// assert!(form.contains(&("connect".into(), "true".into())));
    /// ```
    pub fn form(&self) -> Vec<(String, String)> {
        let mut form = vec![("url".to_owned(), self.url.clone())];
        form.extend(self.enabled_events.iter().map(|e| ("enabled_events[]".to_owned(), e.clone())));
        if let Some(v) = &self.api_version {
            form.push(("api_version".into(), v.clone()));
        }
        if let Some(d) = &self.description {
            form.push(("description".into(), d.clone()));
        }
        if self.connect {
            form.push(("connect".into(), "true".into()));
        }
        form.extend(self.metadata.iter().map(|(k, v)| (format!("metadata[{k}]"), v.clone())));
        form
    }
}

/// The parameters of `POST /v1/webhook_endpoints/{id}`; `None` leaves a field as it is.
///
/// ```
/// use djstripe_core::stripe_api::webhook_endpoints::UpdateParams;
/// let params = UpdateParams { disabled: Some(true), ..Default::default() };
/// assert_eq!(params.form(), vec![("disabled".to_string(), "true".to_string())]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateParams {
    /// `url`: where Stripe delivers from now on.
    pub url: Option<String>,
    /// `enabled_events[]`.
    pub enabled_events: Option<Vec<String>>,
    /// `disabled`: Stripe's update takes a flag, not the status.
    pub disabled: Option<bool>,
    /// `description`.
    pub description: Option<String>,
}

impl UpdateParams {
    /// The form fields, in Stripe's encoding.
    ///
    /// ```
    /// # use djstripe_core::stripe_api::webhook_endpoints::UpdateParams;
    /// let form = UpdateParams { enabled_events: Some(vec!["a".into(), "b".into()]), ..Default::default() }.form();
    /// assert_eq!(form.len(), 2);
    /// ```
    pub fn form(&self) -> Vec<(String, String)> {
        let mut form = Vec::new();
        if let Some(url) = &self.url {
            form.push(("url".to_owned(), url.clone()));
        }
        if let Some(events) = &self.enabled_events {
            form.extend(events.iter().map(|e| ("enabled_events[]".to_owned(), e.clone())));
        }
        if let Some(disabled) = self.disabled {
            form.push(("disabled".into(), disabled.to_string()));
        }
        if let Some(d) = &self.description {
            form.push(("description".into(), d.clone()));
        }
        form
    }
}

fn check_id(id: &str) -> Result<(), Error> {
    if id.starts_with("we_") && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(())
    } else {
        Err(Error::input("stripe_id", format!("`{id}` is not a Stripe webhook endpoint id (we_...)")))
    }
}

fn parse(value: Value, what: &str) -> Result<WebhookEndpointObject, Error> {
    serde_json::from_value(value)
        .map_err(|e| Error::StripeUnexpectedAnswer { request: what.to_owned(), reason: e.to_string() })
}

fn borrowed(form: &[(String, String)]) -> Vec<(&str, &str)> {
    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

impl StripeClient {
    /// `POST /v1/webhook_endpoints` with an `Idempotency-Key` (a retry never creates two).
    /// The answer holds the signing secret, once.
    ///
    /// ```no_run
    /// use djstripe_core::stripe_api::{Caller, StripeClient, webhook_endpoints::CreateParams};
    /// let client = StripeClient::new("http://127.0.0.1:12111").test_key("sk_test_1");
    /// let params = CreateParams { url: "https://shop.example.com/stripe/webhook/0f.../".into(), ..Default::default() };
    /// let created = client.create_webhook_endpoint(&Caller::mode(false), &params, "djstripe-create-1").unwrap();
    /// assert!(created.secret.is_some());
    /// ```
    pub fn create_webhook_endpoint(
        &self,
        caller: &Caller,
        params: &CreateParams,
        idempotency_key: &str,
    ) -> Result<WebhookEndpointObject, Error> {
        let form = params.form();
        let value = self.call_as(caller, "POST", "/v1/webhook_endpoints", &borrowed(&form), Some(idempotency_key))?;
        parse(value, "POST /v1/webhook_endpoints")
    }

    /// `GET /v1/webhook_endpoints/{id}`; `Ok(None)` when Stripe answers 404 (deleted there).
    ///
    /// ```no_run
    /// # use djstripe_core::stripe_api::{Caller, StripeClient};
    /// # let client = StripeClient::new("http://127.0.0.1:12111").test_key("sk_test_1");
    /// let found = client.retrieve_webhook_endpoint(&Caller::mode(false), "we_123").unwrap();
    /// # let _ = found;
    /// ```
    pub fn retrieve_webhook_endpoint(&self, caller: &Caller, id: &str) -> Result<Option<WebhookEndpointObject>, Error> {
        check_id(id)?;
        let path = format!("/v1/webhook_endpoints/{id}");
        match self.call_as(caller, "GET", &path, &[], None) {
            Ok(value) => parse(value, &path).map(Some),
            Err(Error::StripeNotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every webhook endpoint of the caller, following `has_more` / `starting_after` pages.
    ///
    /// ```no_run
    /// # use djstripe_core::stripe_api::{Caller, StripeClient};
    /// # let client = StripeClient::new("http://127.0.0.1:12111").test_key("sk_test_1");
    /// for endpoint in client.list_webhook_endpoints(&Caller::mode(false)).unwrap() {
    ///     println!("{} {}", endpoint.id, endpoint.url);
    /// }
    /// ```
    pub fn list_webhook_endpoints(&self, caller: &Caller) -> Result<Vec<WebhookEndpointObject>, Error> {
        let mut all: Vec<WebhookEndpointObject> = Vec::new();
        loop {
            let mut path = "/v1/webhook_endpoints?limit=100".to_owned();
            if let Some(last) = all.last() {
                check_id(&last.id)?;
                path.push_str(&format!("&starting_after={}", last.id));
            }
            let page = self.call_as(caller, "GET", &path, &[], None)?;
            let data = page["data"].as_array().cloned().ok_or_else(|| Error::StripeUnexpectedAnswer {
                request: format!("GET {path}"),
                reason: "no `data` list".into(),
            })?;
            let before = all.len();
            for item in data {
                all.push(parse(item, &path)?);
            }
            if page["has_more"] != Value::Bool(true) || all.len() == before {
                return Ok(all);
            }
        }
    }

    /// `POST /v1/webhook_endpoints/{id}`.
    ///
    /// ```no_run
    /// # use djstripe_core::stripe_api::{Caller, StripeClient, webhook_endpoints::UpdateParams};
    /// # let client = StripeClient::new("http://127.0.0.1:12111").test_key("sk_test_1");
    /// let params = UpdateParams { disabled: Some(true), ..Default::default() };
    /// let updated = client.update_webhook_endpoint(&Caller::mode(false), "we_123", &params).unwrap();
    /// assert_eq!(updated.status, "disabled");
    /// ```
    pub fn update_webhook_endpoint(
        &self,
        caller: &Caller,
        id: &str,
        params: &UpdateParams,
    ) -> Result<WebhookEndpointObject, Error> {
        check_id(id)?;
        let path = format!("/v1/webhook_endpoints/{id}");
        let form = params.form();
        let value = self.call_as(caller, "POST", &path, &borrowed(&form), None)?;
        parse(value, &path)
    }

    /// `DELETE /v1/webhook_endpoints/{id}`. Returns `false` when Stripe no longer had it (404).
    ///
    /// ```no_run
    /// # use djstripe_core::stripe_api::{Caller, StripeClient};
    /// # let client = StripeClient::new("http://127.0.0.1:12111").test_key("sk_test_1");
    /// let deleted = client.delete_webhook_endpoint(&Caller::mode(false), "we_123").unwrap();
    /// # let _ = deleted;
    /// ```
    pub fn delete_webhook_endpoint(&self, caller: &Caller, id: &str) -> Result<bool, Error> {
        check_id(id)?;
        let path = format!("/v1/webhook_endpoints/{id}");
        match self.call_as(caller, "DELETE", &path, &[], None) {
            Ok(_) => Ok(true),
            Err(Error::StripeNotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
