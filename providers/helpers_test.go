package providers

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// sentinels are the four error kinds; every provider error must wrap exactly
// one of them.
var sentinels = []error{ErrTimeout, ErrUnavailable, ErrBadResponse, ErrRejected}

// assertKind fails unless err wraps want and none of the other sentinels.
func assertKind(t *testing.T, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %v", want)
	}
	for _, s := range sentinels {
		if got := errors.Is(err, s); got != (s == want) {
			t.Errorf("errors.Is(%v, %v) = %v, want %v", err, s, got, s == want)
		}
	}
}

// assertNoSecrets fails if any secret appears in err's text or in the text of
// anything it wraps.
func assertNoSecrets(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for e := err; e != nil; e = errors.Unwrap(e) {
		for _, s := range secrets {
			if s != "" && strings.Contains(e.Error(), s) {
				t.Errorf("error %q contains secret %q", e.Error(), s)
			}
		}
	}
}

// s256 is the PKCE S256 challenge of a verifier (RFC 7636 §4.2).
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authQuery parses the query of an authorization URL.
func authQuery(t *testing.T, authURL string) url.Values {
	t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatalf("parse auth URL: %v", err)
	}
	return u.Query()
}

// browserToCallback plays the browser: it GETs the authorization URL with a
// client that stops at the redirect to the callback, and returns the
// callback's query (code, state).
func browserToCallback(t *testing.T, authURL, callbackPrefix string) url.Values {
	t.Helper()
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(authURL)
	if err != nil {
		t.Fatalf("GET authorize: %v", err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, callbackPrefix) {
		t.Fatalf("authorize answered %d Location %q, want 302 to %s", resp.StatusCode, loc, callbackPrefix)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("parse Location: %v", err)
	}
	return u.Query()
}
