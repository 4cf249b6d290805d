package handlers_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/linkport/linkport/providers/emulator"
)

// stepUpID checks that res sends the browser to the step-up page (a 303,
// or HX-Redirect for htmx) and returns the pending action's id.
func stepUpID(t *testing.T, res response) string {
	t.Helper()
	to := res.Header.Get("HX-Redirect")
	if to == "" && res.StatusCode == http.StatusSeeOther {
		to = res.Header.Get("Location")
	}
	u, err := url.Parse(to)
	if err != nil || u.Path != "/accounts/step-up" || u.Query().Get("id") == "" {
		t.Fatalf("status %d Location %q HX-Redirect %q, want the step-up page", res.StatusCode, res.Header.Get("Location"), res.Header.Get("HX-Redirect"))
	}
	return u.Query().Get("id")
}

// stepUpWith confirms the pending action id at provider as person and
// returns the callback's response.
func (b *browser) stepUpWith(id, provider string, person emulator.Person) response {
	b.t.Helper()
	page := b.get("/accounts/step-up?id=" + url.QueryEscape(id))
	if page.StatusCode != http.StatusOK {
		b.t.Fatalf("step-up page: %d", page.StatusCode)
	}
	form := formWithCSRF(page.Body)
	form["id"] = []string{id}
	res := b.post("/accounts/step-up/"+provider, form)
	if res.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("POST /accounts/step-up/%s: %d, want 303 to the provider; body %.300s", provider, res.StatusCode, res.Body)
	}
	authURL, _ := url.Parse(res.Header.Get("Location"))
	return b.get(b.consent(provider, authURL, person).String())
}

var continueFormRE = regexp.MustCompile(`<form method="post" action="([^"]+)">\s*<input type="hidden" name="csrf_token" value="([^"]+)">\s*<input type="hidden" name="step_up" value="([^"]+)">`)

// carryOn loads the Continue page of id, checks its one form posts to
// wantPath, and presses Continue.
func (b *browser) carryOn(id, wantPath string) response {
	b.t.Helper()
	page := b.get("/accounts/step-up/continue?id=" + url.QueryEscape(id))
	forms := continueFormRE.FindAllStringSubmatch(page.Body, -1)
	if page.StatusCode != http.StatusOK || len(forms) != 1 {
		b.t.Fatalf("Continue page: %d with %d continue forms, want 200 with one; body %.500s", page.StatusCode, len(forms), page.Body)
	}
	if f := forms[0]; f[1] != wantPath || f[3] != id {
		b.t.Fatalf("Continue form posts %s with step_up %s, want %s with %s", f[1], f[3], wantPath, id)
	}
	return b.post(forms[0][1], url.Values{"csrf_token": {forms[0][2]}, "step_up": {id}})
}

// ago runs fn with the portal's clock d in the past, so what fn signs in
// is d old afterwards. The clock is moved, not real time: Google's ID
// tokens are checked against real time, so a step-up with Google must
// happen at the real present.
func (p *portal) ago(d time.Duration, fn func()) {
	p.clock.Advance(-d)
	fn()
	p.clock.Advance(d)
}

// staleWithFacebook signs ann in with Google 30 minutes ago, links her
// Facebook account then, and returns the browser, her user id and the
// Facebook identity's id.
func staleWithFacebook(t *testing.T, p *portal) (*browser, int64, int64) {
	t.Helper()
	b := p.browser()
	p.ago(30*time.Minute, func() {
		b.mustSignIn("google", ann)
		b.mustLink("facebook", annFB)
	})
	uid := b.userID()
	return b, uid, p.identityID(uid, "facebook", annFB.Sub)
}

// B-08a: with a sign-in 30 minutes old, link, unlink, profile, deletion
// and "sign out other sessions" change nothing and lead to the step-up
// page, which names the action and offers the user's own providers.
func TestB08a_StaleSessionCannotLinkOrUnlink(t *testing.T) {
	p := newPortal(t)
	b, uid, fb := staleWithFacebook(t, p)
	token := formWithCSRF(b.accountsPage().Body)["csrf_token"][0]
	flowsBefore := len(p.storedFlows(b.sessionCookie()))

	id := stepUpID(t, b.unlinkWith(token, fb, true, true))
	page := b.get("/accounts/step-up?id=" + id)
	stepUpID(t, b.unlinkWith(token, fb, true, false))
	stepUpID(t, b.post("/accounts/link/x", url.Values{"csrf_token": {token}}))
	stepUpID(t, b.post("/accounts/profile", url.Values{"csrf_token": {token}, "display_name": {fmt.Sprint(fb)}}))
	stepUpID(t, b.post("/accounts/delete", url.Values{"csrf_token": {token}, "confirm": {"yes"}}))
	stepUpID(t, b.post("/accounts/sessions/revoke-others", url.Values{"csrf_token": {token}}))

	if got := providersOf(p.identitiesOf(uid)); !slices.Equal(got, []string{"google", "facebook"}) {
		t.Errorf("identities %v after stale changes, want [google facebook]", got)
	}
	if n := len(p.storedFlows(b.sessionCookie())); n != flowsBefore {
		t.Errorf("a stale link start stored a flow (%d -> %d)", flowsBefore, n)
	}
	if name := displayName(b.accountsPage().Body); name != ann.Name {
		t.Errorf("display name %q, want %q: the profile change must wait", name, ann.Name)
	}
	var deleted int
	if err := p.db.DB().QueryRow("SELECT count(*) FROM users WHERE deleted_at IS NOT NULL").Scan(&deleted); err != nil || deleted != 0 {
		t.Errorf("deleted users %d (%v), want 0", deleted, err)
	}
	if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, "Confirm it&#39;s you") || !strings.Contains(page.Body, "Remove your Facebook account "+annFB.Email) {
		t.Fatalf("step-up page %d does not explain the removal: %.800s", page.StatusCode, page.Body)
	}
	var offered []string
	for _, m := range regexp.MustCompile(`data-provider="([^"]+)" data-testid="step-up-provider"`).FindAllStringSubmatch(page.Body, -1) {
		offered = append(offered, m[1])
	}
	if !slices.Equal(offered, []string{"google", "facebook"}) {
		t.Errorf("step-up offers %v, want the connected providers [google facebook]", offered)
	}
	if strings.Contains(page.Body, token) == false {
		t.Error("step-up page lacks the session's CSRF token")
	}
}

// B-08b, B-02b: after a re-authentication with a linked identity the
// stored removal runs on Continue, once; a different action within the
// window is allowed; after the window, step-up again.
func TestB08b_StepUpResumesOnlyThatAction(t *testing.T) {
	p := newPortal(t)
	b, uid, fb := staleWithFacebook(t, p)
	token := formWithCSRF(b.accountsPage().Body)["csrf_token"][0]
	id := stepUpID(t, b.unlinkWith(token, fb, true, true))

	before := b.sessionCookie()
	res := b.stepUpWith(id, "facebook", annFB)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/accounts/step-up/continue?id="+id {
		t.Fatalf("step-up callback: %d %q, want 303 to the Continue page", res.StatusCode, res.Header.Get("Location"))
	}
	if after := b.sessionCookie(); after == before || p.sessionRows(storeKey(before)) != 0 {
		t.Error("the session token was not renewed by the step-up (B-02b)")
	}
	if n := len(p.identitiesOf(uid)); n != 2 {
		t.Fatalf("%d identities before Continue, want 2: nothing runs before the person presses it", n)
	}
	res = b.carryOn(id, fmt.Sprintf("/accounts/identities/%d/unlink", fb))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/accounts" {
		t.Fatalf("Continue: %d %q, want 303 /accounts", res.StatusCode, res.Header.Get("Location"))
	}
	page := b.accountsPage()
	if got := providersOf(p.identitiesOf(uid)); !slices.Equal(got, []string{"google"}) {
		t.Fatalf("identities %v after Continue, want [google]", got)
	}
	if n := notice(page.Body); !strings.Contains(n, "Removed your Facebook account") {
		t.Errorf("notice %q, want the removal", n)
	}
	if k := p.eventKinds(uid); countKind(k, "stepped_up") != 1 || countKind(k, "unlinked") != 1 {
		t.Errorf("events %v, want one stepped_up and one unlinked", k)
	}

	// Single use: the same id again is refused.
	token = formWithCSRF(page.Body)["csrf_token"][0]
	if res := b.post(fmt.Sprintf("/accounts/identities/%d/unlink", fb), url.Values{"csrf_token": {token}, "step_up": {id}}); res.StatusCode != http.StatusBadRequest {
		t.Errorf("replayed Continue: %d, want 400", res.StatusCode)
	}

	// Within the window another, different action needs no step-up.
	b.mustLink("x", bob)
	if got := providersOf(p.identitiesOf(uid)); !slices.Equal(got, []string{"google", "x"}) {
		t.Fatalf("identities %v after linking X within the window, want [google x]", got)
	}

	// After the window, step-up again; a pending action cannot be carried
	// to another route.
	p.clock.Advance(16 * time.Minute)
	token = formWithCSRF(b.accountsPage().Body)["csrf_token"][0]
	id = stepUpID(t, b.post("/accounts/profile", url.Values{"csrf_token": {token}}))
	b.stepUpWith(id, "x", bob) // not Google: the clock is now ahead of real time
	token = formWithCSRF(b.accountsPage().Body)["csrf_token"][0]
	if res := b.post("/accounts/delete", url.Values{"csrf_token": {token}, "step_up": {id}, "confirm": {"yes"}}); res.StatusCode != http.StatusBadRequest {
		t.Errorf("a profile action carried to /accounts/delete: %d, want 400", res.StatusCode)
	}
	if !b.signedIn() {
		t.Error("the misdirected action deleted or ended the account")
	}
}

// B-08c: a re-authentication that returns an identity not linked to the
// user, whether another user's or unknown, is refused: no user switch, no
// new account, still not fresh.
func TestB08c_StepUpWithForeignIdentityRefused(t *testing.T) {
	p := newPortal(t)
	other := p.browser()
	other.mustSignIn("google", annWork)
	otherID := other.userID()
	b, uid, fb := staleWithFacebook(t, p)
	for _, foreign := range []emulator.Person{annWork, {Sub: "399999", Name: "Nobody", Email: "nobody@example.com"}} {
		token := formWithCSRF(b.accountsPage().Body)["csrf_token"][0]
		id := stepUpID(t, b.unlinkWith(token, fb, true, false))
		users := p.count("users")
		res := b.stepUpWith(id, "google", foreign)
		wantCallbackFailure(t, b, res, "notyours", http.StatusForbidden)
		if got := b.userID(); got != uid {
			t.Fatalf("after a foreign step-up the session is user %d, want %d", got, uid)
		}
		if n := p.count("users"); n != users {
			t.Errorf("users %d -> %d: a step-up must never create an account", users, n)
		}
		token = formWithCSRF(b.accountsPage().Body)["csrf_token"][0]
		stepUpID(t, b.unlinkWith(token, fb, true, false))
	}
	if n := len(p.identitiesOf(uid)); n != 2 {
		t.Errorf("%d identities, want 2", n)
	}
	if n := len(p.identitiesOf(otherID)); n != 1 {
		t.Errorf("the other account has %d identities, want 1", n)
	}
}

// B-08d: the step-up asks Google for a new sign-in (prompt=login,
// max_age=0), and an ID token whose auth_time predates the step-up, or
// lacks it, is refused.
func TestB08d_GoogleAuthTimeMustFollowStepUp(t *testing.T) {
	p := newPortal(t)
	b, _, fb := staleWithFacebook(t, p)
	for _, claim := range []any{p.clock.Now().Add(-time.Hour).Unix(), nil} {
		p.emu.SetFault("google", "token", emulator.Fault{IDTokenClaims: map[string]any{"auth_time": claim}})
		token := formWithCSRF(b.accountsPage().Body)["csrf_token"][0]
		id := stepUpID(t, b.unlinkWith(token, fb, true, false))
		page := b.get("/accounts/step-up?id=" + id)
		form := formWithCSRF(page.Body)
		form["id"] = []string{id}
		begin := b.post("/accounts/step-up/google", form)
		authURL, _ := url.Parse(begin.Header.Get("Location"))
		if q := authURL.Query(); q.Get("prompt") != "login" || q.Get("max_age") != "0" {
			t.Errorf("step-up authorize URL %s lacks prompt=login and max_age=0", authURL)
		}
		res := b.get(b.consent("google", authURL, ann).String())
		wantCallbackFailure(t, b, res, "notfresh", http.StatusForbidden)
		token = formWithCSRF(b.accountsPage().Body)["csrf_token"][0]
		stepUpID(t, b.unlinkWith(token, fb, true, false))
	}
	p.emu.ClearFaults()
	token := formWithCSRF(b.accountsPage().Body)["csrf_token"][0]
	id := stepUpID(t, b.unlinkWith(token, fb, true, false))
	if res := b.stepUpWith(id, "google", ann); res.Header.Get("Location") != "/accounts/step-up/continue?id="+id {
		t.Errorf("a fresh Google step-up: %d %q, want the Continue page", res.StatusCode, res.Header.Get("Location"))
	}
}

// LINKING.md P4: a link start with an old sign-in goes to the step-up;
// after it, Continue resumes the link for the same provider only.
func TestLinkStartRequiresRecentAuth(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	p.ago(20*time.Minute, func() { b.mustSignIn("google", ann) })
	token := formWithCSRF(b.accountsPage().Body)["csrf_token"][0]
	id := stepUpID(t, b.post("/accounts/link/facebook", url.Values{"csrf_token": {token}}))
	if res := b.stepUpWith(id, "google", ann); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("step-up callback: %d", res.StatusCode)
	}
	res := b.carryOn(id, "/accounts/link/facebook")
	to, _ := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(to.Path, "/facebook/") {
		t.Fatalf("Continue: %d to %q, want 303 to Facebook's authorize endpoint", res.StatusCode, res.Header.Get("Location"))
	}
	flows := p.storedFlows(b.sessionCookie())
	if len(flows) != 1 || flows[0].Provider != "facebook" {
		t.Fatalf("stored flows %+v, want one Facebook link flow", flows)
	}
	got := b.get(b.consent("facebook", to, annFB).String())
	pendingID(t, got, "/accounts/link/confirm")
}
