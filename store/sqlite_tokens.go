package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/seal"
)

// Option configures a store, SQLite or PostgreSQL, at open.
type Option func(*options)

// options are what Option sets.
type options struct {
	keys *seal.Keyring // nil: provider tokens are not stored
}

// WithTokenKeys makes the store keep provider tokens, sealed with keys
// (AES-256-GCM; see package seal): written under the current key, read
// under any. Without it the store keeps no tokens: SaveTokens writes
// nothing and Tokens finds none. A nil keyring is the same as no option.
func WithTokenKeys(keys *seal.Keyring) Option {
	return func(o *options) { o.keys = keys }
}

// KeepsTokens reports whether the store was opened with token keys.
func (s *SQLite) KeepsTokens() bool { return s.keys != nil }

// tokenContext is the authenticated context of a sealed token: its column
// and row, so a value copied to another row or column does not open.
func tokenContext(column string, identityID int64) []byte {
	return []byte("identities." + column + ":" + strconv.FormatInt(identityID, 10))
}

// Tokens returns the identity's stored tokens, decrypted; none when the
// store keeps no tokens or the identity has none.
// accounts.ErrTokensUnreadable when they were sealed with a key that is no
// longer configured or were changed.
func (t sqliteTx) Tokens(ctx context.Context, identityID int64) (accounts.Tokens, error) {
	if t.keys == nil {
		return accounts.Tokens{}, nil
	}
	var (
		access, refresh []byte
		expiry          sql.NullInt64
	)
	err := t.tx.QueryRowContext(ctx, "SELECT access_token, refresh_token, token_expiry FROM identities WHERE id = ?",
		identityID).Scan(&access, &refresh, &expiry)
	if errors.Is(err, sql.ErrNoRows) {
		return accounts.Tokens{}, fmt.Errorf("tokens of identity %d: %w", identityID, accounts.ErrNotFound)
	}
	if err != nil {
		return accounts.Tokens{}, fmt.Errorf("tokens of identity %d: %w", identityID, err)
	}
	return openTokens(t.keys, identityID, access, refresh, expiry)
}

// openTokens decrypts the stored token columns of an identity.
func openTokens(keys *seal.Keyring, identityID int64, access, refresh []byte, expiry sql.NullInt64) (accounts.Tokens, error) {
	var tok accounts.Tokens
	for _, f := range []struct {
		column string
		sealed []byte
		into   *string
	}{{"access_token", access, &tok.AccessToken}, {"refresh_token", refresh, &tok.RefreshToken}} {
		if len(f.sealed) == 0 {
			continue
		}
		plain, err := keys.Open(f.sealed, tokenContext(f.column, identityID))
		if err != nil {
			// err is one of seal's sentinels: it quotes nothing.
			return accounts.Tokens{}, fmt.Errorf("tokens of identity %d: %w: %w", identityID, accounts.ErrTokensUnreadable, err)
		}
		*f.into = string(plain)
	}
	if expiry.Valid {
		tok.Expiry = fromNanos(expiry.Int64)
	}
	return tok, nil
}

// SaveTokens seals tok under the current key and stores it on the
// identity, replacing what it held; an empty token is stored as NULL. It
// does nothing when the store keeps no tokens.
func (t sqliteTx) SaveTokens(ctx context.Context, identityID int64, tok accounts.Tokens) error {
	if t.keys == nil {
		return nil
	}
	access, refresh, expiry := sealTokens(t.keys, identityID, tok)
	res, err := t.tx.ExecContext(ctx, "UPDATE identities SET access_token = ?, refresh_token = ?, token_expiry = ? WHERE id = ?",
		access, refresh, expiry, identityID)
	return oneRow(res, err, "save tokens of identity %d", identityID)
}

// sealTokens is the stored form of tok on an identity: each token sealed
// under the current key, an empty one as NULL.
func sealTokens(keys *seal.Keyring, identityID int64, tok accounts.Tokens) (access, refresh []byte, expiry sql.NullInt64) {
	sealOrNull := func(column, v string) []byte {
		if v == "" {
			return nil
		}
		return keys.Seal([]byte(v), tokenContext(column, identityID))
	}
	if !tok.Expiry.IsZero() {
		expiry = sql.NullInt64{Int64: tok.Expiry.UTC().UnixNano(), Valid: true}
	}
	return sealOrNull("access_token", tok.AccessToken), sealOrNull("refresh_token", tok.RefreshToken), expiry
}

// EventsBefore returns at most limit of the user's events that follow the
// event beforeID in the order of Events (at, then id, newest first);
// beforeID 0 starts at the newest. An id that is not one of the user's
// events returns none.
func (s *SQLite) EventsBefore(ctx context.Context, userID, beforeID int64, limit int) ([]accounts.Event, error) {
	if beforeID == 0 {
		return s.Events(ctx, userID, limit)
	}
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.read.QueryContext(ctx, `SELECT e.id, e.user_id, e.kind, e.provider, e.identity_id, e.ip, e.user_agent, e.at
		FROM events AS e JOIN events AS c ON c.id = ? AND c.user_id = e.user_id
		WHERE e.user_id = ? AND (e.at < c.at OR (e.at = c.at AND e.id < c.id))
		ORDER BY e.at DESC, e.id DESC LIMIT ?`, beforeID, userID, limit)
	if err != nil {
		return nil, fmt.Errorf("events of user %d: %w", userID, err)
	}
	return scanEvents(rows, userID)
}

// scanEvents reads the rows of an events query and closes them.
func scanEvents(rows *sql.Rows, userID int64) ([]accounts.Event, error) {
	defer rows.Close()
	var es []accounts.Event
	for rows.Next() {
		var (
			e          accounts.Event
			identityID sql.NullInt64
			at         int64
		)
		if err := rows.Scan(&e.ID, &e.UserID, &e.Kind, &e.Provider, &identityID, &e.IP, &e.UserAgent, &at); err != nil {
			return nil, fmt.Errorf("events of user %d: %w", userID, err)
		}
		e.IdentityID = identityID.Int64
		e.At = fromNanos(at)
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events of user %d: %w", userID, err)
	}
	return es, nil
}
