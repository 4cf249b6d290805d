package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// stepUpAge is the step-up age the server of TestStepUpResumesRemoval
// runs with: short, so the sign-in goes stale within the test, yet long
// enough to sign in and link first.
const stepUpAge = 5 * time.Second

// TestStepUpResumesRemoval removes a connected account with a stale
// sign-in: Remove leads to "Confirm it's you", the person confirms with
// Google at the (emulated) provider, and Continue removes Facebook, and
// nothing else (SECURITY.md B-08b).
//
// It runs at each width of journeyWidths, as a subtest.
func TestStepUpResumesRemoval(t *testing.T) {
	b := newBrowser(t)
	srv := startServerWith(t, "LINKPORT_STEP_UP_AGE="+stepUpAge.String())
	art := artifactDir(t)
	// The widths run side by side, so the wait for a stale sign-in is
	// paid once.
	forEachWidth(t, b, srv, true, func(t *testing.T, b *browser, width int64) {
		ada, grace := adaGoogle.at(width), graceFacebook.at(width)
		start := time.Now()
		signInAsNew(t, b, srv.URL, ada)
		// The sign-in is over by now; with two runs side by side it may
		// not have been a moment after start.
		signedIn := time.Now()
		linkAsNew(t, b, grace)
		checkIdentities(t, b, ada, grace)
		if took := time.Since(start); took > stepUpAge {
			t.Fatalf("signing in and linking took %s, longer than the step-up age %s; the test cannot make its point", took, stepUpAge)
		}
		capture(t, b, art, "0-accounts-two")
		waitUntilStale(signedIn, stepUpAge)

		dialogs := acceptDialogs(t, b)
		do(t, b, chromedp.Click(chromedp.CSS(`[data-testid="identity"][data-provider="facebook"] [data-testid="unlink"]`), chromedp.NodeVisible))
		select {
		case <-dialogs:
		case <-time.After(10 * time.Second):
			t.Fatal("clicking Remove opened no confirm dialog within 10s")
		}
		// htmx follows HX-Redirect with a full navigation to the step-up page.
		// Polled by hand: the navigation cancels an evaluation in flight.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			on, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`location.pathname === "/accounts/step-up" && document.readyState === "complete" && !!document.querySelector('[data-testid="step-up"]')`))
			if err == nil && on {
				break
			}
			if time.Now().After(deadline) {
				loc, _ := chromedp.Run(b.ctx, chromedp.Location())
				t.Fatalf("after Remove with a stale sign-in, no step-up page within 10s (at %s): %v", loc, err)
			}
		}
		action := run(t, b, chromedp.Text(chromedp.CSS(`[data-testid="step-up-action"]`)))
		if want := "Remove your Facebook account " + grace.email; action != want {
			t.Errorf("step-up page names the action %q, want %q", action, want)
		}
		if got := accountsBehindTheScenes(t, b); len(got) != 2 {
			t.Fatalf("while the step-up page is shown, /accounts lists %q, want both accounts: nothing may change yet", got)
		}
		capture(t, b, art, "1-step-up")

		clickTo(t, b, chromedp.CSS(`[data-testid="step-up-provider"][data-provider="google"]`), "/_emulator/google/")
		checkConsentPage(t, b, ada.label)
		// The emulator lists the other width's person too: confirm as this one.
		clickTo(t, b, emulatorPerson(ada), "/accounts/step-up/continue")
		action = run(t, b, chromedp.Text(chromedp.CSS(`[data-testid="step-up-action"]`)))
		if !strings.Contains(action, grace.email) {
			t.Errorf("Continue page names %q, want the Facebook removal", action)
		}
		capture(t, b, art, "2-continue")

		clickTo(t, b, chromedp.CSS(`[data-testid="step-up-continue"]`), "/accounts")
		checkIdentities(t, b, ada)
		checkNotice(t, b, "status", "Removed", grace.label, grace.email)
		capture(t, b, art, "3-removed")
	})
}
