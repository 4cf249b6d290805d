package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/linkport/linkport/accounts"
)

// PostgresSessionIndex is the session index on the PostgreSQL database:
// table session_index beside scs's sessions table. A revocation deletes both
// rows in one transaction; the index row is what a late scs write-back
// cannot bring back (SECURITY.md K10).
type PostgresSessionIndex struct{ pool *pgxpool.Pool }

// SessionIndex returns the session index on this database.
func (p *Postgres) SessionIndex() *PostgresSessionIndex {
	return &PostgresSessionIndex{pool: p.pool}
}

// Start adds the row of a newly signed-in session;
// accounts.ErrConflict when its hash or public id is taken. It also drops
// the user's rows whose scs session has been gone for a while (expired and
// cleaned up), so the index does not grow without bound.
func (x *PostgresSessionIndex) Start(ctx context.Context, s accounts.Session) error {
	err := pgx.BeginFunc(ctx, x.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM session_index AS i
			WHERE i.user_id = $1 AND i.created_at < $2
			AND NOT EXISTS (SELECT 1 FROM sessions AS s WHERE s.token = i.token_hash)`,
			s.UserID, s.CreatedAt.Add(-orphanAge).UnixNano()); err != nil {
			return fmt.Errorf("prune: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO session_index
			(token_hash, public_id, user_id, identity_id, user_agent, ip, created_at, last_seen_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			s.TokenHash, s.PublicID, s.UserID, nullID(s.IdentityID), s.UserAgent, s.IP,
			s.CreatedAt.UnixNano(), s.LastSeenAt.UnixNano()); err != nil {
			return fmt.Errorf("start: %w", pgErr(err))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("session index: %w", err)
	}
	return nil
}

// Rotate moves a session's row to its renewed token. A row already revoked
// stays revoked: nothing moves, and the renewed token is not signed in.
func (x *PostgresSessionIndex) Rotate(ctx context.Context, oldHash, newHash string) error {
	if _, err := x.pool.Exec(ctx, "UPDATE session_index SET token_hash = $1 WHERE token_hash = $2", newHash, oldHash); err != nil {
		return fmt.Errorf("session index: rotate: %w", pgErr(err))
	}
	return nil
}

// Seen notes a request of the session at at. It only updates: it never
// brings back a revoked row.
func (x *PostgresSessionIndex) Seen(ctx context.Context, hash string, at time.Time) error {
	if _, err := x.pool.Exec(ctx, "UPDATE session_index SET last_seen_at = $1 WHERE token_hash = $2 AND last_seen_at < $1",
		at.UnixNano(), hash); err != nil {
		return fmt.Errorf("session index: seen: %w", err)
	}
	return nil
}

// Get returns the row of a session, or accounts.ErrNotFound when it was
// never signed in or has been revoked.
func (x *PostgresSessionIndex) Get(ctx context.Context, hash string) (accounts.Session, error) {
	s, err := scanSession(x.pool.QueryRow(ctx, "SELECT "+sessionColumns+" FROM session_index WHERE token_hash = $1", hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return accounts.Session{}, accounts.ErrNotFound
	}
	if err != nil {
		return accounts.Session{}, fmt.Errorf("session index: get: %w", err)
	}
	return s, nil
}

// List returns the user's sessions whose scs session is still stored and
// unexpired, most recently active first.
func (x *PostgresSessionIndex) List(ctx context.Context, userID int64) ([]accounts.Session, error) {
	rows, err := x.pool.Query(ctx, `SELECT `+sessionColumns+` FROM session_index AS i
		WHERE i.user_id = $1 AND EXISTS (SELECT 1 FROM sessions AS s WHERE s.token = i.token_hash AND current_timestamp < s.expiry)
		ORDER BY i.last_seen_at DESC, i.created_at DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("session index: list: %w", err)
	}
	out, err := pgx.AppendRows([]accounts.Session(nil), rows, func(r pgx.CollectableRow) (accounts.Session, error) { return scanSession(r) })
	if err != nil {
		return nil, fmt.Errorf("session index: list: %w", err)
	}
	return out, nil
}

// Revoke ends a session: its index row and its scs row (keyed by the same
// hash) go in one transaction. Revoking a session that is already gone is
// not an error.
func (x *PostgresSessionIndex) Revoke(ctx context.Context, hash string) error {
	err := pgx.BeginFunc(ctx, x.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM session_index WHERE token_hash = $1", hash); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "DELETE FROM sessions WHERE token = $1", hash)
		return err
	})
	if err != nil {
		return fmt.Errorf("session index: revoke: %w", err)
	}
	return nil
}

// RevokeOthers ends every session of the user but keepHash and returns how
// many it ended.
func (x *PostgresSessionIndex) RevokeOthers(ctx context.Context, userID int64, keepHash string) (int, error) {
	return x.revoke(ctx, "user_id = $1 AND token_hash <> $2", userID, keepHash)
}

// RevokeIdentity ends every session of the user that identityID started,
// but keepHash, and returns how many it ended.
func (x *PostgresSessionIndex) RevokeIdentity(ctx context.Context, userID, identityID int64, keepHash string) (int, error) {
	return x.revoke(ctx, "user_id = $1 AND identity_id = $2 AND token_hash <> $3", userID, identityID, keepHash)
}

// revoke deletes the index rows matching where (a constant condition on
// session_index), and the scs rows of the same tokens, in one transaction.
func (x *PostgresSessionIndex) revoke(ctx context.Context, where string, args ...any) (int, error) {
	var n int64
	err := pgx.BeginFunc(ctx, x.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "DELETE FROM session_index WHERE "+where+" RETURNING token_hash", args...)
		if err != nil {
			return err
		}
		hashes, err := pgx.AppendRows([]string(nil), rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		n = int64(len(hashes))
		_, err = tx.Exec(ctx, "DELETE FROM sessions WHERE token = ANY($1)", hashes)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("session index: revoke: %w", err)
	}
	return int(n), nil
}
