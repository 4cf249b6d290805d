package handlers

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/gin-gonic/gin"
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

// errUndecodable marks session data that no longer decodes (for example
// after a deploy changed what a session holds).
var errUndecodable = errors.New("session data cannot be decoded")

// safeCodec is scs's gob codec with decode failures marked, so the loader
// can start a fresh session instead of failing the request (E-09).
type safeCodec struct{}

func (safeCodec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	return scs.GobCodec{}.Encode(deadline, values)
}

func (safeCodec) Decode(b []byte) (deadline time.Time, values map[string]any, err error) {
	defer func() {
		if recover() != nil {
			err = errUndecodable
		}
	}()
	aux := &struct {
		Deadline time.Time
		Values   map[string]any
	}{}
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(aux); err != nil {
		return time.Time{}, nil, errors.Join(errUndecodable, err)
	}
	return aux.Deadline, aux.Values, nil
}

// loadSession is scs's LoadAndSave as Gin middleware: it loads the session,
// and commits it and writes the cookie just before the response header goes
// out (scs cannot change a response already written — K11).
func (a *App) loadSession(c *gin.Context) {
	token := ""
	if ck, err := c.Request.Cookie(a.sessions.Cookie.Name); err == nil {
		token = ck.Value
	}
	ctx, err := a.sessions.Load(c.Request.Context(), token)
	if errors.Is(err, errUndecodable) {
		a.log.WarnContext(c.Request.Context(), "session data undecodable; starting a fresh session", "request_id", requestID(c))
		ctx, err = a.sessions.Load(c.Request.Context(), "")
	}
	if err != nil {
		a.log.ErrorContext(c.Request.Context(), "session store unavailable", "err", err, "request_id", requestID(c))
		a.renderProblem(c, problemStoreDown)
		c.Abort()
		return
	}
	ctx, ok := a.checkIndexed(c, ctx)
	if !ok {
		c.Abort()
		return
	}
	c.Request = c.Request.WithContext(ctx)
	// Add, not Set: securityHeaders already put "Vary: HX-Request" (B-10b).
	c.Writer.Header().Add("Vary", "Cookie")
	sw := &sessionWriter{ResponseWriter: c.Writer, commit: func() { a.commitSession(c) }}
	c.Writer = sw
	c.Next()
	sw.before()
}

func (a *App) commitSession(c *gin.Context) {
	ctx := c.Request.Context()
	w := c.Writer
	switch a.sessions.Status(ctx) {
	case scs.Modified:
		token, expiry, err := a.sessions.Commit(ctx)
		if err != nil {
			a.log.ErrorContext(ctx, "session commit failed", "err", err, "request_id", requestID(c))
			return
		}
		a.sessions.WriteSessionCookie(ctx, w, token, expiry)
		w.Header().Set("Cache-Control", "no-store")
	case scs.Destroyed:
		a.sessions.WriteSessionCookie(ctx, w, "", time.Time{})
		w.Header().Set("Cache-Control", "no-store")
	}
}

// sessionWriter commits the session once, before the first header or body
// byte is written.
type sessionWriter struct {
	gin.ResponseWriter
	commit func()
	done   bool
}

func (w *sessionWriter) before() {
	if !w.done {
		w.done = true
		w.commit()
	}
}

func (w *sessionWriter) WriteHeader(code int) { w.before(); w.ResponseWriter.WriteHeader(code) }
func (w *sessionWriter) WriteHeaderNow()      { w.before(); w.ResponseWriter.WriteHeaderNow() }
func (w *sessionWriter) Write(b []byte) (int, error) {
	w.before()
	return w.ResponseWriter.Write(b)
}
func (w *sessionWriter) WriteString(s string) (int, error) {
	w.before()
	return w.ResponseWriter.WriteString(s)
}
func (w *sessionWriter) Flush() { w.before(); w.ResponseWriter.Flush() }

var _ http.Flusher = (*sessionWriter)(nil)
