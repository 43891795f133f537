//! The catalog of Stripe event types (`event-types.txt`, v1 events; `event-types-v2.txt`, v2
//! event notifications) and the checks made against it.
//!
//! A pattern is known if it is `*`, an exact event type of the catalog, or a prefix of at least
//! one type on a word boundary (`customer` and `customer.subscription` are, `cust` is not). A dot
//! inside brackets is no boundary (`v2.core.account[configuration.customer].updated`), and a
//! bracketed part belongs to its word: `v2.core.account` covers that type.

use std::collections::BTreeSet;

/// The v1 catalog as shipped: one Stripe event type per line.
const CATALOG: &str = include_str!("../event-types.txt");

/// The v2 event notification types as shipped, one per line.
const CATALOG_V2: &str = include_str!("../event-types-v2.txt");

/// Where to read about the event types when no suggestion is close enough.
pub(crate) const DOCS_URL: &str = "https://docs.stripe.com/api/events/types";

/// Every event type of the catalog, v1 then v2 (blank lines and `#` comments skipped).
pub(crate) fn event_types() -> impl Iterator<Item = &'static str> {
    CATALOG.lines().chain(CATALOG_V2.lines()).map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#'))
}

/// The proper prefixes of `event_type` on word boundaries: before each dot outside brackets and
/// before each bracketed part (`v2`, `v2.core`, `v2.core.account`,
/// `v2.core.account[identity]` for `v2.core.account[identity].updated`).
pub(crate) fn word_prefixes(event_type: &str) -> impl Iterator<Item = &str> {
    let mut depth = 0usize;
    event_type.char_indices().filter_map(move |(at, c)| match c {
        '[' => {
            depth += 1;
            (depth == 1).then_some(&event_type[..at])
        }
        ']' => {
            depth = depth.saturating_sub(1);
            None
        }
        '.' if depth == 0 => Some(&event_type[..at]),
        _ => None,
    })
}

/// Every proper prefix of a catalog type: `customer`, `customer.subscription`, ...
pub(crate) fn prefixes() -> BTreeSet<&'static str> {
    event_types().flat_map(word_prefixes).filter(|p| !p.is_empty()).collect()
}

/// Whether `event_type` is an exact type of the catalog.
pub(crate) fn is_event_type(event_type: &str) -> bool {
    event_types().any(|ty| ty == event_type)
}

/// Whether `prefix` is a prefix of at least one catalog type on a word boundary.
pub(crate) fn is_prefix(prefix: &str) -> bool {
    !prefix.is_empty() && event_types().any(|ty| word_prefixes(ty).any(|p| p == prefix))
}

/// Whether `pattern` is `*`, an exact type or a dotted prefix of the catalog.
pub(crate) fn is_known(pattern: &str) -> bool {
    pattern == "*" || is_event_type(pattern) || is_prefix(pattern)
}

/// The known type or prefix `pattern` most likely meant, if one is close enough.
///
/// A candidate the pattern is the beginning of (`cust` → `customer`) wins; otherwise the
/// closest by edit distance (with transpositions), if within a third of the pattern's length.
/// Ties go to the shorter candidate, then alphabetical order, so the answer is deterministic.
pub(crate) fn suggest(pattern: &str) -> Option<&'static str> {
    let prefixes = prefixes();
    let candidates = || event_types().chain(prefixes.iter().copied());

    // An unfinished word: the shortest candidate that starts with it.
    if let Some(word) =
        candidates().filter(|c| c.starts_with(pattern) && c.len() > pattern.len()).min_by_key(|c| (c.len(), *c))
    {
        return Some(word);
    }

    let limit = (pattern.chars().count() / 3).max(1);
    candidates()
        .map(|c| (edit_distance(pattern, c), c))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, c)| (*distance, c.len(), *c))
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
/// neighbouring characters each cost 1.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j]: distance between a[..i] and b[..j]; only three rows are ever needed.
    let mut before: Vec<usize> = Vec::new();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut current = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (previous[j] + 1).min(current[j - 1] + 1).min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            current[j] = best;
        }
        before = std::mem::replace(&mut previous, current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_is_well_formed() {
        let types: Vec<&str> = event_types().collect();
        assert_eq!(types.len(), 265 + 24, "v1 and v2 types");
        let unique: BTreeSet<&str> = types.iter().copied().collect();
        assert_eq!(unique.len(), types.len(), "duplicate lines in event-types.txt");
        for ty in types {
            assert!(crate::validate::syntax_problem(ty).is_none(), "malformed catalog line {ty:?}");
        }
    }

    #[test]
    fn every_catalog_line_is_known() {
        for ty in event_types() {
            assert!(is_known(ty), "{ty}");
            assert!(is_event_type(ty), "{ty}");
        }
    }

    #[test]
    fn every_prefix_is_known() {
        let prefixes = prefixes();
        assert!(prefixes.contains("customer"));
        assert!(prefixes.contains("customer.subscription"));
        for prefix in prefixes {
            assert!(is_known(prefix), "{prefix}");
            assert!(is_prefix(prefix), "{prefix}");
        }
    }

    #[test]
    fn star_and_prefixes_on_dot_boundaries() {
        assert!(is_known("*"));
        assert!(is_known("customer"));
        assert!(is_known("customer.subscription"));
        assert!(is_known("customer.subscription.trial_will_end"));
        assert!(is_known("price"));
        assert!(!is_known("cust"));
        assert!(!is_known("customer.sub"));
        assert!(!is_known("customer."));
        assert!(!is_known(""));
        assert!(!is_known("custmer.created"));
        // A full type is not a prefix of anything longer.
        assert!(!is_prefix("customer.created"));
        assert!(!is_known("customer.created.extra"));
    }

    #[test]
    fn v2_types_and_bracketed_words() {
        assert!(is_event_type("v1.billing.meter.error_report_triggered"));
        assert!(is_known("v2.core.account"));
        assert!(is_known("v2.core.account[configuration.customer]"));
        assert!(is_known("v2.core.account[configuration.customer].updated"));
        assert!(is_known("v2"));
        assert!(is_known("v1.billing.meter"));
        // A dot inside brackets is no word boundary.
        assert!(!is_known("v2.core.account[configuration"));
        let words: Vec<&str> = word_prefixes("v2.core.account[configuration.customer].updated").collect();
        assert_eq!(words, ["v2", "v2.core", "v2.core.account", "v2.core.account[configuration.customer]"]);
        assert_eq!(suggest("v2.core.acount"), Some("v2.core.account"));
    }

    #[test]
    fn suggests_close_types_and_prefixes() {
        assert_eq!(suggest("custmer.created"), Some("customer.created"));
        assert_eq!(suggest("customer.subscription.trail_will_end"), Some("customer.subscription.trial_will_end"));
        assert_eq!(suggest("custmer"), Some("customer"));
        assert_eq!(suggest("invoice.payed"), Some("invoice.paid"));
        // An unfinished word suggests the shortest word it begins.
        assert_eq!(suggest("cust"), Some("customer"));
        assert_eq!(suggest("customer.subscr"), Some("customer.subscription"));
    }

    #[test]
    fn no_suggestion_when_nothing_is_close() {
        assert_eq!(suggest("zzzzzzzzzzzz"), None);
        assert_eq!(suggest("bitcoin.mined"), None);
    }

    #[test]
    fn edit_distance_counts_swaps_once() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("trial", "trail"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("custmer", "customer"), 1);
    }
}
