package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/alexedwards/scs/v2"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/handlers"
	"github.com/linkport/linkport/store"
)

// database is what LINKPORT_DATABASE_URL names, SQLite or PostgreSQL, with
// the session store and session index on the same database
// (LINKPORT_SESSION_STORE=database).
type database struct {
	accounts.Store
	db          *sql.DB
	sessions    scs.Store
	index       handlers.SessionIndex
	keepsTokens bool
	ping        func(context.Context) error
	close       func() error
}

// isPostgresURL reports whether a LINKPORT_DATABASE_URL names PostgreSQL
// rather than a SQLite file.
func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// openDatabase opens and migrates the configured database. Its errors
// never quote a password from the URL.
func openDatabase(ctx context.Context, cfg config) (*database, error) {
	opts := []store.Option{store.WithTokenKeys(cfg.tokenKeys)}
	if isPostgresURL(cfg.DatabaseURL) {
		p, err := store.OpenPostgres(ctx, cfg.DatabaseURL, opts...)
		if err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
		return &database{Store: p, db: p.DB(), sessions: p.SessionStore(), index: p.SessionIndex(),
			keepsTokens: p.KeepsTokens(), ping: p.Ping, close: p.Close}, nil
	}
	s, err := store.OpenSQLite(ctx, cfg.DatabaseURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return &database{Store: s, db: s.DB(), sessions: s.SessionStore(), index: s.SessionIndex(),
		keepsTokens: s.KeepsTokens(), ping: s.Ping, close: s.Close}, nil
}

// DB is the database/sql handle the provider emulator keeps its tables in.
func (d *database) DB() *sql.DB { return d.db }

// SessionStore is the scs store on the same database.
func (d *database) SessionStore() scs.Store { return d.sessions }

// SessionIndex is the session index on the same database.
func (d *database) SessionIndex() handlers.SessionIndex { return d.index }

// KeepsTokens reports whether provider tokens are stored (sealed).
func (d *database) KeepsTokens() bool { return d.keepsTokens }

// Ping reports whether the database answers; /readyz calls it.
func (d *database) Ping(ctx context.Context) error { return d.ping(ctx) }

// Close closes the database and stops the session cleanup.
func (d *database) Close() error { return d.close() }
