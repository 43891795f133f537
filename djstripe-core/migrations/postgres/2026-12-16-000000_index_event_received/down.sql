DROP INDEX djstripe_event_received;
