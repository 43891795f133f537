-- The admin pages' users (Django's auth_user for dj-stripe's admin): a name and an argon2 hash
-- (a PHC string, `$argon2id$...`), set by the command line's `admin set-password`.
CREATE TABLE djstripe_admin_user (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created TIMESTAMP NOT NULL,
    updated TIMESTAMP NOT NULL
);
