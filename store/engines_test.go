package store_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/store"
)

// sessionIndex is the session index as the handlers use it
// (handlers.SessionIndex), which both engines implement.
type sessionIndex interface {
	Start(ctx context.Context, s accounts.Session) error
	Rotate(ctx context.Context, oldHash, newHash string) error
	Seen(ctx context.Context, hash string, at time.Time) error
	Get(ctx context.Context, hash string) (accounts.Session, error)
	List(ctx context.Context, userID int64) ([]accounts.Session, error)
	Revoke(ctx context.Context, hash string) error
	RevokeOthers(ctx context.Context, userID int64, keepHash string) (int, error)
	RevokeIdentity(ctx context.Context, userID, identityID int64, keepHash string) (int, error)
}

// testDB is an open store of either engine with what the tests reach
// beyond accounts.Store. Raw SQL in tests uses $1 placeholders, which both
// drivers accept.
type testDB struct {
	accounts.Store
	DB           *sql.DB
	Index        sessionIndex
	Sessions     scs.Store
	KeepsTokens  bool
	Ping         func(context.Context) error
	Close        func() error
	isPostgreSQL bool
}

// engine makes databases of one kind for tests.
type engine struct {
	name string
	// fresh makes a new, empty database for t and returns a function
	// that opens it (again) with options; every store it opens is closed
	// when t ends, and the database is removed.
	fresh func(t *testing.T) func(opts ...store.Option) testDB
}

// engines are SQLite and PostgreSQL; tests that loop over them skip
// PostgreSQL when it is not running, unless CI=true.
var engines = []engine{
	{"SQLite", freshSQLite},
	{"PostgreSQL", freshPostgres},
}

// forEachEngine runs test on a fresh database of each engine.
func forEachEngine(t *testing.T, test func(t *testing.T, open func(opts ...store.Option) testDB)) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) { test(t, e.fresh(t)) })
	}
}

func freshSQLite(t *testing.T) func(opts ...store.Option) testDB {
	path := filepath.Join(t.TempDir(), "linkport.db")
	return func(opts ...store.Option) testDB {
		t.Helper()
		s, err := store.OpenSQLite(t.Context(), path, opts...)
		if err != nil {
			t.Fatalf("OpenSQLite: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return testDB{Store: s, DB: s.DB(), Index: s.SessionIndex(), Sessions: s.SessionStore(),
			KeepsTokens: s.KeepsTokens(), Ping: s.Ping, Close: s.Close}
	}
}

func freshPostgres(t *testing.T) func(opts ...store.Option) testDB {
	u := postgresSchema(t)
	return func(opts ...store.Option) testDB {
		t.Helper()
		p := openPostgresAt(t, u, opts...)
		return testDB{Store: p, DB: p.DB(), Index: p.SessionIndex(), Sessions: p.SessionStore(),
			KeepsTokens: p.KeepsTokens(), Ping: p.Ping, Close: p.Close, isPostgreSQL: true}
	}
}

// openPostgres opens a store on a fresh PostgreSQL schema, closed and
// dropped when t ends.
func openPostgres(t *testing.T) *store.Postgres {
	t.Helper()
	return openPostgresAt(t, postgresSchema(t))
}

// openPostgresAt opens a store at url, closed when t ends.
func openPostgresAt(t *testing.T, url string, opts ...store.Option) *store.Postgres {
	t.Helper()
	p, err := store.OpenPostgres(t.Context(), url, opts...)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// postgresStartHint is how to start the machine's PostgreSQL server.
const postgresStartHint = "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start" +
	" (or point LINKPORT_TEST_POSTGRES_URL at a server)"

// postgresURL is the server the tests use: LINKPORT_TEST_POSTGRES_URL, or
// the machine's own with trust authentication.
func postgresURL() string {
	if u := os.Getenv("LINKPORT_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

var (
	postgresOnce sync.Once
	postgresErr  error
)

// postgresSchema creates a schema with a random name for t, dropped with
// everything in it when t ends, and returns a URL whose search_path is
// that schema, so that tests running at once do not meet. When the
// server is not reachable the test is skipped, or fails when CI=true.
func postgresSchema(t *testing.T) string {
	t.Helper()
	postgresOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, postgresURL())
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		postgresErr = err
	})
	if postgresErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is not reachable at %s: %v; %s", redacted(postgresURL()), postgresErr, postgresStartHint)
		}
		t.Skipf("PostgreSQL is not reachable at %s: %v; %s", redacted(postgresURL()), postgresErr, postgresStartHint)
	}
	b := make([]byte, 8)
	rand.Read(b)
	schema := "lp_" + hex.EncodeToString(b)
	admin := func(q string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, postgresURL())
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, q)
		return err
	}
	if err := admin("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if err := admin("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(postgresURL())
	if err != nil {
		t.Fatalf("LINKPORT_TEST_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// redacted is u without its password, for messages.
func redacted(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Redacted()
	}
	return "LINKPORT_TEST_POSTGRES_URL"
}
