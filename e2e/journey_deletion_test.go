package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// deletionGrace is the default LINKPORT_DELETION_GRACE, which the journey
// runs with.
const deletionGrace = 7 * 24 * time.Hour

// TestJourneyDeleteAndRestore: a person signed in on two devices deletes
// the account. The confirmation page says what is erased and for how
// long it can be restored; the box must be ticked; the stale sign-in asks
// to confirm at the provider first. Then every session has ended, and
// signing in again within the grace period offers to restore the account:
// "Leave it deleted" leaves it so, "Restore my account" brings it back as
// it was.
func TestJourneyDeleteAndRestore(t *testing.T) {
	b := newBrowser(t)
	srv := startServerWith(t, "LINKPORT_STEP_UP_AGE="+sessionsStepUpAge.String())
	art := artifactDir(t)
	forEachWidth(t, b, srv, true, func(t *testing.T, tab *browser, width int64) {
		ada := adaGoogle.at(width)
		signInAsNew(t, tab, srv.URL, ada)
		signedIn := time.Now() // the sign-in happened before this
		other := otherDevice(t, b, srv)
		signInAs(t, other, srv.URL, ada)

		clickTo(t, tab, chromedp.CSS(`[data-testid="delete-link"]`), "/accounts/delete")
		erases := run(t, tab, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('[data-testid="delete-erases"] li')).map((li) => li.textContent.trim())`))
		if len(erases) != 4 || !strings.HasPrefix(erases[0], "your connected account, listed below") ||
			!strings.HasPrefix(erases[1], "your security timeline (") ||
			!strings.HasPrefix(erases[2], "your sessions: 2 browsers signed in, this one included") ||
			!strings.Contains(erases[3], "tokens") {
			t.Errorf("the deletion page says it erases %q, want the one account, the timeline, both sessions and the tokens", erases)
		}
		if got := run(t, tab, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('[data-testid="delete-identities"] > li')).map((li) => li.dataset.provider)`)); !slices.Equal(got, []string{"google"}) {
			t.Errorf("the deletion page lists the accounts %q, want [google]", got)
		}
		if grace := run(t, tab, chromedp.Text(chromedp.CSS(`[data-testid="delete-grace"]`))); !strings.Contains(grace, "kept for 7 days") || !strings.Contains(grace, "Restore my account") {
			t.Errorf("the deletion page says %q about the grace period, want 7 days and how to restore", grace)
		}
		capture(t, tab, art, "1-delete-confirm")

		// Without the box ticked the browser does not send the form.
		do(t, tab, chromedp.Click(chromedp.CSS(`[data-testid="delete-submit"]`), chromedp.NodeVisible))
		if missing := run(t, tab, chromedp.Evaluate[bool](`document.querySelector('[data-testid="delete-check"]').validity.valueMissing`)); !missing || pathOf(t, tab) != "/accounts/delete" {
			t.Fatalf("Delete without the box ticked left the page (box missing: %v, now at %s)", missing, pathOf(t, tab))
		}
		if got := accountsBehindTheScenes(t, tab); !slices.Equal(got, []string{"google"}) {
			t.Fatalf("after Delete without the box ticked, /accounts lists %q: nothing may be deleted", got)
		}

		// Ticked, with a stale sign-in: confirm at the provider, then it is
		// deleted.
		waitUntilStale(signedIn, sessionsStepUpAge)
		do(t, tab, chromedp.Click(chromedp.CSS(`[data-testid="delete-check"]`), chromedp.NodeVisible))
		clickTo(t, tab, chromedp.CSS(`[data-testid="delete-submit"]`), "/accounts/step-up")
		if path := openAccounts(t, other, srv.URL); path != "/accounts" {
			t.Fatalf("while the step-up page is shown, the other device got %s: nothing may change yet", path)
		}
		confirmItsYou(t, tab, art, "2", ada, "Delete your Linkport account", "/deleted")
		want := time.Now().Add(deletionGrace).UTC().Format(time.DateOnly)
		if until := run(t, tab, chromedp.Evaluate[string](`new URLSearchParams(location.search).get("until") ?? ""`)); until != want {
			t.Errorf("the goodbye page's address says until %q, want %q", until, want)
		}
		if h := run(t, tab, chromedp.Text(chromedp.CSS(`[data-testid="deleted"] h1`))); h != "Your account is deleted" {
			t.Errorf("the goodbye page says %q", h)
		}
		until := run(t, tab, chromedp.Text(chromedp.CSS(`[data-testid="deleted-until"]`)))
		if day, _ := time.Parse(time.DateOnly, want); until != day.Format("January 2, 2006") {
			t.Errorf("the goodbye page says the account can be restored until %q, want %s", until, day.Format("January 2, 2006"))
		}
		if run(t, tab, chromedp.Evaluate[bool](`!!document.querySelector('[data-testid="logout"]')`)) || len(accountsBehindTheScenes(t, tab)) != 0 {
			t.Error("after deleting the account this browser is still signed in")
		}
		capture(t, tab, art, "3-deleted")
		if path := openAccounts(t, other, srv.URL); path != "/login" {
			t.Errorf("after the deletion the other device got %s, want the sign-in page", path)
		}

		// Signing in again offers to restore it; leaving it deleted first.
		restoreOffer := func() {
			t.Helper()
			signInTo(t, tab, srv.URL, ada, "/restore")
			if h := run(t, tab, chromedp.Text(chromedp.CSS(`[data-testid="restore"] h1`))); h != "This account is scheduled for deletion" {
				t.Errorf("the restore page says %q", h)
			}
			if got := run(t, tab, chromedp.Text(chromedp.CSS(`[data-testid="restore"] [data-testid="identity-email"]`))); !strings.HasPrefix(got, ada.email) {
				t.Errorf("the restore page names the account %q, want %s", got, ada.email)
			}
			do(t, tab, chromedp.WaitVisible(chromedp.CSS(`[data-testid="restore-until"] time`)))
		}
		restoreOffer()
		capture(t, tab, art, "4-restore-offer")
		clickTo(t, tab, chromedp.CSS(`[data-testid="restore-leave"]`), "/deleted")
		if run(t, tab, chromedp.Evaluate[bool](`!!document.querySelector('[data-testid="logout"]')`)) {
			t.Error("after Leave it deleted this browser is signed in")
		}
		restoreOffer()
		clickTo(t, tab, chromedp.CSS(`[data-testid="restore-confirm"]`), "/accounts")
		checkIdentities(t, tab, ada)
		checkNotice(t, tab, "status", "Welcome back: your Linkport account is restored and will not be deleted.")
		if dn := run(t, tab, chromedp.Text(chromedp.CSS(`[data-testid="display-name"]`))); dn != ada.name {
			t.Errorf("the restored account is signed in as %q, want %q", dn, ada.name)
		}
		activity := run(t, tab, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('[data-testid="event"] strong')).map((s) => s.textContent.trim())`))
		if r, d := slices.Index(activity, "Account restored"), slices.Index(activity, "Account deletion requested"); r < 0 || d < r {
			t.Errorf("the restored account's recent activity is %q, want the restore after the deletion request", activity)
		}
		capture(t, tab, art, "5-restored")
	})
}
