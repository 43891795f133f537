-- Retention (DJSTRIPE_EVENT_RETENTION_DAYS) deletes events received before a cut-off, a few
-- hundred at a time: without this index each batch would read the whole table.
CREATE INDEX djstripe_event_received ON djstripe_event(received);
