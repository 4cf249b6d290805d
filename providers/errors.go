package providers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
)

// The sentinel errors every BeginAuth, Authorize and FetchUser error wraps
// (exactly one of them), so that handlers can choose an error page without
// looking at provider-specific details.
var (
	// ErrTimeout means the provider did not answer in time (504 page).
	ErrTimeout = errors.New("provider timed out")
	// ErrUnavailable means the provider could not be reached, answered with a
	// 5xx or a redirect, or its discovery document was unusable (502 page).
	ErrUnavailable = errors.New("provider unavailable")
	// ErrBadResponse means the provider answered with something that is not
	// what the protocol promises: bad JSON, wrong types, missing fields, an
	// oversized body or HTML instead of JSON (502 page).
	ErrBadResponse = errors.New("provider sent a malformed response")
	// ErrRejected means the provider refused the sign-in (invalid_grant, a 4xx
	// from the token endpoint) or what it sent failed verification (ID token
	// signature or claims, nonce, userinfo subject) (400/502 page).
	ErrRejected = errors.New("provider rejected the sign-in")
)

// maxBodyBytes bounds every provider response body we read, so a hostile or
// broken provider cannot make us buffer unbounded data (E-03b).
const maxBodyBytes = 1 << 20

// errBodyTooLarge is reported by the size-limiting transport; it never
// reaches callers except as ErrBadResponse.
var errBodyTooLarge = errors.New("response body over 1 MiB")

// Error is the error type returned by the providers in this package. It
// carries only a sanitized description: the underlying error is deliberately
// not kept, because errors from net/http and goth quote request URLs, and
// goth's Facebook provider puts the access token in the URL (K5).
type Error struct {
	Provider string // provider name, e.g. "google"
	Op       string // "begin", "discovery", "token exchange", "id token", "userinfo", "user"
	Kind     error  // one of ErrTimeout, ErrUnavailable, ErrBadResponse, ErrRejected
	Detail   string // sanitized, safe to log
}

// Error formats the error without any secret or URL query.
func (e *Error) Error() string {
	s := "providers: " + e.Provider + ": " + e.Op + ": " + e.Kind.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap returns only the sentinel kind, so errors.Is matches exactly one of
// the four sentinels and never an inner error that may quote a token.
func (e *Error) Unwrap() error { return e.Kind }

// newError builds an *Error of the given kind with a detail string from which
// every secret is removed.
func newError(provider, op string, kind error, detail string, secrets ...string) *Error {
	return &Error{Provider: provider, Op: op, Kind: kind, Detail: redact(detail, secrets...)}
}

// wrapError classifies err and returns it as a sanitized *Error. An *Error
// passes through unchanged so classification happens once.
func wrapError(provider, op string, err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	detail, kind := classify(err)
	return newError(provider, op, kind, detail, secrets...)
}

// classify describes an error from net/http, x/oauth2 or go-oidc and maps it
// to a sentinel; the description never quotes a URL (URLs may carry a token
// or code).
func classify(err error) (detail string, kind error) {
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "deadline exceeded", ErrTimeout
	case errors.Is(err, errBodyTooLarge):
		return errBodyTooLarge.Error(), ErrBadResponse
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return fmt.Sprintf("status %d %s", status, sanitizeCode(re.ErrorCode)), statusKind(status)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// url.Error's own text quotes the full URL; describe only the inner
		// network error, which names at most a host and port.
		return ue.Op + ": " + innerNetError(ue.Err), ErrUnavailable
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return opErr.Op + " failed", ErrUnavailable
	}
	return "malformed response", ErrBadResponse
}

// statusKind maps an HTTP status from a provider to a sentinel: a redirect is
// never followed (A-15b) and counts as unavailable, like a 5xx.
func statusKind(status int) error {
	switch {
	case status >= 400 && status < 500:
		return ErrRejected
	case status >= 200 && status < 300:
		return ErrBadResponse
	default:
		return ErrUnavailable
	}
}

// innerNetError describes the network error inside a *url.Error without
// quoting anything the caller sent.
func innerNetError(err error) string {
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return opErr.Op + " failed"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "dns lookup failed"
	}
	return "request failed"
}

// sanitizeCode keeps an OAuth error code (RFC 6749 §5.2: printable ASCII,
// short) safe to put in a log line.
func sanitizeCode(code string) string {
	if len(code) > 64 {
		code = code[:64]
	}
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, code)
}

// redact removes every non-empty secret from s; a last line of defence in case
// a detail string ever quotes one.
func redact(s string, secrets ...string) string {
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
			if esc := url.QueryEscape(secret); esc != secret {
				s = strings.ReplaceAll(s, esc, "[redacted]")
			}
		}
	}
	return s
}

// recoverAs turns a panic in provider code into ErrBadResponse: a malformed
// provider response must never crash the request goroutine (K3, K4). It is
// deferred with a pointer to the function's error result.
func recoverAs(provider, op string, errp *error) {
	if r := recover(); r != nil {
		*errp = newError(provider, op, ErrBadResponse, "panic while handling the provider response")
	}
}
