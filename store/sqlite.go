// Package store implements accounts.Store on the databases Linkport runs on,
// SQLite (embedded) and PostgreSQL (scaled out), applies their embedded
// migrations, and provides the scs session store and the session index on
// the same database.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/scs/sqlite3store"
	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/seal"
)

//go:embed migrations/sqlite/*.sql
var sqliteMigrations embed.FS

const (
	// sqliteMinReaders is the least number of read-only connections; there
	// are at least as many as GOMAXPROCS. Each holds its own page cache.
	// Writes have one connection of their own: SQLite has one writer at a
	// time, so more writer connections only wait for the lock (sleeping in
	// the driver's busy handler while they hold a connection).
	sqliteMinReaders = 4
	// sqliteOpenTimeout bounds how long OpenSQLite waits for a database
	// that another process is busy creating; it matches busy_timeout.
	sqliteOpenTimeout = 10 * time.Second
	// sessionCleanupInterval is how often expired scs sessions are deleted.
	sessionCleanupInterval = 5 * time.Minute
)

// SQLite is the embedded database: accounts.Store on one SQLite file in WAL
// mode, plus the scs session store on the same file.
//
// It holds two pools on the file: db, one connection that every write and
// every transaction goes through, and read, several query_only connections
// for plain reads, whose hot statements are prepared once (stmts). In WAL
// mode readers never wait for the writer, and a read sees every write
// committed before it began.
type SQLite struct {
	db        *sql.DB // the writer: one connection, BEGIN IMMEDIATE
	read      *sql.DB // readers: query_only
	stmts     *sqliteStmts
	keys      *seal.Keyring // nil: provider tokens are not stored
	sessions  *SQLiteSessionStore
	closeOnce sync.Once
	closeErr  error
}

var _ accounts.Store = (*SQLite)(nil)

// OpenSQLite opens (creating if needed) the SQLite database at path, creating
// its parent directory with mode 0700 if missing, and applies the pending
// migrations. Several processes may open the same file at once. Options
// such as WithTokenKeys configure it further.
//
// The writer connection runs in WAL mode with foreign keys on and a 10 s
// busy timeout, and begins transactions with BEGIN IMMEDIATE so that it
// waits for the lock (held by another process, if any) up front instead of
// failing on upgrade. The read connections have the same busy timeout and
// are query_only.
func OpenSQLite(ctx context.Context, path string, opts ...Option) (*SQLite, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: invalid database path %q", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// The writer keeps the statements it runs prepared (stmtCacheConnector):
	// its writes, unlike the hot reads, come from everywhere, the session
	// store and the provider emulator included.
	wc, err := newStmtCacheConnector(sqliteDSN(path))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	db := sql.OpenDB(wc)
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	if err := pingSQLite(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := migrateSQLite(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	// The readers open the file only once it is in WAL mode and migrated.
	read, err := sql.Open("sqlite", sqliteReadDSN(path))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	readers := max(sqliteMinReaders, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(readers)
	read.SetMaxIdleConns(readers)
	stmts, err := prepareSQLite(ctx, read)
	if err != nil {
		read.Close()
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return &SQLite{
		db:    db,
		read:  read,
		stmts: stmts,
		keys:  o.keys,
		sessions: &SQLiteSessionStore{
			SQLite3Store: sqlite3store.NewWithCleanupInterval(db, sessionCleanupInterval),
			find:         stmts.sessionFind,
			findIndexed:  stmts.sessionFindIndexed,
			read:         read,
		},
	}, nil
}

// sqliteDSN is the modernc.org/sqlite data source name of the writer for
// the file at path. The driver runs busy_timeout first, then the other
// pragmas in order.
func sqliteDSN(path string) string {
	return "file:" + path +
		"?_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)" +
		"&_pragma=busy_timeout(10000)" +
		"&_pragma=synchronous(NORMAL)" +
		"&_txlock=immediate"
}

// sqliteReadDSN is the data source name of the read connections: the
// file is already in WAL mode (a persistent setting), and query_only makes
// any write on them fail instead of taking the write lock.
func sqliteReadDSN(path string) string {
	return "file:" + path +
		"?_pragma=busy_timeout(10000)" +
		"&_pragma=query_only(1)"
}

// pingSQLite opens the first connection, retrying while it is busy.
//
// A connection's PRAGMA journal_mode=WAL on a new file can fail with
// SQLITE_BUSY without waiting for busy_timeout while another process is
// converting the same file to WAL. Once the file is in WAL mode the pragma
// is a no-op, so only the first connection needs this.
func pingSQLite(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(sqliteOpenTimeout)
	wait := 5 * time.Millisecond
	for {
		err := db.PingContext(ctx)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// isBusy reports whether err is SQLite's SQLITE_BUSY or SQLITE_LOCKED.
func isBusy(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff { // primary result code
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

// DB returns the writer: the one connection every write goes through,
// shared with the session store and the provider emulator (which writes).
// A caller must not hold it (open rows, a transaction) while it waits for
// another use of it.
func (s *SQLite) DB() *sql.DB { return s.db }

// SessionStore returns the scs session store on the same database, table
// "sessions". Close stops its cleanup goroutine.
func (s *SQLite) SessionStore() *SQLiteSessionStore { return s.sessions }

// SQLiteSessionStore is scs's sqlite3store on the writer, with Find
// served by a statement prepared on the read connections.
type SQLiteSessionStore struct {
	*sqlite3store.SQLite3Store
	find        *sql.Stmt
	findIndexed *sql.Stmt // sessionFindIndexedQuery
	read        *sql.DB   // the readers, to know the index beside this store
}

// Find returns the data of an unexpired session; exists is false when
// there is none.
func (s *SQLiteSessionStore) Find(token string) (b []byte, exists bool, err error) {
	err = s.find.QueryRow(token).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// Ping reports whether the database file can be read.
func (s *SQLite) Ping(ctx context.Context) error {
	var n int
	if err := s.read.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close stops the session cleanup and closes the database. It is safe to call
// more than once.
func (s *SQLite) Close() error {
	s.closeOnce.Do(func() {
		s.sessions.StopCleanup()
		s.stmts.close()
		s.closeErr = errors.Join(s.read.Close(), s.db.Close())
	})
	return s.closeErr
}

// sqliteStmts are the hot reads, prepared once on the read connections:
// modernc.org/sqlite otherwise parses and plans every query afresh.
type sqliteStmts struct {
	user, sessionUser, identities, deletion, events, sessionGet, sessionFind, sessionFindIndexed *sql.Stmt
}

// prepareSQLite prepares the statements of sqliteStmts on db.
func prepareSQLite(ctx context.Context, db *sql.DB) (*sqliteStmts, error) {
	st := &sqliteStmts{}
	for _, p := range []struct {
		into  **sql.Stmt
		query string
	}{
		{&st.user, userByIDQuery},
		{&st.sessionUser, sessionUserQuery},
		{&st.identities, identitiesQuery},
		{&st.deletion, deletionQuery},
		{&st.events, eventsQuery},
		{&st.sessionGet, sessionGetQuery},
		{&st.sessionFind, "SELECT data FROM sessions WHERE token = ? AND julianday('now') < expiry"},
		{&st.sessionFindIndexed, sessionFindIndexedQuery},
	} {
		stmt, err := db.PrepareContext(ctx, p.query)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("prepare %q: %w", p.query, err)
		}
		*p.into = stmt
	}
	return st, nil
}

// close closes the statements prepared so far.
func (st *sqliteStmts) close() {
	for _, stmt := range []*sql.Stmt{st.user, st.sessionUser, st.identities, st.deletion, st.events, st.sessionGet, st.sessionFind, st.sessionFindIndexed} {
		if stmt != nil {
			stmt.Close()
		}
	}
}

// migration is one embedded schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations returns the migrations in dir of fsys, ordered by version.
// File names start with the version number: 0001_init.sql.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, _ := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive version number", name)
		}
		if other, ok := seen[v]; ok {
			return nil, fmt.Errorf("migrations %s and %s share version %d", other, name, v)
		}
		seen[v] = name
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// migrateSQLite applies the pending embedded migrations, each in its own
// BEGIN IMMEDIATE transaction that first checks schema_migrations, so a
// second process opening the file at the same time waits and then skips what
// the first applied.
func migrateSQLite(ctx context.Context, db *sql.DB) error {
	ms, err := loadMigrations(sqliteMigrations, "migrations/sqlite")
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := applySQLiteMigration(ctx, db, m); err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
	}
	return nil
}

// applySQLiteMigration applies m unless schema_migrations already lists it.
func applySQLiteMigration(ctx context.Context, db *sql.DB, m migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = ?", m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return tx.Commit()
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
		m.version, m.name, time.Now().UnixNano()); err != nil {
		return err
	}
	return tx.Commit()
}

// sqliteErr maps driver errors to accounts errors: a violated UNIQUE
// constraint becomes accounts.ErrConflict, keeping the driver's message.
func sqliteErr(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		return fmt.Errorf("%w: %v", accounts.ErrConflict, err)
	}
	return err
}
