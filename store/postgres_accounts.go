package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/seal"
)

// pgQuerier is what reads need from *pgxpool.Pool and pgx.Tx alike.
type pgQuerier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// InTx runs fn in one READ COMMITTED transaction. It commits when fn
// returns nil, and rolls back when fn returns an error or panics; a panic
// is re-raised after the rollback. Rules that must not interleave lock the
// user row first (LockUser).
//
// A transaction that PostgreSQL aborts for a deadlock or a serialization
// failure is run again, fn included, a few times (pgRetry): fn must only
// touch the database through tx, and reset whatever it reports to its
// caller, as every accounts.Service closure does.
func (p *Postgres) InTx(ctx context.Context, fn func(tx accounts.Tx) error) error {
	return pgRetry(ctx, func() error { return p.inTxOnce(ctx, fn) })
}

// inTxOnce is one attempt of InTx.
func (p *Postgres) inTxOnce(ctx context.Context, fn func(tx accounts.Tx) error) error {
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tx.Rollback(ctx) // also runs while a panic unwinds, which then continues
		}
	}()
	if err := fn(pgTx{tx: tx, keys: p.keys}); err != nil {
		return err
	}
	done = true
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", pgErr(err))
	}
	return nil
}

// User returns the user with the given id, or accounts.ErrNotFound.
func (p *Postgres) User(ctx context.Context, id int64) (accounts.User, error) {
	return pgGetUser(ctx, p.pool, id)
}

// Identities returns the user's identities ordered by creation time, then ID.
func (p *Postgres) Identities(ctx context.Context, userID int64) ([]accounts.Identity, error) {
	return pgListIdentities(ctx, p.pool, userID)
}

// SessionUser returns the user, its deletion mark and its identities,
// ordered by creation time, then ID, read in one statement (one snapshot,
// one round trip); accounts.ErrNotFound when the user does not exist. It
// implements accounts.SessionUserStore.
func (p *Postgres) SessionUser(ctx context.Context, userID int64) (accounts.User, accounts.Deletion, []accounts.Identity, error) {
	rows, err := p.pool.Query(ctx, sessionUserSelect+`$1 ORDER BY i.created_at, i.id`, userID)
	if err != nil {
		return accounts.User{}, accounts.Deletion{}, nil, fmt.Errorf("user %d: %w", userID, err)
	}
	defer rows.Close()
	return sessionUserResult(rows, userID)
}

var _ accounts.SessionUserStore = (*Postgres)(nil)

// IdentityBySubject returns the identity (provider, subject), or
// accounts.ErrNotFound; a read outside any transaction.
func (p *Postgres) IdentityBySubject(ctx context.Context, provider, subject string) (accounts.Identity, error) {
	return pgIdentityBySubject(ctx, p.pool, provider, subject)
}

// pgTx is accounts.Tx on a PostgreSQL transaction; keys seal provider
// tokens (nil: tokens are not stored).
type pgTx struct {
	tx   pgx.Tx
	keys *seal.Keyring
}

// IdentityBySubject returns the identity (provider, subject), or
// accounts.ErrNotFound.
func (t pgTx) IdentityBySubject(ctx context.Context, provider, subject string) (accounts.Identity, error) {
	return pgIdentityBySubject(ctx, t.tx, provider, subject)
}

func pgIdentityBySubject(ctx context.Context, q pgQuerier, provider, subject string) (accounts.Identity, error) {
	id, err := scanIdentity(q.QueryRow(ctx, "SELECT "+identityColumns+
		" FROM identities WHERE provider = $1 AND subject = $2", provider, subject))
	if errors.Is(err, pgx.ErrNoRows) {
		return accounts.Identity{}, fmt.Errorf("identity %s/%q: %w", provider, subject, accounts.ErrNotFound)
	}
	if err != nil {
		return accounts.Identity{}, fmt.Errorf("identity %s/%q: %w", provider, subject, err)
	}
	return id, nil
}

// User returns the user with the given id, or accounts.ErrNotFound.
func (t pgTx) User(ctx context.Context, id int64) (accounts.User, error) {
	return pgGetUser(ctx, t.tx, id)
}

// CreateUser inserts u and returns it with its new ID.
func (t pgTx) CreateUser(ctx context.Context, u accounts.User) (accounts.User, error) {
	u.CreatedAt = orNow(u.CreatedAt)
	u.UpdatedAt = orNow(u.UpdatedAt)
	err := t.tx.QueryRow(ctx, `INSERT INTO users
		(display_name, avatar_url, primary_email, name_identity_id, avatar_identity_id, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		u.DisplayName, u.AvatarURL, nullString(u.PrimaryEmail), nullID(u.NameIdentityID), nullID(u.AvatarIdentityID),
		u.CreatedAt.UnixNano(), u.UpdatedAt.UnixNano()).Scan(&u.ID)
	if err != nil {
		return accounts.User{}, fmt.Errorf("create user: %w", pgErr(err))
	}
	return u, nil
}

// CreateIdentity inserts id and returns it with its new ID;
// accounts.ErrConflict when (Provider, Subject) is taken.
func (t pgTx) CreateIdentity(ctx context.Context, id accounts.Identity) (accounts.Identity, error) {
	id.CreatedAt = orNow(id.CreatedAt)
	id.LastUsedAt = orNow(id.LastUsedAt)
	err := t.tx.QueryRow(ctx, `INSERT INTO identities
		(user_id, provider, subject, email, email_verified, name, nickname, avatar_url, created_at, last_used_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		id.UserID, id.Provider, id.Subject, id.Email, id.EmailVerified, id.Name, id.Nickname, id.AvatarURL,
		id.CreatedAt.UnixNano(), id.LastUsedAt.UnixNano()).Scan(&id.ID)
	if err != nil {
		return accounts.Identity{}, fmt.Errorf("create identity %s/%q: %w", id.Provider, id.Subject, pgErr(err))
	}
	return id, nil
}

// UpdateIdentity saves the profile fields and LastUsedAt of id;
// accounts.ErrNotFound when it does not exist.
func (t pgTx) UpdateIdentity(ctx context.Context, id accounts.Identity) error {
	tag, err := t.tx.Exec(ctx, `UPDATE identities
		SET email = $1, email_verified = $2, name = $3, nickname = $4, avatar_url = $5, last_used_at = $6
		WHERE id = $7`,
		id.Email, id.EmailVerified, id.Name, id.Nickname, id.AvatarURL, orNow(id.LastUsedAt).UnixNano(), id.ID)
	return pgOneRow(tag, err, "update identity %d", id.ID)
}

// AddEvent appends e to its user's timeline.
func (t pgTx) AddEvent(ctx context.Context, e accounts.Event) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO events (user_id, kind, provider, identity_id, ip, user_agent, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		e.UserID, e.Kind, e.Provider, nullID(e.IdentityID), e.IP, e.UserAgent, orNow(e.At).UnixNano())
	if err != nil {
		return fmt.Errorf("add %s event: %w", e.Kind, pgErr(err))
	}
	return nil
}

// LockUser locks the user's row until the transaction ends (SELECT ... FOR
// UPDATE), so that rules which count or move a user's identities run one
// after the other (C-06b); accounts.ErrNotFound when the user does not
// exist. A statement after it reads what the transaction that held the
// lock before committed.
func (t pgTx) LockUser(ctx context.Context, userID int64) error {
	var id int64
	err := t.tx.QueryRow(ctx, "SELECT id FROM users WHERE id = $1 FOR UPDATE", userID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("lock user %d: %w", userID, accounts.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("lock user %d: %w", userID, err)
	}
	return nil
}

// IdentityByID returns the identity with the given id, or
// accounts.ErrNotFound.
func (t pgTx) IdentityByID(ctx context.Context, id int64) (accounts.Identity, error) {
	ident, err := scanIdentity(t.tx.QueryRow(ctx, "SELECT "+identityColumns+" FROM identities WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return accounts.Identity{}, fmt.Errorf("identity %d: %w", id, accounts.ErrNotFound)
	}
	if err != nil {
		return accounts.Identity{}, fmt.Errorf("identity %d: %w", id, err)
	}
	return ident, nil
}

// IdentitiesOf returns the user's identities ordered by creation time, then
// ID, as this transaction sees them.
func (t pgTx) IdentitiesOf(ctx context.Context, userID int64) ([]accounts.Identity, error) {
	return pgListIdentities(ctx, t.tx, userID)
}

// DeleteIdentity deletes the identity's row, and with it its stored tokens;
// accounts.ErrNotFound when it does not exist.
func (t pgTx) DeleteIdentity(ctx context.Context, id int64) error {
	tag, err := t.tx.Exec(ctx, "DELETE FROM identities WHERE id = $1", id)
	return pgOneRow(tag, err, "delete identity %d", id)
}

// UpdateUser saves the profile fields, profile sources and UpdatedAt of u;
// accounts.ErrNotFound when it does not exist.
func (t pgTx) UpdateUser(ctx context.Context, u accounts.User) error {
	tag, err := t.tx.Exec(ctx, `UPDATE users
		SET display_name = $1, avatar_url = $2, primary_email = $3,
			name_identity_id = $4, avatar_identity_id = $5, updated_at = $6
		WHERE id = $7`,
		u.DisplayName, u.AvatarURL, nullString(u.PrimaryEmail),
		nullID(u.NameIdentityID), nullID(u.AvatarIdentityID), orNow(u.UpdatedAt).UnixNano(), u.ID)
	return pgOneRow(tag, err, "update user %d", u.ID)
}

// MoveIdentities gives every identity of user from to user to.
func (t pgTx) MoveIdentities(ctx context.Context, from, to int64) (int64, error) {
	return t.move(ctx, "UPDATE identities SET user_id = $1 WHERE user_id = $2", "identities", from, to)
}

// MoveEvents gives every event of user from to user to.
func (t pgTx) MoveEvents(ctx context.Context, from, to int64) (int64, error) {
	return t.move(ctx, "UPDATE events SET user_id = $1 WHERE user_id = $2", "events", from, to)
}

// move runs the UPDATE query that sets user_id from to to and returns how
// many rows it changed.
func (t pgTx) move(ctx context.Context, query, what string, from, to int64) (int64, error) {
	tag, err := t.tx.Exec(ctx, query, to, from)
	if err != nil {
		return 0, fmt.Errorf("move %s of user %d to %d: %w", what, from, to, pgErr(err))
	}
	return tag.RowsAffected(), nil
}

// DeleteUser deletes the user; its remaining identities and events go with
// it (ON DELETE CASCADE). accounts.ErrNotFound when it does not exist.
func (t pgTx) DeleteUser(ctx context.Context, id int64) error {
	tag, err := t.tx.Exec(ctx, "DELETE FROM users WHERE id = $1", id)
	return pgOneRow(tag, err, "delete user %d", id)
}

// pgOneRow turns the outcome of a statement on one row by id into an
// error: accounts.ErrNotFound when it changed no row.
func pgOneRow(tag pgconn.CommandTag, err error, format string, id int64) error {
	if err != nil {
		return fmt.Errorf(format+": %w", id, pgErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf(format+": %w", id, accounts.ErrNotFound)
	}
	return nil
}

// pgGetUser reads one user through q.
func pgGetUser(ctx context.Context, q pgQuerier, id int64) (accounts.User, error) {
	u, err := scanUser(q.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return accounts.User{}, fmt.Errorf("user %d: %w", id, accounts.ErrNotFound)
	}
	if err != nil {
		return accounts.User{}, fmt.Errorf("user %d: %w", id, err)
	}
	return u, nil
}

// pgListIdentities reads the user's identities through q, ordered by
// creation time, then ID.
func pgListIdentities(ctx context.Context, q pgQuerier, userID int64) ([]accounts.Identity, error) {
	rows, err := q.Query(ctx, "SELECT "+identityColumns+
		" FROM identities WHERE user_id = $1 ORDER BY created_at, id", userID)
	if err != nil {
		return nil, fmt.Errorf("identities of user %d: %w", userID, err)
	}
	ids, err := pgx.AppendRows([]accounts.Identity(nil), rows, func(r pgx.CollectableRow) (accounts.Identity, error) { return scanIdentity(r) })
	if err != nil {
		return nil, fmt.Errorf("identities of user %d: %w", userID, err)
	}
	return ids, nil
}
