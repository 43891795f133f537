ALTER TABLE djstripe_webhookendpoint DROP COLUMN fetch_thin_events;
