package handlers

import (
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

// requestIDs gives every request an id that the logs and error pages carry.
// An incoming X-Request-ID is not trusted: it could forge log lines.
func requestIDs(c *gin.Context) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	c.Set(ctxRequestID, id)
	c.Header("X-Request-ID", id)
	c.Next()
}

func requestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

// accessLog writes one structured line per request. It logs the path only,
// never the query string: a callback's query holds the code and state
// (SECURITY.md K13, A-10c).
func (a *App) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	a.log.LogAttrs(c.Request.Context(), slog.LevelInfo, "request",
		slog.String("method", c.Request.Method),
		slog.String("path", c.Request.URL.Path),
		slog.Int("status", c.Writer.Status()),
		slog.Duration("duration", time.Since(start)),
		slog.String("ip", c.ClientIP()),
		slog.String("request_id", requestID(c)),
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
			a.log.ErrorContext(c.Request.Context(), "panic", "value", v, "stack", string(debug.Stack()), "request_id", requestID(c))
			if !c.Writer.Written() {
				a.renderProblem(c, problemInternal)
			}
			c.Abort()
		}
	}()
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
