ALTER TABLE djstripe_webhookendpoint DROP COLUMN processing;
DROP TABLE djstripe_object_watermark;
DROP TABLE djstripe_inbox;
