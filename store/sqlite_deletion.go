package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/linkport/linkport/accounts"
)

// DeletionOf returns the deletion mark of the user, zero for a live
// account; accounts.ErrNotFound when the user does not exist.
func (s *SQLite) DeletionOf(ctx context.Context, userID int64) (accounts.Deletion, error) {
	return deletionResult(s.stmts.deletion.QueryRowContext(ctx, userID), userID)
}

// DeletionOf returns the deletion mark of the user, inside the
// transaction.
func (t sqliteTx) DeletionOf(ctx context.Context, userID int64) (accounts.Deletion, error) {
	return deletionOf(ctx, t.tx, userID)
}

// deletionQuery reads a user's deletion mark.
const deletionQuery = "SELECT deleted_at, purge_after FROM users WHERE id = ?"

func deletionOf(ctx context.Context, q querier, userID int64) (accounts.Deletion, error) {
	return deletionResult(q.QueryRowContext(ctx, deletionQuery, userID), userID)
}

// deletionResult reads the row of deletionQuery for the user userID.
func deletionResult(row *sql.Row, userID int64) (accounts.Deletion, error) {
	var deleted, purge sql.NullInt64
	err := row.Scan(&deleted, &purge)
	if errors.Is(err, sql.ErrNoRows) {
		return accounts.Deletion{}, fmt.Errorf("deletion of user %d: %w", userID, accounts.ErrNotFound)
	}
	if err != nil {
		return accounts.Deletion{}, fmt.Errorf("deletion of user %d: %w", userID, err)
	}
	return deletionFrom(deleted, purge), nil
}

// deletionFrom is the deletion mark of a users row (both engines).
func deletionFrom(deleted, purge sql.NullInt64) accounts.Deletion {
	var d accounts.Deletion
	if deleted.Valid {
		d.RequestedAt = fromNanos(deleted.Int64)
	}
	if purge.Valid {
		d.PurgeAfter = fromNanos(purge.Int64)
	}
	return d
}

// SetDeletion marks the user deleted with d, or clears the mark when d is
// zero; accounts.ErrNotFound when the user does not exist.
func (t sqliteTx) SetDeletion(ctx context.Context, userID int64, d accounts.Deletion) error {
	res, err := t.tx.ExecContext(ctx, "UPDATE users SET deleted_at = ?, purge_after = ? WHERE id = ?",
		nullNanos(d.RequestedAt), nullNanos(d.PurgeAfter), userID)
	return oneRow(res, err, "set deletion of user %d", userID)
}

// EraseTokens forgets every provider token stored for the user's
// identities.
func (t sqliteTx) EraseTokens(ctx context.Context, userID int64) error {
	_, err := t.tx.ExecContext(ctx, `UPDATE identities
		SET access_token = NULL, refresh_token = NULL, token_expiry = NULL WHERE user_id = ?`, userID)
	if err != nil {
		return fmt.Errorf("erase tokens of user %d: %w", userID, err)
	}
	return nil
}

// DueForPurge returns the users marked deleted whose grace period ended at
// or before now, oldest first.
func (t sqliteTx) DueForPurge(ctx context.Context, now time.Time) ([]int64, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT id FROM users
		WHERE purge_after IS NOT NULL AND purge_after <= ? ORDER BY purge_after, id`, now.UTC().UnixNano())
	if err != nil {
		return nil, fmt.Errorf("users due for purge: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("users due for purge: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("users due for purge: %w", err)
	}
	return ids, nil
}

// nullNanos stores the zero time as NULL.
func nullNanos(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UTC().UnixNano(), Valid: true}
}
