// Command linkport-bench measures a real Linkport server and prints the
// figures of issue 5 as a Markdown table: the signed-in "Connected accounts"
// page against /healthz at 64 concurrent clients, complete sign-ins per
// second through the provider emulator, the resident memory of a server
// holding 100,000 sessions, and the bytes of the login page with every
// asset it references.
//
// It builds no server in its own process: it starts the linkport binary
// (-linkport, or one it builds with `go build` into a temporary directory)
// as a child process on a free loopback port, with the emulator on, a
// temporary SQLite database and warnings-only logging, and talks to it over
// HTTP only, as browsers would. With -db postgres://… (and -session-store
// redis://…) it measures a second server for the PostgreSQL+Redis column;
// a build that refuses those settings gets "not available in this build"
// in that column.
//
// Usage:
//
//	go run ./cmd/linkport-bench [-duration 5s] [-concurrency 64] [-sessions 100000]
//	go run ./cmd/linkport-bench -db postgres://postgres@127.0.0.1/linkport_bench -session-store redis://127.0.0.1:6379/1
//
// The load generator runs on the same machine as the server and takes its
// share of the cores: read the figures as ratios within one run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "linkport-bench:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	linkport      string
	duration      time.Duration
	warmup        time.Duration
	concurrency   int
	signInWorkers int
	sessions      int
	db            string
	sessionStore  string
	profile       string // directory for CPU and allocation profiles, or ""
}

// run is the whole program, so the test can run it with tiny numbers.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("linkport-bench", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var o options
	fs.StringVar(&o.linkport, "linkport", "", "the linkport binary to measure (default: go build ./cmd/linkport into a temporary directory)")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "how long each measurement runs, after the warm-up")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "warm-up before each measurement, not counted")
	fs.IntVar(&o.concurrency, "concurrency", 64, "concurrent clients for /healthz and /accounts (a)")
	fs.IntVar(&o.signInWorkers, "signin-workers", 32, "concurrent browsers signing in (b)")
	fs.IntVar(&o.sessions, "sessions", 100_000, "sessions the server holds when its memory is read (c)")
	fs.StringVar(&o.db, "db", "sqlite", "sqlite, or a postgres://… URL to measure the PostgreSQL+Redis column too (the SQLite column is always measured)")
	fs.StringVar(&o.sessionStore, "session-store", "", "session store of the PostgreSQL+Redis column, e.g. redis://127.0.0.1:6379/1")
	fs.StringVar(&o.profile, "profile", "", "write the server's CPU and allocation profiles of each measured load into this directory (builds linkport with -tags linkport_pprof; with -linkport, pass a binary built so)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.duration <= 0 || o.warmup < 0 || o.concurrency < 1 || o.signInWorkers < 1 || o.sessions < 1 {
		return errors.New("-duration, -concurrency, -signin-workers and -sessions must be positive, -warmup not negative")
	}
	pg := o.db != "" && o.db != "sqlite"
	if pg && !strings.HasPrefix(o.db, "postgres://") && !strings.HasPrefix(o.db, "postgresql://") {
		return fmt.Errorf("-db must be sqlite or a postgres:// URL (got %q)", o.db)
	}

	load := loadAverage() // before the build and the servers add to it
	tmp, err := os.MkdirTemp("", "linkport-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := o.linkport
	if bin == "" {
		fmt.Fprintln(stdout, "building linkport…")
		var tags []string
		if o.profile != "" {
			tags = append(tags, pprofTag)
		}
		if bin, err = buildLinkport(ctx, tmp, tags...); err != nil {
			return err
		}
	}

	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return err
		}
	}

	cols := []*column{{name: "SQLite", settings: map[string]string{}}}
	scaled := &column{name: "PostgreSQL+Redis", skipped: "not measured", reason: "pass -db postgres://… -session-store redis://… to measure it"}
	if pg {
		store, name := o.sessionStore, "PostgreSQL+Redis"
		if store == "" {
			store = "database"
		}
		if !strings.HasPrefix(store, "redis://") {
			name = "PostgreSQL (sessions too)"
		}
		scaled = &column{name: name, optional: true, settings: map[string]string{
			"LINKPORT_DATABASE_URL": o.db, "LINKPORT_SESSION_STORE": store,
		}}
	}
	cols = append(cols, scaled)
	for i, c := range cols {
		if c.skipped != "" {
			continue
		}
		if _, ok := c.settings["LINKPORT_DATABASE_URL"]; !ok {
			c.settings["LINKPORT_DATABASE_URL"] = fmt.Sprintf("%s/bench-%d.db", tmp, i)
		}
		if err := measureColumn(ctx, bin, o, c, stdout); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
	}
	fmt.Fprintln(stdout)
	m := readMachine()
	m.load = load
	printReport(stdout, o, cols, m)
	return nil
}

// measureColumn starts a server with the column's settings and takes every
// figure from it: (d) the login page first, on an empty server; (c) the
// sessions next, so that (a) and (b) then run against a server that holds
// them, as a busy one would.
func measureColumn(ctx context.Context, bin string, o options, c *column, stdout io.Writer) error {
	fmt.Fprintf(stdout, "%s: starting linkport…\n", c.name)
	srv, err := startServer(ctx, bin, c.settings, o.profile, profilePrefix(c.name))
	var refused *refusedError
	if errors.As(err, &refused) {
		c.skipped, c.reason = "not available in this build", "linkport refused the settings: "+refused.line
		fmt.Fprintf(stdout, "%s: %s (%s)\n", c.name, c.skipped, c.reason)
		return nil
	}
	if err != nil && c.optional && ctx.Err() == nil {
		c.skipped, c.reason = "could not start", err.Error()
		fmt.Fprintf(stdout, "%s: %s (%s)\n", c.name, c.skipped, c.reason)
		return nil
	}
	if err != nil {
		return err
	}
	defer srv.stop()

	fmt.Fprintf(stdout, "%s: (d) login page weight\n", c.name)
	if c.weight, err = measureWeight(ctx, srv.base); err != nil {
		return fmt.Errorf("(d) login page: %w", err)
	}
	fmt.Fprintf(stdout, "%s: (c) memory holding %d sessions\n", c.name, o.sessions)
	if c.memory, err = measureMemory(ctx, srv, o.sessions); err != nil {
		return fmt.Errorf("(c) memory: %w%s", err, srv.logTail())
	}
	fmt.Fprintf(stdout, "%s: (a) /healthz and /accounts at %d clients\n", c.name, o.concurrency)
	if c.pages, err = measurePages(ctx, srv, o); err != nil {
		return fmt.Errorf("(a) pages: %w%s", err, srv.logTail())
	}
	fmt.Fprintf(stdout, "%s: (b) sign-ins with %d browsers\n", c.name, o.signInWorkers)
	if c.signIns, err = measureSignIns(ctx, srv, o); err != nil {
		return fmt.Errorf("(b) sign-ins: %w%s", err, srv.logTail())
	}
	if !c.signIns.ok() {
		fmt.Fprintf(stdout, "%s: sign-in errors, first: %s%s\n", c.name, c.signIns.firstErr, srv.logTail())
	}
	return ctx.Err()
}
