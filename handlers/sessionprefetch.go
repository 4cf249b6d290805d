package handlers

import (
	"context"

	"github.com/linkport/linkport/accounts"
)

// indexedSessions is a session store that reads a session and its index
// row in one statement (store.SQLiteSessionStore): every signed-in request
// reads both, one right after the other.
type indexedSessions interface {
	// FindIndexed returns the data of an unexpired session, as Find,
	// and its index row; indexed is false when it has none. The context
	// it returns, based on ctx, may carry more that the store read with
	// them, for the store's own later use in this request.
	FindIndexed(ctx context.Context, hash string) (_ context.Context, b []byte, found bool, row accounts.Session, indexed bool, err error)
	// Indexes reports whether index is the session index FindIndexed
	// reads.
	Indexes(index any) bool
}

// prefetchKey is the request context's key of a *prefetched.
type prefetchKey struct{}

// prefetched is what loadSession read with FindIndexed, for the store's
// Find that scs makes next and for the index's Get in enforceIndex. Each
// is handed out once, and only for the same key: a later read in the same
// request goes to the store.
type prefetched struct {
	hash              string
	data              []byte
	found             bool
	row               accounts.Session
	indexed           bool
	dataUsed, rowUsed bool
}

// sessionsWithIndex returns the session store's FindIndexed when the App's
// session store and index are the pair it reads (not wrapped, as tests do
// to make one of them fail), or nil.
func (a *App) sessionsWithIndex() indexedSessions {
	ts, ok := a.sessions.Store.(timedStore)
	if !ok {
		return nil
	}
	f, ok := ts.next.(indexedSessions)
	if !ok {
		return nil
	}
	ti, ok := a.index.(timedIndex)
	if !ok || !f.Indexes(ti.next) {
		return nil
	}
	return f
}

// prefetchSession reads the session of token and its index row in one
// statement, when the stores allow it, and returns ctx carrying them.
func (a *App) prefetchSession(ctx context.Context, token string) (context.Context, error) {
	if token == "" {
		return ctx, nil
	}
	f := a.sessionsWithIndex()
	if f == nil {
		return ctx, nil
	}
	p := &prefetched{hash: tokenHash(token)}
	_, err := timed(a.metrics.store, "session_find", func() (struct{}, error) {
		var err error
		ctx, p.data, p.found, p.row, p.indexed, err = f.FindIndexed(ctx, p.hash)
		return struct{}{}, err
	})
	if err != nil {
		return ctx, err
	}
	return context.WithValue(ctx, prefetchKey{}, p), nil
}

// prefetchedData hands out the prefetched data of the session hash, once.
func prefetchedData(ctx context.Context, hash string) (b []byte, found, ok bool) {
	p, _ := ctx.Value(prefetchKey{}).(*prefetched)
	if p == nil || p.dataUsed || p.hash != hash {
		return nil, false, false
	}
	p.dataUsed = true
	return p.data, p.found, true
}

// prefetchedRow hands out the prefetched index row of the session hash,
// once; only a session that was found has one read.
func prefetchedRow(ctx context.Context, hash string) (row accounts.Session, err error, ok bool) {
	p, _ := ctx.Value(prefetchKey{}).(*prefetched)
	if p == nil || p.rowUsed || p.hash != hash || !p.found {
		return accounts.Session{}, nil, false
	}
	p.rowUsed = true
	if !p.indexed {
		return accounts.Session{}, accounts.ErrNotFound, true
	}
	return p.row, nil, true
}
