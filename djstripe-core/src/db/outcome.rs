//! [`Outcome`]: what became of one trigger (one delivery, or one reprocessing attempt), the
//! word stored in `djstripe_webhookeventtrigger.outcome`.
//!
//! One type from the column to the answer: the writer stores it, the engine returns it in its
//! [`crate::engine::Receipt`], adapters map it to an HTTP status and a JSON `status`, the CLI
//! and the admin print [`Outcome::as_str`].

use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

/// What became of a trigger. Stored as its [`Outcome::as_str`] word.
///
/// ```
/// use djstripe_core::db::Outcome;
/// assert_eq!("duplicate".parse::<Outcome>().unwrap(), Outcome::Duplicate);
/// assert_eq!(Outcome::Failed.http_status(), 500);
/// assert!(Outcome::TestEvent.is_success());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow, serde::Serialize)]
#[diesel(sql_type = Text)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// The event was stored and its handlers ran and committed.
    Processed,
    /// A stored event's handlers ran again on purpose ([`crate::engine::Engine::replay_event`]).
    Replayed,
    /// The event was processed before: handlers not called again.
    Duplicate,
    /// The Stripe Dashboard's test event (`evt_00000000000000`): recorded and discarded.
    TestEvent,
    /// Handed to the configured event callback; process it later with
    /// [`crate::engine::Engine::process_trigger`].
    Queued,
    /// The delivery failed validation (signature, timestamp, body, size, retrieval).
    Invalid,
    /// A handler (or the event callback) failed, or the database failed the batch: everything
    /// it wrote was rolled back and Stripe's retry will process the event again.
    Failed,
    /// Was [`Outcome::Failed`]; a reprocessing attempt (its own trigger, `reprocess_of` this one)
    /// has since succeeded.
    Reprocessed,
}

impl Outcome {
    /// Every outcome, in a stable order (filters, admin choices, tests).
    pub const ALL: [Outcome; 8] = [
        Outcome::Processed,
        Outcome::Replayed,
        Outcome::Duplicate,
        Outcome::TestEvent,
        Outcome::Queued,
        Outcome::Invalid,
        Outcome::Failed,
        Outcome::Reprocessed,
    ];

    /// The stored word (also the JSON answer's `status` and what the CLI prints).
    ///
    /// ```
    /// assert_eq!(djstripe_core::db::Outcome::TestEvent.as_str(), "test_event");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Processed => "processed",
            Outcome::Replayed => "replayed",
            Outcome::Duplicate => "duplicate",
            Outcome::TestEvent => "test_event",
            Outcome::Queued => "queued",
            Outcome::Invalid => "invalid",
            Outcome::Failed => "failed",
            Outcome::Reprocessed => "reprocessed",
        }
    }

    /// Whether Stripe gets a 2xx (it stops retrying).
    ///
    /// ```
    /// use djstripe_core::db::Outcome;
    /// assert!(Outcome::Duplicate.is_success() && !Outcome::Invalid.is_success());
    /// ```
    pub fn is_success(self) -> bool {
        !matches!(self, Outcome::Invalid | Outcome::Failed)
    }

    /// The `processed` column that goes with it (dj-stripe's flag): the trigger needs no more work.
    ///
    /// ```
    /// use djstripe_core::db::Outcome;
    /// assert!(Outcome::TestEvent.is_processed() && !Outcome::Queued.is_processed());
    /// ```
    pub fn is_processed(self) -> bool {
        !matches!(self, Outcome::Invalid | Outcome::Failed | Outcome::Queued)
    }

    /// Whether a trigger with this outcome can be processed again: a failure, or a queued one
    /// (the other conditions are in [`super::WebhookEventTrigger::reprocessable`]).
    ///
    /// ```
    /// use djstripe_core::db::Outcome;
    /// assert!(Outcome::Failed.is_reprocessable() && !Outcome::Reprocessed.is_reprocessable());
    /// ```
    pub fn is_reprocessable(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::Queued)
    }

    /// Whether retention removes a trigger with this outcome once it is old enough (the
    /// background task of [`crate::app::RetentionPolicy`], and `triggers prune`): an outcome that
    /// is final and needs nothing more (`processed`, `replayed`, `duplicate`, `test_event`,
    /// `reprocessed`), and `invalid` (a rejected delivery, not an event: Stripe retries a valid
    /// one, and its row is an audit of junk or a misconfiguration, worth no more than a
    /// successful delivery's). `failed` rows are kept until reprocessed (an operator may still
    /// want them; `triggers prune --include-failed` takes them), and `queued` ones always: they
    /// are work not done yet, and their body is its only copy.
    ///
    /// ```
    /// use djstripe_core::db::Outcome;
    /// assert!(Outcome::Processed.is_prunable() && Outcome::Invalid.is_prunable());
    /// assert!(!Outcome::Failed.is_prunable() && !Outcome::Queued.is_prunable());
    /// ```
    pub fn is_prunable(self) -> bool {
        !matches!(self, Outcome::Failed | Outcome::Queued)
    }

    /// The HTTP status for a delivery that came to this outcome: 200 for a success, 400 for an
    /// invalid delivery, 500 for a failure. (A more precise status for an invalid delivery, e.g.
    /// 413, comes from its error: see [`crate::engine::Receipt::http_status`].)
    ///
    /// ```
    /// assert_eq!(djstripe_core::db::Outcome::Invalid.http_status(), 400);
    /// ```
    pub fn http_status(self) -> u16 {
        match self {
            Outcome::Invalid => 400,
            Outcome::Failed => 500,
            _ => 200,
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is no [`Outcome`].
///
/// ```
/// assert!("maybe".parse::<djstripe_core::db::Outcome>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a trigger outcome (processed, replayed, duplicate, test_event, queued, invalid, failed, reprocessed)"
)]
pub struct UnknownOutcome(pub String);

impl std::str::FromStr for Outcome {
    type Err = UnknownOutcome;

    /// The stored words of every version so far map onto the enum.
    fn from_str(word: &str) -> Result<Self, UnknownOutcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == word).ok_or_else(|| UnknownOutcome(word.to_owned()))
    }
}

impl<DB> ToSql<Text, DB> for Outcome
where
    DB: diesel::backend::Backend,
    str: ToSql<Text, DB>,
{
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
        self.as_str().to_sql(out)
    }
}

impl<DB> FromSql<Text, DB> for Outcome
where
    DB: diesel::backend::Backend,
    String: FromSql<Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        Ok(String::from_sql(bytes)?.parse()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for outcome in Outcome::ALL {
            assert_eq!(outcome.as_str().parse::<Outcome>().unwrap(), outcome);
            assert_eq!(serde_json::to_value(outcome).unwrap(), outcome.as_str());
        }
        assert!("".parse::<Outcome>().is_err());
    }

    /// Rows written by earlier versions (their words, inserted as plain text) read back as the
    /// enum; a word no version wrote is an error of that query, not a panic.
    #[cfg(feature = "sqlite")]
    #[test]
    fn stored_words_of_earlier_versions_read_back() {
        use diesel::connection::SimpleConnection;
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::Database::connect(dir.path().join("old.sqlite3").to_str().unwrap()).unwrap();
        db.migrate().unwrap();
        let words = ["processed", "replayed", "duplicate", "test_event", "queued", "invalid", "failed", "reprocessed"];
        let mut conn = db.get().unwrap();
        for word in words {
            conn.batch_execute(&format!(
                "INSERT INTO djstripe_webhookeventtrigger (created, updated, body, outcome, djstripe_version) \
                 VALUES ('2026-11-23 00:00:00', '2026-11-23 00:00:00', x'', '{word}', '0.1.0')"
            ))
            .unwrap();
        }
        drop(conn);
        let mut read: Vec<Outcome> = db.recent_triggers(100).unwrap().into_iter().map(|t| t.outcome).collect();
        read.reverse();
        assert_eq!(read, Outcome::ALL);
        db.get()
            .unwrap()
            .batch_execute("UPDATE djstripe_webhookeventtrigger SET outcome = 'maybe' WHERE id = 1")
            .unwrap();
        let err = db.recent_triggers(100).unwrap_err();
        assert!(err.to_string().contains("outcome"), "{err}");
    }
}
