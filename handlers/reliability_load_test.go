package handlers_test

// SECURITY.md E-13: many people signing in at once, and one person's
// parallel htmx requests, lose no session and cross none.

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// E-13a: 200 browsers, each with its own cookie jar, run a whole sign-in
// at the same time (Google, Facebook and X in turn): every one succeeds,
// every /accounts shows its own person, and the 200 session tokens are
// distinct. SECURITY.md asks for 500 and a latency budget on SQLite and
// PostgreSQL; 200 on SQLite keep the package's -race run short, and
// latency belongs to cmd/linkport-bench. The provider timeout is raised
// to 20 s: the emulated providers share the portal's database.
func TestE13a_ConcurrentSignIns(t *testing.T) {
	t.Parallel() // overlaps TestE06b's 11 s wait on a lock
	p := newPortalWith(t, portalOptions{timeout: 20 * time.Second})
	const n = 200
	type result struct {
		token, name, page string
		err               error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			b := p.browser()
			name := fmt.Sprintf("Person %03d", i)
			r := &results[i]
			r.name = name
			res, err := b.trySignIn(providerNames[i%len(providerNames)], person(name, fmt.Sprintf("p%03d@example.com", i)))
			switch {
			case err != nil:
				r.err = err
				return
			case res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/accounts":
				r.err = fmt.Errorf("callback %d %q", res.StatusCode, res.Header.Get("Location"))
				return
			}
			page, err := b.send(b.newRequest(http.MethodGet, "/accounts", "", nil))
			if err != nil || page.StatusCode != http.StatusOK {
				r.err = fmt.Errorf("GET /accounts: %v %d", err, page.StatusCode)
				return
			}
			r.token, r.page = b.sessionCookie(), page.Body
		})
	}
	wg.Wait()
	tokens := map[string]int{}
	failed := 0
	for i, r := range results {
		if r.err != nil {
			if failed++; failed <= 5 {
				t.Errorf("sign-in %d: %v", i, r.err)
			}
			continue
		}
		if got := displayName(r.page); got != r.name {
			t.Errorf("sign-in %d: /accounts shows %q, want %q", i, got, r.name)
		}
		if j, dup := tokens[r.token]; dup || r.token == "" {
			t.Errorf("sign-ins %d and %d share the session token %q", j, i, r.token)
		}
		tokens[r.token] = i
	}
	if failed > 0 {
		t.Errorf("%d of %d sign-ins failed", failed, n)
	}
	if got := p.count("users"); got != n {
		t.Errorf("%d users, want %d", got, n)
	}
	if strings.Contains(p.logs.String(), `"status":5`) {
		t.Error("a request answered 5xx")
	}
}

// E-13b: after a sign-in, 20 htmx requests of one session at once — 5 of
// them answer "Cancel" on a link preview, which writes a flash notice and
// removes the preview from the session; 15 read pages, /accounts taking
// the notice — leave the session signed in: user id, identity and the
// time of the sign-in (what a step-up is measured against) unchanged.
func TestE13b_ParallelHTMXKeepsSession(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("google", ann)
	token := b.sessionCookie()
	before, _ := p.sessionValues(token)
	var previews []string
	for i := range 5 {
		previews = append(previews, b.linkPreview("facebook", person(fmt.Sprint("Maybe ", i), "")))
	}
	csrf := formWithCSRF(b.accountsPage().Body)["csrf_token"][0]
	if b.sessionCookie() != token {
		t.Fatal("the previews renewed the session token; the test assumes one token")
	}

	var wg sync.WaitGroup
	statuses := make([]int, 20)
	errs := make([]error, 20)
	for i := range 20 {
		wg.Go(func() {
			var req *http.Request
			switch {
			case i < 5:
				req = b.newRequest(http.MethodPost, "/accounts/link/confirm",
					url.Values{"id": {previews[i]}, "action": {"cancel"}}.Encode(), htmxHeaders(p, csrf))
			default:
				path := []string{"/accounts", "/accounts/sessions", "/accounts/activity"}[i%3]
				req = b.newRequest(http.MethodGet, path, "", htmxHeaders(p, ""))
			}
			res, err := b.send(req)
			statuses[i], errs[i] = res.StatusCode, err
		})
	}
	wg.Wait()
	for i := range 20 {
		switch {
		case errs[i] != nil:
			t.Errorf("request %d: %v", i, errs[i])
		case i < 5 && statuses[i] != http.StatusNoContent && statuses[i] != http.StatusBadRequest:
			// 204 + HX-Redirect, or 400 "expired" when a parallel
			// request's commit brought the taken preview back and a
			// later one took it again (scs last write wins, K10).
			t.Errorf("cancel %d: %d, want 204 (or 400 for a preview already answered)", i, statuses[i])
		case i >= 5 && statuses[i] != http.StatusOK:
			t.Errorf("read %d: %d, want 200", i, statuses[i])
		}
	}
	after, ok := p.sessionValues(b.sessionCookie())
	if !ok {
		t.Fatal("the session is gone")
	}
	for _, k := range []string{"user_id", "identity_id", "auth_at", "csrf"} {
		if after[k] != before[k] || after[k] == nil {
			t.Errorf("session %s: %v before, %v after", k, before[k], after[k])
		}
	}
	if !b.signedIn() {
		t.Error("signed out by parallel htmx requests")
	}
	if strings.Contains(p.logs.String(), `"status":5`) {
		t.Error("a request answered 5xx")
	}
}
