package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/store"
)

// openSQLite opens a fresh database file in t.TempDir, closed when t ends.
func openSQLite(t *testing.T) *store.SQLite {
	t.Helper()
	s, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "linkport.db"))
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSQLiteStore(t *testing.T) {
	testStore(t, func(t *testing.T) accounts.Store { return openSQLite(t) })
}

func TestSQLiteMigrationsIdempotent(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "nested", "dir", "linkport.db")
	s, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o700 {
		t.Errorf("created directory mode = %o, want 700", perm)
	}
	u, _ := createUser(t, s, "google", "kept", at(0))
	want := migrationRows(t, s.DB())
	if len(want) == 0 || want[0] != "1 0001_init.sql" {
		t.Errorf("schema_migrations = %q, want 0001_init.sql first", want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	s, err = store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatalf("re-open: %v", err)
	}
	defer s.Close()
	if diff := cmp.Diff(want, migrationRows(t, s.DB())); diff != "" {
		t.Errorf("schema_migrations changed on re-open (-want +got):\n%s", diff)
	}
	if _, err := s.User(ctx, u.ID); err != nil {
		t.Errorf("user lost on re-open: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// sqliteMigrationFiles lists the SQLite migration files.
func sqliteMigrationFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("migrations", "sqlite", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %v, %v", files, err)
	}
	return files
}

// migrationRows lists schema_migrations as "version name".
func migrationRows(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "SELECT version, name FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var (
			v    int
			name string
		)
		if err := rows.Scan(&v, &name); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d %s", v, name))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSQLiteConcurrentOpen(t *testing.T) {
	for round := range 5 {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("round%d.db", round))
		const n = 4
		var wg sync.WaitGroup
		errs := make([]error, n)
		stores := make([]*store.SQLite, n)
		for i := range n {
			wg.Go(func() { stores[i], errs[i] = store.OpenSQLite(t.Context(), path) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: OpenSQLite #%d: %v", round, i, err)
			}
			defer stores[i].Close()
		}
		if got := migrationRows(t, stores[0].DB()); len(got) != len(sqliteMigrationFiles(t)) {
			t.Errorf("round %d: schema_migrations = %q, want each migration once", round, got)
		}
	}
}

func TestSQLitePragmas(t *testing.T) {
	s := openSQLite(t)
	ctx := t.Context()
	type pragmas struct {
		mode                      string
		fk, busy, sync, queryOnly int
	}
	read := func(t *testing.T, c *sql.Conn) pragmas {
		t.Helper()
		var p pragmas
		for _, q := range []struct {
			pragma string
			dest   any
		}{
			{"journal_mode", &p.mode}, {"foreign_keys", &p.fk}, {"busy_timeout", &p.busy},
			{"synchronous", &p.sync}, {"query_only", &p.queryOnly},
		} {
			if err := c.QueryRowContext(ctx, "PRAGMA "+q.pragma).Scan(q.dest); err != nil {
				t.Fatalf("PRAGMA %s: %v", q.pragma, err)
			}
		}
		return p
	}

	// The writer: one connection, so every write waits its turn in the
	// pool rather than in SQLite's busy handler.
	if got := s.DB().Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer MaxOpenConnections = %d, want 1", got)
	}
	w, err := s.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := read(t, w); p.mode != "wal" || p.fk != 1 || p.busy < 5000 || p.sync != 1 || p.queryOnly != 0 {
		t.Errorf("writer: %+v; want wal, foreign_keys 1, busy_timeout >= 5000, synchronous 1 (NORMAL), query_only 0", p)
	}
	w.Close()

	// The readers: hold several at once so the pragmas are checked on more
	// than the first one the pool opened.
	rdb := store.ReadDB(s)
	if got := rdb.Stats().MaxOpenConnections; got < 2 {
		t.Errorf("readers MaxOpenConnections = %d, want several", got)
	}
	var conns []*sql.Conn
	for range 3 {
		c, err := rdb.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	for i, c := range conns {
		if p := read(t, c); p.mode != "wal" || p.busy < 5000 || p.queryOnly != 1 {
			t.Errorf("reader %d: %+v; want wal, busy_timeout >= 5000, query_only 1", i, p)
		}
		if _, err := c.ExecContext(ctx, "DELETE FROM users"); err == nil {
			t.Errorf("reader %d: a write succeeded", i)
		}
	}
}

// TestSQLiteSchema is C-01d and E-04b on the schema itself: a unique index on
// identities(provider, subject), no index on any email column, and CHECK and
// NOT NULL constraints that refuse rows the service would never write.
func TestSQLiteSchema(t *testing.T) {
	s := openSQLite(t)
	ctx := t.Context()
	db := s.DB()

	type index struct {
		table, name string
		unique      bool
		columns     string
	}
	var indexes []index
	for _, table := range []string{"users", "identities", "events", "sessions"} {
		rows, err := db.QueryContext(ctx, `SELECT il.name, il."unique", group_concat(ii.name, ',')
			FROM pragma_index_list(?) AS il, pragma_index_info(il.name) AS ii
			GROUP BY il.name ORDER BY il.name`, table)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			ix := index{table: table}
			if err := rows.Scan(&ix.name, &ix.unique, &ix.columns); err != nil {
				t.Fatal(err)
			}
			indexes = append(indexes, ix)
		}
		rows.Close()
	}
	var uniqueKey bool
	for _, ix := range indexes {
		if ix.table == "identities" && ix.unique && ix.columns == "provider,subject" {
			uniqueKey = true
		}
		if strings.Contains(ix.columns, "email") {
			t.Errorf("index %s on %s(%s): no index may cover an email column", ix.name, ix.table, ix.columns)
		}
	}
	if !uniqueKey {
		t.Errorf("no unique index on identities(provider, subject); indexes: %+v", indexes)
	}

	u, _ := createUser(t, s, "google", "owner", at(0))
	insert := `INSERT INTO identities (user_id, provider, subject, created_at, last_used_at) VALUES (?, ?, ?, 0, 0)`
	for _, tc := range []struct {
		name    string
		args    []any
		wantErr string
	}{
		{"empty subject", []any{u.ID, "google", ""}, "CHECK constraint failed"},
		{"empty provider", []any{u.ID, "", "1"}, "CHECK constraint failed"},
		{"NULL subject", []any{u.ID, "google", nil}, "NOT NULL constraint failed"},
		{"NULL provider", []any{u.ID, nil, "1"}, "NOT NULL constraint failed"},
		{"NULL user_id", []any{nil, "google", "1"}, "NOT NULL constraint failed"},
		{"missing user", []any{u.ID + 1, "google", "1"}, "FOREIGN KEY constraint failed"},
	} {
		_, err := db.ExecContext(ctx, insert, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error = %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}

// TestSQLiteWaitsForWriter is E-06a: while another connection holds a write
// lock for a second, concurrent sign-ins wait for it and all succeed.
func TestSQLiteWaitsForWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "linkport.db")
	s, err := store.OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// A separate pool, as another process would have.
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() {
		defer close(released)
		time.Sleep(time.Second)
		if _, err := conn.ExecContext(context.Background(), "COMMIT"); err != nil {
			t.Errorf("COMMIT: %v", err)
		}
	}()

	svc := accounts.NewService(s, nil)
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			_, errs[i] = svc.SignIn(t.Context(), accounts.Profile{Provider: "google", Subject: fmt.Sprint("busy-", i)}, accounts.Meta{})
		})
	}
	wg.Wait()
	<-released
	for i, err := range errs {
		if err != nil {
			t.Errorf("SignIn #%d: %v", i, err)
		}
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Errorf("sign-ins finished after %v; the lock was not held against them", waited)
	}
	var users int
	if err := s.DB().QueryRowContext(t.Context(), "SELECT count(*) FROM users").Scan(&users); err != nil {
		t.Fatal(err)
	}
	if users != n {
		t.Errorf("users = %d, want %d", users, n)
	}
}

func TestSQLiteSessionStore(t *testing.T) {
	s := openSQLite(t)
	ss := s.SessionStore()
	data := []byte("session\x00data")
	if err := ss.Commit("tok1", data, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := ss.Commit("expired", data, time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, ok, err := ss.Find("tok1")
	if err != nil || !ok {
		t.Fatalf("Find(tok1) = %v, %v; want found", ok, err)
	}
	if diff := cmp.Diff(data, got); diff != "" {
		t.Errorf("Find(tok1) data (-want +got):\n%s", diff)
	}
	if _, ok, err := ss.Find("expired"); err != nil || ok {
		t.Errorf("Find(expired) = %v, %v; want not found", ok, err)
	}
	// The session lives in the same database as the accounts.
	var n int
	if err := s.DB().QueryRowContext(t.Context(), "SELECT count(*) FROM sessions WHERE token = 'tok1'").Scan(&n); err != nil || n != 1 {
		t.Errorf("sessions rows for tok1 = %d, %v; want 1", n, err)
	}
	if err := ss.Delete("tok1"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := ss.Find("tok1"); err != nil || ok {
		t.Errorf("Find(tok1) after Delete = %v, %v; want not found", ok, err)
	}
}

func TestOpenSQLiteRejectsBadPath(t *testing.T) {
	for _, p := range []string{"", filepath.Join(t.TempDir(), "a?mode=ro")} {
		if s, err := store.OpenSQLite(t.Context(), p); err == nil {
			s.Close()
			t.Errorf("OpenSQLite(%q) succeeded, want an error", p)
		}
	}
}

// TestSQLiteProfileSourcesBackfill checks migration 0002 on a database made
// by version 1: every user's oldest identity becomes the source of both
// profile fields, and a user without identities gets none.
func TestSQLiteProfileSourcesBackfill(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "linkport.db")
	v1, err := os.ReadFile(filepath.Join("migrations", "sqlite", "0001_init.sql"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		string(v1),
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (1, '0001_init.sql', 0)`,
		`INSERT INTO users (id, created_at, updated_at) VALUES (1, 0, 0), (2, 0, 0)`,
		// Inserted newest first; 11 and 12 tie on age, and the lower id wins.
		`INSERT INTO identities (id, user_id, provider, subject, created_at, last_used_at) VALUES
			(13, 1, 'x', 'c', 200, 0), (12, 1, 'x', 'b', 100, 0), (11, 1, 'google', 'a', 100, 0)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%.40s: %v", q, err)
		}
	}
	db.Close()

	s, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		user         int64
		name, avatar int64
	}{
		{1, 11, 11},
		{2, 0, 0},
	} {
		u, err := s.User(ctx, tc.user)
		if err != nil {
			t.Fatal(err)
		}
		if u.NameIdentityID != tc.name || u.AvatarIdentityID != tc.avatar {
			t.Errorf("user %d sources = %d, %d; want %d, %d", tc.user, u.NameIdentityID, u.AvatarIdentityID, tc.name, tc.avatar)
		}
	}
}
