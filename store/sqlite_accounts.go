package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/seal"
)

// querier is what reads need from *sql.DB and *sql.Tx alike.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// InTx runs fn in one BEGIN IMMEDIATE transaction. It commits when fn returns
// nil, and rolls back when fn returns an error or panics; a panic is
// re-raised after the rollback.
func (s *SQLite) InTx(ctx context.Context, fn func(tx accounts.Tx) error) error {
	dropPrefetchedUser(ctx)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tx.Rollback() // also runs while a panic unwinds, which then continues
		}
	}()
	if err := fn(sqliteTx{tx: tx, keys: s.keys}); err != nil {
		return err
	}
	done = true
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", sqliteErr(err))
	}
	return nil
}

// User returns the user with the given id, or accounts.ErrNotFound.
func (s *SQLite) User(ctx context.Context, id int64) (accounts.User, error) {
	return userResult(s.stmts.user.QueryRowContext(ctx, id), id)
}

// Identities returns the user's identities ordered by creation time, then ID.
func (s *SQLite) Identities(ctx context.Context, userID int64) ([]accounts.Identity, error) {
	rows, err := s.stmts.identities.QueryContext(ctx, userID)
	return identitiesResult(rows, err, userID)
}

// eventsQuery reads a page of a user's events, newest first.
const eventsQuery = `SELECT id, user_id, kind, provider, identity_id, ip, user_agent, at
	FROM events WHERE user_id = ? ORDER BY at DESC, id DESC LIMIT ?`

// Events returns at most limit of the user's events, newest first; a limit of
// zero or less returns them all.
func (s *SQLite) Events(ctx context.Context, userID int64, limit int) ([]accounts.Event, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.stmts.events.QueryContext(ctx, userID, limit)
	if err != nil {
		return nil, fmt.Errorf("events of user %d: %w", userID, err)
	}
	return scanEvents(rows, userID)
}

// sessionUserQuery reads a user, its deletion mark and its identities
// (ordered as listIdentities orders them) in one statement: one row per
// identity, or one row of NULL identity columns when it has none.
const sessionUserQuery = sessionUserSelect + `? ORDER BY i.created_at, i.id`

// sessionUserSelect is sessionUserQuery up to the user id's placeholder,
// which differs between the engines.
const sessionUserSelect = `SELECT u.id, u.display_name, u.avatar_url, u.primary_email, u.name_identity_id,
		u.avatar_identity_id, u.created_at, u.updated_at, u.deleted_at, u.purge_after,
		i.id, i.user_id, i.provider, i.subject, i.email, i.email_verified, i.name, i.nickname, i.avatar_url,
		i.created_at, i.last_used_at
	FROM users AS u LEFT JOIN identities AS i ON i.user_id = u.id
	WHERE u.id = `

// SessionUser returns the user, its deletion mark and its identities,
// ordered by creation time, then ID, read in one statement (one snapshot);
// accounts.ErrNotFound when the user does not exist. It implements
// accounts.SessionUserStore. The request's first call may be answered
// from what loading its session read (SQLiteSessionStore.FindIndexed).
func (s *SQLite) SessionUser(ctx context.Context, userID int64) (accounts.User, accounts.Deletion, []accounts.Identity, error) {
	if p, ok := takePrefetchedUser(ctx, userID); ok {
		return p.u, p.d, p.ids, p.err // read with the session (SQLiteSessionStore.FindIndexed)
	}
	rows, err := s.stmts.sessionUser.QueryContext(ctx, userID)
	if err != nil {
		return accounts.User{}, accounts.Deletion{}, nil, fmt.Errorf("user %d: %w", userID, err)
	}
	defer rows.Close()
	return sessionUserResult(rows, userID)
}

// sessionRows is what sessionUserResult needs of *sql.Rows and pgx.Rows
// alike.
type sessionRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// sessionUserResult reads the rows of sessionUserQuery (either engine).
func sessionUserResult(rows sessionRows, userID int64) (accounts.User, accounts.Deletion, []accounts.Identity, error) {
	var (
		r   sessionUserRow
		acc sessionUserAcc
	)
	dest := r.dest()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return accounts.User{}, accounts.Deletion{}, nil, fmt.Errorf("user %d: %w", userID, err)
		}
		acc.add(&r)
	}
	if err := rows.Err(); err != nil {
		return accounts.User{}, accounts.Deletion{}, nil, fmt.Errorf("user %d: %w", userID, err)
	}
	return acc.result(userID)
}

// sessionUserRow is one row of the user and identity columns of
// sessionUserQuery: the user's columns (NULL when a left join found no
// user), then one identity's (NULL when the user has none).
type sessionUserRow struct {
	uID                         sql.NullInt64
	name, avatar, email         sql.NullString
	nameSrc, avatarSrc          sql.NullInt64
	created, updated            sql.NullInt64
	deleted, purge              sql.NullInt64
	iID, iUser                  sql.NullInt64
	iProvider, iSubject, iEmail sql.NullString
	iName, iNick, iAvatar       sql.NullString
	iVerified                   sql.NullBool
	iCreated, iUsed             sql.NullInt64
}

// dest is the row's scan destinations, in the order of the columns.
func (r *sessionUserRow) dest() []any {
	return []any{&r.uID, &r.name, &r.avatar, &r.email, &r.nameSrc, &r.avatarSrc, &r.created, &r.updated,
		&r.deleted, &r.purge,
		&r.iID, &r.iUser, &r.iProvider, &r.iSubject, &r.iEmail, &r.iVerified, &r.iName, &r.iNick, &r.iAvatar, &r.iCreated, &r.iUsed}
}

// sessionUserAcc collects sessionUserRows into a user and its identities.
type sessionUserAcc struct {
	u     accounts.User
	d     accounts.Deletion
	ids   []accounts.Identity
	found bool
}

func (a *sessionUserAcc) add(r *sessionUserRow) {
	if !r.uID.Valid {
		return // no such user
	}
	if !a.found {
		a.found = true
		a.u = accounts.User{ID: r.uID.Int64, DisplayName: r.name.String, AvatarURL: r.avatar.String,
			PrimaryEmail: r.email.String, NameIdentityID: r.nameSrc.Int64, AvatarIdentityID: r.avatarSrc.Int64,
			CreatedAt: fromNanos(r.created.Int64), UpdatedAt: fromNanos(r.updated.Int64)}
		a.d = deletionFrom(r.deleted, r.purge)
	}
	if !r.iID.Valid {
		return // the user has no identity
	}
	a.ids = append(a.ids, accounts.Identity{
		ID: r.iID.Int64, UserID: r.iUser.Int64, Provider: r.iProvider.String, Subject: r.iSubject.String,
		Email: r.iEmail.String, EmailVerified: r.iVerified.Bool, Name: r.iName.String, Nickname: r.iNick.String,
		AvatarURL: r.iAvatar.String, CreatedAt: fromNanos(r.iCreated.Int64), LastUsedAt: fromNanos(r.iUsed.Int64),
	})
}

// result is SessionUser's answer for userID.
func (a *sessionUserAcc) result(userID int64) (accounts.User, accounts.Deletion, []accounts.Identity, error) {
	if !a.found {
		return accounts.User{}, accounts.Deletion{}, nil, fmt.Errorf("user %d: %w", userID, accounts.ErrNotFound)
	}
	return a.u, a.d, a.ids, nil
}

// sqliteTx is accounts.Tx on a SQLite transaction; keys seal provider
// tokens (nil: tokens are not stored).
type sqliteTx struct {
	tx   *sql.Tx
	keys *seal.Keyring
}

// IdentityBySubject returns the identity (provider, subject), or
// accounts.ErrNotFound.
func (t sqliteTx) IdentityBySubject(ctx context.Context, provider, subject string) (accounts.Identity, error) {
	return identityBySubject(ctx, t.tx, provider, subject)
}

// IdentityBySubject returns the identity (provider, subject), or
// accounts.ErrNotFound; a read outside any transaction.
func (s *SQLite) IdentityBySubject(ctx context.Context, provider, subject string) (accounts.Identity, error) {
	return identityBySubject(ctx, s.read, provider, subject)
}

func identityBySubject(ctx context.Context, q querier, provider, subject string) (accounts.Identity, error) {
	id, err := scanIdentity(q.QueryRowContext(ctx, "SELECT "+identityColumns+
		" FROM identities WHERE provider = ? AND subject = ?", provider, subject))
	if errors.Is(err, sql.ErrNoRows) {
		return accounts.Identity{}, fmt.Errorf("identity %s/%q: %w", provider, subject, accounts.ErrNotFound)
	}
	if err != nil {
		return accounts.Identity{}, fmt.Errorf("identity %s/%q: %w", provider, subject, err)
	}
	return id, nil
}

// User returns the user with the given id, or accounts.ErrNotFound.
func (t sqliteTx) User(ctx context.Context, id int64) (accounts.User, error) {
	return getUser(ctx, t.tx, id)
}

// CreateUser inserts u and returns it with its new ID.
func (t sqliteTx) CreateUser(ctx context.Context, u accounts.User) (accounts.User, error) {
	u.CreatedAt = orNow(u.CreatedAt)
	u.UpdatedAt = orNow(u.UpdatedAt)
	res, err := t.tx.ExecContext(ctx, `INSERT INTO users
		(display_name, avatar_url, primary_email, name_identity_id, avatar_identity_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		u.DisplayName, u.AvatarURL, nullString(u.PrimaryEmail), nullID(u.NameIdentityID), nullID(u.AvatarIdentityID),
		u.CreatedAt.UnixNano(), u.UpdatedAt.UnixNano())
	if err != nil {
		return accounts.User{}, fmt.Errorf("create user: %w", sqliteErr(err))
	}
	if u.ID, err = res.LastInsertId(); err != nil {
		return accounts.User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// CreateIdentity inserts id and returns it with its new ID;
// accounts.ErrConflict when (Provider, Subject) is taken.
func (t sqliteTx) CreateIdentity(ctx context.Context, id accounts.Identity) (accounts.Identity, error) {
	id.CreatedAt = orNow(id.CreatedAt)
	id.LastUsedAt = orNow(id.LastUsedAt)
	res, err := t.tx.ExecContext(ctx, `INSERT INTO identities
		(user_id, provider, subject, email, email_verified, name, nickname, avatar_url, created_at, last_used_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id.UserID, id.Provider, id.Subject, id.Email, id.EmailVerified, id.Name, id.Nickname, id.AvatarURL,
		id.CreatedAt.UnixNano(), id.LastUsedAt.UnixNano())
	if err != nil {
		return accounts.Identity{}, fmt.Errorf("create identity %s/%q: %w", id.Provider, id.Subject, sqliteErr(err))
	}
	if id.ID, err = res.LastInsertId(); err != nil {
		return accounts.Identity{}, fmt.Errorf("create identity: %w", err)
	}
	return id, nil
}

// UpdateIdentity saves the profile fields and LastUsedAt of id;
// accounts.ErrNotFound when it does not exist.
func (t sqliteTx) UpdateIdentity(ctx context.Context, id accounts.Identity) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE identities
		SET email = ?, email_verified = ?, name = ?, nickname = ?, avatar_url = ?, last_used_at = ?
		WHERE id = ?`,
		id.Email, id.EmailVerified, id.Name, id.Nickname, id.AvatarURL, orNow(id.LastUsedAt).UnixNano(), id.ID)
	if err != nil {
		return fmt.Errorf("update identity %d: %w", id.ID, sqliteErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update identity %d: %w", id.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("update identity %d: %w", id.ID, accounts.ErrNotFound)
	}
	return nil
}

// AddEvent appends e to its user's timeline.
func (t sqliteTx) AddEvent(ctx context.Context, e accounts.Event) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO events (user_id, kind, provider, identity_id, ip, user_agent, at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.UserID, e.Kind, e.Provider, nullID(e.IdentityID), e.IP, e.UserAgent, orNow(e.At).UnixNano())
	if err != nil {
		return fmt.Errorf("add %s event: %w", e.Kind, sqliteErr(err))
	}
	return nil
}

// userByIDQuery reads one user.
const userByIDQuery = `SELECT ` + userColumns + ` FROM users WHERE id = ?`

// getUser reads one user through q.
func getUser(ctx context.Context, q querier, id int64) (accounts.User, error) {
	return userResult(q.QueryRowContext(ctx, userByIDQuery, id), id)
}

// userResult reads the row of userByIDQuery for the user id.
func userResult(row *sql.Row, id int64) (accounts.User, error) {
	u, err := scanUser(row)
	if errors.Is(err, sql.ErrNoRows) {
		return accounts.User{}, fmt.Errorf("user %d: %w", id, accounts.ErrNotFound)
	}
	if err != nil {
		return accounts.User{}, fmt.Errorf("user %d: %w", id, err)
	}
	return u, nil
}

// userColumns are the columns scanUser reads, in order.
const userColumns = "id, display_name, avatar_url, primary_email, name_identity_id, avatar_identity_id, created_at, updated_at"

// scanUser reads userColumns from one row.
func scanUser(row interface{ Scan(...any) error }) (accounts.User, error) {
	var (
		u                  accounts.User
		email              sql.NullString
		nameSrc, avatarSrc sql.NullInt64
		created, updated   int64
	)
	if err := row.Scan(&u.ID, &u.DisplayName, &u.AvatarURL, &email, &nameSrc, &avatarSrc, &created, &updated); err != nil {
		return accounts.User{}, err
	}
	u.PrimaryEmail = email.String
	u.NameIdentityID, u.AvatarIdentityID = nameSrc.Int64, avatarSrc.Int64
	u.CreatedAt, u.UpdatedAt = fromNanos(created), fromNanos(updated)
	return u, nil
}

// identitiesQuery reads a user's identities, ordered by creation time,
// then ID.
const identitiesQuery = "SELECT " + identityColumns + " FROM identities WHERE user_id = ? ORDER BY created_at, id"

// listIdentities reads the user's identities through q, ordered by creation
// time, then ID.
func listIdentities(ctx context.Context, q querier, userID int64) ([]accounts.Identity, error) {
	rows, err := q.QueryContext(ctx, identitiesQuery, userID)
	return identitiesResult(rows, err, userID)
}

// identitiesResult reads and closes the rows of identitiesQuery for the
// user userID; err is the query's.
func identitiesResult(rows *sql.Rows, err error, userID int64) ([]accounts.Identity, error) {
	if err != nil {
		return nil, fmt.Errorf("identities of user %d: %w", userID, err)
	}
	defer rows.Close()
	var ids []accounts.Identity
	for rows.Next() {
		id, err := scanIdentity(rows)
		if err != nil {
			return nil, fmt.Errorf("identities of user %d: %w", userID, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("identities of user %d: %w", userID, err)
	}
	return ids, nil
}

// identityColumns are the columns scanIdentity reads, in order.
const identityColumns = "id, user_id, provider, subject, email, email_verified, name, nickname, avatar_url, created_at, last_used_at"

// scanIdentity reads identityColumns from one row.
func scanIdentity(row interface{ Scan(...any) error }) (accounts.Identity, error) {
	var (
		id            accounts.Identity
		created, used int64
	)
	if err := row.Scan(&id.ID, &id.UserID, &id.Provider, &id.Subject, &id.Email, &id.EmailVerified,
		&id.Name, &id.Nickname, &id.AvatarURL, &created, &used); err != nil {
		return accounts.Identity{}, err
	}
	id.CreatedAt, id.LastUsedAt = fromNanos(created), fromNanos(used)
	return id, nil
}

// nullID stores the id 0, which no row has, as NULL.
func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

// nullString stores the empty string as NULL.
func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// fromNanos is the stored form of a time (Unix nanoseconds) back as UTC.
func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// orNow returns t, or the current time when t is zero, without its monotonic
// reading so that what is returned equals what is read back.
func orNow(t time.Time) time.Time {
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Round(0)
}
