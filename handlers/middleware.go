package handlers

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

const ctxRequestID = "request_id"

// requestIDKey is the request context's key of the request id.
type requestIDKey struct{}

// requestIDs gives every request an id that the logs and error pages carry.
// An incoming X-Request-ID is not trusted: it could forge log lines. The id
// also goes into the request's context, where the App's log handler finds
// it (withRequestIDs).
func requestIDs(c *gin.Context) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	c.Set(ctxRequestID, id)
	c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), requestIDKey{}, id))
	c.Header("X-Request-ID", id)
	c.Next()
}

func requestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

// requestIDHandler adds the request id of the context to every record
// logged with one (a.log.InfoContext(ctx, ...)), so no line of a request
// goes without it and none has it twice.
type requestIDHandler struct{ slog.Handler }

// withRequestIDs wraps h, once.
func withRequestIDs(h slog.Handler) slog.Handler {
	if _, ok := h.(requestIDHandler); ok {
		return h
	}
	return requestIDHandler{h}
}

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	id, _ := ctx.Value(requestIDKey{}).(string)
	if id == "" {
		return h.Handler.Handle(ctx, r)
	}
	has := false
	r.Attrs(func(at slog.Attr) bool {
		has = at.Key == ctxRequestID
		return !has
	})
	if !has {
		r = r.Clone()
		r.AddAttrs(slog.String(ctxRequestID, id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// accessLog writes one structured line per request and observes its
// latency. It logs the path only, never the query string: a callback's
// query holds the code and state (SECURITY.md K13, A-10c).
func (a *App) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	d := time.Since(start)
	a.observeRequest(c, d)
	a.log.LogAttrs(c.Request.Context(), slog.LevelInfo, "request",
		slog.String("method", c.Request.Method),
		slog.String("path", c.Request.URL.Path),
		slog.Int("status", c.Writer.Status()),
		slog.Duration("duration", d),
		slog.String("ip", c.ClientIP()),
	)
}

// recoverPanics turns a panic anywhere below into the generic error page
// with a reference id; the stack goes to the log, never to the page (B-14).
func (a *App) recoverPanics(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			a.log.ErrorContext(c.Request.Context(), "panic", "value", v, "stack", string(debug.Stack()))
			if !c.Writer.Written() {
				a.renderProblem(c, problemInternal)
			}
			c.Abort()
		}
	}()
	c.Next()
}

// deadline ends the request's context after Config.RequestTimeout, so a
// store call waiting on a database that does not answer returns
// context.DeadlineExceeded, which storeDown turns into the 503 page
// (E-07c).
func (a *App) deadline(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), a.cfg.RequestTimeout)
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

// securityHeaders sets the headers every response carries (B-10). Pages
// are not cached: they show who is signed in.
func (a *App) securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	// Computed per response: an OIDC provider learns its authorization
	// endpoint's origin only at discovery.
	h.Set("Content-Security-Policy", contentSecurityPolicy(a.providers.FormActionOrigins(), a.cfg.ImageOrigins))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if a.secure {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
	if !strings.HasPrefix(c.Request.URL.Path, "/static/") {
		h.Set("Cache-Control", "no-store")
		h.Add("Vary", "HX-Request")
	}
	c.Next()
}

// contentSecurityPolicy allows scripts and styles from our origin only (no
// inline script, no eval). form-action must name the providers' origins:
// Chromium applies it to the redirect that follows a form POST (K15).
func contentSecurityPolicy(formOrigins, imageOrigins []string) string {
	form := append([]string{"'self'"}, formOrigins...)
	img := append([]string{"'self'", "https:", "data:"}, imageOrigins...)
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src " + strings.Join(img, " "),
		"connect-src 'self'",
		"object-src 'none'",
		"base-uri 'none'",
		"frame-ancestors 'none'",
		"form-action " + strings.Join(form, " "),
	}, "; ")
}

// csrfToken returns the session's synchronizer token, making one if needed.
func (a *App) csrfToken(c *gin.Context) string {
	ctx := c.Request.Context()
	if t := a.sessions.GetString(ctx, keyCSRF); t != "" {
		return t
	}
	t := randomToken()
	a.sessions.Put(ctx, keyCSRF, t)
	return t
}

// requireCSRF refuses a state-changing request that lacks the session's
// token, in the form field csrf_token or the X-CSRF-Token header htmx sends
// (B-07). Cross-site requests were already refused by
// http.CrossOriginProtection around the router.
func (a *App) requireCSRF(c *gin.Context) {
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		c.Next()
		return
	}
	want := a.sessions.GetString(c.Request.Context(), keyCSRF)
	got := c.GetHeader("X-CSRF-Token")
	if got == "" {
		got = c.PostForm("csrf_token")
	}
	if want == "" || !constantTimeEqual(got, want) {
		a.renderProblem(c, problemCSRF)
		c.Abort()
		return
	}
	c.Next()
}

// randomToken returns 32 random bytes, base64url: states, CSRF tokens.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
