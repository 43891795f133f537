-- The admin pages' login sessions (Django's django_session): the cookie holds a random key, this
-- table its SHA-256 (a copy of the table logs no one in). Logout deletes the row, a new password
-- deletes its user's rows, so every instance sharing the database sees the session end.
CREATE TABLE djstripe_admin_session (
    id TEXT PRIMARY KEY NOT NULL,
    source TEXT NOT NULL,
    username TEXT NOT NULL,
    credential TEXT NOT NULL,
    created TIMESTAMP NOT NULL,
    expires TIMESTAMP NOT NULL
);
CREATE INDEX djstripe_admin_session_username ON djstripe_admin_session (username);
CREATE INDEX djstripe_admin_session_expires ON djstripe_admin_session (expires);
