package handlers_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// The idle timeout is kept in the session index: a session unused for
// longer ends (B-03a), and plain requests never write the session back (so
// a late write-back has nothing to undo, K10).
func TestIdleTimeoutWithoutSessionWrites(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("google", person("Ida", "ida@example.com"))
	for _, step := range []time.Duration{time.Second, 2 * time.Minute, 119 * time.Minute} {
		p.clock.Advance(step)
		if res := b.get("/accounts"); res.StatusCode != http.StatusOK || len(res.Header.Values("Set-Cookie")) != 0 {
			t.Fatalf("GET /accounts %s later: %d, Set-Cookie %q; want 200 and no session write", step, res.StatusCode, res.Header.Values("Set-Cookie"))
		}
	}
	p.clock.Advance(2*time.Hour + time.Minute)
	res := b.get("/accounts")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Errorf("GET /accounts after 2h01m idle: %d %q, want a redirect to /login", res.StatusCode, res.Header.Get("Location"))
	}
}
