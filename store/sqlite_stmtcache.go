package store

import (
	"context"
	"database/sql/driver"
	"errors"

	"modernc.org/sqlite"
)

// stmtCacheSize bounds the statements one connection keeps prepared. The
// writer runs a few dozen distinct statements (the accounts rules, the
// session store and index, the provider emulator).
const stmtCacheSize = 128

// stmtCacheConnector opens modernc.org/sqlite connections that keep the
// statements they run prepared, keyed by their text. modernc.org/sqlite
// otherwise parses and plans every statement that is not an explicitly
// prepared *sql.Stmt afresh, on every call: for the writer, which runs
// every write of a sign-in (the emulator's included) one after the other,
// that was about a tenth of the CPU of a sign-in.
type stmtCacheConnector struct{ driver.Connector }

// newStmtCacheConnector is sqlite.NewConnector(dsn) with statement caches.
func newStmtCacheConnector(dsn string) (driver.Connector, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return stmtCacheConnector{c}, nil
}

func (c stmtCacheConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	if _, ok := conn.(sqliteConn); !ok {
		conn.Close()
		return nil, errors.New("sqlite: the driver's connection lacks a method the statement cache needs")
	}
	return &stmtCacheConn{conn: conn, stmts: map[string]*cachedStmt{}}, nil
}

// stmtCacheConn is a modernc.org/sqlite connection with prepared
// statements by text. database/sql uses a connection from one goroutine at
// a time; a statement whose rows are still open (a query inside a
// transaction while another is being read) is not run again until they
// are closed: that query is prepared afresh instead.
type stmtCacheConn struct {
	conn  driver.Conn
	stmts map[string]*cachedStmt
}

type cachedStmt struct {
	stmt driver.Stmt
	busy bool // its rows are open
}

// the interfaces of modernc.org/sqlite's connection that database/sql uses.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

var _ sqliteConn = (*stmtCacheConn)(nil)

func (c *stmtCacheConn) inner() sqliteConn { return c.conn.(sqliteConn) }

// cached returns the prepared statement of query, preparing it if needed;
// nil when it is in use or cannot be kept.
func (c *stmtCacheConn) cached(ctx context.Context, query string) (*cachedStmt, error) {
	if s, ok := c.stmts[query]; ok {
		if s.busy {
			return nil, nil
		}
		return s, nil
	}
	if len(c.stmts) >= stmtCacheSize {
		for q, s := range c.stmts { // drop one that is not in use
			if !s.busy {
				s.stmt.Close()
				delete(c.stmts, q)
				break
			}
		}
		if len(c.stmts) >= stmtCacheSize {
			return nil, nil
		}
	}
	st, err := c.inner().PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s := &cachedStmt{stmt: st}
	c.stmts[query] = s
	return s, nil
}

func (c *stmtCacheConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s, err := c.cached(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.inner().ExecContext(ctx, query, args)
	}
	return s.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *stmtCacheConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s, err := c.cached(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.inner().QueryContext(ctx, query, args)
	}
	rows, err := s.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	s.busy = true
	return &releasingRows{Rows: rows, s: s}, nil
}

func (c *stmtCacheConn) Prepare(query string) (driver.Stmt, error) { return c.conn.Prepare(query) }

func (c *stmtCacheConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.inner().PrepareContext(ctx, query)
}

func (c *stmtCacheConn) Begin() (driver.Tx, error) {
	return c.inner().BeginTx(context.Background(), driver.TxOptions{})
}

func (c *stmtCacheConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.inner().BeginTx(ctx, opts)
}

func (c *stmtCacheConn) Ping(ctx context.Context) error { return c.inner().Ping(ctx) }

func (c *stmtCacheConn) ResetSession(ctx context.Context) error { return c.inner().ResetSession(ctx) }

func (c *stmtCacheConn) IsValid() bool { return c.inner().IsValid() }

// Close finalizes the kept statements, then closes the connection.
func (c *stmtCacheConn) Close() error {
	var errs []error
	for q, s := range c.stmts {
		errs = append(errs, s.stmt.Close())
		delete(c.stmts, q)
	}
	return errors.Join(append(errs, c.conn.Close())...)
}

// releasingRows are the rows of a kept statement, which may run again once
// they are closed.
type releasingRows struct {
	driver.Rows
	s *cachedStmt
}

func (r *releasingRows) Close() error {
	err := r.Rows.Close()
	r.s.busy = false
	return err
}
