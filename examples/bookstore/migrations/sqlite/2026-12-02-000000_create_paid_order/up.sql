CREATE TABLE paid_order (
    order_id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL,
    amount_total BIGINT NOT NULL
);
