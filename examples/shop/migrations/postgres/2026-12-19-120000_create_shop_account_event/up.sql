-- One row per v2 account notification the shop saw, written in the event's transaction.
CREATE TABLE IF NOT EXISTS shop_account_event (
    id BIGSERIAL PRIMARY KEY,
    event_id TEXT NOT NULL,
    type TEXT NOT NULL,
    account_id TEXT NOT NULL
);
