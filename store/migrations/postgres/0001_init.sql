-- Linkport schema, version 1 (PostgreSQL).
-- Times are BIGINT Unix nanoseconds in UTC, as on SQLite, except
-- sessions.expiry, which scs's pgxstore keeps as a TIMESTAMPTZ.

-- BIGSERIAL ids come from sequences, which never hand out a number twice:
-- a deleted user's or identity's id is never reused, so a session or event
-- that still names it can never point at someone else.
CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    display_name  TEXT   NOT NULL DEFAULT '',
    avatar_url    TEXT   NOT NULL DEFAULT '',
    primary_email TEXT   NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- An identity is (provider, subject); email is a display field and has no
-- index, so it cannot be used to find a user (C-01d).
CREATE TABLE identities (
    id             BIGSERIAL PRIMARY KEY,
    user_id        BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider       TEXT    NOT NULL CHECK (provider <> ''),
    subject        TEXT    NOT NULL CHECK (subject <> ''),
    email          TEXT    NOT NULL DEFAULT '',
    email_verified BOOLEAN NOT NULL DEFAULT false,
    name           TEXT    NOT NULL DEFAULT '',
    nickname       TEXT    NOT NULL DEFAULT '',
    avatar_url     TEXT    NOT NULL DEFAULT '',
    access_token   BYTEA   NULL,
    refresh_token  BYTEA   NULL,
    token_expiry   BIGINT  NULL,
    created_at     BIGINT  NOT NULL,
    last_used_at   BIGINT  NOT NULL,
    UNIQUE (provider, subject)
);

CREATE INDEX identities_user_id ON identities (user_id);

-- identity_id has no foreign key: the timeline outlives an unlinked identity.
CREATE TABLE events (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT   NOT NULL CHECK (kind <> ''),
    provider    TEXT   NOT NULL DEFAULT '',
    identity_id BIGINT NULL,
    ip          TEXT   NOT NULL DEFAULT '',
    user_agent  TEXT   NOT NULL DEFAULT '',
    at          BIGINT NOT NULL
);

CREATE INDEX events_user_id_at ON events (user_id, at);

-- The table github.com/alexedwards/scs/pgxstore expects.
CREATE TABLE sessions (
    token  TEXT        PRIMARY KEY,
    data   BYTEA       NOT NULL,
    expiry TIMESTAMPTZ NOT NULL
);

CREATE INDEX sessions_expiry ON sessions (expiry);
