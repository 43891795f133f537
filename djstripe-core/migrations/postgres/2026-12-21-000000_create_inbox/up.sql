-- Inbox mode (DJSTRIPE_WEBHOOK_PROCESSING=inbox, or an endpoint's `processing`): a verified
-- event is committed here with its trigger row and answered 200 at once; a worker runs its
-- handlers later. A row leaves in the very transaction that processes its event, so an event is
-- either waiting here or in djstripe_event (processed), never lost between the two.
CREATE TABLE djstripe_inbox (
    event_id TEXT PRIMARY KEY NOT NULL,
    -- The trigger row of the delivery that queued it (outcome `queued` until processed).
    trigger_id BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    -- data.object.id (a v2 notification: related_object.id): events of one object are processed
    -- one at a time, in Stripe's `created` order (ties by event id).
    object_id TEXT,
    event_created TIMESTAMP NOT NULL,
    -- The verified event, JSON as stored in djstripe_event (lossless).
    event TEXT NOT NULL,
    -- `pending` (waiting, claimed or retrying) or `dead` (given up: replay with `inbox retry`).
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt TIMESTAMP NOT NULL,
    -- A worker's claim: its random token and until when it holds (then another takes over).
    lease_token TEXT,
    lease_until TIMESTAMP,
    last_error TEXT NOT NULL,
    received TIMESTAMP NOT NULL,
    updated TIMESTAMP NOT NULL
);
CREATE INDEX djstripe_inbox_due ON djstripe_inbox (state, next_attempt);
CREATE INDEX djstripe_inbox_object ON djstripe_inbox (object_id, event_created, event_id);

-- The newest event processed through the inbox for each object: the stale-event guard of a
-- handler declared with `skip_stale` skips an event older than this.
CREATE TABLE djstripe_object_watermark (
    object_id TEXT PRIMARY KEY NOT NULL,
    event_created TIMESTAMP NOT NULL,
    event_id TEXT NOT NULL,
    updated TIMESTAMP NOT NULL
);

-- Per endpoint: `inline` or `inbox`; NULL follows DJSTRIPE_WEBHOOK_PROCESSING.
ALTER TABLE djstripe_webhookendpoint ADD COLUMN processing TEXT;
