package handlers_test

// Security tests for starting and finishing a link: no joining by email,
// link CSRF, forced links, intent and user binding (SECURITY.md C-02, C-03,
// C-08; LINKING.md P1, P2, P4), through the real router and the emulator.

import (
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/handlers"
	"github.com/linkport/linkport/providers/emulator"
)

// C-02a / P1: a provider account whose email equals an existing account's
// signs in to a new account, never into the existing one; the existing
// account can link it only explicitly (and then meets the conflict page,
// since it now belongs to someone), or link a fresh provider account.
func TestC02a_SameEmailNeverJoins(t *testing.T) {
	p := newPortal(t)
	// The pre-hijacker creates an account with X claiming the victim's email.
	hijacker := p.browser()
	hijacker.mustSignIn("x", emulator.Person{Sub: "4000000000000000001", Name: "Not Vic", Username: "notvic", Email: "vic@example.com"})
	ua := hijacker.userID()
	// The victim signs in with Google, same email, verified, new subject.
	victim := p.browser()
	vic := emulator.Person{Sub: "400000000000000000001", Name: "Vic", Email: "vic@example.com", EmailVerified: true}
	page := victim.mustSignIn("google", vic)
	if got := victim.userID(); got == ua || got == 0 {
		t.Fatalf("the victim's session is user %d; the pre-hijacked account is %d", got, ua)
	}
	if diff := cmp.Diff([]string{"google"}, identitiesOn(page.Body)); diff != "" {
		t.Errorf("the victim sees identities (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"x"}, providersOf(p.identitiesOf(ua))); diff != "" {
		t.Errorf("the pre-hijacked account's identities (-want +got):\n%s", diff)
	}
	// The existing account can ask to link the Google account explicitly:
	// it belongs to the victim's account now, so that is a conflict.
	id := pendingID(t, hijacker.link("google", vic), "/accounts/link/conflict")
	if res := hijacker.get("/accounts/link/conflict?id=" + url.QueryEscape(id)); res.StatusCode != http.StatusConflict {
		t.Errorf("conflict page: %d, want 409", res.StatusCode)
	}
	// A fresh Google account with the same email is linked only through the
	// preview and "Link it".
	fresh := emulator.Person{Sub: "400000000000000000002", Name: "Vic Two", Email: "vic@example.com", EmailVerified: true}
	hijacker.mustLink("google", fresh)
	if diff := cmp.Diff([]string{"x", "google"}, providersOf(p.identitiesOf(ua))); diff != "" {
		t.Errorf("identities after the explicit link (-want +got):\n%s", diff)
	}
	if got := p.userOf("google", vic.Sub); got != victim.userID() {
		t.Errorf("the victim's Google identity belongs to %d, want the victim (%d)", got, victim.userID())
	}
}

// C-02b: an email Google does not vouch for is stored as unverified and
// finds no one.
func TestC02b_UnverifiedEmailNeverUsed(t *testing.T) {
	p := newPortal(t)
	owner := p.browser()
	owner.mustSignIn("google", emulator.Person{Sub: "410000000000000000001", Name: "Owner", Email: "owner@example.com", EmailVerified: true})
	b := p.browser()
	page := b.mustSignIn("google", emulator.Person{Sub: "410000000000000000002", Name: "Claimer", Email: "owner@example.com", EmailVerified: false})
	uid := b.userID()
	if uid == owner.userID() {
		t.Fatal("an unverified email signed in to the account with that email")
	}
	var verified int
	if err := p.db.DB().QueryRow("SELECT email_verified FROM identities WHERE subject = ?", "410000000000000000002").Scan(&verified); err != nil || verified != 0 {
		t.Errorf("email_verified = %d (%v), want 0", verified, err)
	}
	if got := p.primaryEmail(uid); got != "" {
		t.Errorf("primary email from an unverified claim = %q, want none", got)
	}
	if !strings.Contains(page.Body, "not verified") {
		t.Error("/accounts does not mark the email as not verified")
	}
	if n := len(p.identitiesOf(owner.userID())); n != 1 {
		t.Errorf("owner's identities = %d, want 1", n)
	}
}

// C-02c: there is no auto-link option; with both emails verified a
// sign-in still creates its own account. Adding an auto-link setting to
// the configuration fails this test, so its off-by-default and in-session
// confirmation tests must come with it.
func TestC02c_NoAutoLinkByEmail(t *testing.T) {
	cfg := reflect.TypeFor[handlers.Config]()
	for i := range cfg.NumField() {
		if name := strings.ToLower(cfg.Field(i).Name); strings.Contains(name, "link") || strings.Contains(name, "merge") {
			t.Errorf("handlers.Config has %s: an auto-link option needs the C-02c tests", cfg.Field(i).Name)
		}
	}
	p := newPortal(t)
	first := p.browser()
	first.mustSignIn("google", emulator.Person{Sub: "420000000000000000001", Name: "Same", Email: "same@example.com", EmailVerified: true})
	second := p.browser()
	second.mustSignIn("google", emulator.Person{Sub: "420000000000000000002", Name: "Same Again", Email: "same@example.com", EmailVerified: true})
	if first.userID() == second.userID() {
		t.Fatal("two verified identities with one email were joined")
	}
	for _, b := range []*browser{first, second} {
		if n := len(p.identitiesOf(b.userID())); n != 1 {
			t.Errorf("user %d has %d identities, want 1", b.userID(), n)
		}
		if n := countKind(p.eventKinds(b.userID()), accounts.EventLinked); n != 0 {
			t.Errorf("user %d has %d linked events, want 0", b.userID(), n)
		}
	}
}

// C-03a: a link starts only with a same-site POST carrying the CSRF token,
// and the redirect to the provider is a 303.
func TestC03a_LinkStartNeedsPOSTAndToken(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	page := b.mustSignIn("google", ann)
	token := formWithCSRF(page.Body)["csrf_token"][0]
	form := "csrf_token=" + url.QueryEscape(token)
	sameSite := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": p.srv.URL, "Sec-Fetch-Site": "same-origin"}
	for _, tc := range []struct {
		name   string
		req    *http.Request
		status int
	}{
		{"GET", b.newRequest(http.MethodGet, "/accounts/link/google", "", nil), http.StatusMethodNotAllowed},
		{"POST without token", b.newRequest(http.MethodPost, "/accounts/link/google", "", sameSite), http.StatusForbidden},
		{"POST with a wrong token", b.newRequest(http.MethodPost, "/accounts/link/google", "csrf_token=wrong", sameSite), http.StatusForbidden},
		{"cross-site POST with token", b.newRequest(http.MethodPost, "/accounts/link/google", form, map[string]string{
			"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}), http.StatusForbidden},
		{"foreign Origin, no Sec-Fetch-Site", b.newRequest(http.MethodPost, "/accounts/link/google", form, map[string]string{
			"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"}), http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := b.do(tc.req)
			if res.StatusCode != tc.status {
				t.Errorf("status %d, want %d", res.StatusCode, tc.status)
			}
			if fs := p.storedFlows(b.sessionCookie()); len(fs) != 0 {
				t.Errorf("a refused request stored %d flows", len(fs))
			}
		})
	}
	res := b.do(b.newRequest(http.MethodPost, "/accounts/link/google", form, sameSite))
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), p.emu.Issuer()) {
		t.Errorf("POST with token: %d %q, want 303 to the provider", res.StatusCode, res.Header.Get("Location"))
	}
}

// C-03b: the attacker's own authorization code, delivered into the
// victim's link flow, fails PKCE at the token endpoint; nothing is linked.
func TestC03b_AttackerCodeInVictimLinkFlow(t *testing.T) {
	p := newPortal(t)
	attacker, victim := p.browser(), p.browser()
	victim.mustSignIn("google", ann)
	uid := victim.userID()
	mallory := emulator.Person{Sub: "430000000000000000001", Name: "Mallory", Email: "mallory@example.com", EmailVerified: true}
	stolen := attacker.consent("google", attacker.begin("google", nil), mallory).Query().Get("code")
	own := victim.consent("google", victim.beginLink("google", nil), annWork)
	injected := callbackWith(own, url.Values{"code": {stolen}})
	wantCallbackFailure(t, victim, victim.get(injected.String()), "rejected", http.StatusBadGateway)
	if hits := p.emu.Hits("google", "token"); hits != 2 { // the victim's sign-in and the refused exchange
		t.Errorf("token endpoint hits = %d, want 2", hits)
	}
	if diff := cmp.Diff([]string{"google"}, providersOf(p.identitiesOf(uid))); diff != "" {
		t.Errorf("victim's identities (-want +got):\n%s", diff)
	}
	if got := p.userOf("google", mallory.Sub); got != 0 {
		t.Errorf("the attacker's identity belongs to user %d", got)
	}
	if got := victim.userID(); got != uid {
		t.Errorf("victim's browser is user %d, want %d", got, uid)
	}
}

// C-03c: a state chosen by the attacker (in the start request and at the
// provider) is ignored: the callback with it finds no flow and makes no
// token request.
func TestC03c_AttackerChosenStateIgnored(t *testing.T) {
	p := newPortal(t)
	attacker, victim := p.browser(), p.browser()
	page := victim.mustSignIn("google", ann)
	uid := victim.userID()
	const known = "KNOWN-STATE-0123456789"
	form := formWithCSRF(page.Body)
	form["state"] = []string{known}
	form["intent"] = []string{"link"}
	res := victim.post("/accounts/link/google?state="+known, form)
	loc, err := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusSeeOther || err != nil {
		t.Fatalf("start: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if loc.Query().Get("state") == known {
		t.Fatal("the portal used the state the request chose")
	}
	// The attacker gets a code at the provider for the known state.
	authURL := attacker.begin("google", nil)
	q := authURL.Query()
	q.Set("state", known)
	authURL.RawQuery = q.Encode()
	cb := attacker.consent("google", authURL, emulator.Person{Sub: "440000000000000000001", Name: "Mallory", Email: "m@example.com", EmailVerified: true})
	if cb.Query().Get("state") != known {
		t.Fatalf("attacker's callback state %q", cb.Query().Get("state"))
	}
	hits := p.emu.Hits("google", "token")
	wantCallbackFailure(t, victim, victim.get(cb.String()), "invalid", http.StatusBadRequest)
	if got := p.emu.Hits("google", "token"); got != hits {
		t.Errorf("token endpoint hits %d → %d, want no exchange", hits, got)
	}
	if n := len(p.identitiesOf(uid)); n != 1 || p.count("identities") != 1 {
		t.Errorf("victim's identities %d, all identities %d; want 1, 1", n, p.count("identities"))
	}
}

// C-03d: a link flow finishes only for the user who started it, in the
// same browser: after logout and another person's sign-in (or another
// sign-in on top), its callback is refused and nobody gains the identity.
func TestC03d_LinkFlowBoundToStartingUser(t *testing.T) {
	for _, tc := range []struct {
		name, reason string
		logout       bool
	}{
		{"logout then another sign-in", "unknown state", true},
		{"another sign-in on top", "intent or user mismatch", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPortal(t)
			b := p.browser()
			page := b.mustSignIn("google", ann)
			u1 := b.userID()
			cb := b.consent("facebook", b.beginLink("facebook", nil), annFB)
			if tc.logout {
				b.post("/logout", formWithCSRF(page.Body))
			}
			b.mustSignIn("x", bob)
			u2 := b.userID()
			if u2 == u1 {
				t.Fatal("second person signed in as the first")
			}
			wantCallbackFailure(t, b, b.get(cb.String()), "invalid", http.StatusBadRequest)
			if !strings.Contains(p.logs.String(), `"reason":"`+tc.reason+`"`) {
				t.Errorf("log lacks reason %q", tc.reason)
			}
			if got := p.userOf("facebook", annFB.Sub); got != 0 {
				t.Errorf("the facebook identity belongs to user %d", got)
			}
			if len(p.identitiesOf(u1)) != 1 || len(p.identitiesOf(u2)) != 1 {
				t.Errorf("identities of U1 %d and U2 %d, want 1 and 1", len(p.identitiesOf(u1)), len(p.identitiesOf(u2)))
			}
			if got := b.userID(); got != u2 {
				t.Errorf("browser is user %d, want U2 (%d)", got, u2)
			}
		})
	}
}

// C-03e: a login-intent callback never links, and a link-intent callback
// never signs in another user.
func TestC03e_IntentDecidesOutcome(t *testing.T) {
	t.Run("login never links", func(t *testing.T) {
		p := newPortal(t)
		b := p.browser()
		b.mustSignIn("google", ann)
		u1 := b.userID()
		// Signed in, the browser runs a sign-in (not a link) with Facebook.
		b.mustSignIn("facebook", annFB)
		if got := b.userID(); got == u1 {
			t.Error("the sign-in stayed in the first account")
		}
		if diff := cmp.Diff([]string{"google"}, providersOf(p.identitiesOf(u1))); diff != "" {
			t.Errorf("first account's identities (-want +got):\n%s", diff)
		}
		if n := countKind(p.eventKinds(u1), accounts.EventLinked); n != 0 {
			t.Errorf("linked events = %d, want 0", n)
		}
	})
	t.Run("link never signs in", func(t *testing.T) {
		p := newPortal(t)
		_, b, userA, userB, _ := conflictSetup(t, p)
		if got := b.userID(); got != userB {
			t.Errorf("after linking A's identity the browser is user %d, want B (%d); A is %d", got, userB, userA)
		}
		if got := displayName(b.accountsPage().Body); got != bob.Name {
			t.Errorf("display name %q, want %q", got, bob.Name)
		}
	})
}

// C-03f: a successful link writes exactly one linked event, shown on the
// recent activity; reloads and replays add none.
func TestC03f_OneLinkedEventPerLink(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("google", ann)
	uid := b.userID()
	authURL := b.beginLink("facebook", nil)
	cb := b.consent("facebook", authURL, annFB)
	id := pendingID(t, b.get(cb.String()), "/accounts/link/confirm")
	b.answerLink(id, "link")
	b.accountsPage()
	b.get(cb.String())       // replayed callback
	b.answerLink(id, "link") // replayed confirmation
	page := b.accountsPage()
	if n := countKind(p.eventKinds(uid), accounts.EventLinked); n != 1 {
		t.Errorf("linked events = %d, want 1", n)
	}
	shown := regexp.MustCompile(`<strong>Account connected</strong>\s*<span>· Facebook</span>`).FindAllString(page.Body, -1)
	if len(shown) != 1 {
		t.Errorf("recent activity shows %d 'Account connected · Facebook', want 1", len(shown))
	}
}

// C-08a, C-08b (P2): a Google identity claiming the email of an existing
// account, verified or not, gets an account of its own and nothing of the
// existing one's.
func TestC08_EmailClaimGrantsNothing(t *testing.T) {
	for _, tc := range []struct {
		name     string
		verified bool
	}{{"C08a_unverified", false}, {"C08b_verified", true}} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPortal(t)
			boss := p.browser()
			boss.mustSignIn("google", emulator.Person{Sub: "450000000000000000001", Name: "The Boss", Email: "boss@linkport.example", EmailVerified: true})
			boss.mustLink("facebook", annFB)
			b := p.browser()
			page := b.mustSignIn("google", emulator.Person{Sub: "450000000000000000002", Name: "Claimer", Email: "boss@linkport.example", EmailVerified: tc.verified})
			if b.userID() == boss.userID() {
				t.Fatal("the email claim signed in to the existing account")
			}
			if diff := cmp.Diff([]string{"google"}, identitiesOn(page.Body)); diff != "" {
				t.Errorf("claimer sees identities (-want +got):\n%s", diff)
			}
			if strings.Contains(page.Body, "The Boss") || strings.Contains(page.Body, annFB.Email) {
				t.Error("the claimer's page shows the existing account's data")
			}
			if diff := cmp.Diff([]string{"google", "facebook"}, providersOf(p.identitiesOf(boss.userID()))); diff != "" {
				t.Errorf("existing account's identities (-want +got):\n%s", diff)
			}
			wantPrimary := ""
			if tc.verified {
				wantPrimary = "boss@linkport.example"
			}
			if got := p.primaryEmail(b.userID()); got != wantPrimary {
				t.Errorf("claimer's primary email %q, want %q", got, wantPrimary)
			}
		})
	}
}

// P4: a link callback is bound to the browser's own flow: the attacker's
// state and code (from a login, a link, or a Facebook flow of his own
// session) delivered to a victim who is linking Google are refused and
// logged; so is the victim's Google state on the Facebook callback.
func TestLinkCallbackBoundToUserAndIntent(t *testing.T) {
	mallory := emulator.Person{Sub: "460000000000000000001", Name: "Mallory", Email: "mallory@example.com", EmailVerified: true}
	malloryFB := emulator.Person{Sub: "4600000000000001", Name: "Mallory FB"}
	for _, tc := range []struct {
		name   string
		reason string
		cb     func(p *portal, attacker, victim *browser, victimAuth *url.URL) *url.URL
	}{
		{"attacker's login flow", "unknown state", func(p *portal, a, _ *browser, _ *url.URL) *url.URL {
			return a.consent("google", a.begin("google", nil), mallory)
		}},
		{"attacker's link flow", "unknown state", func(p *portal, a, _ *browser, _ *url.URL) *url.URL {
			a.mustSignIn("x", bob)
			return a.consent("google", a.beginLink("google", nil), mallory)
		}},
		{"attacker's facebook flow", "unknown state", func(p *portal, a, _ *browser, _ *url.URL) *url.URL {
			return a.consent("facebook", a.begin("facebook", nil), malloryFB)
		}},
		{"victim's state on the facebook callback", "provider mismatch", func(p *portal, a, _ *browser, victimAuth *url.URL) *url.URL {
			cb := a.consent("facebook", a.begin("facebook", nil), malloryFB)
			return callbackWith(cb, url.Values{"state": {victimAuth.Query().Get("state")}})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPortal(t)
			attacker, victim := p.browser(), p.browser()
			victim.mustSignIn("google", ann)
			uid := victim.userID()
			victimAuth := victim.beginLink("google", nil)
			cb := tc.cb(p, attacker, victim, victimAuth)
			wantCallbackFailure(t, victim, victim.get(cb.String()), "invalid", http.StatusBadRequest)
			if !strings.Contains(p.logs.String(), `"reason":"`+tc.reason+`"`) {
				t.Errorf("no security log line with reason %q", tc.reason)
			}
			if n := len(p.identitiesOf(uid)); n != 1 {
				t.Errorf("victim's identities = %d, want 1", n)
			}
			if p.userOf("google", mallory.Sub) != 0 || p.userOf("facebook", malloryFB.Sub) != 0 {
				t.Error("the attacker's identity was attached to someone")
			}
			if victim.userID() != uid {
				t.Error("the victim's browser changed user")
			}
		})
	}
}
