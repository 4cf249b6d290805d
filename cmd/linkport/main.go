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

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/handlers"
	"github.com/linkport/linkport/store"
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

	db, err := store.OpenSQLite(ctx, cfg.DatabaseURL, store.WithTokenKeys(cfg.tokenKeys))
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()

	reg, emu, err := buildProviders(ctx, cfg, db.DB())
	if err != nil {
		return err
	}
	svc := accounts.NewService(db, nil)
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
	return serve(ctx, cfg, h, log)
}

// serve listens until ctx ends, then shuts down gracefully: the listener
// closes and requests in flight get up to 30 seconds to finish.
func serve(ctx context.Context, cfg config, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	log.Info("Linkport is listening", "addr", ln.Addr().String(), "url", cfg.baseURL.String(), "emulator", cfg.Emulator)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
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
