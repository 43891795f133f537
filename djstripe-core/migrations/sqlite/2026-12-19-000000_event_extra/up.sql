-- The event's top-level fields without a column of their own (`object`, `pending_webhooks`,
-- `request` as sent, `context`, fields Stripe adds later, and fields sent as `null`), as a JSON
-- object: with the other columns they are the event as delivered, field for field. NULL for
-- events stored before this column existed (rebuilt from the other columns alone).
ALTER TABLE djstripe_event ADD COLUMN extra TEXT;
