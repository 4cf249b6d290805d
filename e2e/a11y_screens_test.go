package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// a11yTimeout bounds one language's sweep of every screen.
const a11yTimeout = 4 * time.Minute

// a11yStepUpAge is the step-up age of the server the step-up screens are
// reached on: the sign-in there is older than that when the sweep gets to
// them, and the step-up itself still fresh when Continue is pressed.
const a11yStepUpAge = 20 * time.Second

// a11yTimelineSignIns is how many sign-ins from another device the sweep
// adds to the account, so that its timeline has an older page.
const a11yTimelineSignIns = 18

// The people of the sweep, each at their own emulated provider.
var (
	a11yBob   = account{"github", "GitHub", "Bob Other", ""}
	a11yAda   = account{"google", "Google", "Ada Lovelace", "ada@example.com"}
	a11yAdaFB = account{"facebook", "Facebook", "Ada on Facebook", "ada.fb@example.org"}
	a11yAdaX  = account{"x", "X", "Ada on X", ""}
	a11yCy    = account{"google", "Google", "Cy Young", "cy@example.net"}
)

// TestA11yEveryScreen is issue 6's accessibility check: every screen of
// Linkport — sign-in (signed out, with a notice, with a provider marked
// temporarily unavailable), the provider emulator's consent page, the
// link preview, connected accounts with one and with three accounts
// (verified, unverified and no email), the remove
// confirmation that a browser without JavaScript gets, the conflict page
// and the merge preview, sessions (before and after signing one out
// through htmx), the timeline (and its older page through htmx), the
// step-up page and its continue page, the deletion confirmation, the
// goodbye and restore pages, an auth error page, the 404 page and the
// 429 page — in English and in Korean, in light and in dark, on a 360 px
// phone and a 1280 px desktop, with axe-core (no serious or critical
// violation) and the checks of a11y_test.go. The theme switch is used
// once each way. A screenshot of every combination goes to the artifact
// folder (LINKPORT_E2E_ARTIFACTS).
//
// The emulator's page stands in for the provider's, a developer tool: its
// violations are reported, not failed.
func TestA11yEveryScreen(t *testing.T) {
	for _, lang := range []string{"en", "ko"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			sweepLanguage(t, lang)
		})
	}
}

// a11ySweep checks the screens of one language in one tab.
type a11ySweep struct {
	t       *testing.T
	b       *browser
	lang    string
	art     string
	results []string
}

// check runs every check on the page the tab shows, in light and dark and
// at both widths, saving a screenshot of each; name names the screen. A
// page of the provider emulator (ours false) is only reported.
func (s *a11ySweep) check(name string, ours bool) {
	t, b := s.t, s.b
	t.Helper()
	if ours {
		checkShape(t, b, name, s.lang)
	}
	for _, scheme := range []string{"light", "dark"} {
		setColorScheme(t, b, scheme)
		for _, width := range []int64{phoneWidth, laptopWidth} {
			setViewport(t, b, width)
			settle(t, b)
			where := fmt.Sprintf("%s [%s, %s, %s]", name, s.lang, scheme, widthName(width))
			var blocking, other []string
			for _, v := range runAxe(t, b) {
				if v.blocking() {
					blocking = append(blocking, v.String())
				} else {
					other = append(other, v.ID+" ("+v.Impact+")")
				}
			}
			switch {
			case len(blocking) > 0 && ours:
				t.Errorf("%s: axe found serious or critical violations:\n\t%s", where, strings.Join(blocking, "\n\t"))
			case len(blocking) > 0:
				t.Logf("%s (a developer tool, not failed): axe found:\n\t%s", where, strings.Join(blocking, "\n\t"))
			}
			if len(other) > 0 {
				t.Logf("%s: axe's moderate and minor findings: %s", where, strings.Join(other, ", "))
			}
			if ours {
				checkScheme(t, b, where, scheme, "")
				if width == phoneWidth {
					checkNoHorizontalScroll(t, b, where)
					checkTargets(t, b, where)
				}
			}
			screenshot(t, b, s.art, name+"-"+scheme+"-"+widthName(width))
			s.results = append(s.results, fmt.Sprintf("%-22s %s %-5s %6s  serious/critical %d, moderate/minor %d", name, s.lang, scheme, widthName(width), len(blocking), len(other)))
		}
	}
	setColorScheme(t, b, "light")
}

// on is a sweep of the same language in another tab.
func (s *a11ySweep) on(b *browser) *a11ySweep {
	return &a11ySweep{t: s.t, b: b, lang: s.lang, art: s.art}
}

// sweepLanguage walks one language through every screen, on a server of
// its own (rate limits and the emulator's people are per server), and
// the step-up screens on a second one with a short step-up age, in a tab
// of its own browser context (both servers are on localhost, and
// cookies do not tell ports apart).
func sweepLanguage(t *testing.T, lang string) {
	start := time.Now()
	b := newBrowserWithin(t, a11yTimeout)
	srv := startServer(t)
	staleSrv := startServerWith(t, "LINKPORT_STEP_UP_AGE="+a11yStepUpAge.String())
	outage := startServerWith(t, "LINKPORT_PROVIDER_TIMEOUT=1ns")
	stale := newTab(t, b, true)
	art := artifactDir(t)
	s := &a11ySweep{t: t, b: b, lang: lang, art: art}
	t.Cleanup(func() {
		allowDocumentStatus(b, srv.URL+"/accounts/link/conflict", 409)
		allowDocumentStatus(b, srv.URL+"/auth/error", 403)
		allowDocumentStatus(b, srv.URL+"/no/such/page", 404)
		allowDocumentStatus(b, srv.URL+"/accounts/profile", 429)
		checkPageHealth(t, b, srv.URL)
		checkPageHealth(t, stale, staleSrv.URL)
		t.Logf("%s: %d checks in %s\n%s", lang, len(s.results), time.Since(start).Round(time.Second), strings.Join(s.results, "\n"))
	})

	// The step-up screens need a sign-in older than the step-up age:
	// sign in there first, and come back at the end.
	open(t, stale, staleSrv.URL+"/login?lang="+lang, "/login")
	signInAsNew(t, stale, staleSrv.URL, a11yCy)
	staleSince := time.Now()

	// A provider marked temporarily unavailable, on a server whose
	// providers never answer in time. Its session cookie is replaced by
	// srv's next: cookies do not tell localhost's ports apart.
	markUnavailable(t, outage.URL, "naver")
	open(t, b, outage.URL+"/login?lang="+lang, "/login")
	if n := run(t, b, chromedp.Evaluate[int](`document.querySelectorAll('[data-unavailable="true"]').length`)); n != 1 {
		t.Fatalf("%d providers are marked unavailable, want Naver alone", n)
	}
	s.check("login-unavailable", true)

	// Sign-in, and the theme switch.
	open(t, b, srv.URL+"/login?lang="+lang, "/login")
	s.check("login", true)
	s.checkThemeSwitch()

	// Bob, on GitHub, shares no email: one connected account.
	clickTo(t, b, providerButtonSel(a11yBob.provider), "/_emulator/github/")
	s.check("emulator-consent", false)
	do(t, b, chromedp.SendKeys(chromedp.ID("emulator-name"), a11yBob.name), chromedp.Click(chromedp.ID("emulator-share-email")))
	clickTo(t, b, chromedp.CSS(`[data-testid="emulator-continue"]`), "/accounts")
	checkIdentities(t, b, a11yBob)
	s.check("accounts-one", true)
	clickTo(t, b, chromedp.CSS(`[data-testid="logout"]`), "/login")
	s.check("login-signed-out", true)

	// Ada: Google (verified), Facebook (not verified), X (no email).
	clickTo(t, b, providerButtonSel(a11yAda.provider), "/_emulator/google/")
	consentAsNew(t, b, a11yAda, "/accounts")
	startLink(t, b, a11yAdaFB.provider, "/_emulator/facebook/")
	consentAsNew(t, b, a11yAdaFB, "/accounts/link/confirm")
	s.check("link-preview", true)
	clickTo(t, b, chromedp.CSS(`[data-testid="link-confirm"]`), "/accounts")
	startLink(t, b, a11yAdaX.provider, "/_emulator/x/")
	do(t, b, chromedp.SendKeys(chromedp.ID("emulator-name"), a11yAdaX.name))
	clickTo(t, b, chromedp.CSS(`[data-testid="emulator-continue"]`), "/accounts/link/confirm")
	clickTo(t, b, chromedp.CSS(`[data-testid="link-confirm"]`), "/accounts")
	checkIdentities(t, b, a11yAda, a11yAdaFB, a11yAdaX)
	s.check("accounts-three", true)

	// Remove without JavaScript: the form posts without htmx's dialog, and
	// the server asks on a page of its own.
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Evaluate[chromedp.Void](`HTMLFormElement.prototype.submit.call(document.querySelector('[data-testid="identity"][data-provider="facebook"] form.identity-remove')); undefined`))
	if err != nil {
		t.Fatal(err)
	}
	checkLanded(t, b, resp, "/accounts/identities/")
	s.check("remove-confirm", true)

	// Bob's GitHub account, for Ada: the conflict, and the merge preview.
	open(t, b, srv.URL+"/accounts", "/accounts")
	startLink(t, b, a11yBob.provider, "/_emulator/github/")
	clickToStatus(t, b, chromedp.CSS(`[data-testid="emulator-person"]`), "/accounts/link/conflict", 409)
	s.check("conflict", true)
	clickTo(t, b, chromedp.CSS(`[data-testid="conflict-merge"]`), "/accounts/merge/preview")
	s.check("merge-preview", true)

	// Another device signs in often: a second session, and a timeline
	// longer than a page.
	signInOverHTTP(t, srv.URL, a11yAda, a11yTimelineSignIns)
	open(t, b, srv.URL+"/accounts/sessions", "/accounts/sessions")
	s.check("sessions", true)
	s.checkSessionSignOut()
	s.check("sessions-signed-out", true)

	open(t, b, srv.URL+"/accounts/activity", "/accounts/activity")
	s.check("timeline", true)
	s.checkTimelineOlder()
	s.check("timeline-older", true)

	open(t, b, srv.URL+"/accounts/delete", "/accounts/delete")
	s.check("delete-confirm", true)
	openWithStatus(t, b, srv.URL+"/auth/error?reason=denied", 403)
	s.check("auth-error", true)
	openWithStatus(t, b, srv.URL+"/no/such/page", 404)
	s.check("not-found", true)
	s.reachRateLimit(srv.URL)
	s.check("rate-limited", true)

	// The step-up page, its continue page, deletion and the offer to
	// restore, on the server whose sign-in is stale by now.
	if wait := a11yStepUpAge + time.Second - time.Since(staleSince); wait > 0 {
		time.Sleep(wait)
	}
	st := s.on(stale)
	open(t, stale, staleSrv.URL+"/accounts/delete", "/accounts/delete")
	do(t, stale, chromedp.Click(chromedp.CSS(`[data-testid="delete-check"]`), chromedp.NodeVisible))
	clickTo(t, stale, chromedp.CSS(`[data-testid="delete-submit"]`), "/accounts/step-up")
	st.check("step-up", true)
	clickTo(t, stale, chromedp.CSS(`[data-testid="step-up-provider"][data-provider="google"]`), "/_emulator/google/")
	clickTo(t, stale, chromedp.CSS(`[data-testid="emulator-person"]`), "/accounts/step-up/continue")
	st.check("step-up-continue", true)
	clickTo(t, stale, chromedp.CSS(`[data-testid="step-up-continue"]`), "/deleted")
	st.check("deleted", true)
	open(t, stale, staleSrv.URL+"/login", "/login")
	clickTo(t, stale, providerButtonSel(a11yCy.provider), "/_emulator/google/")
	clickTo(t, stale, chromedp.CSS(`[data-testid="emulator-person"]`), "/restore")
	st.check("restore", true)
	s.results = append(s.results, st.results...)
}

// checkThemeSwitch uses the theme switch of the sign-in page: Dark on a
// light system, Light on a dark one, each drawn so with its button
// pressed and checked by axe, then System again.
func (s *a11ySweep) checkThemeSwitch() {
	t, b := s.t, s.b
	t.Helper()
	for _, tc := range []struct{ system, choose, drawn string }{
		{"light", "dark", "dark"},
		{"dark", "light", "light"},
		{"dark", "system", "dark"},
	} {
		setColorScheme(t, b, tc.system)
		clickTo(t, b, chromedp.CSS(`[data-testid="theme-`+tc.choose+`"]`), "/login")
		settle(t, b)
		where := fmt.Sprintf("login [%s, system %s, chose %s]", s.lang, tc.system, tc.choose)
		dataTheme := tc.choose
		if dataTheme == "system" {
			dataTheme = ""
		}
		checkScheme(t, b, where, tc.drawn, dataTheme)
		if p := run(t, b, chromedp.Evaluate[string](`document.querySelector('[data-testid^="theme-"][aria-pressed="true"]')?.dataset.testid ?? ""`)); p != "theme-"+tc.choose {
			t.Errorf("%s: the pressed theme button is %q, want theme-%s", where, p, tc.choose)
		}
		for _, v := range runAxe(t, b) {
			if v.blocking() {
				t.Errorf("%s: %s", where, v)
			}
		}
		screenshot(t, b, s.art, "login-chose-"+tc.choose+"-on-"+tc.system)
	}
	setColorScheme(t, b, "light")
}

// checkSessionSignOut signs the other device out through htmx: the
// confirm dialog names the device, the list is swapped in place, and the
// notice that says so has the focus, so a screen reader reads it.
func (s *a11ySweep) checkSessionSignOut() {
	t, b := s.t, s.b
	t.Helper()
	other := `[data-testid="session"]:not([data-current="true"])`
	device := run(t, b, chromedp.Text(chromedp.CSS(other+` [data-testid="session-device"]`)))
	before := run(t, b, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="session"]').length`))
	dialogs := acceptDialogs(t, b)
	do(t, b, chromedp.Click(chromedp.CSS(other+` [data-testid="revoke-session"]`), chromedp.NodeVisible))
	select {
	case msg := <-dialogs:
		if !strings.Contains(msg, device) {
			t.Errorf("the sign-out dialog says %q, which does not name the device %q", msg, device)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("signing a session out opened no confirm dialog within 10s")
	}
	focused := fmt.Sprintf(`document.querySelectorAll('[data-testid="session"]').length === %d && document.activeElement?.id === "notice" && document.activeElement.getAttribute("role") === "status"`, before-1)
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](focused, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Errorf("after signing a session out through htmx, the focus is not on the announced notice: %v (active: %s)", err, activeElement(t, b))
	}
}

// checkTimelineOlder follows "Older" through htmx: the link is gone with
// the list it belonged to, so the new list's status line takes the focus
// and is announced.
func (s *a11ySweep) checkTimelineOlder() {
	t, b := s.t, s.b
	t.Helper()
	do(t, b, chromedp.Click(chromedp.CSS(`[data-testid="timeline-older"]`), chromedp.NodeVisible))
	focused := `document.activeElement?.id === "timeline-status" && document.activeElement.getAttribute("role") === "status" && !!document.querySelector('[data-testid="timeline-newest"]')`
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](focused, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Errorf("after Older, the focus is not on the announced status of the older page: %v (active: %s)", err, activeElement(t, b))
	}
	if got := run(t, b, chromedp.Evaluate[string](`location.pathname`)); got != "/accounts/activity" {
		t.Errorf("after Older the tab is at %s: want an htmx swap on /accounts/activity", got)
	}
}

// reachRateLimit spends the account's budget of changes (10 a minute)
// with saves of the profile that change nothing, then saves once more
// with the plain form: the 429 page.
func (s *a11ySweep) reachRateLimit(base string) {
	t, b := s.t, s.b
	t.Helper()
	open(t, b, base+"/accounts", "/accounts")
	spent := run(t, b, chromedp.Evaluate[int](`(async () => {
	const body = new URLSearchParams(new FormData(document.querySelector('[data-testid="profile-form"]')));
	for (let i = 0; i < 40; i++) {
		const r = await fetch("/accounts/profile", {method: "POST", body, redirect: "manual"});
		if (r.status === 429) return i;
	}
	return -1;
})()`, chromedp.EvalAwaitPromise))
	if spent < 0 {
		t.Fatal("40 profile saves in a row were never limited")
	}
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Evaluate[chromedp.Void](`HTMLFormElement.prototype.submit.call(document.querySelector('[data-testid="profile-form"]')); undefined`))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusTooManyRequests {
		t.Fatalf("a save after the budget answered %d, want 429", resp.Status)
	}
}

// openWithStatus navigates to u and wants the page to answer status.
func openWithStatus(t *testing.T, b *browser, u string, status int64) {
	t.Helper()
	resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(u))
	if err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
	if resp.Status != status {
		t.Fatalf("%s answered %d, want %d", u, resp.Status, status)
	}
}

// activeElement describes the focused element, for failure messages.
func activeElement(t *testing.T, b *browser) string {
	t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(() => { const el = document.activeElement; return el ? "<" + el.tagName.toLowerCase() + (el.id ? " id=" + el.id : "") + (el.dataset.testid ? " data-testid=" + el.dataset.testid : "") + "> " + JSON.stringify(el.textContent.trim().slice(0, 60)) : "none"; })()`))
	if err != nil {
		return err.Error()
	}
	return s
}
