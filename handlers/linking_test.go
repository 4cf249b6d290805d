package handlers_test

// Journeys of account linking through the real router and the provider
// emulator: link another account (preview, Link it, Cancel, Not you?),
// remove one, the conflict with another account (switch, merge), and the
// profile sources. The security cases are in security_link_attacks_test.go.

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/providers/emulator"
)

var (
	ann        = emulator.Person{Sub: "300000000000000000001", Name: "Ann Google", Email: "ann@example.com", EmailVerified: true}
	annWork    = emulator.Person{Sub: "300000000000000000002", Name: "Ann at Work", Email: "ann@work.example", EmailVerified: true}
	annFB      = emulator.Person{Sub: "3000000000000001", Name: "Ann Facebook", Email: "ann.fb@example.com"}
	bob        = emulator.Person{Sub: "3000000000000000001", Name: "Bob X", Username: "bobx"}
	movingRE   = regexp.MustCompile(`(?s)data-testid="moving">(.*?)</ul>`)
	dataProvRE = regexp.MustCompile(`data-provider="([^"]+)"`)
)

// Journey: link another account. The preview shows which provider account
// it is and nothing is attached before "Link it".
func TestLinkAnotherAccount(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("google", ann)
	uid := b.userID()

	id := b.linkPreview("facebook", annFB)
	if diff := cmp.Diff([]string{"google"}, providersOf(p.identitiesOf(uid))); diff != "" {
		t.Fatalf("identities after the callback, before Link it (-want +got):\n%s", diff)
	}
	preview := b.get("/accounts/link/confirm?id=" + url.QueryEscape(id))
	if preview.StatusCode != http.StatusOK {
		t.Fatalf("preview: %d", preview.StatusCode)
	}
	for _, want := range []string{
		`data-testid="preview-account" data-provider="facebook"`,
		"Connect this Facebook account?", annFB.Name, annFB.Email,
		`data-testid="link-confirm"`, `data-testid="link-cancel"`, `data-testid="link-not-you"`,
	} {
		if !strings.Contains(preview.Body, want) {
			t.Errorf("preview lacks %q", want)
		}
	}
	// Looking at the preview attaches nothing either.
	if n := len(p.identitiesOf(uid)); n != 1 {
		t.Fatalf("identities after the preview = %d, want 1", n)
	}
	if n := countKind(p.eventKinds(uid), accounts.EventLinked); n != 0 {
		t.Fatalf("linked events before Link it = %d, want 0", n)
	}

	res := b.answerLink(id, "link")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/accounts" {
		t.Fatalf("Link it: %d %q, want 303 /accounts", res.StatusCode, res.Header.Get("Location"))
	}
	page := b.accountsPage()
	if diff := cmp.Diff([]string{"google", "facebook"}, identitiesOn(page.Body)); diff != "" {
		t.Errorf("identities on /accounts (-want +got):\n%s", diff)
	}
	if got, want := notice(page.Body), "Your Facebook account ann.fb@example.com is now connected."; got != want {
		t.Errorf("notice %q, want %q", got, want)
	}
	if n := countKind(p.eventKinds(uid), accounts.EventLinked); n != 1 {
		t.Errorf("linked events = %d, want 1", n)
	}
	if got := p.userOf("facebook", annFB.Sub); got != uid {
		t.Errorf("facebook identity belongs to user %d, want %d", got, uid)
	}
}

// Journey: Cancel on the preview links nothing, and the preview is then
// spent.
func TestLinkCancel(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("google", ann)
	uid := b.userID()
	id := b.linkPreview("facebook", annFB)
	res := b.answerLink(id, "cancel")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/accounts" {
		t.Fatalf("Cancel: %d %q, want 303 /accounts", res.StatusCode, res.Header.Get("Location"))
	}
	page := b.accountsPage()
	if got := notice(page.Body); got != "Nothing was linked." {
		t.Errorf("notice %q, want %q", got, "Nothing was linked.")
	}
	if diff := cmp.Diff([]string{"google"}, providersOf(p.identitiesOf(uid))); diff != "" {
		t.Errorf("identities after Cancel (-want +got):\n%s", diff)
	}
	if got := p.userOf("facebook", annFB.Sub); got != 0 {
		t.Errorf("the cancelled facebook identity belongs to user %d", got)
	}
	if res := b.answerLink(id, "link"); res.StatusCode != http.StatusBadRequest || !strings.Contains(res.Body, "This request has expired") {
		t.Errorf("Link it after Cancel: %d, want 400 expired page", res.StatusCode)
	}
	if n := len(p.identitiesOf(uid)); n != 1 {
		t.Errorf("identities after Link it on a cancelled preview = %d, want 1", n)
	}
}

// Journey: "Not you?" on the preview starts again with Google's account
// chooser; then a second Google account of the same person may be linked
// too (C-05c's written policy: allowed).
func TestLinkNotYouChoosesAnotherGoogleAccount(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("facebook", annFB)
	uid := b.userID()
	if q := b.beginLink("google", nil).Query(); q.Has("prompt") {
		t.Errorf("a plain Connect asks prompt=%q, want no prompt", q.Get("prompt"))
	}
	// The browser's Google session picked the wrong account.
	id := b.linkPreview("google", annWork)
	preview := b.get("/accounts/link/confirm?id=" + url.QueryEscape(id))
	notYou := regexp.MustCompile(`(?s)<form method="post" action="/accounts/link/google">.*?name="choose" value="1".*?data-testid="link-not-you"`)
	if !notYou.MatchString(preview.Body) {
		t.Fatal(`preview has no "Not you?" form posting choose=1 to /accounts/link/google`)
	}
	form := formWithCSRF(preview.Body)
	form["choose"] = []string{"1"}
	res := b.post("/accounts/link/google", form)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("Not you?: %d, want 303", res.StatusCode)
	}
	authURL, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := authURL.Query().Get("prompt"); got != "select_account" {
		t.Errorf("authorize URL prompt = %q, want select_account", got)
	}
	chosen := pendingID(t, b.get(b.consent("google", authURL, ann).String()), "/accounts/link/confirm")
	if preview := b.get("/accounts/link/confirm?id=" + url.QueryEscape(chosen)); !strings.Contains(preview.Body, ann.Email) || strings.Contains(preview.Body, annWork.Email) {
		t.Errorf("preview after Not you? does not show only %s", ann.Email)
	}
	if res := b.answerLink(chosen, "link"); res.Header.Get("Location") != "/accounts" {
		t.Fatalf("Link it: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if diff := cmp.Diff([]string{"facebook", "google"}, providersOf(p.identitiesOf(uid))); diff != "" {
		t.Fatalf("identities (-want +got):\n%s", diff)
	}
	// C-05c: the work account is a second Google account; it is allowed.
	page := b.mustLink("google", annWork)
	if diff := cmp.Diff([]string{"facebook", "google", "google"}, identitiesOn(page.Body)); diff != "" {
		t.Errorf("identities on /accounts (-want +got):\n%s", diff)
	}
	got := p.identitiesOf(uid)
	if got[1].Subject != ann.Sub || got[2].Subject != annWork.Sub {
		t.Errorf("google subjects %s, %s; want %s, %s", got[1].Subject, got[2].Subject, ann.Sub, annWork.Sub)
	}
}

// Journey: remove a connected account, with the plain form and with htmx.
func TestRemoveConnectedAccount(t *testing.T) {
	for _, htmx := range []bool{false, true} {
		t.Run("htmx="+strconv.FormatBool(htmx), func(t *testing.T) {
			p := newPortal(t)
			b := p.browser()
			b.mustSignIn("google", ann)
			b.mustLink("facebook", annFB)
			uid := b.userID()
			fbID := p.identityID(uid, "facebook", annFB.Sub)

			// Without confirm=yes: a page that names the account.
			ask := b.unlink(fbID, false, false)
			if ask.StatusCode != http.StatusOK || !strings.Contains(ask.Body, `data-testid="unlink-confirm-page"`) {
				t.Fatalf("unlink without confirm: %d, want 200 confirmation page", ask.StatusCode)
			}
			for _, want := range []string{"Remove your Facebook account ann.fb@example.com?", `name="confirm" value="yes"`, `data-testid="unlink-confirm"`} {
				if !strings.Contains(ask.Body, want) {
					t.Errorf("confirmation page lacks %q", want)
				}
			}
			if n := len(p.identitiesOf(uid)); n != 2 {
				t.Fatalf("identities after the confirmation page = %d, want 2", n)
			}

			res := b.unlink(fbID, true, htmx)
			wantNotice := "Removed your Facebook account ann.fb@example.com."
			if htmx {
				if res.StatusCode != http.StatusOK {
					t.Fatalf("htmx unlink: %d, want 200", res.StatusCode)
				}
				body := strings.TrimSpace(res.Body)
				if !strings.HasPrefix(body, `<section id="connected"`) || strings.Contains(body, "<html") {
					t.Errorf("htmx answer is not the #connected fragment: %.200s", body)
				}
				if diff := cmp.Diff([]string{"google"}, identitiesOn(body)); diff != "" {
					t.Errorf("identities in the fragment (-want +got):\n%s", diff)
				}
				if !strings.Contains(body, `role="status"`) || notice(body) != wantNotice {
					t.Errorf("fragment notice %q (role=status: %v), want %q", notice(body), strings.Contains(body, `role="status"`), wantNotice)
				}
				// The timeline comes along out of band, newest first.
				if i := strings.Index(body, `<ol id="activity" class="activity" data-testid="activity" hx-swap-oob="true">`); i < 0 ||
					!strings.HasPrefix(body[i:], `<ol id="activity" class="activity" data-testid="activity" hx-swap-oob="true"><li data-testid="event"><strong>Account removed</strong>`) {
					t.Errorf("htmx answer lacks the out-of-band activity starting with the removal")
				}
			} else {
				if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/accounts" {
					t.Fatalf("unlink: %d %q, want 303 /accounts", res.StatusCode, res.Header.Get("Location"))
				}
				page := b.accountsPage()
				if got := notice(page.Body); got != wantNotice {
					t.Errorf("notice %q, want %q", got, wantNotice)
				}
				if diff := cmp.Diff([]string{"google"}, identitiesOn(page.Body)); diff != "" {
					t.Errorf("identities on /accounts (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff([]string{"google"}, providersOf(p.identitiesOf(uid))); diff != "" {
				t.Errorf("identities in the database (-want +got):\n%s", diff)
			}
		})
	}
}

// conflictSetup makes two accounts: A (Facebook first, so A's display name
// is the Facebook one, then Google) and B (X), signed in in browsers a and
// b. B then links A's Google account; it returns the conflict id.
func conflictSetup(t *testing.T, p *portal) (a, b *browser, userA, userB int64, id string) {
	t.Helper()
	a = p.browser()
	a.mustSignIn("facebook", annFB)
	a.mustLink("google", ann)
	b = p.browser()
	b.mustSignIn("x", bob)
	userA, userB = a.userID(), b.userID()
	id = pendingID(t, b.link("google", ann), "/accounts/link/conflict")
	return a, b, userA, userB, id
}

// Journey: the conflict page, then "sign in to that account instead".
func TestConflictSwitchAccount(t *testing.T) {
	p := newPortal(t)
	_, b, userA, userB, id := conflictSetup(t, p)
	page := b.get("/accounts/link/conflict?id=" + url.QueryEscape(id))
	if page.StatusCode != http.StatusConflict || !strings.Contains(page.Body, `data-testid="conflict-switch"`) {
		t.Fatalf("conflict page: %d, want 409 with a switch button", page.StatusCode)
	}
	res := b.post("/accounts/link/switch", url.Values{"csrf_token": formWithCSRF(page.Body)["csrf_token"], "id": {id}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/accounts" {
		t.Fatalf("switch: %d %q, want 303 /accounts", res.StatusCode, res.Header.Get("Location"))
	}
	if got := b.userID(); got != userA {
		t.Errorf("browser signed in as %d after the switch, want A (%d)", got, userA)
	}
	after := b.accountsPage()
	if diff := cmp.Diff([]string{"facebook", "google"}, identitiesOn(after.Body)); diff != "" {
		t.Errorf("identities shown after the switch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"x"}, providersOf(p.identitiesOf(userB))); diff != "" {
		t.Errorf("B's identities (-want +got):\n%s", diff)
	}
	// The conflict was spent by the switch.
	replay := b.post("/accounts/link/switch", url.Values{"csrf_token": formWithCSRF(after.Body)["csrf_token"], "id": {id}})
	if replay.StatusCode != http.StatusBadRequest || !strings.Contains(replay.Body, "This request has expired") {
		t.Errorf("replayed switch: %d, want 400 expired page", replay.StatusCode)
	}
}

// Journey: merge A into B after the conflict. The preview lists what moves;
// the checkbox is required; after the merge A is gone, and A's own browser
// is signed out at its next request. The conflict is single-use.
func TestMergeAccounts(t *testing.T) {
	p := newPortal(t)
	a, b, userA, userB, id := conflictSetup(t, p)
	eventsA := len(p.eventKinds(userA))
	totalEvents := p.count("events")

	preview := b.get("/accounts/merge/preview?id=" + url.QueryEscape(id))
	if preview.StatusCode != http.StatusOK {
		t.Fatalf("merge preview: %d", preview.StatusCode)
	}
	moving := movingRE.FindStringSubmatch(preview.Body)
	if moving == nil {
		t.Fatal("merge preview has no list of moving accounts")
	}
	var movingProviders []string
	for _, m := range dataProvRE.FindAllStringSubmatch(moving[1], -1) {
		movingProviders = append(movingProviders, m[1])
	}
	for _, want := range []string{ann.Email, annFB.Email} {
		if !strings.Contains(moving[1], want) {
			t.Errorf("moving accounts do not show %s", want)
		}
	}
	if diff := cmp.Diff([]string{"facebook", "google"}, movingProviders); diff != "" {
		t.Errorf("moving accounts (-want +got):\n%s", diff)
	}
	if want := `data-testid="merge-events">` + strconv.Itoa(eventsA) + " events of its security history"; !strings.Contains(preview.Body, want) {
		t.Errorf("merge preview lacks %q", want)
	}

	token := formWithCSRF(preview.Body)["csrf_token"]
	unticked := b.post("/accounts/merge/confirm", url.Values{"csrf_token": token, "id": {id}})
	if unticked.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(unticked.Body, "Tick the box") {
		t.Fatalf("merge without the box: %d, want 422 asking to tick the box", unticked.StatusCode)
	}
	if len(p.identitiesOf(userA)) != 2 || len(p.eventKinds(userA)) != eventsA || p.count("users") != 2 {
		t.Fatal("a merge without the box changed something")
	}

	res := b.post("/accounts/merge/confirm", url.Values{"csrf_token": token, "id": {id}, "confirm": {"yes"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/accounts" {
		t.Fatalf("merge: %d %q, want 303 /accounts", res.StatusCode, res.Header.Get("Location"))
	}
	if diff := cmp.Diff([]string{"facebook", "google", "x"}, slices.Sorted(slices.Values(providersOf(p.identitiesOf(userB))))); diff != "" {
		t.Errorf("B's identities after the merge (-want +got):\n%s", diff)
	}
	var users, leftA int
	_ = p.db.DB().QueryRow("SELECT count(*) FROM users WHERE id = ?", userA).Scan(&users)
	_ = p.db.DB().QueryRow("SELECT count(*) FROM events WHERE user_id = ?", userA).Scan(&leftA)
	if users != 0 || leftA != 0 {
		t.Errorf("after the merge A has %d user rows and %d events, want 0 and 0", users, leftA)
	}
	// Every event moved (none lost) and one merged event per moved identity.
	if got, want := p.count("events"), totalEvents+2; got != want {
		t.Errorf("events after the merge = %d, want %d", got, want)
	}
	page := b.accountsPage()
	if want := "Merged: 2 connected accounts and " + strconv.Itoa(eventsA) + " timeline events moved"; !strings.Contains(notice(page.Body), want) {
		t.Errorf("notice %q, want it to start %q", notice(page.Body), want)
	}
	// A's own browser is signed out at its next request.
	if res := a.get("/accounts"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Errorf("A's browser after the merge: %d %q, want a redirect to /login", res.StatusCode, res.Header.Get("Location"))
	}
	// The conflict is single-use.
	replay := b.post("/accounts/merge/confirm", url.Values{"csrf_token": formWithCSRF(page.Body)["csrf_token"], "id": {id}, "confirm": {"yes"}})
	if replay.StatusCode != http.StatusBadRequest || !strings.Contains(replay.Body, "This request has expired") {
		t.Errorf("replayed merge: %d, want 400 expired page", replay.StatusCode)
	}
}

// Journey: a conflict left for more than ten minutes can no longer be used
// to switch or merge.
func TestPendingConflictExpires(t *testing.T) {
	p := newPortal(t)
	_, b, userA, userB, id := conflictSetup(t, p)
	token := formWithCSRF(b.accountsPage().Body)["csrf_token"]
	p.clock.Advance(11 * time.Minute)
	for _, res := range []response{
		b.get("/accounts/link/conflict?id=" + url.QueryEscape(id)),
		b.get("/accounts/merge/preview?id=" + url.QueryEscape(id)),
		b.post("/accounts/merge/confirm", url.Values{"csrf_token": token, "id": {id}, "confirm": {"yes"}}),
		b.post("/accounts/link/switch", url.Values{"csrf_token": token, "id": {id}}),
	} {
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(res.Body, "This request has expired") {
			t.Errorf("%s %s after 11 minutes: %d, want 400 expired page", res.Request.Method, res.Request.URL.Path, res.StatusCode)
		}
	}
	if got := b.userID(); got != userB {
		t.Errorf("browser is user %d, want B (%d)", got, userB)
	}
	if len(p.identitiesOf(userA)) != 2 || len(p.identitiesOf(userB)) != 1 || p.count("users") != 2 {
		t.Error("an expired conflict changed the accounts")
	}
}

// Journey: the display name can come from another connected account, and
// falls back (with a notice) when that account is removed.
func TestProfileSources(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("google", ann)
	page := b.mustLink("facebook", annFB)
	uid := b.userID()
	fbID := p.identityID(uid, "facebook", annFB.Sub)
	if got := displayName(page.Body); got != ann.Name {
		t.Fatalf("display name %q, want %q", got, ann.Name)
	}
	res := b.post("/accounts/profile", url.Values{"csrf_token": formWithCSRF(page.Body)["csrf_token"], "display_name": {strconv.FormatInt(fbID, 10)}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /accounts/profile: %d, want 303", res.StatusCode)
	}
	page = b.accountsPage()
	if got := displayName(page.Body); got != annFB.Name {
		t.Errorf("display name after choosing Facebook %q, want %q", got, annFB.Name)
	}
	if got, want := notice(page.Body), "Saved. Your profile now shows Ann Facebook."; got != want {
		t.Errorf("notice %q, want %q", got, want)
	}

	b.unlink(fbID, true, false)
	page = b.accountsPage()
	if got := displayName(page.Body); got != ann.Name {
		t.Errorf("display name after removing Facebook %q, want %q", got, ann.Name)
	}
	want := "Removed your Facebook account ann.fb@example.com. Your display name now comes from your Google account ann@example.com."
	if got := notice(page.Body); got != want {
		t.Errorf("notice %q, want %q", got, want)
	}
}
