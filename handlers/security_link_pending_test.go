package handlers_test

// Security tests for what waits between the callback and the person's
// answer: conflicts with another account, repeated links, pending links and
// their bindings (SECURITY.md C-05; LINKING.md P7).

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/linkport/linkport/accounts"
)

// C-05a: linking an identity of another account answers the 409 conflict
// page showing only the provider account itself; nothing changes, and the
// refusal goes on the requester's timeline only.
func TestC05a_IdentityOfAnotherUser(t *testing.T) {
	p := newPortal(t)
	_, b, userA, userB, id := conflictSetup(t, p)
	eventsA := p.eventKinds(userA)
	page := b.get("/accounts/link/conflict?id=" + url.QueryEscape(id))
	if page.StatusCode != http.StatusConflict {
		t.Fatalf("conflict page: %d, want 409", page.StatusCode)
	}
	for _, want := range []string{`data-testid="conflict-account" data-provider="google"`, ann.Name, ann.Email, "Nothing was changed."} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("conflict page lacks %q", want)
		}
	}
	// A's display name and other email come from A's Facebook account:
	// the page must not show them.
	for _, leak := range []string{annFB.Name, annFB.Email} {
		if strings.Contains(page.Body, leak) {
			t.Errorf("conflict page shows %q of the other account", leak)
		}
	}
	if diff := cmp.Diff([]string{"facebook", "google"}, providersOf(p.identitiesOf(userA))); diff != "" {
		t.Errorf("A's identities (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"x"}, providersOf(p.identitiesOf(userB))); diff != "" {
		t.Errorf("B's identities (-want +got):\n%s", diff)
	}
	if n := countKind(p.eventKinds(userB), accounts.EventLinkRefused); n != 1 {
		t.Errorf("B's link_refused events = %d, want 1", n)
	}
	if diff := cmp.Diff(eventsA, p.eventKinds(userA)); diff != "" || countKind(eventsA, accounts.EventLinkRefused) != 0 {
		t.Errorf("A's events changed or hold a refusal (-before +after):\n%s", diff)
	}
	if got := b.userID(); got != userB {
		t.Errorf("browser is user %d, want B (%d)", got, userB)
	}
}

// C-05b: linking one's own identity again is harmless: a notice, no second
// row, no event.
func TestC05b_RelinkIsIdempotent(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("google", ann)
	b.mustLink("facebook", annFB)
	uid := b.userID()
	events := len(p.eventKinds(uid))
	res := b.link("facebook", annFB)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/accounts" {
		t.Fatalf("relink callback: %d %q, want 303 /accounts", res.StatusCode, res.Header.Get("Location"))
	}
	page := b.accountsPage()
	if got, want := notice(page.Body), "That Facebook account is already connected to your Linkport account."; got != want {
		t.Errorf("notice %q, want %q", got, want)
	}
	if p.count("identities") != 2 || len(p.eventKinds(uid)) != events {
		t.Errorf("identities %d (want 2), events %d (want %d)", p.count("identities"), len(p.eventKinds(uid)), events)
	}
}

// C-05c: a second Google account of the same user is allowed (the written
// policy: personal and work accounts).
func TestC05c_SecondGoogleAccountAllowed(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("google", ann)
	page := b.mustLink("google", annWork)
	if diff := cmp.Diff([]string{"google", "google"}, identitiesOn(page.Body)); diff != "" {
		t.Errorf("identities on /accounts (-want +got):\n%s", diff)
	}
	if p.userOf("google", annWork.Sub) != b.userID() {
		t.Error("the second Google account is not the user's")
	}
}

// P7: every link exchanges its own code; a second link flow never returns
// the provider account of the first.
func TestCallbackAlwaysExchangesFreshCode(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("facebook", annFB)
	uid := b.userID()
	first := b.consent("google", b.beginLink("google", nil), ann)
	id1 := pendingID(t, b.get(first.String()), "/accounts/link/confirm")
	b.answerLink(id1, "link")
	hits := p.emu.Hits("google", "token")
	id2 := b.linkPreview("google", annWork)
	if got := p.emu.Hits("google", "token"); got != hits+1 {
		t.Errorf("token endpoint hits for the second link %d, want %d", got, hits+1)
	}
	preview := b.get("/accounts/link/confirm?id=" + url.QueryEscape(id2))
	if !strings.Contains(preview.Body, annWork.Email) || strings.Contains(preview.Body, ann.Email) {
		t.Error("the second preview does not show only the second Google account")
	}
	b.answerLink(id2, "link")
	wantCallbackFailure(t, b, b.get(first.String()), "invalid", http.StatusBadRequest)
	got := p.identitiesOf(uid)
	var subs []string
	for _, id := range got {
		subs = append(subs, id.Subject)
	}
	if diff := cmp.Diff([]string{annFB.Sub, ann.Sub, annWork.Sub}, subs); diff != "" {
		t.Errorf("subjects (-want +got):\n%s", diff)
	}
}

// P7: a pending link belongs to the session and user that made it, holds
// the provider account it previewed, and is good once.
func TestPendingLinkBoundToUserProviderSubject(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	page := b.mustSignIn("google", ann)
	uid := b.userID()
	id := b.linkPreview("facebook", annFB)

	expired := func(t *testing.T, res response) {
		t.Helper()
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(res.Body, "This request has expired") {
			t.Errorf("%s %s: %d, want 400 expired page", res.Request.Method, res.Request.URL.Path, res.StatusCode)
		}
	}
	// Another browser and user cannot use it.
	other := p.browser()
	other.mustSignIn("x", bob)
	expired(t, other.get("/accounts/link/confirm?id="+url.QueryEscape(id)))
	expired(t, other.answerLink(id, "link"))
	if p.userOf("facebook", annFB.Sub) != 0 {
		t.Fatal("another user's answer linked the identity")
	}
	// A subject or provider in the form changes nothing: the pending link
	// holds what was previewed.
	form := formWithCSRF(page.Body)
	form["id"], form["action"] = []string{id}, []string{"link"}
	form["provider"], form["subject"] = []string{"google"}, []string{"999"}
	if res := b.post("/accounts/link/confirm", form); res.Header.Get("Location") != "/accounts" {
		t.Fatalf("Link it: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if got := p.userOf("facebook", annFB.Sub); got != uid {
		t.Errorf("facebook identity belongs to %d, want %d", got, uid)
	}
	if p.userOf("google", "999") != 0 {
		t.Error("a subject from the form was linked")
	}
	// Used twice.
	expired(t, b.answerLink(id, "link"))
	if n := countKind(p.eventKinds(uid), accounts.EventLinked); n != 1 {
		t.Errorf("linked events = %d, want 1", n)
	}
	// A pending link does not survive another sign-in in the same browser.
	id2 := b.linkPreview("google", annWork)
	b.mustSignIn("x", bob)
	expired(t, b.answerLink(id2, "link"))
	if p.userOf("google", annWork.Sub) != 0 {
		t.Error("a pending link was used after another sign-in")
	}
	// And it lives ten minutes.
	id3 := b.linkPreview("google", annWork)
	p.clock.Advance(11 * time.Minute)
	expired(t, b.get("/accounts/link/confirm?id="+url.QueryEscape(id3)))
	expired(t, b.answerLink(id3, "link"))
	if p.userOf("google", annWork.Sub) != 0 {
		t.Error("an expired pending link was used")
	}
}

// P7: two link flows open in two tabs of one browser, finished in reverse
// order, each link their own provider account.
func TestConcurrentLinkFlowsInTwoTabs(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("x", bob)
	uid := b.userID()
	tab1 := b.beginLink("google", nil)
	tab2 := b.beginLink("facebook", nil)
	cb2 := b.consent("facebook", tab2, annFB)
	cb1 := b.consent("google", tab1, ann)
	id2 := pendingID(t, b.get(cb2.String()), "/accounts/link/confirm")
	id1 := pendingID(t, b.get(cb1.String()), "/accounts/link/confirm")
	for _, tc := range []struct{ id, provider, email string }{{id2, "facebook", annFB.Email}, {id1, "google", ann.Email}} {
		preview := b.get("/accounts/link/confirm?id=" + url.QueryEscape(tc.id))
		if !strings.Contains(preview.Body, `data-provider="`+tc.provider+`"`) || !strings.Contains(preview.Body, tc.email) {
			t.Errorf("preview %s does not show the %s account %s", tc.id, tc.provider, tc.email)
		}
	}
	b.answerLink(id1, "link")
	b.answerLink(id2, "link")
	if p.userOf("google", ann.Sub) != uid || p.userOf("facebook", annFB.Sub) != uid {
		t.Errorf("google → %d, facebook → %d; want both %d", p.userOf("google", ann.Sub), p.userOf("facebook", annFB.Sub), uid)
	}
	if diff := cmp.Diff([]string{"x", "google", "facebook"}, identitiesOn(b.accountsPage().Body)); diff != "" {
		t.Errorf("identities (-want +got):\n%s", diff)
	}
}

// P7: a conflict is the proof "this person controls an identity of the
// other account". Once the other account has removed that identity the
// proof is void: the merge preview, the merge and the switch are refused,
// and the other account keeps what it has.
func TestPendingConflictVoidAfterUnlink(t *testing.T) {
	for _, action := range []string{"preview", "merge", "switch"} {
		t.Run(action, func(t *testing.T) {
			p := newPortal(t)
			a, b, userA, userB, id := conflictSetup(t, p)
			// A notices and removes the Google account B just used.
			if res := a.unlink(p.identityID(userA, "google", ann.Sub), true, false); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("A's unlink: %d", res.StatusCode)
			}
			token := formWithCSRF(b.accountsPage().Body)["csrf_token"]
			var res response
			switch action {
			case "preview":
				res = b.get("/accounts/merge/preview?id=" + url.QueryEscape(id))
			case "merge":
				res = b.post("/accounts/merge/confirm", url.Values{"csrf_token": token, "id": {id}, "confirm": {"yes"}})
			case "switch":
				res = b.post("/accounts/link/switch", url.Values{"csrf_token": token, "id": {id}})
			}
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(res.Body, "This request has expired") {
				t.Errorf("%s after the other account removed the identity: %d, want 400 expired page", action, res.StatusCode)
			}
			if diff := cmp.Diff([]string{"facebook"}, providersOf(p.identitiesOf(userA))); diff != "" {
				t.Errorf("A's identities (-want +got):\n%s", diff)
			}
			if got := b.userID(); got != userB {
				t.Errorf("B's browser is user %d, want %d", got, userB)
			}
			if diff := cmp.Diff([]string{"x"}, providersOf(p.identitiesOf(userB))); diff != "" {
				t.Errorf("B's identities (-want +got):\n%s", diff)
			}
		})
	}
}
