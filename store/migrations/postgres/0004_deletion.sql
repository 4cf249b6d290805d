-- Linkport schema, version 4 (PostgreSQL): account deletion with a grace
-- period.
--
-- A user whose deleted_at is set has asked for the account to be deleted:
-- it signs no one in, and its sessions end at their next request. Signing
-- in with one of its identities before purge_after offers to restore it;
-- after purge_after the row is deleted (identities and events cascade).
-- Both are BIGINT Unix nanoseconds in UTC, NULL for a live account.

ALTER TABLE users ADD COLUMN deleted_at BIGINT NULL;
ALTER TABLE users ADD COLUMN purge_after BIGINT NULL;

-- The purge looks for accounts past their grace period.
CREATE INDEX users_purge_after ON users (purge_after) WHERE purge_after IS NOT NULL;
