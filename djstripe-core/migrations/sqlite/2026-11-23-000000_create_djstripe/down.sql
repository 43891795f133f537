DROP TABLE djstripe_event;
DROP TABLE djstripe_webhookeventtrigger;
DROP TABLE djstripe_webhookendpoint;
