package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/linkport/linkport/accounts"
)

// LockUser returns accounts.ErrNotFound when the user does not exist.
//
// It reads, and writes nothing: every SQLite.InTx transaction begins with
// BEGIN IMMEDIATE, which already holds the database's only write lock, so
// no other writer can change the user until this transaction ends.
func (t sqliteTx) LockUser(ctx context.Context, userID int64) error {
	var id int64
	err := t.tx.QueryRowContext(ctx, "SELECT id FROM users WHERE id = ?", userID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("lock user %d: %w", userID, accounts.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("lock user %d: %w", userID, err)
	}
	return nil
}

// IdentityByID returns the identity with the given id, or
// accounts.ErrNotFound.
func (t sqliteTx) IdentityByID(ctx context.Context, id int64) (accounts.Identity, error) {
	ident, err := scanIdentity(t.tx.QueryRowContext(ctx, "SELECT "+identityColumns+
		" FROM identities WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return accounts.Identity{}, fmt.Errorf("identity %d: %w", id, accounts.ErrNotFound)
	}
	if err != nil {
		return accounts.Identity{}, fmt.Errorf("identity %d: %w", id, err)
	}
	return ident, nil
}

// IdentitiesOf returns the user's identities ordered by creation time, then
// ID, as this transaction sees them.
func (t sqliteTx) IdentitiesOf(ctx context.Context, userID int64) ([]accounts.Identity, error) {
	return listIdentities(ctx, t.tx, userID)
}

// DeleteIdentity deletes the identity's row, and with it its stored tokens;
// accounts.ErrNotFound when it does not exist.
func (t sqliteTx) DeleteIdentity(ctx context.Context, id int64) error {
	res, err := t.tx.ExecContext(ctx, "DELETE FROM identities WHERE id = ?", id)
	return oneRow(res, err, "delete identity %d", id)
}

// UpdateUser saves the profile fields, profile sources and UpdatedAt of u;
// accounts.ErrNotFound when it does not exist.
func (t sqliteTx) UpdateUser(ctx context.Context, u accounts.User) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE users
		SET display_name = ?, avatar_url = ?, primary_email = ?,
			name_identity_id = ?, avatar_identity_id = ?, updated_at = ?
		WHERE id = ?`,
		u.DisplayName, u.AvatarURL, nullString(u.PrimaryEmail),
		nullID(u.NameIdentityID), nullID(u.AvatarIdentityID), orNow(u.UpdatedAt).UnixNano(), u.ID)
	return oneRow(res, err, "update user %d", u.ID)
}

// MoveIdentities gives every identity of user from to user to.
func (t sqliteTx) MoveIdentities(ctx context.Context, from, to int64) (int64, error) {
	return t.move(ctx, "UPDATE identities SET user_id = ? WHERE user_id = ?", "identities", from, to)
}

// MoveEvents gives every event of user from to user to.
func (t sqliteTx) MoveEvents(ctx context.Context, from, to int64) (int64, error) {
	return t.move(ctx, "UPDATE events SET user_id = ? WHERE user_id = ?", "events", from, to)
}

// move runs the UPDATE query that sets user_id from to to and returns how
// many rows it changed.
func (t sqliteTx) move(ctx context.Context, query, what string, from, to int64) (int64, error) {
	res, err := t.tx.ExecContext(ctx, query, to, from)
	if err != nil {
		return 0, fmt.Errorf("move %s of user %d to %d: %w", what, from, to, sqliteErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("move %s of user %d to %d: %w", what, from, to, err)
	}
	return n, nil
}

// DeleteUser deletes the user; its remaining identities and events go with
// it (ON DELETE CASCADE). accounts.ErrNotFound when it does not exist.
func (t sqliteTx) DeleteUser(ctx context.Context, id int64) error {
	res, err := t.tx.ExecContext(ctx, "DELETE FROM users WHERE id = ?", id)
	return oneRow(res, err, "delete user %d", id)
}

// oneRow turns the outcome of a statement on one row by id into an error:
// accounts.ErrNotFound when it changed no row.
func oneRow(res sql.Result, err error, format string, id int64) error {
	if err != nil {
		return fmt.Errorf(format+": %w", id, sqliteErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf(format+": %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf(format+": %w", id, accounts.ErrNotFound)
	}
	return nil
}
