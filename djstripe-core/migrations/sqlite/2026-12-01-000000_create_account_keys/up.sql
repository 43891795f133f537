-- Secret API keys of connected accounts, per mode: choosing an account picks its own key.
CREATE TABLE djstripe_account_key (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    livemode BOOLEAN NOT NULL,
    secret_key TEXT NOT NULL,
    created TIMESTAMP NOT NULL,
    updated TIMESTAMP NOT NULL,
    UNIQUE (account, livemode)
);
