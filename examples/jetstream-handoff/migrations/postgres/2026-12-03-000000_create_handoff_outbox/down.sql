DROP TABLE IF EXISTS handoff_outbox;
