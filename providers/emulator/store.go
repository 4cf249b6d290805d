package emulator

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// schema uses only types and syntax that SQLite and PostgreSQL share:
// TEXT/INTEGER/BIGINT, booleans as 0/1 and times as Unix seconds.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS emulator_people (
		provider TEXT NOT NULL,
		sub TEXT NOT NULL CHECK (sub <> ''),
		name TEXT NOT NULL,
		email TEXT NOT NULL,
		email_verified INTEGER NOT NULL,
		username TEXT NOT NULL,
		created BIGINT NOT NULL,
		PRIMARY KEY (provider, sub))`,
	`CREATE TABLE IF NOT EXISTS emulator_codes (
		code TEXT PRIMARY KEY,
		provider TEXT NOT NULL,
		client_id TEXT NOT NULL,
		redirect_uri TEXT NOT NULL,
		sub TEXT NOT NULL,
		scope TEXT NOT NULL,
		nonce TEXT NOT NULL,
		code_challenge TEXT NOT NULL,
		created BIGINT NOT NULL,
		expires BIGINT NOT NULL,
		used INTEGER NOT NULL DEFAULT 0)`,
	`CREATE TABLE IF NOT EXISTS emulator_tokens (
		token TEXT PRIMARY KEY,
		provider TEXT NOT NULL,
		client_id TEXT NOT NULL,
		sub TEXT NOT NULL,
		scope TEXT NOT NULL,
		created BIGINT NOT NULL,
		expires BIGINT NOT NULL,
		revoked INTEGER NOT NULL DEFAULT 0)`,
	`CREATE TABLE IF NOT EXISTS emulator_keys (
		kid TEXT PRIMARY KEY,
		seq BIGINT NOT NULL UNIQUE,
		private_key TEXT NOT NULL,
		created BIGINT NOT NULL)`,
}

// Lifetimes of what the emulator hands out.
const (
	codeTTL = 5 * time.Minute
	// expiredKeep is how long expired codes and tokens stay around before
	// they are swept, so "expired" and "unknown" stay distinguishable for a
	// while when debugging.
	expiredKeep = time.Hour
	// sweepEvery is how often saving a code or token also deletes the
	// long-expired ones: not on every save, which would add two writes to
	// every sign-in through SQLite's single writer. The reads compare
	// expiry themselves, so an expired row that is still there is refused
	// all the same.
	sweepEvery = 30 * time.Second
)

// sweeper remembers when a table was last swept, so that concurrent
// saves sweep it at most once per sweepEvery.
type sweeper struct {
	last atomic.Int64 // Unix nanoseconds of the last sweep; 0: never
}

// due reports whether the table should be swept at now, and claims the
// sweep when it should: of concurrent callers only one gets true.
func (s *sweeper) due(now time.Time) bool {
	last := s.last.Load()
	if last != 0 && now.Sub(time.Unix(0, last)) < sweepEvery && now.UnixNano() >= last {
		return false
	}
	return s.last.CompareAndSwap(last, now.UnixNano())
}

// migrate creates the tables that do not exist yet. On PostgreSQL two
// instances starting at once can both try to create a table, and the
// loser's CREATE TABLE IF NOT EXISTS fails with a unique violation in the
// catalog; tried again, it finds the table, so migrate retries a few times.
func (e *Emulator) migrate(ctx context.Context) error {
	var err error
	for attempt := range 5 {
		if err = e.createTables(ctx); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("emulator: create tables: %w", ctx.Err())
		case <-time.After(time.Duration(attempt+1) * 20 * time.Millisecond):
		}
	}
	return fmt.Errorf("emulator: create tables: %w", err)
}

func (e *Emulator) createTables(ctx context.Context) error {
	for _, q := range schema {
		if _, err := e.db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// randomToken returns n random bytes, base64url without padding: codes and
// tokens must be unguessable (RFC 6749 §10.10).
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// authCode is a pending authorization code and everything it is bound to.
type authCode struct {
	Code          string
	Provider      string
	ClientID      string
	RedirectURI   string
	Sub           string
	Scope         string
	Nonce         string
	CodeChallenge string
	Created       time.Time
	Expires       time.Time
}

// saveCode stores a new code, sweeping long-expired ones now and then so
// the table does not grow forever.
func (e *Emulator) saveCode(ctx context.Context, c authCode) error {
	if now := e.now(); e.codeSweep.due(now) {
		if _, err := e.db.ExecContext(ctx, `DELETE FROM emulator_codes WHERE expires < $1`, now.Add(-expiredKeep).Unix()); err != nil {
			return fmt.Errorf("emulator: sweep codes: %w", err)
		}
	}
	_, err := e.db.ExecContext(ctx, `INSERT INTO emulator_codes
		(code, provider, client_id, redirect_uri, sub, scope, nonce, code_challenge, created, expires, used)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0)`,
		c.Code, c.Provider, c.ClientID, c.RedirectURI, c.Sub, c.Scope, c.Nonce, c.CodeChallenge,
		c.Created.Unix(), c.Expires.Unix())
	if err != nil {
		return fmt.Errorf("emulator: save code: %w", err)
	}
	return nil
}

// errBadCode covers unknown, used and expired codes alike: the token
// endpoint answers invalid_grant for all of them.
var errBadCode = errors.New("authorization code is invalid, expired or already used")

// takeCode marks a code used and returns it. The conditional UPDATE makes
// redemption atomic: of two concurrent redemptions exactly one wins.
func (e *Emulator) takeCode(ctx context.Context, provider, code string) (authCode, error) {
	res, err := e.db.ExecContext(ctx, `UPDATE emulator_codes SET used = 1
		WHERE code = $1 AND provider = $2 AND used = 0 AND expires > $3`,
		code, provider, e.now().Unix())
	if err != nil {
		return authCode{}, fmt.Errorf("emulator: take code: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return authCode{}, fmt.Errorf("emulator: take code: %w", err)
	} else if n != 1 {
		return authCode{}, errBadCode
	}
	c := authCode{Code: code, Provider: provider}
	var created, expires int64
	err = e.db.QueryRowContext(ctx, `SELECT client_id, redirect_uri, sub, scope, nonce, code_challenge, created, expires
		FROM emulator_codes WHERE code = $1`, code).
		Scan(&c.ClientID, &c.RedirectURI, &c.Sub, &c.Scope, &c.Nonce, &c.CodeChallenge, &created, &expires)
	if err != nil {
		return authCode{}, fmt.Errorf("emulator: read code: %w", err)
	}
	c.Created, c.Expires = time.Unix(created, 0), time.Unix(expires, 0)
	return c, nil
}

// accessToken is an issued bearer token.
type accessToken struct {
	Token    string
	Provider string
	ClientID string
	Sub      string
	Scope    string
	Expires  time.Time
}

// saveToken stores a new token, sweeping long-expired ones now and then
// as saveCode does.
func (e *Emulator) saveToken(ctx context.Context, t accessToken) error {
	now := e.now()
	if e.tokenSweep.due(now) {
		if _, err := e.db.ExecContext(ctx, `DELETE FROM emulator_tokens WHERE expires < $1`, now.Add(-expiredKeep).Unix()); err != nil {
			return fmt.Errorf("emulator: sweep tokens: %w", err)
		}
	}
	_, err := e.db.ExecContext(ctx, `INSERT INTO emulator_tokens
		(token, provider, client_id, sub, scope, created, expires, revoked)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 0)`,
		t.Token, t.Provider, t.ClientID, t.Sub, t.Scope, now.Unix(), t.Expires.Unix())
	if err != nil {
		return fmt.Errorf("emulator: save token: %w", err)
	}
	return nil
}

// errBadToken covers unknown, expired and revoked tokens.
var errBadToken = errors.New("access token is invalid, expired or revoked")

// lookupToken returns a live token of the provider.
func (e *Emulator) lookupToken(ctx context.Context, provider, token string) (accessToken, error) {
	t := accessToken{Token: token, Provider: provider}
	var expires int64
	err := e.db.QueryRowContext(ctx, `SELECT client_id, sub, scope, expires FROM emulator_tokens
		WHERE token = $1 AND provider = $2 AND revoked = 0 AND expires > $3`,
		token, provider, e.now().Unix()).Scan(&t.ClientID, &t.Sub, &t.Scope, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return accessToken{}, errBadToken
	}
	if err != nil {
		return accessToken{}, fmt.Errorf("emulator: read token: %w", err)
	}
	t.Expires = time.Unix(expires, 0)
	return t, nil
}

// revokeToken revokes a token of the provider issued to clientID and
// reports whether there was one.
func (e *Emulator) revokeToken(ctx context.Context, provider, clientID, token string) (bool, error) {
	res, err := e.db.ExecContext(ctx, `UPDATE emulator_tokens SET revoked = 1
		WHERE token = $1 AND provider = $2 AND client_id = $3`, token, provider, clientID)
	if err != nil {
		return false, fmt.Errorf("emulator: revoke token: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("emulator: revoke token: %w", err)
	}
	return n > 0, nil
}
