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
)

// problem is one kind of failure a person can meet, with the page that
// explains it. Its code travels in the URL of the error page after a failed
// callback, so it is a fixed word, never text from the request.
type problem struct {
	code    string
	status  int
	heading string
	message string
	action  string
	back    string
}

var (
	problemInvalidState = problem{"invalid", http.StatusBadRequest, "This sign-in link is not valid",
		"It may have been used already, or it was started in another browser. Start again from the sign-in page.", "Back to sign-in", "/login"}
	problemExpired = problem{"expired", http.StatusBadRequest, "Your sign-in expired",
		"You took longer than 10 minutes at the provider, so we stopped waiting. Please try again.", "Try again", "/login"}
	problemDenied = problem{"denied", http.StatusForbidden, "Sign-in cancelled",
		"You cancelled at the provider, so nothing was changed. You can choose another way to sign in.", "Back to sign-in", "/login"}
	problemRejected = problem{"rejected", http.StatusBadGateway, "The provider's answer could not be trusted",
		"The provider's reply did not pass our checks, so we did not sign you in. Please try again.", "Try again", "/login"}
	problemUnavailable = problem{"unavailable", http.StatusBadGateway, "The provider is not answering properly",
		"We could not finish signing you in because the provider had a problem. Nothing was changed. Try again in a moment, or choose another provider.", "Try again", "/login"}
	problemTimeout = problem{"timeout", http.StatusGatewayTimeout, "The provider took too long",
		"We stopped waiting for the provider. Nothing was changed. Try again in a moment, or choose another provider.", "Try again", "/login"}
	problemStoreDown = problem{"down", http.StatusServiceUnavailable, "Linkport is temporarily unavailable",
		"We could not reach our database. Nothing was changed. Please try again in a moment.", "Try again", "/"}
	problemCSRF = problem{"forbidden", http.StatusForbidden, "This form has expired",
		"For your safety we only accept forms sent from this page in this browser. Reload the page and try again.", "Back to start", "/"}
	problemNotFound = problem{"notfound", http.StatusNotFound, "Page not found",
		"There is nothing at this address.", "Go to Linkport", "/"}
	problemMethod = problem{"method", http.StatusMethodNotAllowed, "That is not how this page is used",
		"This address only accepts form submissions from Linkport's own pages.", "Go to Linkport", "/"}
	problemInternal = problem{"internal", http.StatusInternalServerError, "Something went wrong on our side",
		"We have logged the problem. Nothing was changed. Please try again.", "Go to Linkport", "/"}
	problemLinkExpired = problem{"linkexpired", http.StatusBadRequest, "This request has expired",
		"It was already answered, or it is more than 10 minutes old. Nothing was changed. Start again from your connected accounts.", "Back to connected accounts", "/accounts"}
	problemLastIdentity = problem{"last", http.StatusConflict, "This is your only way to sign in",
		"You cannot remove the last connected account: you would have no way back in. Connect another account first, then remove this one.", "Back to connected accounts", "/accounts"}
	problemTaken = problem{"taken", http.StatusConflict, "Already connected to another account",
		"That provider account belongs to another Linkport account. Nothing was changed.", "Back to connected accounts", "/accounts"}
	problemSameAccount = problem{"same", http.StatusBadRequest, "Nothing to merge",
		"Both accounts are the same Linkport account.", "Back to connected accounts", "/accounts"}
	problemBadInput = problem{"input", http.StatusBadRequest, "That request was not understood",
		"Nothing was changed. Go back and try again.", "Back to connected accounts", "/accounts"}
	problemUnknownProvider = problem{"provider", http.StatusNotFound, "Unknown sign-in provider",
		"That provider is not configured here.", "Back to sign-in", "/login"}
)

// callbackProblem finds, by its code, a failure a callback redirected to.
func callbackProblem(code string) (problem, bool) {
	for _, p := range []problem{problemInvalidState, problemExpired, problemDenied, problemRejected, problemUnavailable, problemTimeout, problemStoreDown, problemInternal, problemTaken, problemNotYours, problemNotFresh} {
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
	a.render(c, p.status, detached(views.Error(l, views.ErrorPage{
		Status:    p.status,
		Heading:   p.heading,
		Message:   p.message,
		ActionURL: p.back,
		Action:    p.action,
		RequestID: ref,
	})))
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
