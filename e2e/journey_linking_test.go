package e2e

import (
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestJourneyLinkNotYou: the link preview shows the wrong Facebook
// account, so the person follows "Not you? Choose another account" back
// to the provider, picks the right one, cancels once, and links it on the
// second try. The wrong account is never attached.
func TestJourneyLinkNotYou(t *testing.T) {
	b := newBrowser(t)
	srv := startServer(t)
	art := artifactDir(t)
	forEachWidth(t, b, srv, true, func(t *testing.T, tab *browser, width int64) {
		ada := adaGoogle.at(width)
		wrong := account{"facebook", "Facebook", "Ada's Shared Family Account", "family@example.org"}.at(width)
		right := account{"facebook", "Facebook", "Ada Lovelace", "ada@example.org"}.at(width)

		signInAsNew(t, tab, srv.URL, ada)
		startLink(t, tab, "facebook", "/_emulator/facebook/")
		consentAsNew(t, tab, wrong, "/accounts/link/confirm")
		checkPreview(t, tab, wrong)
		notYou := run(t, tab, chromedp.Text(chromedp.CSS(`[data-testid="link-not-you"]`)))
		if notYou != "Not you? Choose another Facebook account" {
			t.Errorf("the preview's way out says %q", notYou)
		}
		capture(t, tab, art, "1-preview-wrong-account")

		// Not you: back at the provider, which lists the wrong account
		// too; a new person this time.
		clickTo(t, tab, chromedp.CSS(`[data-testid="link-not-you"]`), "/_emulator/facebook/")
		capture(t, tab, art, "2-provider-again")
		consentAsNew(t, tab, right, "/accounts/link/confirm")
		checkPreview(t, tab, right)
		if got := accountsBehindTheScenes(t, tab); !slices.Equal(got, []string{"google"}) {
			t.Fatalf("after Not you, /accounts lists %q, want only [google]: the wrong account must not be attached", got)
		}
		capture(t, tab, art, "3-preview-right-account")

		// Cancel: nothing linked, and the page says so.
		clickTo(t, tab, chromedp.CSS(`[data-testid="link-cancel"]`), "/accounts")
		checkIdentities(t, tab, ada)
		checkNotice(t, tab, "status", "Nothing was linked.")
		capture(t, tab, art, "4-cancelled")

		// Again, the right account from the provider's list: linked.
		startLink(t, tab, "facebook", "/_emulator/facebook/")
		consentAs(t, tab, right, "/accounts/link/confirm")
		checkPreview(t, tab, right)
		clickTo(t, tab, chromedp.CSS(`[data-testid="link-confirm"]`), "/accounts")
		checkIdentities(t, tab, ada, right)
		checkNotice(t, tab, "status", "Facebook", right.email, "connected")
		capture(t, tab, art, "5-linked")
	})
}

// TestJourneyConflictSignInThere: B tries to connect a Google account that
// is A's sign-in. The conflict page changes nothing and offers the ways
// on; B looks at the merge preview, goes back, keeps the accounts apart
// once, then chooses "Sign in there instead" and is signed in to A's
// account, which is unchanged.
func TestJourneyConflictSignInThere(t *testing.T) {
	b := newBrowser(t)
	srv := startServer(t)
	art := artifactDir(t)
	forEachWidth(t, b, srv, true, func(t *testing.T, tab *browser, width int64) {
		a := adaGoogle.at(width)
		bee := graceFacebook.at(width)
		// A exists, signed in on another device.
		other := otherDevice(t, b, srv)
		signInAsNew(t, other, srv.URL, a)

		signInAsNew(t, tab, srv.URL, bee)
		startLink(t, tab, "google", "/_emulator/google/")
		checkConsentPage(t, tab, a.label)
		clickToStatus(t, tab, emulatorPerson(a), "/accounts/link/conflict", 409)
		t.Cleanup(func() { allowDocumentStatus(tab, srv.URL+"/accounts/link/conflict", 409) })
		conflictURL := run(t, tab, chromedp.Location())
		if h := run(t, tab, chromedp.Text(chromedp.CSS(`[data-testid="conflict"] h1`))); !strings.Contains(h, "Google") {
			t.Errorf("conflict heading %q does not name Google", h)
		}
		if p := run(t, tab, chromedp.Text(chromedp.CSS(`[data-testid="conflict"] p strong`))); !strings.Contains(p, "Nothing was changed") {
			t.Errorf("the conflict page says %q first, want that nothing was changed", p)
		}
		for _, id := range []string{"conflict-switch", "conflict-merge"} {
			do(t, tab, chromedp.WaitVisible(chromedp.CSS(`[data-testid="`+id+`"]`)))
		}
		capture(t, tab, art, "1-conflict")

		// The merge preview, then back: nothing merged.
		clickTo(t, tab, chromedp.CSS(`[data-testid="conflict-merge"]`), "/accounts/merge/preview")
		do(t, tab, chromedp.WaitVisible(chromedp.CSS(`[data-testid="merge-confirm"]`)))
		if got := run(t, tab, chromedp.Text(chromedp.CSS(`[data-testid="merge-keep-name"]`))); got != bee.name {
			t.Errorf("the merge preview keeps the profile of %q, want %q", got, bee.name)
		}
		capture(t, tab, art, "2-merge-preview")
		openStatus(t, tab, conflictURL, "/accounts/link/conflict", 409)

		// Keep them apart: back to B's accounts, unchanged.
		clickTo(t, tab, chromedp.CSS(`[data-testid="conflict"] a[href="/accounts"]`), "/accounts")
		checkIdentities(t, tab, bee)
		openStatus(t, tab, conflictURL, "/accounts/link/conflict", 409)

		// Sign in there instead: A's account, as it was.
		clickTo(t, tab, chromedp.CSS(`[data-testid="conflict-switch"]`), "/accounts")
		checkIdentities(t, tab, a)
		checkNotice(t, tab, "status", "You are now signed in to the Linkport account that holds this Google account.")
		if dn := run(t, tab, chromedp.Text(chromedp.CSS(`[data-testid="display-name"]`))); dn != a.name {
			t.Errorf("after signing in there, signed in as %q, want %q", dn, a.name)
		}
		capture(t, tab, art, "3-signed-in-there")

		// B's account is still there, with its one account.
		signInAs(t, other, srv.URL, bee)
		checkIdentities(t, other, bee)
	})
}
