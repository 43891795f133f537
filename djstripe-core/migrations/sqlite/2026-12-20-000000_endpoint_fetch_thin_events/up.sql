-- Per endpoint: fetch the full v2 event (GET /v2/core/events/{id}) for every v2 event
-- notification ("thin" event) before its transaction opens, so that handlers see its `data`
-- (`endpoints update <id> --fetch-thin-events true`). Off for every existing endpoint.
ALTER TABLE djstripe_webhookendpoint ADD COLUMN fetch_thin_events BOOLEAN NOT NULL DEFAULT 0;
