-- dj-stripe's webhook tables, for SQLite. Timestamps are UTC.
CREATE TABLE djstripe_webhookendpoint (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stripe_id TEXT UNIQUE,
    djstripe_uuid TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL DEFAULT '',
    secret TEXT NOT NULL DEFAULT '',
    previous_secrets TEXT NOT NULL DEFAULT '[]',
    api_version TEXT,
    enabled_events TEXT NOT NULL DEFAULT '["*"]',
    livemode BOOLEAN NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'enabled',
    description TEXT NOT NULL DEFAULT '',
    metadata TEXT NOT NULL DEFAULT '{}',
    account TEXT,
    connect BOOLEAN NOT NULL DEFAULT 0,
    validation_method TEXT NOT NULL DEFAULT 'verify_signature',
    tolerance INTEGER NOT NULL DEFAULT 300,
    created TIMESTAMP NOT NULL,
    updated TIMESTAMP NOT NULL
);

CREATE TABLE djstripe_webhookeventtrigger (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TIMESTAMP NOT NULL,
    updated TIMESTAMP NOT NULL,
    remote_ip TEXT NOT NULL DEFAULT '',
    headers TEXT NOT NULL DEFAULT '{}',
    body BLOB NOT NULL,
    body_truncated BOOLEAN NOT NULL DEFAULT 0,
    valid BOOLEAN NOT NULL DEFAULT 0,
    processed BOOLEAN NOT NULL DEFAULT 0,
    outcome TEXT NOT NULL DEFAULT '',
    exception TEXT NOT NULL DEFAULT '',
    traceback TEXT NOT NULL DEFAULT '',
    event_id TEXT,
    event_type TEXT,
    webhook_endpoint_id BIGINT REFERENCES djstripe_webhookendpoint(id) ON DELETE SET NULL,
    account TEXT,
    reprocess_of BIGINT,
    djstripe_version TEXT NOT NULL
);
CREATE INDEX djstripe_webhookeventtrigger_event_id ON djstripe_webhookeventtrigger(event_id);
CREATE INDEX djstripe_webhookeventtrigger_created ON djstripe_webhookeventtrigger(created);

CREATE TABLE djstripe_event (
    id TEXT PRIMARY KEY NOT NULL,
    type TEXT NOT NULL,
    api_version TEXT,
    created TIMESTAMP NOT NULL,
    livemode BOOLEAN NOT NULL,
    data TEXT NOT NULL,
    account TEXT,
    request_id TEXT,
    idempotency_key TEXT,
    received TIMESTAMP NOT NULL,
    processed TIMESTAMP NOT NULL,
    times_processed INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX djstripe_event_type ON djstripe_event(type);
