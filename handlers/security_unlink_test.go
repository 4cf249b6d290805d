package handlers_test

// Security tests for removing connected accounts and for what the person
// sees of them: never the last one, atomic, owner only, visible, and a new
// session token after link and unlink (SECURITY.md C-06, C-07, B-02b;
// LINKING.md P8).

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/providers/emulator"
)

// C-06a / P8: the last way to sign in cannot be removed: the button is
// disabled with the reason, the confirmation page says so, and the server
// refuses the POST (plain and htmx) with 409 and keeps the identity.
func TestC06a_CannotRemoveLastSignInMethod(t *testing.T) {
	for _, htmx := range []bool{false, true} {
		t.Run(fmt.Sprintf("htmx=%v", htmx), func(t *testing.T) {
			p := newPortal(t)
			b := p.browser()
			page := b.mustSignIn("google", ann)
			uid := b.userID()
			only := p.identitiesOf(uid)[0].ID
			button := regexp.MustCompile(`<button type="submit" class="secondary" disabled aria-describedby="last-\d+" data-testid="unlink">`)
			if !button.MatchString(page.Body) || !strings.Contains(page.Body, `data-testid="last-reason">This is your only way to sign in.`) {
				t.Error("the only Remove button is not disabled with its reason")
			}
			if ask := b.unlink(only, false, false); !strings.Contains(ask.Body, "This is your only way to sign in.") || strings.Contains(ask.Body, `data-testid="unlink-confirm"`) {
				t.Error("the confirmation page offers to remove the last account")
			}
			res := b.unlink(only, true, htmx)
			if res.StatusCode != http.StatusConflict || !strings.Contains(res.Body, "You cannot remove the last connected account") {
				t.Errorf("unlink of the last identity: %d, want 409 with the reason", res.StatusCode)
			}
			if htmx && (!strings.HasPrefix(strings.TrimSpace(res.Body), `<section id="connected"`) || !strings.Contains(res.Body, `role="alert"`)) {
				t.Errorf("htmx refusal is not the #connected fragment with an alert: %.200s", res.Body)
			}
			if n := len(p.identitiesOf(uid)); n != 1 {
				t.Errorf("identities = %d, want 1", n)
			}
			if n := countKind(p.eventKinds(uid), accounts.EventUnlinked); n != 0 {
				t.Errorf("unlinked events = %d, want 0", n)
			}
		})
	}
}

// C-06b / P8: two concurrent unlinks of a user's last two identities, from
// the same browser: exactly one succeeds and one identity is left, every
// round. The accounts package runs the 200-round domain test; 30 rounds
// here go through HTTP, sessions and all.
func TestC06b_CannotRemoveLastSignInMethodRace(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	page := b.mustSignIn("google", ann)
	uid := b.userID()
	token := formWithCSRF(page.Body)["csrf_token"][0]
	send := func(id int64) (int, error) {
		req := b.newRequest(http.MethodPost, fmt.Sprintf("/accounts/identities/%d/unlink", id), "confirm=yes", map[string]string{
			"Content-Type": "application/x-www-form-urlencoded", "Origin": p.srv.URL, "Sec-Fetch-Site": "same-origin",
			"HX-Request": "true", "X-CSRF-Token": token,
		})
		res, err := b.client.Do(req)
		if err != nil {
			return 0, err
		}
		defer res.Body.Close()
		_, _ = io.Copy(io.Discard, res.Body)
		return res.StatusCode, nil
	}
	refused := 0
	for round := range 30 {
		if _, err := p.accounts.Link(context.Background(), uid, accounts.Profile{Provider: "facebook", Subject: fmt.Sprintf("race-%d", round)}, accounts.Meta{}); err != nil {
			t.Fatal(err)
		}
		ids := p.identitiesOf(uid)
		if len(ids) != 2 {
			t.Fatalf("round %d: %d identities before the race, want 2", round, len(ids))
		}
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		errs := make([]error, 2)
		for i := range 2 {
			wg.Go(func() { statuses[i], errs[i] = send(ids[i].ID) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		ok := 0
		for _, s := range statuses {
			switch s {
			case http.StatusOK:
				ok++
			case http.StatusConflict:
				refused++
			}
		}
		if left := len(p.identitiesOf(uid)); ok != 1 || left != 1 {
			t.Fatalf("round %d: statuses %v, %d identities left; want exactly one 200 and 1 left", round, statuses, left)
		}
	}
	t.Logf("%d of 30 rounds ended in the last-identity refusal (409); the others lost the session race first", refused)
}

// C-06c: unlinking another user's identity is a 404 and deletes nothing;
// so is choosing it as a profile source.
func TestC06c_UnlinkOtherUsersIdentity(t *testing.T) {
	p := newPortal(t)
	owner := p.browser()
	owner.mustSignIn("google", ann)
	owner.mustLink("facebook", annFB)
	u1 := owner.userID()
	target := p.identityID(u1, "facebook", annFB.Sub)
	b := p.browser()
	page := b.mustSignIn("x", bob)
	b.mustLink("google", annWork)
	for _, tc := range []struct {
		name          string
		confirm, htmx bool
	}{{"ask", false, false}, {"confirm", true, false}, {"htmx", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			if res := b.unlink(target, tc.confirm, tc.htmx); res.StatusCode != http.StatusNotFound {
				t.Errorf("status %d, want 404", res.StatusCode)
			}
		})
	}
	res := b.post("/accounts/profile", url.Values{"csrf_token": formWithCSRF(page.Body)["csrf_token"], "display_name": {fmt.Sprint(target)}})
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("profile source from another user's identity: %d, want 404", res.StatusCode)
	}
	if diff := cmp.Diff([]string{"google", "facebook"}, providersOf(p.identitiesOf(u1))); diff != "" {
		t.Errorf("owner's identities (-want +got):\n%s", diff)
	}
	if got := displayName(b.accountsPage().Body); got != bob.Name {
		t.Errorf("display name %q, want %q", got, bob.Name)
	}
	if n := p.count("identities"); n != 4 {
		t.Errorf("identities = %d, want 4", n)
	}
}

var identityItemRE = regexp.MustCompile(`(?s)<li class="identity" data-testid="identity" data-provider="([^"]+)" id="identity-\d+">(.*?)</li>`)

// C-07a: /accounts lists every identity with provider, name, when it was
// linked and last used; a freshly linked one appears at once.
func TestC07a_IdentitiesListed(t *testing.T) {
	p := newPortal(t)
	p.clock.Advance(0) // freeze: the times below are known
	t0 := p.clock.Now().UTC()
	b := p.browser()
	b.mustSignIn("google", ann)
	// Within the step-up age (15 min), so the link needs no re-authentication.
	p.clock.Advance(10 * time.Minute)
	t1 := p.clock.Now().UTC()
	page := b.mustLink("facebook", annFB) // the page right after "Link it"
	type row struct{ Provider, Label, Name, Linked, LastUsed string }
	var got []row
	for _, m := range identityItemRE.FindAllStringSubmatch(page.Body, -1) {
		r := row{Provider: m[1]}
		if s := regexp.MustCompile(`<span>([^<]+)</span>`).FindStringSubmatch(m[2]); s != nil {
			r.Label = s[1]
		}
		if s := regexp.MustCompile(`(?s)data-testid="identity-name">\s*([^<]+?)\s*<`).FindStringSubmatch(m[2]); s != nil {
			r.Name = s[1]
		}
		if s := regexp.MustCompile(`Linked <time datetime="([^"]+)">`).FindStringSubmatch(m[2]); s != nil {
			r.Linked = s[1]
		}
		if s := regexp.MustCompile(`last used <time datetime="([^"]+)">`).FindStringSubmatch(m[2]); s != nil {
			r.LastUsed = s[1]
		}
		got = append(got, r)
	}
	iso := func(t time.Time) string { return t.Format(time.RFC3339) }
	want := []row{
		{"google", "Google", ann.Name, iso(t0), iso(t0)},
		{"facebook", "Facebook", annFB.Name, iso(t1), iso(t1)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("identities on /accounts (-want +got):\n%s", diff)
	}
}

// C-07b: link and unlink each write their event, shown on the timeline.
func TestC07b_LinkAndUnlinkEvents(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("google", ann)
	uid := b.userID()
	b.mustLink("facebook", annFB)
	b.unlink(p.identityID(uid, "facebook", annFB.Sub), true, false)
	if diff := cmp.Diff([]string{accounts.EventSignedUp, accounts.EventLinked, accounts.EventUnlinked}, p.eventKinds(uid)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	page := b.accountsPage()
	for _, want := range []string{"<strong>Account connected</strong>", "<strong>Account removed</strong>"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("recent activity lacks %s", want)
		}
	}
}

// B-02b: completing a link and an unlink each renew the session token; the
// old token is then anonymous.
func TestB02b_TokenRenewedAfterLinkAndUnlink(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("google", ann)
	uid := b.userID()
	id := b.linkPreview("facebook", annFB)
	steps := []struct {
		name string
		do   func() response
	}{
		{"link", func() response { return b.answerLink(id, "link") }},
		{"unlink", func() response { return b.unlink(p.identityID(uid, "facebook", annFB.Sub), true, false) }},
	}
	for _, s := range steps {
		before := b.sessionCookie()
		res := s.do()
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/accounts" {
			t.Fatalf("%s: %d %q", s.name, res.StatusCode, res.Header.Get("Location"))
		}
		got := sessionSetCookies(res)
		if len(got) != 1 || got[0] == before || !sessionTokenRE.MatchString(got[0]) {
			t.Errorf("%s: Set-Cookie %v, want one new token (old %q)", s.name, got, before)
		}
		old := p.browser()
		old.setSession(before)
		if old.signedIn() {
			t.Errorf("%s: the old token is still signed in", s.name)
		}
		if !b.signedIn() {
			t.Errorf("%s: the new token is not signed in", s.name)
		}
	}
}

// C-06d / B-05b: removing a connected account ends the other sessions that
// signed in with it, at their next request; the session that removed it,
// and sessions started with another account, go on. (No provider tokens
// are stored, so there are none to delete.)
func TestC06d_UnlinkEndsSessionsStartedWithIt(t *testing.T) {
	p := newPortal(t)
	laptop := p.browser()
	grace := person("Grace", "grace@example.com")
	grace.Sub = "c06d-google"
	laptop.mustSignIn("google", grace)
	fb := emulator.Person{Sub: "c06d-facebook", Name: "Grace FB", Email: "grace@facebook.example"}
	laptop.mustLink("facebook", fb)
	phone := p.browser() // signed in with the Facebook account
	phone.mustSignIn("facebook", fb)
	tablet := p.browser() // signed in with the Google account
	tablet.mustSignIn("google", grace)

	var fbID int64
	for _, id := range p.identitiesOf(laptop.userID()) {
		if id.Provider == "facebook" {
			fbID = id.ID
		}
	}
	if res := laptop.unlink(fbID, true, false); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("unlink: %d", res.StatusCode)
	}
	if res := phone.get("/accounts"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Errorf("session signed in with the removed account: %d %q, want redirect to /login", res.StatusCode, res.Header.Get("Location"))
	}
	for name, b := range map[string]*browser{"remover": laptop, "other account's session": tablet} {
		if res := b.get("/accounts"); res.StatusCode != http.StatusOK {
			t.Errorf("%s: GET /accounts %d, want 200", name, res.StatusCode)
		}
	}
	// Removing the account this very session signed in with keeps it
	// signed in: the person is right here.
	laptop.mustLink("x", emulator.Person{Sub: "c06d-x", Name: "Grace X", Username: "gracex"})
	var googleID int64
	for _, id := range p.identitiesOf(laptop.userID()) {
		if id.Provider == "google" {
			googleID = id.ID
		}
	}
	if res := laptop.unlink(googleID, true, false); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("unlink own sign-in account: %d", res.StatusCode)
	}
	if res := laptop.get("/accounts"); res.StatusCode != http.StatusOK {
		t.Errorf("after removing its own sign-in account the session ended: %d", res.StatusCode)
	}
	if res := tablet.get("/accounts"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("the tablet signed in with the removed Google account: %d, want a redirect", res.StatusCode)
	}
}
