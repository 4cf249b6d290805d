package store_test

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/store"
)

func TestPostgresStore(t *testing.T) {
	testStore(t, func(t *testing.T) accounts.Store { return openPostgres(t) })
}

// postgresMigrationFiles lists the PostgreSQL migration files; they carry
// the same versions as SQLite's.
func postgresMigrationFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("migrations", "postgres", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %v, %v", files, err)
	}
	return files
}

func TestPostgresMigrationsMatchSQLite(t *testing.T) {
	var pg, lite []string
	for _, f := range postgresMigrationFiles(t) {
		pg = append(pg, filepath.Base(f))
	}
	for _, f := range sqliteMigrationFiles(t) {
		lite = append(lite, filepath.Base(f))
	}
	if diff := cmp.Diff(lite, pg); diff != "" {
		t.Errorf("PostgreSQL migrations differ from SQLite's (-sqlite +postgres):\n%s", diff)
	}
}

func TestPostgresMigrationsIdempotent(t *testing.T) {
	ctx := t.Context()
	u := postgresSchema(t)
	s, err := store.OpenPostgres(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	user, _ := createUser(t, s, "google", "kept", at(0))
	want := migrationRows(t, s.DB())
	if len(want) != len(postgresMigrationFiles(t)) || want[0] != "1 0001_init.sql" {
		t.Errorf("schema_migrations = %q, want every migration, 0001_init.sql first", want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	s = openPostgresAt(t, u)
	if diff := cmp.Diff(want, migrationRows(t, s.DB())); diff != "" {
		t.Errorf("schema_migrations changed on re-open (-want +got):\n%s", diff)
	}
	if _, err := s.User(ctx, user.ID); err != nil {
		t.Errorf("user lost on re-open: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// Several instances starting at once on a fresh schema: the advisory lock
// lets one migrate while the others wait, then skip.
func TestPostgresConcurrentOpen(t *testing.T) {
	for round := range 3 {
		u := postgresSchema(t)
		const n = 4
		var wg sync.WaitGroup
		errs := make([]error, n)
		stores := make([]*store.Postgres, n)
		for i := range n {
			wg.Go(func() { stores[i], errs[i] = store.OpenPostgres(t.Context(), u) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: OpenPostgres #%d: %v", round, i, err)
			}
			defer stores[i].Close()
		}
		if got := migrationRows(t, stores[0].DB()); len(got) != len(postgresMigrationFiles(t)) {
			t.Errorf("round %d: schema_migrations = %q, want each migration once", round, got)
		}
		for i, s := range stores {
			if err := s.Ping(t.Context()); err != nil {
				t.Errorf("round %d: Ping #%d: %v", round, i, err)
			}
		}
	}
}

// Ids come from sequences: a deleted user's id is never handed out again.
func TestPostgresIDsNotReused(t *testing.T) {
	s := openPostgres(t)
	u, _ := createUser(t, s, "google", "first", at(0))
	mustTx(t, s, func(tx accounts.Tx) error { return tx.DeleteUser(t.Context(), u.ID) })
	next, _ := createUser(t, s, "google", "second", at(0))
	if next.ID <= u.ID {
		t.Errorf("new user id %d after deleting %d, want a larger one", next.ID, u.ID)
	}
}

// The scs store on PostgreSQL: pgxstore's table, in the same database.
func TestPostgresSessionStore(t *testing.T) {
	s := openPostgres(t)
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

// A connection error names the server but never the password.
func TestOpenPostgresErrorHidesPassword(t *testing.T) {
	for _, u := range []string{
		"postgres://linkport:hunter2-secret@127.0.0.1:1/linkport?connect_timeout=2",
		"postgres://linkport:hunter2-secret@127.0.0.1:1/linkport?sslmode=bogus",
	} {
		s, err := store.OpenPostgres(t.Context(), u)
		if err == nil {
			s.Close()
			t.Fatalf("OpenPostgres(%s) succeeded", u)
		}
		if strings.Contains(err.Error(), "hunter2-secret") {
			t.Errorf("error quotes the password: %v", err)
		}
	}
}
