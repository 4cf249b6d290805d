package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// shownSession is a session as the sessions page shows it.
type shownSession struct {
	ID      string `json:"id"`
	Current bool   `json:"current"`
	Device  string `json:"device"`
	Via     string `json:"via"`
}

const readSessions = `Array.from(document.querySelectorAll('[data-testid="session"]')).map((li) => ({
	id: li.dataset.sessionId, current: li.dataset.current === "true",
	device: (li.querySelector('[data-testid="session-device"]')?.textContent ?? "").trim().replace(/\s+/g, " "),
	via: (li.querySelector('[data-testid="session-via"]')?.textContent ?? "").trim().replace(/\s+/g, " ")}))`

// TestSignOutAnotherBrowser: one person signed in from two browsers. The
// sessions page of the first lists both, itself marked "this device"; it
// signs the second out through htmx without leaving the page, and the
// second's next click lands on the sign-in page (B-05c).
//
// It runs at each width of journeyWidths, as a subtest.
func TestSignOutAnotherBrowser(t *testing.T) {
	b := newBrowser(t)
	srv := startServer(t)
	art := artifactDir(t)
	forEachWidth(t, b, srv, true, func(t *testing.T, first *browser, width int64) {
		ada := adaGoogle.at(width)
		signInAsNew(t, first, srv.URL, ada)
		// The second browser, at the same width, signs in as the same
		// person, whom the emulator now lists (with the other width's).
		second := newTab(t, b, true)
		setViewport(t, second, width)
		open(t, second, srv.URL+"/login", "/login")
		clickTo(t, second, providerButtonSel("google"), "/_emulator/google/")
		clickTo(t, second, emulatorPerson(ada), "/accounts")

		clickTo(t, first, chromedp.CSS(`[data-testid="sessions-link"]`), "/accounts/sessions")
		sessions := run(t, first, chromedp.Evaluate[[]shownSession](readSessions))
		if len(sessions) != 2 || !sessions[0].Current || sessions[1].Current {
			t.Fatalf("sessions page lists %+v, want two with the first marked as this device", sessions)
		}
		for _, s := range sessions {
			if !strings.Contains(s.Via, "Google") || !strings.Contains(s.Via, ada.email) || !strings.Contains(s.Device, " on ") {
				t.Errorf("session %+v: want a device and browser, and the Google account that started it", s)
			}
		}
		if n := run(t, first, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="this-device"]').length`)); n != 1 {
			t.Errorf("%d sessions marked this device, want 1", n)
		}
		capture(t, first, art, "1-two-sessions")

		do(t, first, chromedp.Evaluate[chromedp.Void](`window.__marker = 1; undefined`))
		dialogs := acceptDialogs(t, first)
		do(t, first, chromedp.Click(chromedp.CSS(`[data-testid="session"][data-session-id="`+sessions[1].ID+`"] [data-testid="revoke-session"]`), chromedp.NodeVisible))
		select {
		case msg := <-dialogs:
			if !strings.HasPrefix(msg, "Sign out ") {
				t.Errorf("confirm dialog says %q", msg)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("clicking Sign out opened no confirm dialog within 10s")
		}
		if _, err := chromedp.Run(first.ctx, chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-testid="session"]').length === 1`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			t.Fatalf("the list did not shrink to one session: %v", err)
		}
		if run(t, first, chromedp.Evaluate[any](`window.__marker ?? null`)) == nil {
			t.Error("signing the other session out reloaded the page; want an htmx swap")
		}
		checkNotice(t, first, "status", "signed out")
		capture(t, first, art, "2-other-signed-out")

		// The second browser's next page: the sign-in page.
		open(t, second, srv.URL+"/accounts", "/login")
		capture(t, second, art, "3-second-signed-out")
	})
}

// TestB12a_NothingLeftInStorageAfterLogout: after visiting the account pages
// and signing out, localStorage and sessionStorage hold no htmx history
// cache and no account HTML (B-12a).
func TestB12a_NothingLeftInStorageAfterLogout(t *testing.T) {
	b := newBrowser(t)
	srv := startServer(t)
	t.Cleanup(func() { checkPageHealth(t, b, srv.URL) })

	signInAsNew(t, b, srv.URL, graceFacebook)
	clickTo(t, b, chromedp.CSS(`[data-testid="sessions-link"]`), "/accounts/sessions")
	open(t, b, srv.URL+"/accounts", "/accounts")
	clickTo(t, b, chromedp.CSS(`[data-testid="logout"]`), "/login")

	type storage struct {
		Keys   []string `json:"keys"`
		Values string   `json:"values"`
	}
	got := run(t, b, chromedp.Evaluate[storage](`(() => {
	const keys = [], values = [];
	for (const s of [localStorage, sessionStorage]) {
		for (let i = 0; i < s.length; i++) { keys.push(s.key(i)); values.push(s.getItem(s.key(i))); }
	}
	return {keys, values: values.join("\n")};
})()`))
	for _, k := range got.Keys {
		if strings.Contains(k, "htmx-history-cache") {
			t.Errorf("storage holds %q after logout", k)
		}
	}
	for _, s := range []string{graceFacebook.email, "data-testid", "Connected accounts", "<"} {
		if strings.Contains(got.Values, s) {
			t.Errorf("storage holds %q after logout", s)
		}
	}
}
