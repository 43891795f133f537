-- One row per customer event the shop saw, written in the event's transaction.
CREATE TABLE IF NOT EXISTS shop_customer_event (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    type TEXT NOT NULL,
    customer_id TEXT NOT NULL
);
