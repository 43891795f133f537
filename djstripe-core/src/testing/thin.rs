//! v2 event notifications ("thin" events) for tests: the types Stripe sends and a plausible
//! related object for each.

use std::sync::OnceLock;

use crate::RelatedObject;

/// Every v2 event notification type, as in `fixtures/event-types-v2.txt` (24 names, from
/// stripe-python's `stripe/events/`; see `../shared/stripe/README.md` of the project).
///
/// ```
/// let types = djstripe_core::testing::v2_event_types();
/// assert!(types.contains(&"v1.billing.meter.error_report_triggered"));
/// assert!(types.contains(&"v2.core.account[requirements].updated"));
/// ```
pub fn v2_event_types() -> &'static [&'static str] {
    static TYPES: OnceLock<Vec<&'static str>> = OnceLock::new();
    TYPES.get_or_init(|| super::catalog_lines(include_str!("../../fixtures/event-types-v2.txt")))
}

/// The object a v2 notification of `event_type` refers to: its type is the event type without
/// the last word and without a bracketed part (`v2.core.account[identity].updated` is about a
/// `v2.core.account`; the `v1.` of v1 resources is dropped: `billing.meter`), with a fresh id
/// of that resource's prefix and its API path.
///
/// ```
/// let related = djstripe_core::testing::related_object_for("v1.billing.meter.no_meter_found");
/// assert_eq!(related.type_, "billing.meter");
/// assert!(related.id.starts_with("mtr_test_"));
/// assert_eq!(related.url.unwrap(), format!("/v1/billing/meters/{}", related.id));
/// ```
pub fn related_object_for(event_type: &str) -> RelatedObject {
    let resource = event_type.rsplit_once('.').map_or(event_type, |(resource, _)| resource);
    let resource = resource.split('[').next().unwrap_or(resource);
    let (type_, prefix, path) = match resource {
        "v1.billing.meter" => ("billing.meter", "mtr", "/v1/billing/meters"),
        "v2.core.account" => ("v2.core.account", "acct", "/v2/core/accounts"),
        "v2.core.account_person" => ("v2.core.account_person", "person", "/v2/core/accounts/acct_test/persons"),
        "v2.core.account_link" => ("v2.core.account_link", "accl", "/v2/core/account_links"),
        "v2.core.event_destination" => ("v2.core.event_destination", "ed", "/v2/core/event_destinations"),
        "v2.commerce.product_catalog.imports" => {
            ("v2.commerce.product_catalog.import", "pcimp", "/v2/commerce/product_catalog/imports")
        }
        other => (other.strip_prefix("v1.").unwrap_or(other), "obj", ""),
    };
    let id = format!("{prefix}_test_{}", &uuid::Uuid::new_v4().simple().to_string()[..24]);
    let url = (!path.is_empty()).then(|| format!("{path}/{id}"));
    RelatedObject { id, type_: type_.to_owned(), url }
}

/// Unix seconds as Stripe's v2 API writes times: RFC 3339 in UTC with milliseconds.
pub(crate) fn rfc3339(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
