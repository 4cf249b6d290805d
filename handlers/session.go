package handlers

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/gin-gonic/gin"

	"github.com/linkport/linkport/views"
)

// Session keys. Every value is a string or an int64 so the gob codec never
// meets a type it was not told about.
const (
	keyUserID     = "user_id"     // int64: the signed-in user
	keyIdentityID = "identity_id" // int64: the identity this session signed in with
	keyAuthAt     = "auth_at"     // int64 unix seconds: when the person last proved who they are
	keyCSRF       = "csrf"        // string: the synchronizer token
	keyFlows      = "flows"       // string: JSON []pendingFlow, the sign-ins at a provider
	keyPending    = "pending"     // string: JSON []pendingLink, links awaiting the person's answer
	keyFlash      = "flash"       // string: a one-time notice for the next page
	keyActions    = "actions"     // string: JSON []pendingAction, sensitive requests awaiting a step-up
	keyRestores   = "restores"    // string: JSON []pendingRestore, offers to restore a deleted account
)

// lastSeenEvery is how stale a signed-in session's last-seen time in the
// index may get before a request writes it: once a minute, not on every
// request. The session itself is not written for it (scs's own idle
// timeout, which rewrites the session on every request, is off — K10).
const lastSeenEvery = 60

// flash leaves a notice for the next page the person sees.
func (a *App) flash(ctx context.Context, msg string) { a.sessions.Put(ctx, keyFlash, msg) }

// popFlash takes the notice, if any.
func (a *App) popFlash(ctx context.Context) string { return a.sessions.PopString(ctx, keyFlash) }

// userID returns the signed-in user, or 0.
func (a *App) userID(ctx context.Context) int64 {
	return a.sessions.GetInt64(ctx, keyUserID)
}

// ctxHasSession is the Gin key set once loadSession has put a session in
// the request's context; scs panics on a context without one.
const ctxHasSession = "has_session"

func hasSession(c *gin.Context) bool { return c.GetBool(ctxHasSession) }

// errUndecodable marks session data that no longer decodes (for example
// after a deploy changed what a session holds).
var errUndecodable = errors.New("session data cannot be decoded")

// loadSession is scs's LoadAndSave as Gin middleware: it loads the session,
// and commits it and writes the cookie just before the response header goes
// out (scs cannot change a response already written — K11).
func (a *App) loadSession(c *gin.Context) {
	token := ""
	if ck, err := c.Request.Cookie(a.sessions.Cookie.Name); err == nil {
		token = ck.Value
	}
	ctx, err := a.prefetchSession(c.Request.Context(), token)
	if err == nil {
		ctx, err = a.sessions.Load(ctx, token)
	}
	if errors.Is(err, errUndecodable) {
		a.log.WarnContext(c.Request.Context(), "session data undecodable; starting a fresh session")
		ctx, err = a.sessions.Load(c.Request.Context(), "")
	}
	if err != nil {
		// Not anonymous-and-allowed: a page that needs the session
		// cannot be served without it (E-07a, E-08a).
		a.log.ErrorContext(c.Request.Context(), "session store unavailable", "err", err)
		a.renderProblem(c, problemStoreDown)
		c.Abort()
		return
	}
	// From here on c.Request carries a session whenever a page renders.
	c.Set(ctxHasSession, true)
	ctx, ok := a.checkIndexed(c, ctx)
	if !ok {
		c.Abort()
		return
	}
	c.Request = c.Request.WithContext(ctx)
	// Add, not Set: securityHeaders already put "Vary: HX-Request" (B-10b).
	c.Writer.Header().Add("Vary", "Cookie")
	sw := &sessionWriter{ResponseWriter: c.Writer,
		commit: func() error { return a.commitSession(c) },
		lost:   func(w gin.ResponseWriter) { a.sessionLost(c, w) },
	}
	c.Writer = sw
	c.Next()
	sw.before()
}

func (a *App) commitSession(c *gin.Context) error {
	ctx := c.Request.Context()
	w := c.Writer
	switch a.sessions.Status(ctx) {
	case scs.Modified:
		token, expiry, err := a.sessions.Commit(ctx)
		if err != nil {
			a.log.ErrorContext(ctx, "session commit failed", "err", err)
			return err
		}
		a.sessions.WriteSessionCookie(ctx, w, token, expiry)
		w.Header().Set("Cache-Control", "no-store")
	case scs.Destroyed:
		a.sessions.WriteSessionCookie(ctx, w, "", time.Time{})
		w.Header().Set("Cache-Control", "no-store")
	}
	return nil
}

// sessionLost answers, in place of the handler's response, when the
// session could not be saved: a sign-in whose session is lost must not
// answer "done" (E-07, E-08). w is the writer under the sessionWriter.
func (a *App) sessionLost(c *gin.Context, w gin.ResponseWriter) {
	p := problemStoreDown
	var buf bytes.Buffer
	_ = views.Error(a.layoutWithToken(c, p.heading, ""), p.page(c.Request.Context(), requestID(c))).
		Render(context.WithoutCancel(c.Request.Context()), &buf) // also after the deadline
	h := w.Header()
	for _, k := range []string{"Location", "HX-Redirect", "Set-Cookie", "Clear-Site-Data"} {
		h.Del(k)
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Retry-After", retryAfterStoreDown)
	w.WriteHeader(p.status)
	_, _ = w.Write(buf.Bytes())
}

// sessionWriter commits the session once, before the first header or body
// byte is written. When the commit fails, lost answers instead and what
// the handler writes afterwards is dropped.
type sessionWriter struct {
	gin.ResponseWriter
	commit func() error
	lost   func(gin.ResponseWriter)
	done   bool
	failed bool
}

// before commits, once, and reports whether the handler's response may
// be written.
func (w *sessionWriter) before() bool {
	if !w.done {
		w.done = true
		if w.commit() != nil {
			w.failed = true
			w.lost(w.ResponseWriter)
		}
	}
	return !w.failed
}

func (w *sessionWriter) WriteHeader(code int) {
	if w.before() {
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *sessionWriter) WriteHeaderNow() {
	if w.before() {
		w.ResponseWriter.WriteHeaderNow()
	}
}

func (w *sessionWriter) Write(b []byte) (int, error) {
	if !w.before() {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *sessionWriter) WriteString(s string) (int, error) {
	if !w.before() {
		return len(s), nil
	}
	return w.ResponseWriter.WriteString(s)
}

func (w *sessionWriter) Flush() {
	if w.before() {
		w.ResponseWriter.Flush()
	}
}

var _ http.Flusher = (*sessionWriter)(nil)
