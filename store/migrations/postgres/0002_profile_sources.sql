-- Linkport schema, version 2 (PostgreSQL): which identity supplies a user's
-- display name and avatar. users.display_name and users.avatar_url stay as
-- cached copies.
--
-- ON DELETE SET NULL is a safety net: accounts.Service.Unlink picks another
-- source itself before the user ever sees a missing one.

ALTER TABLE users ADD COLUMN name_identity_id BIGINT NULL
    REFERENCES identities (id) ON DELETE SET NULL;
ALTER TABLE users ADD COLUMN avatar_identity_id BIGINT NULL
    REFERENCES identities (id) ON DELETE SET NULL;

-- Deleting an identity looks its users up through these.
CREATE INDEX users_name_identity_id ON users (name_identity_id);
CREATE INDEX users_avatar_identity_id ON users (avatar_identity_id);

-- Until now the first identity supplied both fields at sign-up.
UPDATE users SET name_identity_id = (
    SELECT i.id FROM identities AS i WHERE i.user_id = users.id
    ORDER BY i.created_at, i.id LIMIT 1
);
UPDATE users SET avatar_identity_id = name_identity_id;
