package handlers_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// The idle timeout is kept by the handlers: a session unused for longer
// ends (B-03a), and an active one is written back at most once a minute,
// not on every request (so a late write-back has little to undo, K10).
func TestIdleTimeoutAndLastSeen(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("google", person("Ida", "ida@example.com"))
	p.clock.Advance(time.Second)
	if res := b.get("/accounts"); res.StatusCode != http.StatusOK || len(res.Header.Values("Set-Cookie")) != 0 {
		t.Errorf("GET /accounts within the minute: %d, Set-Cookie %q; want 200 and no write-back", res.StatusCode, res.Header.Values("Set-Cookie"))
	}
	p.clock.Advance(2 * time.Minute)
	if res := b.get("/accounts"); res.StatusCode != http.StatusOK || len(res.Header.Values("Set-Cookie")) != 1 {
		t.Errorf("GET /accounts after two minutes: %d, Set-Cookie %q; want 200 and the last-seen write", res.StatusCode, res.Header.Values("Set-Cookie"))
	}
	// Active within the timeout: still signed in after 1h59m of steps.
	p.clock.Advance(119 * time.Minute)
	if res := b.get("/accounts"); res.StatusCode != http.StatusOK {
		t.Fatalf("GET /accounts 1h59m after the last request: %d, want 200", res.StatusCode)
	}
	p.clock.Advance(2*time.Hour + time.Minute)
	res := b.get("/accounts")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Errorf("GET /accounts after 2h01m idle: %d %q, want a redirect to /login", res.StatusCode, res.Header.Get("Location"))
	}
}
