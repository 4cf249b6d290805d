package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The program runs end to end with tiny numbers and prints every row of
// the table, with figures in the SQLite column and the reason for none in
// the other.
func TestBenchPrintsTheTable(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real server; skipped with -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to build linkport with")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin, err := buildLinkport(ctx, t.TempDir(), pprofTag)
	if err != nil {
		t.Skipf("cannot build linkport here: %v", err)
	}
	var out bytes.Buffer
	profiles := t.TempDir()
	args := []string{"-linkport", bin, "-duration=300ms", "-warmup=100ms", "-sessions=200", "-profile", profiles,
		"-concurrency=8", "-signin-workers=4",
		// An unreachable database: a build without PostgreSQL refuses
		// it, one with PostgreSQL cannot connect; either way the column
		// says so and the run goes on.
		"-db", "postgres://bench@127.0.0.1:1/none?sslmode=disable&connect_timeout=1", "-session-store", "redis://127.0.0.1:1/0"}
	if err := run(ctx, args, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	table := out.String()
	for _, row := range []string{"| (a) ", "| (b) ", "| (c) ", "| (d) "} {
		line := lineWith(table, row)
		if line == "" {
			t.Errorf("no row %q in:\n%s", row, table)
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) != 6 {
			t.Errorf("row %q has %d cells, want 4: %s", row, len(cells)-2, line)
			continue
		}
		if sqlite := cells[3]; !strings.Contains(sqlite, "**met**") && !strings.Contains(sqlite, "**missed**") {
			t.Errorf("row %q: SQLite cell %q has no figure", row, sqlite)
		}
		if pg := cells[4]; !strings.Contains(pg, "not available in this build") && !strings.Contains(pg, "could not start") {
			t.Errorf("row %q: PostgreSQL+Redis cell %q, want why it has no figure", row, pg)
		}
	}
	if !strings.Contains(lineWith(table, "| (b) "), ", 0 errors;") {
		t.Errorf("sign-ins had errors:\n%s", table)
	}
	if !strings.Contains(lineWith(table, "| (c) "), "(") || strings.Contains(lineWith(table, "| (c) "), " 0 of 0 sampled") {
		t.Errorf("no session was read back:\n%s", table)
	}
	if !strings.Contains(table, "Machine: ") {
		t.Errorf("no machine line:\n%s", table)
	}
	// -profile: the server's profiles of each measured load.
	for _, load := range []string{"healthz", "accounts", "signin"} {
		for _, kind := range []string{"cpu", "allocs"} {
			name := filepath.Join(profiles, "sqlite-"+load+"-"+kind+".pprof")
			if fi, err := os.Stat(name); err != nil || fi.Size() == 0 {
				t.Errorf("profile %s: %v", name, err)
			}
		}
	}
}

func TestCount(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999.6: "1,000", 1234567: "1,234,567", 100000: "100,000"} {
		if got := count(in); got != want {
			t.Errorf("count(%v) = %q, want %q", in, got, want)
		}
	}
}

func lineWith(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}
