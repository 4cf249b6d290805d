-- Linkport schema, version 1.
-- Times are INTEGER Unix nanoseconds in UTC, except sessions.expiry, which
-- scs's sqlite3store keeps as a REAL Julian day.

-- AUTOINCREMENT: a deleted user's or identity's id is never handed out again,
-- so a session or event that still names it can never point at someone else.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    display_name  TEXT    NOT NULL DEFAULT '',
    avatar_url    TEXT    NOT NULL DEFAULT '',
    primary_email TEXT    NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

-- An identity is (provider, subject); email is a display field and has no
-- index, so it cannot be used to find a user (C-01d).
CREATE TABLE identities (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider       TEXT    NOT NULL CHECK (provider <> ''),
    subject        TEXT    NOT NULL CHECK (subject <> ''),
    email          TEXT    NOT NULL DEFAULT '',
    email_verified INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
    name           TEXT    NOT NULL DEFAULT '',
    nickname       TEXT    NOT NULL DEFAULT '',
    avatar_url     TEXT    NOT NULL DEFAULT '',
    access_token   BLOB    NULL,
    refresh_token  BLOB    NULL,
    token_expiry   INTEGER NULL,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER NOT NULL,
    UNIQUE (provider, subject)
);

CREATE INDEX identities_user_id ON identities (user_id);

-- identity_id has no foreign key: the timeline outlives an unlinked identity.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL CHECK (kind <> ''),
    provider    TEXT    NOT NULL DEFAULT '',
    identity_id INTEGER NULL,
    ip          TEXT    NOT NULL DEFAULT '',
    user_agent  TEXT    NOT NULL DEFAULT '',
    at          INTEGER NOT NULL
);

CREATE INDEX events_user_id_at ON events (user_id, at);

-- The table github.com/alexedwards/scs/sqlite3store expects.
CREATE TABLE sessions (
    token  TEXT PRIMARY KEY,
    data   BLOB NOT NULL,
    expiry REAL NOT NULL
);

CREATE INDEX sessions_expiry ON sessions (expiry);
