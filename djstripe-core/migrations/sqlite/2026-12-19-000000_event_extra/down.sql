ALTER TABLE djstripe_event DROP COLUMN extra;
