package handlers

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/a-h/templ"
	"github.com/gin-gonic/gin"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/providers"
	"github.com/linkport/linkport/views"
	"github.com/linkport/linkport/views/locale"
)

// problem is one kind of failure a person can meet, with the page that
// explains it. Its code travels in the URL of the error page after a failed
// callback, so it is a fixed word, never text from the request. heading,
// message and action are catalog keys; data fills in the message's
// variables.
type problem struct {
	code    string
	status  int
	heading string
	message string
	action  string
	back    string
	data    locale.Data
}

// page is the error page of p in the language of ctx.
func (p problem) page(ctx context.Context, ref string) views.ErrorPage {
	return views.ErrorPage{
		Status:    p.status,
		Heading:   locale.T(ctx, p.heading),
		Message:   p.text(ctx),
		ActionURL: p.back,
		Action:    locale.T(ctx, p.action),
		RequestID: ref,
	}
}

// text is p's message in the language of ctx.
func (p problem) text(ctx context.Context) string {
	if p.data == nil {
		return locale.T(ctx, p.message)
	}
	return locale.Td(ctx, p.message, p.data)
}

var (
	problemInvalidState    = problem{"invalid", http.StatusBadRequest, "error.invalid.heading", "error.invalid.message", "nav.back_sign_in", "/login", nil}
	problemExpired         = problem{"expired", http.StatusBadRequest, "error.expired.heading", "error.expired.message", "nav.try_again", "/login", nil}
	problemDenied          = problem{"denied", http.StatusForbidden, "error.denied.heading", "error.denied.message", "nav.back_sign_in", "/login", nil}
	problemEmailDeclined   = problem{"noemail", http.StatusForbidden, "error.noemail.heading", "error.noemail.message", "nav.back_sign_in", "/login", nil}
	problemRejected        = problem{"rejected", http.StatusBadGateway, "error.rejected.heading", "error.rejected.message", "nav.try_again", "/login", nil}
	problemUnavailable     = problem{"unavailable", http.StatusBadGateway, "error.unavailable.heading", "error.unavailable.message", "nav.try_again", "/login", nil}
	problemTimeout         = problem{"timeout", http.StatusGatewayTimeout, "error.timeout.heading", "error.timeout.message", "nav.try_again", "/login", nil}
	problemStoreDown       = problem{"down", http.StatusServiceUnavailable, "error.down.heading", "error.down.message", "nav.try_again", "/", nil}
	problemCSRF            = problem{"forbidden", http.StatusForbidden, "error.forbidden.heading", "error.forbidden.message", "nav.back_start", "/", nil}
	problemNotFound        = problem{"notfound", http.StatusNotFound, "error.notfound.heading", "error.notfound.message", "nav.home", "/", nil}
	problemMethod          = problem{"method", http.StatusMethodNotAllowed, "error.method.heading", "error.method.message", "nav.home", "/", nil}
	problemInternal        = problem{"internal", http.StatusInternalServerError, "error.internal.heading", "error.internal.message", "nav.home", "/", nil}
	problemLinkExpired     = problem{"linkexpired", http.StatusBadRequest, "error.linkexpired.heading", "error.linkexpired.message", "nav.back_accounts", "/accounts", nil}
	problemLastIdentity    = problem{"last", http.StatusConflict, "error.last.heading", "error.last.message", "nav.back_accounts", "/accounts", nil}
	problemTaken           = problem{"taken", http.StatusConflict, "error.taken.heading", "error.taken.message", "nav.back_accounts", "/accounts", nil}
	problemSameAccount     = problem{"same", http.StatusBadRequest, "error.same.heading", "error.same.message", "nav.back_accounts", "/accounts", nil}
	problemBadInput        = problem{"input", http.StatusBadRequest, "error.input.heading", "error.input.message", "nav.back_accounts", "/accounts", nil}
	problemUnknownProvider = problem{"provider", http.StatusNotFound, "error.provider.heading", "error.provider.message", "nav.back_sign_in", "/login", nil}
)

// callbackProblem finds, by its code, a failure a callback redirected to.
func callbackProblem(code string) (problem, bool) {
	for _, p := range []problem{problemInvalidState, problemExpired, problemDenied, problemEmailDeclined, problemRejected, problemUnavailable, problemTimeout, problemStoreDown, problemInternal, problemTaken, problemNotYours, problemNotFresh} {
		if p.code == code {
			return p, true
		}
	}
	return problem{}, false
}

// problemFor maps an error from accounts or providers to the page a person
// sees. It is the only place that does.
func problemFor(err error) problem {
	switch {
	case errors.Is(err, providers.ErrTimeout):
		return problemTimeout
	case errors.Is(err, providers.ErrUnavailable), errors.Is(err, providers.ErrBadResponse):
		return problemUnavailable
	case errors.Is(err, providers.ErrRejected), errors.Is(err, accounts.ErrInvalidProfile):
		return problemRejected
	case errors.Is(err, accounts.ErrLastIdentity):
		return problemLastIdentity
	case errors.Is(err, accounts.ErrNotYourIdentity):
		return problemNotYours
	case errors.Is(err, accounts.ErrIdentityTaken), errors.Is(err, accounts.ErrAccountDeleted):
		return problemTaken
	case errors.Is(err, accounts.ErrProofGone):
		return problemLinkExpired
	case errors.Is(err, accounts.ErrInvalidField):
		return problemBadInput
	case errors.Is(err, accounts.ErrSameAccount):
		return problemSameAccount
	case errors.Is(err, accounts.ErrNotFound):
		return problemNotFound
	case storeDown(err):
		return problemStoreDown
	default:
		return problemInternal
	}
}

// storeDown reports whether err says that the database could not answer
// for now — it is down, unreachable, locked or out of time — rather than
// that the request or the code is wrong. Such a request gets the 503 page
// and may be retried (E-06b, E-07a, E-07c). The drivers' error types are
// matched by their methods, so this package imports no driver: SQLite's
// result codes (modernc.org/sqlite's Code() int) and PostgreSQL's SQLSTATE
// classes (pgconn's SQLState() string).
func storeDown(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) {
		switch code := pg.SQLState(); {
		case strings.HasPrefix(code, "08"), // connection exception
			strings.HasPrefix(code, "53"),    // insufficient resources
			strings.HasPrefix(code, "57"),    // operator intervention: shutdown, query canceled
			strings.HasPrefix(code, "58"),    // system error
			code == "40001", code == "40P01": // serialization failure, deadlock
			return true
		}
		return false
	}
	var lite interface{ Code() int }
	if errors.As(err, &lite) {
		switch lite.Code() & 0xff { // the primary result code
		case 5, 6, 7, 8, 10, 13, 14: // BUSY, LOCKED, NOMEM, READONLY, IOERR, FULL, CANTOPEN
			return true
		}
		return false
	}
	// database/sql does not export this one.
	return strings.Contains(err.Error(), "sql: database is closed")
}

// retryAfterStoreDown is the Retry-After of the 503 page, in seconds.
const retryAfterStoreDown = "5"

// renderProblem renders the friendly error page; with HX-Request it renders
// the same page content as a fragment.
func (a *App) renderProblem(c *gin.Context, p problem) { a.renderProblemRef(c, p, requestID(c)) }

// renderProblemRef is renderProblem with the reference of the request that
// failed, when that was an earlier one.
func (a *App) renderProblemRef(c *gin.Context, p problem, ref string) {
	// An error page mints no CSRF token: it has no form of its own, and
	// a new anonymous session here would replace, in the browser, the one
	// a concurrent request of the same person just renewed.
	// Without a session (the store did not answer, or a route outside
	// the session group) there is no token and nobody is signed in.
	csrf := ""
	if hasSession(c) {
		csrf = a.sessions.GetString(c.Request.Context(), keyCSRF)
	}
	l := a.layoutWithToken(c, p.heading, csrf)
	if p.status == http.StatusServiceUnavailable {
		// The store is down for now: tell clients and proxies when to
		// try again (RFC 9110 §10.2.3).
		c.Header("Retry-After", retryAfterStoreDown)
	}
	a.render(c, p.status, detached(views.Error(l, p.page(c.Request.Context(), ref))))
}

// detached renders comp even once the request's context is done: templ
// refuses to render with a done context, and an error page may be the
// answer to exactly that, the request's deadline (E-07c). Only the
// rendering is detached; the session is still committed with the
// request's context.
func detached(comp templ.Component) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		return comp.Render(context.WithoutCancel(ctx), w)
	})
}
