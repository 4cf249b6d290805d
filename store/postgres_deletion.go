package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkport/linkport/accounts"
)

// DeletionOf returns the deletion mark of the user, zero for a live
// account; accounts.ErrNotFound when the user does not exist.
func (p *Postgres) DeletionOf(ctx context.Context, userID int64) (accounts.Deletion, error) {
	return pgDeletionOf(ctx, p.pool, userID)
}

// DeletionOf returns the deletion mark of the user, inside the
// transaction.
func (t pgTx) DeletionOf(ctx context.Context, userID int64) (accounts.Deletion, error) {
	return pgDeletionOf(ctx, t.tx, userID)
}

func pgDeletionOf(ctx context.Context, q pgQuerier, userID int64) (accounts.Deletion, error) {
	var deleted, purge sql.NullInt64
	err := q.QueryRow(ctx, "SELECT deleted_at, purge_after FROM users WHERE id = $1", userID).Scan(&deleted, &purge)
	if errors.Is(err, pgx.ErrNoRows) {
		return accounts.Deletion{}, fmt.Errorf("deletion of user %d: %w", userID, accounts.ErrNotFound)
	}
	if err != nil {
		return accounts.Deletion{}, fmt.Errorf("deletion of user %d: %w", userID, err)
	}
	return deletionFrom(deleted, purge), nil
}

// SetDeletion marks the user deleted with d, or clears the mark when d is
// zero; accounts.ErrNotFound when the user does not exist.
func (t pgTx) SetDeletion(ctx context.Context, userID int64, d accounts.Deletion) error {
	tag, err := t.tx.Exec(ctx, "UPDATE users SET deleted_at = $1, purge_after = $2 WHERE id = $3",
		nullNanos(d.RequestedAt), nullNanos(d.PurgeAfter), userID)
	return pgOneRow(tag, err, "set deletion of user %d", userID)
}

// EraseTokens forgets every provider token stored for the user's
// identities.
func (t pgTx) EraseTokens(ctx context.Context, userID int64) error {
	_, err := t.tx.Exec(ctx, `UPDATE identities
		SET access_token = NULL, refresh_token = NULL, token_expiry = NULL WHERE user_id = $1`, userID)
	if err != nil {
		return fmt.Errorf("erase tokens of user %d: %w", userID, err)
	}
	return nil
}

// DueForPurge returns the users marked deleted whose grace period ended at
// or before now, oldest first.
func (t pgTx) DueForPurge(ctx context.Context, now time.Time) ([]int64, error) {
	rows, err := t.tx.Query(ctx, `SELECT id FROM users
		WHERE purge_after IS NOT NULL AND purge_after <= $1 ORDER BY purge_after, id`, now.UTC().UnixNano())
	if err != nil {
		return nil, fmt.Errorf("users due for purge: %w", err)
	}
	ids, err := pgx.AppendRows([]int64(nil), rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("users due for purge: %w", err)
	}
	return ids, nil
}

// Tokens returns the identity's stored tokens, decrypted; none when the
// store keeps no tokens or the identity has none.
// accounts.ErrTokensUnreadable when they were sealed with a key that is no
// longer configured or were changed.
func (t pgTx) Tokens(ctx context.Context, identityID int64) (accounts.Tokens, error) {
	if t.keys == nil {
		return accounts.Tokens{}, nil
	}
	var (
		access, refresh []byte
		expiry          sql.NullInt64
	)
	err := t.tx.QueryRow(ctx, "SELECT access_token, refresh_token, token_expiry FROM identities WHERE id = $1",
		identityID).Scan(&access, &refresh, &expiry)
	if errors.Is(err, pgx.ErrNoRows) {
		return accounts.Tokens{}, fmt.Errorf("tokens of identity %d: %w", identityID, accounts.ErrNotFound)
	}
	if err != nil {
		return accounts.Tokens{}, fmt.Errorf("tokens of identity %d: %w", identityID, err)
	}
	return openTokens(t.keys, identityID, access, refresh, expiry)
}

// SaveTokens seals tok under the current key and stores it on the
// identity, replacing what it held; an empty token is stored as NULL. It
// does nothing when the store keeps no tokens.
func (t pgTx) SaveTokens(ctx context.Context, identityID int64, tok accounts.Tokens) error {
	if t.keys == nil {
		return nil
	}
	access, refresh, expiry := sealTokens(t.keys, identityID, tok)
	tag, err := t.tx.Exec(ctx, "UPDATE identities SET access_token = $1, refresh_token = $2, token_expiry = $3 WHERE id = $4",
		access, refresh, expiry, identityID)
	return pgOneRow(tag, err, "save tokens of identity %d", identityID)
}

// Events returns at most limit of the user's events, newest first; a limit of
// zero or less returns them all.
func (p *Postgres) Events(ctx context.Context, userID int64, limit int) ([]accounts.Event, error) {
	rows, err := p.pool.Query(ctx, `SELECT id, user_id, kind, provider, identity_id, ip, user_agent, at
		FROM events WHERE user_id = $1 ORDER BY at DESC, id DESC LIMIT $2`, userID, pgLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("events of user %d: %w", userID, err)
	}
	return pgScanEvents(rows, userID)
}

// EventsBefore returns at most limit of the user's events that follow the
// event beforeID in the order of Events (at, then id, newest first);
// beforeID 0 starts at the newest. An id that is not one of the user's
// events returns none.
func (p *Postgres) EventsBefore(ctx context.Context, userID, beforeID int64, limit int) ([]accounts.Event, error) {
	if beforeID == 0 {
		return p.Events(ctx, userID, limit)
	}
	rows, err := p.pool.Query(ctx, `SELECT e.id, e.user_id, e.kind, e.provider, e.identity_id, e.ip, e.user_agent, e.at
		FROM events AS e JOIN events AS c ON c.id = $1 AND c.user_id = e.user_id
		WHERE e.user_id = $2 AND (e.at < c.at OR (e.at = c.at AND e.id < c.id))
		ORDER BY e.at DESC, e.id DESC LIMIT $3`, beforeID, userID, pgLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("events of user %d: %w", userID, err)
	}
	return pgScanEvents(rows, userID)
}

// pgLimit is a LIMIT argument: NULL, which is no limit, for zero or less.
func pgLimit(limit int) sql.NullInt64 {
	return sql.NullInt64{Int64: int64(limit), Valid: limit > 0}
}

// pgScanEvents reads the rows of an events query and closes them.
func pgScanEvents(rows pgx.Rows, userID int64) ([]accounts.Event, error) {
	es, err := pgx.AppendRows([]accounts.Event(nil), rows, func(r pgx.CollectableRow) (accounts.Event, error) {
		var (
			e          accounts.Event
			identityID sql.NullInt64
			at         int64
		)
		if err := r.Scan(&e.ID, &e.UserID, &e.Kind, &e.Provider, &identityID, &e.IP, &e.UserAgent, &at); err != nil {
			return accounts.Event{}, err
		}
		e.IdentityID = identityID.Int64
		e.At = fromNanos(at)
		return e, nil
	})
	if err != nil {
		return nil, fmt.Errorf("events of user %d: %w", userID, err)
	}
	return es, nil
}
