-- Events waiting to be published to JetStream: written in the event's transaction, deleted by
-- the relay once JetStream has acknowledged the message.
CREATE TABLE IF NOT EXISTS handoff_outbox (
    id BIGSERIAL PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    payload TEXT NOT NULL
);
