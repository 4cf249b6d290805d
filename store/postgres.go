package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/seal"
)

//go:embed migrations/postgres/*.sql
var postgresMigrations embed.FS

// pgMigrationLock is the first key of the advisory lock that serializes
// migrations; the second is a hash of the schema, so instances migrating
// different schemas of one database do not wait for each other.
const pgMigrationLock int32 = 0x4c6b7074 // "Lkpt"

// pgUniqueViolation is PostgreSQL's SQLSTATE for a violated UNIQUE
// constraint or primary key.
const pgUniqueViolation = "23505"

// Postgres is the scaled-out database: accounts.Store on PostgreSQL through
// a pgx connection pool, plus the scs session store on the same database.
// Several instances may share one database.
type Postgres struct {
	pool      *pgxpool.Pool
	db        *sql.DB       // database/sql view of pool, for the provider emulator
	keys      *seal.Keyring // nil: provider tokens are not stored
	sessions  *pgxstore.PostgresStore
	stop      context.CancelFunc // ends the session cleanup
	cleanup   sync.WaitGroup
	closeOnce sync.Once
}

var _ accounts.Store = (*Postgres)(nil)

// OpenPostgres connects to the PostgreSQL database at url (a postgres://
// URL or a key=value connection string, as pgx accepts; pool settings
// such as pool_max_conns may be added to it) and applies the pending
// migrations to the first schema on the search path. Several instances may
// open the same database at once: migrations run under a PostgreSQL
// advisory lock. Options such as WithTokenKeys configure it further.
//
// Errors never quote the password of url.
func OpenPostgres(ctx context.Context, url string, opts ...Option) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgconn's error redacts the password.
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := migratePostgres(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cctx, stop := context.WithCancel(context.Background())
	p := &Postgres{
		pool: pool,
		db:   stdlib.OpenDBFromPool(pool),
		keys: o.keys,
		// pgxstore's own cleanup goroutine cannot be stopped reliably (it
		// sets its stop channel after it starts), so Postgres runs its own.
		sessions: pgxstore.NewWithCleanupInterval(pool, 0),
		stop:     stop,
	}
	p.cleanup.Go(func() { p.cleanSessions(cctx, sessionCleanupInterval) })
	return p, nil
}

// cleanSessions deletes expired scs sessions every interval until ctx ends.
func (p *Postgres) cleanSessions(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := p.pool.Exec(ctx, "DELETE FROM sessions WHERE expiry < current_timestamp"); err != nil && ctx.Err() == nil {
				log.Printf("postgres: delete expired sessions: %v", err)
			}
		}
	}
}

// DB returns a database/sql handle on the same pool, for the provider
// emulator. Close closes it.
func (p *Postgres) DB() *sql.DB { return p.db }

// SessionStore returns the scs session store on the same database, table
// "sessions" (github.com/alexedwards/scs/pgxstore). Expired sessions are
// deleted every few minutes until Close.
func (p *Postgres) SessionStore() scs.Store { return p.sessions }

// KeepsTokens reports whether the store was opened with token keys.
func (p *Postgres) KeepsTokens() bool { return p.keys != nil }

// Ping reports whether the database answers and holds Linkport's schema.
func (p *Postgres) Ping(ctx context.Context) error {
	var n int
	if err := p.pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close stops the session cleanup and closes the pool, waiting for
// connections in use to be released. It is safe to call more than once.
func (p *Postgres) Close() error {
	p.closeOnce.Do(func() {
		p.stop()
		p.cleanup.Wait()
		p.db.Close()
		p.pool.Close()
	})
	return nil
}

// migratePostgres applies the pending embedded migrations, each in its own
// transaction that first takes the migration advisory lock and then checks
// schema_migrations, so an instance starting at the same time waits and
// then skips what the first applied. DDL is transactional in PostgreSQL: a
// failed migration leaves nothing behind.
func migratePostgres(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := loadMigrations(postgresMigrations, "migrations/postgres")
	if err != nil {
		return err
	}
	var schema sql.NullString
	if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return err
	}
	if !schema.Valid {
		return errors.New("no schema on the search_path exists; create it or set search_path")
	}
	for _, m := range ms {
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return applyPostgresMigration(ctx, tx, m) }); err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
	}
	return nil
}

// applyPostgresMigration applies m in tx unless schema_migrations already
// lists it.
func applyPostgresMigration(ctx context.Context, tx pgx.Tx, m migration) error {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))", pgMigrationLock); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at BIGINT  NOT NULL
	)`); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM schema_migrations WHERE version = $1", m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	// Without arguments pgx sends the simple protocol, which runs the
	// several statements of a file.
	if _, err := tx.Exec(ctx, m.sql); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
		m.version, m.name, time.Now().UnixNano())
	return err
}

// pgErr maps driver errors to accounts errors: a unique violation (SQLSTATE
// 23505) becomes accounts.ErrConflict, keeping the server's message.
func pgErr(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == pgUniqueViolation {
		return fmt.Errorf("%w: %v", accounts.ErrConflict, err)
	}
	return err
}
