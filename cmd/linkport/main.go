// Command linkport runs the Linkport sign-in portal: it reads the
// configuration, opens the database, builds the router and serves until
// SIGINT or SIGTERM, then drains requests in flight.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"
	// The time zones people choose (the tz cookie) load from the binary
	// on machines without a zoneinfo database, such as distroless images.
	_ "time/tzdata"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/handlers"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Environ(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "linkport:", err)
		var ce *configError
		if errors.As(err, &ce) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// run is the whole program, so tests can start it for real.
func run(ctx context.Context, args, environ []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("linkport", flag.ContinueOnError)
	fs.SetOutput(stdout)
	envFile := fs.String("env-file", ".env", "file with settings, read if it exists; the environment wins")
	if err := fs.Parse(args); err != nil {
		return &configError{msg: err.Error()}
	}
	cfg, err := loadConfig(environ, *envFile)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stdout)

	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if cfg.redisURL != "" {
		pctx, cancel := context.WithTimeout(ctx, redisDialTimeout+redisIOTimeout)
		if err := db.PingSessions(pctx); err != nil {
			// Not fatal: the instance serves, with /readyz at 503, until
			// Redis answers (E-08a).
			log.Warn("the Redis session store does not answer yet; /readyz answers 503 until it does", "err", err)
		}
		cancel()
	}

	reg, emu, err := buildProviders(ctx, cfg, db.DB())
	if err != nil {
		return err
	}
	// db.Store, not db: the wrapper would hide what the store offers
	// beyond accounts.Store (the one-query accounts.SessionUserStore).
	svc := accounts.NewService(db.Store, nil)
	svc.SetDeletionGrace(cfg.DeletionGrace)
	defer startPurger(ctx, svc, log, purgeEvery)()
	sessions := handlers.NewSessionManager(db.SessionStore(), cfg.baseURL, cfg.SessionLifetime)
	hc := handlers.Config{
		BaseURL:        cfg.baseURL,
		Accounts:       svc,
		Providers:      reg,
		Sessions:       sessions,
		SessionIndex:   db.SessionIndex(),
		KeepTokens:     db.KeepsTokens(),
		Logger:         log,
		Ready:          db.Ping,
		TrustedProxies: cfg.TrustedProxies,
		IdleTimeout:    cfg.SessionIdle,
		StepUpAge:      cfg.StepUpAge,
	}
	if db.redis != nil {
		// Instances sharing the sessions share the rate limits too, so the
		// budgets hold for the site, not per instance (B-09c).
		hc.RateLimits.Store = db.redis.rates()
	}
	if emu != nil {
		hc.Emulator = emu.Handler()
		// Emulated avatars come from the emulator's origin.
		eu, _ := url.Parse(cfg.emulatorURL)
		hc.ImageOrigins = []string{eu.Scheme + "://" + eu.Host}
	}
	app, err := handlers.New(hc)
	if err != nil {
		return err
	}
	h, err := app.Handler()
	if err != nil {
		return err
	}
	return serve(ctx, cfg, h, log, serveOptions{drain: app.Drain})
}

// serveOptions tune serve; the zero value, but drain, is production's.
type serveOptions struct {
	// drain is called as soon as shutdown begins (App.Drain: /readyz
	// answers 503 from then on).
	drain func()
	// drainDelay keeps serving, not ready, this long before the listener
	// closes, so that a load balancer polling /readyz stops sending new
	// requests first (E-14a).
	drainDelay time.Duration
	// readHeaderTimeout replaces the 5 s default (tests of slow clients).
	readHeaderTimeout time.Duration
	// listening, when set, is told the address once the listener is open.
	listening func(addr string)
}

// newServer is the http.Server with every timeout set, so a slow or idle
// client cannot hold a connection open (E-14c).
func newServer(h http.Handler, log *slog.Logger, o serveOptions) *http.Server {
	rht := o.readHeaderTimeout
	if rht <= 0 {
		rht = 5 * time.Second
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: rht,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// serve listens until ctx ends, then shuts down gracefully: readiness
// turns to 503 at once, the listener closes (after drainDelay) and
// requests in flight get up to 30 seconds to finish.
func serve(ctx context.Context, cfg config, h http.Handler, log *slog.Logger, o serveOptions) error {
	srv := newServer(h, log, o)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	log.Info("Linkport is listening", "addr", ln.Addr().String(), "url", cfg.baseURL.String(), "emulator", cfg.Emulator)
	if o.listening != nil {
		o.listening(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	if o.drain != nil {
		o.drain()
	}
	if o.drainDelay > 0 {
		time.Sleep(o.drainDelay)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
