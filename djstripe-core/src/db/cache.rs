//! A short-lived cache of endpoint lookups: the hot path of every delivery reads its endpoint,
//! and this keeps that read off the database (and lets the adapter verify on its async worker).
//!
//! Writes through this [`super::Database`] (and its clones) clear it at once. Another app
//! instance's change is seen after at most [`TTL`]: a disabled endpoint may accept deliveries
//! for that long.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::WebhookEndpoint;

/// How long a lookup (found or not found) is trusted.
///
/// ```
/// assert_eq!(djstripe_core::db::ENDPOINT_CACHE_TTL.as_secs(), 1);
/// ```
pub const TTL: Duration = Duration::from_secs(1);
/// Beyond this many entries the cache starts over (a flood of random uuids cannot grow it).
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
pub(crate) struct EndpointCache {
    entries: Mutex<HashMap<String, (Instant, Option<WebhookEndpoint>)>>,
}

impl EndpointCache {
    /// The cached lookup of `uuid`, if fresh: `Some(None)` is a cached "no such endpoint".
    pub(crate) fn get(&self, uuid: &str) -> Option<Option<WebhookEndpoint>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(uuid).filter(|(at, _)| at.elapsed() < TTL).map(|(_, e)| e.clone())
    }

    /// Whether `uuid` has a fresh entry (without cloning it).
    pub(crate) fn contains(&self, uuid: &str) -> bool {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(uuid).is_some_and(|(at, _)| at.elapsed() < TTL)
    }

    pub(crate) fn put(&self, uuid: &str, endpoint: Option<WebhookEndpoint>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(uuid.to_owned(), (Instant::now(), endpoint));
    }

    pub(crate) fn clear(&self) {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}
