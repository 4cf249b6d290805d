package handlers_test

// Security tests for the front channel of a sign-in: response type, state,
// open redirects, error responses and login CSRF (SECURITY.md,
// C-04).
//
// Decision on status codes: SECURITY.md says a bad callback answers "400",
// and also (A-10b) that the callback URL never renders a page. Linkport does
// both in two steps: the callback answers 303 to /auth/error?reason=<fixed
// word>, and that page answers 400 (or the status of the failure). Every test
// below asserts that whole chain through wantCallbackFailure.

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/linkport/linkport/providers/emulator"
)

var providerNames = []string{"google", "facebook", "x"}

// A-01a: every provider is asked for the authorization code grant only.
func TestA01a_ResponseTypeCodeOnly(t *testing.T) {
	p := newPortal(t)
	for _, name := range providerNames {
		t.Run(name, func(t *testing.T) {
			q := p.browser().begin(name, nil).Query()
			if diff := cmp.Diff([]string{"code"}, q["response_type"]); diff != "" {
				t.Errorf("response_type (-want +got):\n%s", diff)
			}
			if q.Has("response_mode") {
				t.Errorf("response_mode = %q, want none (query is the only mode used)", q.Get("response_mode"))
			}
		})
	}
}

// A-01b: tokens in the front channel are never accepted.
func TestA01b_FrontChannelTokensRefused(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	cb := b.consent("google", b.begin("google", nil), person("Ann", "ann@example.com"))
	bad := callbackWith(cb, url.Values{"code": nil, "access_token": {"X"}, "id_token": {"Y"}})
	wantCallbackFailure(t, b, b.get(bad.String()), "invalid", http.StatusBadRequest)
	if hits := p.emu.Hits("google", "token"); hits != 0 {
		t.Errorf("token endpoint hits = %d, want 0", hits)
	}
	if b.signedIn() {
		t.Error("a callback with tokens instead of a code signed the browser in")
	}
}

// A-02a: a callback without state is refused before any token request.
func TestA02a_MissingStateRejected(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	cb := b.consent("google", b.begin("google", nil), person("Ann", "ann@example.com"))
	res := b.get(callbackWith(cb, url.Values{"state": nil}).String())
	wantCallbackFailure(t, b, res, "invalid", http.StatusBadRequest)
	if hits := p.emu.Hits("google", "token"); hits != 0 {
		t.Errorf("token endpoint hits = %d, want 0", hits)
	}
	if b.signedIn() {
		t.Error("a callback without state signed the browser in")
	}
	// The flow was not consumed by the stateless callback: the real one
	// still works, so the refusal above came from the missing state.
	if res := b.get(cb.String()); res.Header.Get("Location") != "/accounts" {
		t.Errorf("genuine callback after the refused one: %d %q, want 303 /accounts", res.StatusCode, res.Header.Get("Location"))
	}
}

// A-02b: a random state is refused before any token request.
func TestA02b_RandomStateRejected(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	cb := b.consent("google", b.begin("google", nil), person("Ann", "ann@example.com"))
	res := b.get(callbackWith(cb, url.Values{"state": {strings.Repeat("A", 43)}}).String())
	wantCallbackFailure(t, b, res, "invalid", http.StatusBadRequest)
	if hits := p.emu.Hits("google", "token"); hits != 0 {
		t.Errorf("token endpoint hits = %d, want 0", hits)
	}
	if b.signedIn() {
		t.Error("a random state signed the browser in")
	}
}

// A-02c: a state is bound to the session that started the flow.
func TestA02c_CrossSessionStateRejected(t *testing.T) {
	p := newPortal(t)
	attacker, victim := p.browser(), p.browser()
	attackerCB := attacker.consent("google", attacker.begin("google", nil), person("Mallory", "mallory@example.com"))
	victim.begin("google", nil) // the victim has a flow of its own
	res := victim.get(attackerCB.String())
	wantCallbackFailure(t, victim, res, "invalid", http.StatusBadRequest)
	if hits := p.emu.Hits("google", "token"); hits != 0 {
		t.Errorf("token endpoint hits = %d, want 0", hits)
	}
	if victim.signedIn() {
		t.Error("the victim was signed in with the attacker's state and code")
	}
	if n := p.count("identities"); n != 0 {
		t.Errorf("identities = %d, want 0", n)
	}
}

// A-02d: a state is good for one callback only.
func TestA02d_ReplayedCallbackRejected(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	cb := b.consent("google", b.begin("google", nil), person("Ann", "ann@example.com"))
	if res := b.get(cb.String()); res.Header.Get("Location") != "/accounts" {
		t.Fatalf("first callback: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	hits := p.emu.Hits("google", "token")
	wantCallbackFailure(t, b, b.get(cb.String()), "invalid", http.StatusBadRequest)
	if got := p.emu.Hits("google", "token"); got != hits {
		t.Errorf("token endpoint hits after replay = %d, want %d (unchanged)", got, hits)
	}
}

// A-02e: a flow expires after ten minutes.
func TestA02e_ExpiredFlowRejected(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	cb := b.consent("google", b.begin("google", nil), person("Ann", "ann@example.com"))
	p.clock.Advance(11 * time.Minute)
	res := b.get(cb.String())
	wantCallbackFailure(t, b, res, "expired", http.StatusBadRequest)
	if page := b.get("/auth/error?reason=expired"); !strings.Contains(page.Body, "Your sign-in expired") || !strings.Contains(page.Body, "try again") {
		t.Error("expired page does not say the sign-in expired and to try again")
	}
	if hits := p.emu.Hits("google", "token"); hits != 0 {
		t.Errorf("token endpoint hits = %d, want 0", hits)
	}
	if b.signedIn() {
		t.Error("an expired flow signed the browser in")
	}
}

// A-02f: the state is made by the server, whatever the request says, and
// is long and unique.
func TestA02f_StateServerGeneratedAndUnique(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	token := b.csrf()
	const flows = 1000
	seen := make(map[string]bool, flows)
	for i := range flows {
		res := b.post("/auth/google?state=ATTACKER", url.Values{"csrf_token": {token}, "state": {"ATTACKER"}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("flow %d: status %d", i, res.StatusCode)
		}
		loc, err := url.Parse(res.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		state := loc.Query().Get("state")
		if state == "ATTACKER" {
			t.Fatal("the portal used the state the request chose (K1)")
		}
		raw, err := base64.RawURLEncoding.DecodeString(state)
		if err != nil || len(raw) < 16 {
			t.Fatalf("state %q does not decode to at least 16 bytes (%v)", state, err)
		}
		if seen[state] {
			t.Fatalf("flow %d repeated state %q", i, state)
		}
		seen[state] = true
	}
}

// A-02g: repeated state or code parameters are refused.
func TestA02g_ParameterPollutionRejected(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(cb *url.URL) url.Values
	}{
		{"two states", func(cb *url.URL) url.Values {
			return url.Values{"state": {cb.Query().Get("state"), "S2"}}
		}},
		{"two codes", func(cb *url.URL) url.Values {
			return url.Values{"code": {cb.Query().Get("code"), "C2"}}
		}},
		{"two codes, genuine second", func(cb *url.URL) url.Values {
			return url.Values{"code": {"C1", cb.Query().Get("code")}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPortal(t)
			b := p.browser()
			cb := b.consent("google", b.begin("google", nil), person("Ann", "ann@example.com"))
			wantCallbackFailure(t, b, b.get(callbackWith(cb, tc.set(cb)).String()), "invalid", http.StatusBadRequest)
			if hits := p.emu.Hits("google", "token"); hits != 0 {
				t.Errorf("token endpoint hits = %d, want 0", hits)
			}
			if b.signedIn() {
				t.Error("a polluted callback signed the browser in")
			}
		})
	}
}

var errorActionRE = regexp.MustCompile(`href="([^"]*)" data-testid="error-action"`)

// A-09a: the return path given at sign-in is followed only when it is a
// path on this site. Anything else lands on /accounts, the page a sign-in
// goes to by default ("/" itself would only redirect there).
func TestA09a_NextIsLocalPathOnly(t *testing.T) {
	p := newPortal(t)
	for _, tc := range []struct{ next, want string }{
		{"https://evil.example", "/accounts"},
		{"//evil.example", "/accounts"},
		{`/\evil.example`, "/accounts"},
		{`\\evil.example`, "/accounts"},
		{"/%2F%2Fevil.example", "/accounts"},
		{"/%5Cevil.example", "/accounts"},
		{"https:evil.example", "/accounts"},
		{"javascript:alert(1)", "/accounts"},
		{"/%09/evil.example", "/accounts"},
		{"/\t/evil.example", "/accounts"},
		{"/\r\nLocation: https://evil.example", "/accounts"},
		{"", "/accounts"},
		{"/", "/accounts"},
		{"/accounts?tab=1", "/accounts?tab=1"},
		{"/accounts#connected", "/accounts#connected"},
	} {
		t.Run(tc.next, func(t *testing.T) {
			b := p.browser()
			authURL := b.begin("google", url.Values{"next": {tc.next}})
			res := b.get(b.consent("google", authURL, emulator.Person{Sub: "900000000000000000001", Name: "Ann"}).String())
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != tc.want {
				t.Errorf("next=%q: callback %d Location %q, want 303 %q", tc.next, res.StatusCode, res.Header.Get("Location"), tc.want)
			}
		})
	}
}

// A-09b: the error page's way back and logout go only to fixed local paths,
// whatever the request carries.
func TestA09b_ErrorPageAndLogoutGoToFixedPaths(t *testing.T) {
	p := newPortal(t)
	t.Run("error page", func(t *testing.T) {
		b := p.browser()
		for _, reason := range []string{"invalid", "expired", "denied", "rejected", "unavailable", "timeout", "down", "internal",
			"https://evil.example", "//evil.example", "javascript:alert(1)", ""} {
			q := url.Values{"reason": {reason}, "next": {"https://evil.example"}, "back": {"//evil.example"}, "return_to": {"https://evil.example"}}
			page := b.get("/auth/error?" + q.Encode())
			m := errorActionRE.FindStringSubmatch(page.Body)
			if m == nil {
				t.Errorf("reason=%q: no way back on the error page", reason)
				continue
			}
			if m[1] != "/login" && m[1] != "/" {
				t.Errorf("reason=%q: way back %q, want /login or /", reason, m[1])
			}
			if strings.Contains(page.Body, "evil.example") {
				t.Errorf("reason=%q: the error page reflects the request", reason)
			}
		}
	})
	t.Run("logout", func(t *testing.T) {
		for _, next := range []string{"https://evil.example", "//evil.example", "/accounts"} {
			b := p.browser()
			page := b.mustSignIn("google", emulator.Person{Sub: "900000000000000000002", Name: "Bea"})
			form := url.Values(formWithCSRF(page.Body))
			form.Set("next", next)
			res := b.post("/logout?next="+url.QueryEscape(next), form)
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?signed_out=1" {
				t.Errorf("logout with next=%q: %d %q, want 303 /login?signed_out=1", next, res.StatusCode, res.Header.Get("Location"))
			}
		}
	})
	t.Run("login page keeps only safe next", func(t *testing.T) {
		b := p.browser()
		for _, tc := range []struct{ next, wantField string }{
			{"//evil.example", ""},
			{"https://evil.example", ""},
			{"/accounts?tab=1", "/accounts?tab=1"},
		} {
			page := b.get("/login?next=" + url.QueryEscape(tc.next))
			// The sign-in forms' next; the language switcher's own next
			// (this page, a local path) comes after them.
			body, _, _ := strings.Cut(page.Body, `data-testid="prefs"`)
			m := regexp.MustCompile(`name="next" value="([^"]*)"`).FindStringSubmatch(body)
			got := ""
			if m != nil {
				got = m[1]
			}
			if got != tc.wantField {
				t.Errorf("/login?next=%q: hidden next %q, want %q", tc.next, got, tc.wantField)
			}
		}
	})
}

// A-12a: a cancelled sign-in changes nothing and consumes the flow.
func TestA12a_AccessDeniedChangesNothing(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("google", emulator.Person{Sub: "900000000000000000003", Name: "Cora"})
	before := b.get("/accounts").Body
	tokenHits := p.emu.Hits("google", "token")
	cb := b.consent("google", b.begin("google", nil), emulator.Person{}) // Cancel
	if cb.Query().Get("error") != "access_denied" {
		t.Fatalf("emulator cancel gave %q", cb.String())
	}
	wantCallbackFailure(t, b, b.get(cb.String()), "denied", http.StatusForbidden)
	if got := p.emu.Hits("google", "token"); got != tokenHits {
		t.Errorf("token endpoint hits = %d, want %d", got, tokenHits)
	}
	after := b.get("/accounts")
	if after.StatusCode != http.StatusOK || !strings.Contains(after.Body, "Cora") {
		t.Errorf("after cancelling, /accounts: %d; want the same signed-in user", after.StatusCode)
	}
	if diff := cmp.Diff(identitiesOn(before), identitiesOn(after.Body)); diff != "" {
		t.Errorf("identities changed (-before +after):\n%s", diff)
	}
	// The flow was consumed: the same callback is now an unknown state.
	wantCallbackFailure(t, b, b.get(cb.String()), "invalid", http.StatusBadRequest)
}

// A-12b: the provider's error_description is never reflected.
func TestA12b_ErrorDescriptionNotReflected(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	cb := b.consent("google", b.begin("google", nil), emulator.Person{})
	const marker = "<script>alert(1)</script>"
	res := b.get(callbackWith(cb, url.Values{"error_description": {marker}}).String())
	wantCallbackFailure(t, b, res, "denied", http.StatusForbidden)
	for _, r := range b.history {
		if strings.Contains(r.Body, "alert(1)") || strings.Contains(r.Header.Get("Location"), "alert") {
			t.Errorf("%s %s reflects error_description", r.Request.Method, r.Request.URL.Path)
		}
	}
}

// A-12c: a provider error with an unknown state gets the generic page.
func TestA12c_ErrorWithInvalidStateIsGeneric(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.begin("google", nil)
	q := url.Values{"error": {"server_error"}, "error_description": {"MARKER-desc"}, "error_uri": {"https://evil.example/MARKER-uri"},
		"state": {strings.Repeat("B", 43)}}
	res := b.get("/auth/google/callback?" + q.Encode())
	wantCallbackFailure(t, b, res, "invalid", http.StatusBadRequest)
	for _, r := range b.history {
		if strings.Contains(r.Body, "MARKER") || strings.Contains(r.Body, "evil.example") || strings.Contains(r.Header.Get("Location"), "MARKER") {
			t.Errorf("%s %s reflects the query", r.Request.Method, r.Request.URL.Path)
		}
	}
	if hits := p.emu.Hits("google", "token"); hits != 0 {
		t.Errorf("token endpoint hits = %d, want 0", hits)
	}
}

// C-04a: a callback prepared by an attacker does not sign the victim in.
func TestC04a_AttackerCallbackInVictimBrowser(t *testing.T) {
	p := newPortal(t)
	attacker, victim := p.browser(), p.browser()
	cb := attacker.consent("google", attacker.begin("google", nil), person("Mallory", "mallory@example.com"))
	victim.get("/login") // the victim has a session of its own
	wantCallbackFailure(t, victim, victim.get(cb.String()), "invalid", http.StatusBadRequest)
	if victim.signedIn() {
		t.Error("the victim is signed in to the attacker's account")
	}
	if hits := p.emu.Hits("google", "token"); hits != 0 {
		t.Errorf("token endpoint hits = %d, want 0", hits)
	}
}

// C-04b: even when the victim's browser is made to start a flow with the
// attacker's state (gothic's K1 hole), the attacker's callback is refused.
func TestC04b_ForcedStateDoesNotHelpAttacker(t *testing.T) {
	p := newPortal(t)
	attacker, victim := p.browser(), p.browser()
	cb := attacker.consent("google", attacker.begin("google", nil), person("Mallory", "mallory@example.com"))
	known := cb.Query().Get("state")

	// Cross-site, the forced start is refused outright.
	req := victim.newRequest(http.MethodPost, "/auth/google?state="+url.QueryEscape(known), url.Values{"state": {known}}.Encode(),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
	if res := victim.do(req); res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site forced start: %d, want 403", res.StatusCode)
	}
	// Even a start with the victim's own CSRF token gets a state of the
	// server's making.
	authURL := victim.begin("google", url.Values{"state": {known}})
	if authURL.Query().Get("state") == known {
		t.Fatal("the victim's flow took the attacker's state")
	}
	wantCallbackFailure(t, victim, victim.get(cb.String()), "invalid", http.StatusBadRequest)
	if victim.signedIn() {
		t.Error("the victim is signed in to the attacker's account")
	}
	if hits := p.emu.Hits("google", "token"); hits != 0 {
		t.Errorf("token endpoint hits = %d, want 0", hits)
	}
}
