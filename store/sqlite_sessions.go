package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/linkport/linkport/accounts"
)

// orphanAge is how old an index row must be before Start may delete it
// for having no scs session: a row is written just before its session is
// first committed, so a younger one may belong to a sign-in in progress.
const orphanAge = time.Minute

// SQLiteSessionIndex is the session index on the SQLite database: table
// session_index beside scs's sessions table. A revocation deletes both rows
// in one transaction; the index row is what a late scs write-back cannot
// bring back (SECURITY.md K10).
//
// Its writes go through the store's writer, its reads through the read
// connections.
type SQLiteSessionIndex struct {
	db   *sql.DB   // the writer
	read *sql.DB   // the readers
	get  *sql.Stmt // sessionGetQuery, prepared on read
}

// SessionIndex returns the session index on this database.
func (s *SQLite) SessionIndex() *SQLiteSessionIndex {
	return &SQLiteSessionIndex{db: s.db, read: s.read, get: s.stmts.sessionGet}
}

// Start adds the row of a newly signed-in session. It also drops the
// user's rows whose scs session has been gone for a while (expired and
// cleaned up by scs), so the index does not grow without bound.
func (x *SQLiteSessionIndex) Start(ctx context.Context, s accounts.Session) error {
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("session index: begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM session_index
		WHERE user_id = ? AND created_at < ? AND token_hash NOT IN (SELECT token FROM sessions)`,
		s.UserID, s.CreatedAt.Add(-orphanAge).UnixNano()); err != nil {
		return fmt.Errorf("session index: prune: %w", err)
	}
	var identityID sql.NullInt64
	if s.IdentityID != 0 {
		identityID = sql.NullInt64{Int64: s.IdentityID, Valid: true}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO session_index
		(token_hash, public_id, user_id, identity_id, user_agent, ip, created_at, last_seen_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		s.TokenHash, s.PublicID, s.UserID, identityID, s.UserAgent, s.IP,
		s.CreatedAt.UnixNano(), s.LastSeenAt.UnixNano()); err != nil {
		return fmt.Errorf("session index: start: %w", sqliteErr(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("session index: commit: %w", err)
	}
	return nil
}

// Rotate moves a session's row to its renewed token. A row already revoked
// stays revoked: nothing moves, and the renewed token is not signed in.
func (x *SQLiteSessionIndex) Rotate(ctx context.Context, oldHash, newHash string) error {
	if _, err := x.db.ExecContext(ctx, "UPDATE session_index SET token_hash = ? WHERE token_hash = ?", newHash, oldHash); err != nil {
		return fmt.Errorf("session index: rotate: %w", err)
	}
	return nil
}

// Seen notes a request of the session at at. It only updates: it never
// brings back a revoked row.
func (x *SQLiteSessionIndex) Seen(ctx context.Context, hash string, at time.Time) error {
	if _, err := x.db.ExecContext(ctx, "UPDATE session_index SET last_seen_at = ? WHERE token_hash = ? AND last_seen_at < ?",
		at.UnixNano(), hash, at.UnixNano()); err != nil {
		return fmt.Errorf("session index: seen: %w", err)
	}
	return nil
}

const sessionColumns = "token_hash, public_id, user_id, identity_id, user_agent, ip, created_at, last_seen_at"

// sessionGetQuery reads the index row of a session.
const sessionGetQuery = "SELECT " + sessionColumns + " FROM session_index WHERE token_hash = ?"

// Get returns the row of a session, or accounts.ErrNotFound when it was
// never signed in or has been revoked.
func (x *SQLiteSessionIndex) Get(ctx context.Context, hash string) (accounts.Session, error) {
	s, err := scanSession(x.get.QueryRowContext(ctx, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return accounts.Session{}, accounts.ErrNotFound
	}
	if err != nil {
		return accounts.Session{}, fmt.Errorf("session index: get: %w", err)
	}
	return s, nil
}

// List returns the user's sessions whose scs session is still stored and
// unexpired, most recently active first.
func (x *SQLiteSessionIndex) List(ctx context.Context, userID int64) ([]accounts.Session, error) {
	rows, err := x.read.QueryContext(ctx, `SELECT `+sessionColumns+` FROM session_index AS i
		WHERE i.user_id = ? AND EXISTS (SELECT 1 FROM sessions AS s WHERE s.token = i.token_hash AND julianday('now') < s.expiry)
		ORDER BY i.last_seen_at DESC, i.created_at DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("session index: list: %w", err)
	}
	defer rows.Close()
	var out []accounts.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("session index: list: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("session index: list: %w", err)
	}
	return out, nil
}

// Revoke ends a session: its index row and its scs row go in one
// transaction. Revoking a session that is already gone is not an error.
func (x *SQLiteSessionIndex) Revoke(ctx context.Context, hash string) error {
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("session index: begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "DELETE FROM session_index WHERE token_hash = ?", hash); err != nil {
		return fmt.Errorf("session index: revoke: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE token = ?", hash); err != nil {
		return fmt.Errorf("session index: revoke: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("session index: commit: %w", err)
	}
	return nil
}

// RevokeOthers ends every session of the user but keepHash and returns how
// many it ended.
func (x *SQLiteSessionIndex) RevokeOthers(ctx context.Context, userID int64, keepHash string) (int, error) {
	return x.revoke(ctx, "user_id = ? AND token_hash <> ?", userID, keepHash)
}

// RevokeIdentity ends every session of the user that identityID started,
// but keepHash, and returns how many it ended.
func (x *SQLiteSessionIndex) RevokeIdentity(ctx context.Context, userID, identityID int64, keepHash string) (int, error) {
	return x.revoke(ctx, "user_id = ? AND identity_id = ? AND token_hash <> ?", userID, identityID, keepHash)
}

// revoke deletes the index rows matching where (a constant condition on
// session_index), and the scs rows of the same tokens, in one transaction.
func (x *SQLiteSessionIndex) revoke(ctx context.Context, where string, args ...any) (int, error) {
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("session index: begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE token IN (SELECT token_hash FROM session_index WHERE "+where+")", args...); err != nil {
		return 0, fmt.Errorf("session index: revoke: %w", err)
	}
	res, err := tx.ExecContext(ctx, "DELETE FROM session_index WHERE "+where, args...)
	if err != nil {
		return 0, fmt.Errorf("session index: revoke: %w", err)
	}
	n, _ := res.RowsAffected()
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("session index: commit: %w", err)
	}
	return int(n), nil
}

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

func scanSession(r rowScanner) (accounts.Session, error) {
	var (
		s           accounts.Session
		identityID  sql.NullInt64
		created, ls int64
	)
	if err := r.Scan(&s.TokenHash, &s.PublicID, &s.UserID, &identityID, &s.UserAgent, &s.IP, &created, &ls); err != nil {
		return accounts.Session{}, err
	}
	s.IdentityID = identityID.Int64
	s.CreatedAt, s.LastSeenAt = fromNanos(created), fromNanos(ls)
	return s, nil
}
