package e2e

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// sessionsStepUpAge is the step-up age of the sessions and deletion
// journeys' servers: short, so that a sign-in goes stale within the
// journey, yet long enough to confirm at the provider and press Continue
// (with a screenshot between) before the confirmation goes stale too, on
// a busy machine.
const sessionsStepUpAge = 5 * time.Second

// TestJourneySessions: one person signed in on three devices. On "Where
// you're signed in" of the first, the person signs one other device out,
// then, with a sign-in older than the step-up age, signs out all the
// others after confirming at the provider. Each signed-out device lands on
// the sign-in page at its next click. With JavaScript the sign-outs ask
// first and update the list in place (or, for the step-up, go to its
// page); without it they are plain forms. Each width takes the other way
// at each step, so every way runs once and every screen at both widths.
func TestJourneySessions(t *testing.T) {
	b := newBrowser(t)
	srv := startServerWith(t, "LINKPORT_STEP_UP_AGE="+sessionsStepUpAge.String())
	art := artifactDir(t)
	forEachWidth(t, b, srv, true, func(t *testing.T, tab *browser, width int64) {
		// Whether the first sign-out, of one session, runs with
		// JavaScript; the second, of all the others, runs the other way.
		oneWithScript := width == phoneWidth
		ada := adaGoogle.at(width)
		dialogs := acceptDialogs(t, tab)
		setJavaScript(t, tab, oneWithScript)
		signInAsNew(t, tab, srv.URL, ada)
		signedIn := time.Now() // the sign-in happened before this
		phone, laptop := otherDevice(t, b, srv), otherDevice(t, b, srv)
		signInAs(t, phone, srv.URL, ada)
		signInAs(t, laptop, srv.URL, ada)

		clickTo(t, tab, chromedp.CSS(`[data-testid="sessions-link"]`), "/accounts/sessions")
		sessions := run(t, tab, chromedp.Evaluate[[]shownSession](readSessions))
		if len(sessions) != 3 || !sessions[0].Current || sessions[1].Current || sessions[2].Current {
			t.Fatalf("sessions page lists %+v, want three with the first marked as this device", sessions)
		}
		if n := run(t, tab, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="revoke-session"]').length`)); n != 2 {
			t.Errorf("%d sessions offer Sign out, want the two others (this one signs out at the top)", n)
		}
		capture(t, tab, art, "1-three-sessions")

		// Sign out one of the others: the first listed after this one.
		revoke := chromedp.CSS(`[data-testid="session"][data-session-id="` + sessions[1].ID + `"] [data-testid="revoke-session"]`)
		if oneWithScript {
			do(t, tab, chromedp.Evaluate[chromedp.Void](`window.__marker = 1; undefined`),
				chromedp.Click(revoke, chromedp.NodeVisible))
			checkDialog(t, dialogs, "Sign out "+sessions[1].Device+"?")
			if _, err := chromedp.Run(tab.ctx, chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-testid="session"]').length === 2`,
				chromedp.WithPollingTimeout(10*time.Second))); err != nil {
				t.Fatalf("the list did not shrink to two sessions: %v", err)
			}
			if run(t, tab, chromedp.Evaluate[any](`window.__marker ?? null`)) == nil {
				t.Error("signing one session out reloaded the page; want an htmx swap")
			}
		} else {
			clickTo(t, tab, revoke, "/accounts/sessions")
		}
		checkNotice(t, tab, "status", sessions[1].Device+" is signed out.")
		left := run(t, tab, chromedp.Evaluate[[]shownSession](readSessions))
		if len(left) != 2 || left[0].ID != sessions[0].ID || left[1].ID != sessions[2].ID {
			t.Errorf("after signing one out the page lists %+v, want this device and the other one", left)
		}
		capture(t, tab, art, "2-one-signed-out")
		// Which device was it? The one whose next page is the sign-in.
		signedOut, stillIn := phone, laptop
		if path := openAccounts(t, phone, srv.URL); path != "/login" {
			signedOut, stillIn = laptop, phone
		}
		if path := openAccounts(t, signedOut, srv.URL); path != "/login" {
			t.Errorf("the signed-out device opened /accounts and got %s, want the sign-in page", path)
		}

		// Sign out all the others, the other way: the sign-in is stale by
		// now, so it asks to confirm first, and nothing changes until then.
		setJavaScript(t, tab, !oneWithScript)
		open(t, tab, srv.URL+"/accounts/sessions", "/accounts/sessions")
		waitUntilStale(signedIn, sessionsStepUpAge)
		others := chromedp.CSS(`[data-testid="revoke-others"]`)
		if !oneWithScript {
			do(t, tab, chromedp.Click(others, chromedp.NodeVisible))
			checkDialog(t, dialogs, "Sign out every other browser signed in to your account?")
			waitForPage(t, tab, "/accounts/step-up", "step-up")
		} else {
			clickTo(t, tab, others, "/accounts/step-up")
		}
		if path := openAccounts(t, stillIn, srv.URL); path != "/accounts" {
			t.Fatalf("while the step-up page is shown, the other device got %s: nothing may change yet", path)
		}
		confirmItsYou(t, tab, art, "3", ada, "Sign out your other sessions", "/accounts/sessions")
		checkNotice(t, tab, "status", "Signed out 1 other session.")
		if left := run(t, tab, chromedp.Evaluate[[]shownSession](readSessions)); len(left) != 1 || !left[0].Current {
			t.Errorf("after signing out all others the page lists %+v, want this device alone", left)
		}
		if run(t, tab, chromedp.Evaluate[bool](`!!document.querySelector('[data-testid="revoke-others"]')`)) {
			t.Error("with one session left the page still offers to sign out all others")
		}
		capture(t, tab, art, "4-all-others-signed-out")
		if path := openAccounts(t, stillIn, srv.URL); path != "/login" {
			t.Errorf("after signing out all others, the last other device got %s, want the sign-in page", path)
		}
	})
}

// checkDialog waits for the confirm dialog that a click opened, accepted
// by acceptDialogs, and wants it to ask want.
func checkDialog(t *testing.T, dialogs <-chan string, want string) {
	t.Helper()
	select {
	case msg := <-dialogs:
		if msg != want {
			t.Errorf("confirm dialog says %q, want %q", msg, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no confirm dialog within 10s, want one asking %q", want)
	}
}

// openAccounts opens the connected accounts in b's tab and returns the
// path it ended on: /accounts while signed in, /login after.
func openAccounts(t *testing.T, b *browser, base string) string {
	t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(base+"/accounts")); err != nil {
		t.Fatalf("open /accounts: %v", err)
	}
	return pathOf(t, b)
}
