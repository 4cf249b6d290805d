package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// deleteAccount posts the deletion form of /accounts/delete.
func (b *browser) deleteAccount(confirm bool) response {
	b.t.Helper()
	form := formWithCSRF(b.get("/accounts/delete").Body)
	if confirm {
		form["confirm"] = []string{"yes"}
	}
	return b.post("/accounts/delete", form)
}

// deletedAt returns the user's deletion mark, nil when live.
func (p *portal) deletedAt(userID int64) *int64 {
	p.t.Helper()
	var v *int64
	if err := p.db.DB().QueryRow("SELECT deleted_at FROM users WHERE id = ?", userID).Scan(&v); err != nil {
		p.t.Fatal(err)
	}
	return v
}

// The confirmation page lists what is erased: the connected accounts,
// the timeline, the sessions, and says the grace period and how to
// restore.
func TestDeleteConfirmPage(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("google", ann)
	b.mustLink("facebook", annFB)
	page := b.get("/accounts/delete")
	if page.StatusCode != http.StatusOK {
		t.Fatalf("GET /accounts/delete: %d", page.StatusCode)
	}
	for _, want := range []string{`data-testid="delete-identities"`, `data-provider="google"`, `data-provider="facebook"`,
		"security timeline", " events);", "your session: this browser is signed out", "7 days", "Restore my account", `name="confirm"`, annFB.Email} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("confirmation page lacks %q", want)
		}
	}
	if res := b.deleteAccount(false); res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("delete without the box: %d, want 422", res.StatusCode)
	}
	if p.deletedAt(b.userID()) != nil || !b.signedIn() {
		t.Error("delete without the box changed something")
	}
}

// B-05a: deleting ends every session of the account at once, erases the
// stored provider tokens at once, and leaves the account restorable.
func TestB05a_DeletionSignsOutEveryBrowser(t *testing.T) {
	p := newPortal(t)
	b1, b2 := p.browser(), p.browser()
	b1.mustSignIn("google", ann)
	b2.mustSignIn("google", ann)
	uid := b1.userID()
	if _, err := p.db.DB().Exec("UPDATE identities SET access_token = x'01', refresh_token = x'02', token_expiry = 1 WHERE user_id = ?", uid); err != nil {
		t.Fatal(err)
	}
	res := b1.deleteAccount(true)
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/deleted?until=") {
		t.Fatalf("delete: %d %q, want 303 /deleted?until=...", res.StatusCode, res.Header.Get("Location"))
	}
	until := p.clock.Now().Add(7 * 24 * time.Hour).UTC().Format("January 2, 2006")
	if page := b1.get(res.Header.Get("Location")); !strings.Contains(page.Body, until) {
		t.Errorf("goodbye page does not say until %s", until)
	}
	for i, b := range []*browser{b1, b2} {
		if b.signedIn() {
			t.Errorf("browser %d still signed in after the deletion", i+1)
		}
	}
	if p.deletedAt(uid) == nil {
		t.Error("user not marked deleted")
	}
	var n int
	if err := p.db.DB().QueryRow("SELECT count(*) FROM identities WHERE user_id = ? AND (access_token IS NOT NULL OR refresh_token IS NOT NULL OR token_expiry IS NOT NULL)", uid).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d identities still hold tokens (%v)", n, err)
	}
}

// Signing in during the grace period offers to restore the account;
// "Leave it deleted" changes nothing, "Restore" brings it back and signs in.
func TestDeletedSignInOffersRestore(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("google", ann)
	b.mustLink("facebook", annFB)
	uid := b.userID()
	b.deleteAccount(true)
	p.clock.Advance(3 * 24 * time.Hour)

	for _, action := range []string{"leave", "restore"} {
		res := b.signIn("facebook", annFB)
		id := pendingID(t, res, "/restore")
		page := b.get("/restore?id=" + url.QueryEscape(id))
		if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, "scheduled for deletion") || !strings.Contains(page.Body, formatDay(p.clock.Now().Add(4*24*time.Hour))) {
			t.Fatalf("restore page %d lacks the offer and date: %.600s", page.StatusCode, page.Body)
		}
		form := formWithCSRF(page.Body)
		form["id"], form["action"] = []string{id}, []string{action}
		res = b.post("/restore", form)
		if action == "leave" {
			if res.StatusCode != http.StatusSeeOther || b.signedIn() || p.deletedAt(uid) == nil {
				t.Fatalf("Leave it deleted: %d %q; signed in %v", res.StatusCode, res.Header.Get("Location"), b.signedIn())
			}
			if again := b.post("/restore", form); again.StatusCode != http.StatusBadRequest {
				t.Errorf("a used offer answered %d, want 400", again.StatusCode)
			}
			continue
		}
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/accounts" {
			t.Fatalf("Restore: %d %q, want 303 /accounts", res.StatusCode, res.Header.Get("Location"))
		}
	}
	page := b.accountsPage()
	if b.userID() != uid || p.deletedAt(uid) != nil {
		t.Errorf("after restore: user %d (want %d), deleted_at %v", b.userID(), uid, p.deletedAt(uid))
	}
	if got := identitiesOn(page.Body); !slices.Equal(got, []string{"google", "facebook"}) {
		t.Errorf("restored account shows %v, want [google facebook]", got)
	}
	if k := p.eventKinds(uid); countKind(k, "restored") != 1 {
		t.Errorf("events %v, want one restored", k)
	}
}

// After the grace period and the purge, the identity signs up as a new
// user; the old account is gone with its identities.
func TestDeletedAfterGraceSignsUpAnew(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("facebook", annFB)
	uid := b.userID()
	b.deleteAccount(true)
	p.clock.Advance(7*24*time.Hour + time.Minute)
	n, err := p.accounts.PurgeDeleted(context.Background(), p.clock.Now())
	if err != nil || n != 1 {
		t.Fatalf("PurgeDeleted = %d, %v; want 1", n, err)
	}
	b.mustSignIn("facebook", annFB)
	if got := b.userID(); got == uid || got == 0 {
		t.Errorf("signed in as %d after the purge, want a new user (old %d)", got, uid)
	}
	if ids := p.identitiesOf(uid); len(ids) != 0 {
		t.Errorf("the purged user still has %v", ids)
	}
}

// Linking an identity of an account scheduled for deletion from another
// account: taken; no merge, no switch.
func TestLinkIdentityOfDeletedAccountIsTaken(t *testing.T) {
	p := newPortal(t)
	gone := p.browser()
	gone.mustSignIn("facebook", annFB)
	goneID := gone.userID()
	gone.deleteAccount(true)
	b := p.browser()
	b.mustSignIn("google", ann)
	id := pendingID(t, b.link("facebook", annFB), "/accounts/link/conflict")
	for _, path := range []string{"/accounts/link/conflict?id=", "/accounts/merge/preview?id="} {
		if res := b.get(path + url.QueryEscape(id)); res.StatusCode != http.StatusConflict || strings.Contains(res.Body, "merge-confirm") {
			t.Errorf("GET %s: %d, want 409 taken", path, res.StatusCode)
		}
	}
	form := formWithCSRF(b.accountsPage().Body)
	form["id"], form["confirm"] = []string{id}, []string{"yes"}
	if res := b.post("/accounts/merge/confirm", form); res.StatusCode != http.StatusConflict {
		t.Errorf("merge confirm: %d, want 409", res.StatusCode)
	}
	form["id"] = []string{pendingID(t, b.link("facebook", annFB), "/accounts/link/conflict")} // merge used the first
	if res := b.post("/accounts/link/switch", form); res.StatusCode != http.StatusConflict {
		t.Errorf("switch: %d, want 409", res.StatusCode)
	}
	if got := providersOf(p.identitiesOf(goneID)); !slices.Equal(got, []string{"facebook"}) || p.deletedAt(goneID) == nil {
		t.Errorf("the deleted account changed: %v", got)
	}
	if b.userID() == goneID {
		t.Error("switched into the deleted account")
	}
}

// formatDay is how an English page writes the day of t (UTC: these
// browsers have told no time zone).
func formatDay(t time.Time) string { return t.UTC().Format("Jan 2, 2006") }
