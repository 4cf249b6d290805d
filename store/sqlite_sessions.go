package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
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

// sessionFindIndexedQuery reads an unexpired session's data, its index
// row if any, and the user of that row with its identities (the columns
// and order of sessionUserQuery): one row per identity, at least one.
const sessionFindIndexedQuery = `SELECT s.data, i.token_hash, i.public_id, i.user_id, i.identity_id,
		i.user_agent, i.ip, i.created_at, i.last_seen_at,
		u.id, u.display_name, u.avatar_url, u.primary_email, u.name_identity_id,
		u.avatar_identity_id, u.created_at, u.updated_at, u.deleted_at, u.purge_after,
		d.id, d.user_id, d.provider, d.subject, d.email, d.email_verified, d.name, d.nickname, d.avatar_url,
		d.created_at, d.last_used_at
	FROM sessions AS s
	LEFT JOIN session_index AS i ON i.token_hash = s.token
	LEFT JOIN users AS u ON u.id = i.user_id
	LEFT JOIN identities AS d ON d.user_id = u.id
	WHERE s.token = ? AND julianday('now') < s.expiry
	ORDER BY d.created_at, d.id`

// FindIndexed is Find and SQLiteSessionIndex.Get of the same session in
// one statement (one snapshot, one trip through the driver), for the
// request that loads a session and then checks that it is still signed
// in: hash is the session store's key of the token, which is also the
// index row's. found is false when there is no unexpired session (and row
// is then unset); indexed is false when the session has no index row.
//
// The same statement reads what SessionUser returns for the index row's
// user: the returned context carries it, for one call of SQLite.SessionUser
// with that user in this request, before any transaction of it.
func (s *SQLiteSessionStore) FindIndexed(ctx context.Context, hash string) (_ context.Context, b []byte, found bool, row accounts.Session, indexed bool, err error) {
	rows, err := s.findIndexed.QueryContext(ctx, hash)
	if err != nil {
		return ctx, nil, false, accounts.Session{}, false, fmt.Errorf("session store: find: %w", err)
	}
	defer rows.Close()
	var (
		tokenHash, publicID, userAgent, ip sql.NullString
		userID, identityID                 sql.NullInt64
		created, lastSeen                  sql.NullInt64
		r                                  sessionUserRow
		acc                                sessionUserAcc
	)
	dest := append([]any{&b, &tokenHash, &publicID, &userID, &identityID, &userAgent, &ip, &created, &lastSeen}, r.dest()...)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return ctx, nil, false, accounts.Session{}, false, fmt.Errorf("session store: find: %w", err)
		}
		found = true
		acc.add(&r)
	}
	if err := rows.Err(); err != nil {
		return ctx, nil, false, accounts.Session{}, false, fmt.Errorf("session store: find: %w", err)
	}
	if !found || !tokenHash.Valid {
		return ctx, b, found, accounts.Session{}, false, nil
	}
	row = accounts.Session{
		TokenHash: tokenHash.String, PublicID: publicID.String, UserID: userID.Int64, IdentityID: identityID.Int64,
		UserAgent: userAgent.String, IP: ip.String, CreatedAt: fromNanos(created.Int64), LastSeenAt: fromNanos(lastSeen.Int64),
	}
	p := &prefetchedUser{userID: row.UserID}
	p.u, p.d, p.ids, p.err = acc.result(row.UserID)
	return context.WithValue(ctx, prefetchedUserKey{}, p), b, true, row, true, nil
}

// prefetchedUserKey is the context key of a *prefetchedUser.
type prefetchedUserKey struct{}

// prefetchedUser is SessionUser's answer for userID, read by FindIndexed.
type prefetchedUser struct {
	userID int64
	u      accounts.User
	d      accounts.Deletion
	ids    []accounts.Identity
	err    error
	used   atomic.Bool // handed out, or a transaction began since
}

// takePrefetchedUser returns the prefetched answer for userID, once.
func takePrefetchedUser(ctx context.Context, userID int64) (*prefetchedUser, bool) {
	p, _ := ctx.Value(prefetchedUserKey{}).(*prefetchedUser)
	if p == nil || p.userID != userID || !p.used.CompareAndSwap(false, true) {
		return nil, false
	}
	return p, true
}

// dropPrefetchedUser makes the prefetched answer unusable: a transaction
// may change the user.
func dropPrefetchedUser(ctx context.Context) {
	if p, _ := ctx.Value(prefetchedUserKey{}).(*prefetchedUser); p != nil {
		p.used.Store(true)
	}
}

// Indexes reports whether index is the session index that FindIndexed
// reads: the SQLiteSessionIndex of the same database.
func (s *SQLiteSessionStore) Indexes(index any) bool {
	x, ok := index.(*SQLiteSessionIndex)
	return ok && x.read == s.read
}
