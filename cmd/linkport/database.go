package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/alexedwards/scs/v2"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/handlers"
	"github.com/linkport/linkport/store"
)

// database is what LINKPORT_DATABASE_URL names, SQLite or PostgreSQL, with
// the session index on it and the session store on it too
// (LINKPORT_SESSION_STORE=database) or in Redis.
type database struct {
	accounts.Store
	db          *sql.DB
	sessions    scs.Store
	index       handlers.SessionIndex
	keepsTokens bool
	ping        func(context.Context) error
	close       func() error
	redis       *redisSessions // nil unless LINKPORT_SESSION_STORE is a Redis URL
}

// isPostgresURL reports whether a LINKPORT_DATABASE_URL names PostgreSQL
// rather than a SQLite file.
func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// openDatabase opens and migrates the configured database. Its errors
// never quote a password from the URL. With LINKPORT_SESSION_STORE=redis://
// the session data lives in Redis and the session index stays in the
// database, so a revocation holds on every instance (B-04c, E-12b).
func openDatabase(ctx context.Context, cfg config) (*database, error) {
	d, err := openStore(ctx, cfg)
	if err != nil || cfg.redisURL == "" {
		return d, err
	}
	rs := newRedisSessions(cfg.redisURL, cfg.RedisPrefix)
	closeDB := d.close
	d.sessions = rs
	d.index = redisIndex{SessionIndex: d.index, sessions: rs}
	d.redis = rs
	d.close = func() error { return errors.Join(rs.Close(), closeDB()) }
	return d, nil
}

// openStore opens the database with its own session store.
func openStore(ctx context.Context, cfg config) (*database, error) {
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

// SessionStore is the scs store: the database's, or Redis's.
func (d *database) SessionStore() scs.Store { return d.sessions }

// SessionIndex is the session index on the same database.
func (d *database) SessionIndex() handlers.SessionIndex { return d.index }

// KeepsTokens reports whether provider tokens are stored (sealed).
func (d *database) KeepsTokens() bool { return d.keepsTokens }

// Ping reports whether the database answers; /readyz calls it.
func (d *database) Ping(ctx context.Context) error { return d.ping(ctx) }

// PingSessions reports whether a separate session store (Redis) answers;
// nil when the sessions are in the database.
func (d *database) PingSessions(ctx context.Context) error {
	if d.redis == nil {
		return nil
	}
	return d.redis.Ping(ctx)
}

// Close closes the database and stops the session cleanup.
func (d *database) Close() error { return d.close() }
