//! The checks every endpoint parameter passes before any call to Stripe, shared by the CLI and
//! the admin: event names against the catalog, API versions, account ids.

use crate::Error;

/// Every event type Stripe can send, as shipped (`fixtures/event-types.txt`, the catalog the
/// `#[webhook_handler]` macro checks against).
fn catalog() -> impl Iterator<Item = &'static str> {
    include_str!("../../fixtures/event-types.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// Event types for `enabled_events`: trimmed, non-empty, each an event type of the catalog, or
/// `*` (all) alone; duplicates dropped.
///
/// ```
/// use djstripe_core::endpoints::check_events;
/// assert_eq!(check_events(&[" invoice.paid ".into()]).unwrap(), vec!["invoice.paid"]);
/// let err = check_events(&["*".into(), "invoice.paid".into()]).unwrap_err().to_string();
/// assert!(err.contains("`*` (all events) stands alone"), "{err}");
/// assert!(check_events(&["invoice.payed".into()]).unwrap_err().to_string().contains("did you mean `invoice.paid`"));
/// ```
pub fn check_events(events: &[String]) -> Result<Vec<String>, Error> {
    let mut checked: Vec<String> = Vec::new();
    for event in events.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
        if event != "*" && !catalog().any(|known| known == event) {
            let hint = closest(event).map(|c| format!("did you mean `{c}`? ")).unwrap_or_default();
            return Err(Error::input(
                "enabled_events",
                format!(
                    "`{event}` is not a Stripe event type: {hint}(see https://docs.stripe.com/api/events/types, or `*` for all)"
                ),
            ));
        }
        if !checked.iter().any(|c| c == event) {
            checked.push(event.to_owned());
        }
    }
    if checked.is_empty() {
        return Err(Error::input("enabled_events", "an endpoint needs at least one enabled event (`*` for all)"));
    }
    if checked.len() > 1 && checked.iter().any(|e| e == "*") {
        return Err(Error::input(
            "enabled_events",
            "`*` (all events) stands alone: pass either `*` or a list of event types, not both",
        ));
    }
    Ok(checked)
}

/// The catalog type nearest to `typo` (at most 3 edits away), for "did you mean".
fn closest(typo: &str) -> Option<&'static str> {
    catalog().map(|known| (edit_distance(typo, known), known)).filter(|(d, _)| *d <= 3).min().map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

/// An API version in Stripe's format: `YYYY-MM-DD` (a real date) or `YYYY-MM-DD.name`
/// (`2026-07-29.dahlia`); returned trimmed.
///
/// ```
/// use djstripe_core::endpoints::check_api_version;
/// assert_eq!(check_api_version(" 2024-06-20 ").unwrap(), "2024-06-20");
/// assert!(check_api_version("2026-07-29.dahlia").is_ok());
/// assert!(check_api_version("latest").is_err());
/// assert!(check_api_version("2024-13-01").is_err());
/// ```
pub fn check_api_version(version: &str) -> Result<String, Error> {
    let version = version.trim();
    let (date, name) = version.split_once('.').map_or((version, None), |(d, n)| (d, Some(n)));
    let date_ok = date.len() == 10 && chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok();
    let name_ok = name.is_none_or(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_lowercase()));
    if date_ok && name_ok {
        Ok(version.to_owned())
    } else {
        Err(Error::input(
            "api_version",
            format!(
                "`{version}` is not a Stripe API version: it is a date, `YYYY-MM-DD`, optionally with the release's \
                 name (`2026-07-29.dahlia`)"
            ),
        ))
    }
}

/// A Stripe account id: `acct_` and letters or digits; returned trimmed.
///
/// ```
/// use djstripe_core::endpoints::check_account;
/// assert_eq!(check_account(" acct_1Nv0FGQ9RKHgCVdK ").unwrap(), "acct_1Nv0FGQ9RKHgCVdK");
/// assert!(check_account("acct_").is_err() && check_account("cus_123").is_err());
/// ```
pub fn check_account(account: &str) -> Result<String, Error> {
    let account = account.trim();
    if crate::event::is_account_id(account) {
        Ok(account.to_owned())
    } else {
        Err(Error::input("account", format!("`{account}` is not a Stripe account id (acct_...)")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 15, item 12: `--events '*,invoice.paid'` and unknown names went to Stripe unchecked.
    #[test]
    fn events_are_checked_against_the_catalog() {
        let events = |list: &[&str]| check_events(&list.iter().map(|e| (*e).to_owned()).collect::<Vec<_>>());
        assert_eq!(events(&["*"]).unwrap(), ["*"]);
        assert_eq!(
            events(&["invoice.paid", " customer.created", "invoice.paid"]).unwrap(),
            ["invoice.paid", "customer.created"]
        );
        for (list, why) in [
            (&["*", "invoice.paid"][..], "stands alone"),
            (&[][..], "at least one"),
            (&[""][..], "at least one"),
            (&["Invoice Paid"][..], "`Invoice Paid` is not a Stripe event type"),
            (&["invoice"][..], "`invoice` is not a Stripe event type"),
            (&["invoice.*"][..], "not a Stripe event type"),
            (&["customer.subscription.delted"][..], "did you mean `customer.subscription.deleted`"),
        ] {
            let message = events(list).unwrap_err().to_string();
            assert!(message.contains(why), "{list:?}: {message}");
        }
    }

    /// Issue 15, item 12: an invalid `--api-version` went to Stripe unchecked.
    #[test]
    fn api_versions_are_dates_with_an_optional_name() {
        for good in ["2024-06-20", "2026-07-29.dahlia", "2025-03-31.basil"] {
            assert_eq!(check_api_version(good).unwrap(), good);
        }
        for bad in ["", "latest", "2024-6-20", "2024-02-30", "2024-06-20.", "2024-06-20.Dahlia", "2024-06-20;x", "v1"] {
            assert!(check_api_version(bad).unwrap_err().to_string().contains("not a Stripe API version"), "{bad}");
        }
    }

    #[test]
    fn accounts_are_acct_ids() {
        assert!(check_account("acct_123abc").is_ok());
        for bad in ["acct_", "acct_12 3", "acct_1'--", "cus_1", ""] {
            assert!(check_account(bad).is_err(), "{bad}");
        }
    }
}
