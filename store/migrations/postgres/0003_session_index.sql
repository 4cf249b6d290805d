-- Linkport schema, version 3 (PostgreSQL): the session index. One row per
-- signed-in session, beside the scs "sessions" table: who it is, which
-- connected account started it, from where, and when. A signed-in session
-- is valid only while its row exists, so deleting the row is a revocation
-- that a late write-back of the scs data cannot undo (SECURITY.md K10,
-- B-04c).
--
-- token_hash is the scs store key of the session token (base64url of its
-- SHA-256, what scs keeps with HashTokenInStore), never the token itself.
-- public_id is an opaque random id for pages and forms, so the hash never
-- reaches HTML. identity_id has no foreign key: the row outlives an
-- unlinked identity until the handlers revoke it.
CREATE TABLE session_index (
    token_hash   TEXT   PRIMARY KEY,
    public_id    TEXT   NOT NULL UNIQUE,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    identity_id  BIGINT NULL,
    user_agent   TEXT   NOT NULL DEFAULT '',
    ip           TEXT   NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);

CREATE INDEX session_index_user_id ON session_index (user_id);
