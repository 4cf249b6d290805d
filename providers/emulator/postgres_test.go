package emulator

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// openPostgresDB opens a fresh schema on the machine's PostgreSQL server
// (LINKPORT_TEST_POSTGRES_URL to use another), dropped when t ends. The test
// is skipped when the server is not reachable, and fails when CI=true.
func openPostgresDB(t *testing.T) *sql.DB {
	t.Helper()
	base := os.Getenv("LINKPORT_TEST_POSTGRES_URL")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		msg := "PostgreSQL is not reachable: " + err.Error() +
			"; start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	b := make([]byte, 8)
	rand.Read(b)
	schema := "lp_emulator_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		admin, err := sql.Open("pgx", base)
		if err != nil {
			t.Error(err)
			return
		}
		defer admin.Close()
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return db
}

// Several portal instances starting the emulator at once on one
// PostgreSQL database all start, and agree on one signing key.
func TestConcurrentStartPostgres(t *testing.T) {
	for round := range 3 {
		db := openPostgresDB(t)
		const n = 4
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				_, errs[i] = New(t.Context(), Config{DB: db, BaseURL: "http://127.0.0.1:1/_emulator", Clients: testClients})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d: New #%d: %v", round, i, err)
			}
		}
		var keys int
		if err := db.QueryRow("SELECT count(*) FROM emulator_keys").Scan(&keys); err != nil || keys != 1 {
			t.Errorf("round %d: signing keys = %d, %v; want 1", round, keys, err)
		}
	}
}
