package handlers_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/linkport/linkport/providers/emulator"
)

// Journey 1 for each provider: sign in through the emulator, land on
// "Connected accounts" with that account shown.
func TestSignInWithEachProvider(t *testing.T) {
	for _, tc := range []struct {
		provider  string
		person    emulator.Person
		wantEmail string
	}{
		{"google", emulator.Person{Sub: "100000000000000000001", Name: "Grace Hopper", Email: "grace@example.com", EmailVerified: true}, "grace@example.com"},
		{"facebook", emulator.Person{Sub: "1000000000000001", Name: "Frances Allen", Email: "frances@example.com"}, "frances@example.com"},
		{"x", emulator.Person{Sub: "1000000000000000001", Name: "Xavier Leroy", Username: "xleroy", Email: "x@example.com"}, "x@example.com"},
	} {
		t.Run(tc.provider, func(t *testing.T) {
			p := newPortal(t)
			b := p.browser()
			page := b.mustSignIn(tc.provider, tc.person)
			if diff := cmp.Diff([]string{tc.provider}, identitiesOn(page.Body)); diff != "" {
				t.Errorf("identities on /accounts (-want +got):\n%s", diff)
			}
			for _, want := range []string{tc.person.Name, tc.wantEmail, "Linked", "last used"} {
				if !strings.Contains(page.Body, want) {
					t.Errorf("/accounts lacks %q", want)
				}
			}
			if got := p.count("users"); got != 1 {
				t.Errorf("users = %d, want 1", got)
			}
		})
	}
}

// Sign in, sign out, sign in again as the same person: same account.
func TestSignInTwiceIsSameUser(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	alice := emulator.Person{Sub: "200000000000000000001", Name: "Alice", Email: "alice@example.com", EmailVerified: true}
	b.mustSignIn("google", alice)
	var first int64
	if err := p.db.DB().QueryRow("SELECT user_id FROM identities").Scan(&first); err != nil {
		t.Fatal(err)
	}
	// Sign out.
	page := b.get("/accounts")
	res := b.post("/logout", formWithCSRF(page.Body))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	if res := b.get("/accounts"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("after logout /accounts: %d %s, want redirect to /login", res.StatusCode, res.Header.Get("Location"))
	}
	b.mustSignIn("google", alice)
	var second int64
	var n int
	if err := p.db.DB().QueryRow("SELECT user_id, count(*) FROM identities").Scan(&second, &n); err != nil {
		t.Fatal(err)
	}
	if first != second || n != 1 || p.count("users") != 1 {
		t.Errorf("second sign-in: user %d (first %d), %d identities, %d users; want same user, 1, 1", second, first, n, p.count("users"))
	}
}

// A person who cancels at the provider gets the friendly page; nothing is
// written and the token endpoint is never called (A-12a).
func TestDeniedConsent(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	cb := b.consent("google", b.begin("google", nil), emulator.Person{})
	res := b.get(cb.String())
	if res.StatusCode != http.StatusSeeOther || errorRedirect(t, res) != "/auth/error?reason=denied" {
		t.Fatalf("callback: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	page := b.get(res.Header.Get("Location"))
	if page.StatusCode != http.StatusForbidden || !strings.Contains(page.Body, "Sign-in cancelled") || !strings.Contains(page.Body, `href="/login"`) {
		t.Errorf("error page: %d, want 403 'Sign-in cancelled' with a way back", page.StatusCode)
	}
	if hits := p.emu.Hits("google", "token"); hits != 0 {
		t.Errorf("token endpoint hits = %d, want 0", hits)
	}
	if p.count("users") != 0 || p.count("identities") != 0 {
		t.Error("a cancelled sign-in wrote a user or identity")
	}
	// Replaying the cancelled callback is as dead as any used state.
	if res := b.get(cb.String()); errorRedirect(t, res) != "/auth/error?reason=invalid" {
		t.Errorf("replayed cancel: %q", res.Header.Get("Location"))
	}
}

// Provider failures end on an error page with a way back, and write no user
// or identity (E-01, E-02, E-03 through the emulator's fault switches).
func TestProviderFailuresWriteNothing(t *testing.T) {
	for _, tc := range []struct {
		name, provider, endpoint string
		fault                    emulator.Fault
		wantReason               string
		wantStatus               int
	}{
		{"google token 500", "google", "token", emulator.Fault{Status: 500}, "unavailable", http.StatusBadGateway},
		{"google token slow", "google", "token", emulator.Fault{Delay: 5 * time.Second}, "timeout", http.StatusGatewayTimeout},
		{"google token malformed", "google", "token", emulator.Fault{Body: `{"access_token":"a","token_type":"Bearer","id_token":`}, "unavailable", http.StatusBadGateway},
		{"google token id_token number", "google", "token", emulator.Fault{Body: `{"access_token":"a","token_type":"Bearer","id_token":123}`}, "unavailable", http.StatusBadGateway},
		{"google userinfo 500", "google", "userinfo", emulator.Fault{Status: 500}, "unavailable", http.StatusBadGateway},
		{"facebook token 503", "facebook", "token", emulator.Fault{Status: 503}, "unavailable", http.StatusBadGateway},
		{"facebook me slow", "facebook", "me", emulator.Fault{Delay: 5 * time.Second}, "timeout", http.StatusGatewayTimeout},
		{"facebook me malformed", "facebook", "me", emulator.Fault{Body: `{"id":`}, "unavailable", http.StatusBadGateway},
		{"x token 500", "x", "token", emulator.Fault{Status: 500}, "unavailable", http.StatusBadGateway},
		{"x me slow", "x", "me", emulator.Fault{Delay: 5 * time.Second}, "timeout", http.StatusGatewayTimeout},
		{"x me empty data", "x", "me", emulator.Fault{Body: `{"data":{}}`}, "unavailable", http.StatusBadGateway},
		{"x token html", "x", "token", emulator.Fault{Body: `<html><body>oops</body></html>`}, "unavailable", http.StatusBadGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPortalWith(t, portalOptions{timeout: 500 * time.Millisecond})
			b := p.browser()
			p.emu.SetFault(tc.provider, tc.endpoint, tc.fault)
			start := time.Now()
			res := b.signIn(tc.provider, person("Pat", "pat@example.com"))
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("failing sign-in took %s; the provider timeout is 500ms", took)
			}
			if want := "/auth/error?reason=" + tc.wantReason; res.StatusCode != http.StatusSeeOther || errorRedirect(t, res) != want {
				t.Fatalf("callback: %d %q, want 303 %q; logs:\n%s", res.StatusCode, res.Header.Get("Location"), want, p.logs.String())
			}
			page := b.get(res.Header.Get("Location"))
			if page.StatusCode != tc.wantStatus || !strings.Contains(page.Body, `data-testid="error-action"`) {
				t.Errorf("error page status %d, want %d with a way back", page.StatusCode, tc.wantStatus)
			}
			if p.count("users") != 0 || p.count("identities") != 0 {
				t.Errorf("failed sign-in wrote %d users, %d identities", p.count("users"), p.count("identities"))
			}
			if res := b.get("/accounts"); res.StatusCode != http.StatusSeeOther {
				t.Errorf("after a failed sign-in /accounts answered %d, want a redirect to sign in", res.StatusCode)
			}
		})
	}
}

// formWithCSRF picks the CSRF token out of a page.
func formWithCSRF(body string) map[string][]string {
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		return nil
	}
	return map[string][]string{"csrf_token": {m[1]}}
}
