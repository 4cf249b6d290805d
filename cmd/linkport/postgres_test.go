package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// E-11a on PostgreSQL: the program runs on a postgres:// URL, with the
// sessions and the emulator's tables in the same database, and a restart
// while the person is at the provider loses nothing.
func TestRestartWhileAtProviderPostgres(t *testing.T) {
	testRestartWhileAtProvider(t, postgresSchemaURL(t))
}

// A database error on start-up names the server, never the password.
func TestPostgresOpenErrorHidesPassword(t *testing.T) {
	cfg, err := loadConfig([]string{"LINKPORT_DATABASE_URL=postgres://linkport:hunter2-secret@127.0.0.1:1/linkport?connect_timeout=2"}, "")
	if err != nil {
		t.Fatal(err)
	}
	db, err := openDatabase(t.Context(), cfg)
	if err == nil {
		db.Close()
		t.Fatal("openDatabase succeeded on a closed port")
	}
	if strings.Contains(err.Error(), "hunter2-secret") {
		t.Errorf("error quotes the password: %v", err)
	}
	if _, err := loadConfig([]string{"LINKPORT_DATABASE_URL=postgres://linkport:hunter2-secret@127.0.0.1/x?sslmode=bogus"}, ""); err == nil || strings.Contains(err.Error(), "hunter2-secret") {
		t.Errorf("config error = %v; want one without the password", err)
	}
}

// postgresSchemaURL makes a fresh schema on the machine's PostgreSQL
// (LINKPORT_TEST_POSTGRES_URL to use another), dropped when t ends, and
// returns a URL with that schema as search_path. Skipped when the server
// is not reachable; fails when CI=true.
func postgresSchemaURL(t *testing.T) string {
	t.Helper()
	base := os.Getenv("LINKPORT_TEST_POSTGRES_URL")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	admin := func(q string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, q)
		return err
	}
	b := make([]byte, 8)
	rand.Read(b)
	schema := "lp_cmd_" + hex.EncodeToString(b)
	if err := admin("CREATE SCHEMA " + schema); err != nil {
		msg := "PostgreSQL is not reachable: " + err.Error() +
			"; start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		if err := admin("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
