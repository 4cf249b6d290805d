package e2e

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// This file holds what the journey_*_test.go files share: running a
// journey at each width, one screenshot and layout check per screen, and
// the steps at the emulated providers that the older helpers do not take.

// journey is one person's way through some screens, in a tab of its own
// that is width CSS pixels wide.
type journey func(t *testing.T, tab *browser, width int64)

// forEachWidth runs j once per width of journeyWidths, each as a subtest
// named after the width, in a new tab of b with its own cookies (a
// person on another device), JavaScript on or off. The tab's console and
// CSP reports are checked when the subtest ends.
//
// The runs go side by side: they share the server and the browser, not a
// person, and a journey mostly waits for pages, or for a sign-in to go
// stale.
func forEachWidth(t *testing.T, b *browser, srv *server, javaScript bool, j journey) {
	t.Helper()
	for _, width := range journeyWidths {
		t.Run(widthName(width), func(t *testing.T) {
			t.Parallel()
			tab := newTab(t, b, javaScript)
			t.Cleanup(func() { checkPageHealth(t, tab, srv.URL) })
			setViewport(t, tab, width)
			j(t, tab, width)
		})
	}
}

// forEachWidthApart is forEachWidth for a journey that counts every
// person the emulator lists: each width's run gets a server of its own,
// so the runs side by side do not see each other's people.
func forEachWidthApart(t *testing.T, b *browser, javaScript bool, j func(t *testing.T, tab *browser, srv *server, width int64)) {
	t.Helper()
	for _, width := range journeyWidths {
		t.Run(widthName(width), func(t *testing.T) {
			t.Parallel()
			srv := startServer(t)
			tab := newTab(t, b, javaScript)
			t.Cleanup(func() { checkPageHealth(t, tab, srv.URL) })
			setViewport(t, tab, width)
			j(t, tab, srv, width)
		})
	}
}

// otherDevice is a tab of b with cookies of its own, JavaScript on, at
// the browser's own size: the same person on another device. Its console
// and CSP reports are checked at the end of the test.
func otherDevice(t *testing.T, b *browser, srv *server) *browser {
	t.Helper()
	tab := newTab(t, b, true)
	t.Cleanup(func() { checkPageHealth(t, tab, srv.URL) })
	return tab
}

// capture checks that the screen fits the window's width and saves a
// screenshot of it, named after the test (whose name carries the width)
// and the step.
func capture(t *testing.T, b *browser, art, step string) {
	t.Helper()
	checkNoHorizontalScroll(t, b, step)
	screenshot(t, b, art, step)
}

// at makes acc a person of its own for one width's run of a journey, so
// the runs that share a server do not meet at the emulator.
func (acc account) at(width int64) account {
	w := widthName(width)
	acc.name += " " + w
	if local, domain, ok := strings.Cut(acc.email, "@"); ok {
		acc.email = local + "." + w + "@" + domain
	}
	return acc
}

// consentAs continues on the emulator's consent page as a person the
// emulator already lists, found by email (or by name when the person
// shared no email), and checks the page it leads to.
func consentAs(t *testing.T, b *browser, acc account, wantPath string) {
	t.Helper()
	checkConsentPage(t, b, acc.label)
	clickTo(t, b, emulatorPerson(acc), wantPath)
}

// emulatorPerson is the consent page's button of acc.
func emulatorPerson(acc account) chromedp.JSPath {
	who := acc.email
	if who == "" {
		who = acc.name
	}
	return chromedp.JSPath(`Array.from(document.querySelectorAll('[data-testid="emulator-person"]')).find((b) => b.textContent.includes(` + jsString(who) + `))`)
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// signInAs signs in from the login page as a person the emulator already
// lists, and lands on the connected accounts.
func signInAs(t *testing.T, b *browser, base string, acc account) {
	t.Helper()
	signInTo(t, b, base, acc, "/accounts")
}

// signInTo signs in from the login page as a person the emulator already
// lists, and checks that it leads to wantPath.
func signInTo(t *testing.T, b *browser, base string, acc account, wantPath string) {
	t.Helper()
	open(t, b, base+"/login", "/login")
	clickTo(t, b, providerButtonSel(acc.provider), "/_emulator/"+acc.provider+"/")
	consentAs(t, b, acc, wantPath)
}

// fillNewPerson fills the emulator's "new person" form with acc, email
// verified, and leaves it to the caller to continue.
func fillNewPerson(t *testing.T, b *browser, acc account) {
	t.Helper()
	do(t, b,
		chromedp.SendKeys(chromedp.ID("emulator-name"), acc.name),
		chromedp.SendKeys(chromedp.ID("emulator-email"), acc.email),
	)
	if !run(t, b, chromedp.Evaluate[bool](`document.getElementById("emulator-email-verified").checked`)) {
		do(t, b, chromedp.Click(chromedp.ID("emulator-email-verified")))
	}
}

// consentAsNewWithoutEmail makes a new person on the consent page of a
// provider that lets people keep their email address to themselves
// (Kakao, Naver, GitHub), who does so.
func consentAsNewWithoutEmail(t *testing.T, b *browser, acc account, wantPath string) {
	t.Helper()
	checkConsentPage(t, b, acc.label)
	do(t, b, chromedp.SendKeys(chromedp.ID("emulator-name"), acc.name))
	if run(t, b, chromedp.Evaluate[bool](`document.getElementById("emulator-share-email").checked`)) {
		do(t, b, chromedp.Click(chromedp.ID("emulator-share-email")))
	}
	clickTo(t, b, chromedp.CSS(`[data-testid="emulator-continue"]`), wantPath)
}

// openStatus navigates to u and checks that it answered wantStatus at
// wantPath, for the pages that answer 4xx or 5xx on purpose.
func openStatus(t *testing.T, b *browser, u, wantPath string, wantStatus int64) {
	t.Helper()
	resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(u))
	if err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
	checkLandedStatus(t, b, resp, wantPath, wantStatus)
}

// shownError is the friendly error page as a person reads it.
type shownError struct {
	Heading    string `json:"heading"`
	Message    string `json:"message"`
	Action     string `json:"action"`
	ActionPath string `json:"actionPath"`
	Reference  string `json:"reference"`
}

// readErrorPage reads the error page: what went wrong, in words, and the
// one way on.
func readErrorPage(t *testing.T, b *browser) shownError {
	t.Helper()
	do(t, b, chromedp.WaitVisible(chromedp.CSS(`[data-testid="error-page"]`)))
	return run(t, b, chromedp.Evaluate[shownError](`(() => {
	const page = document.querySelector('[data-testid="error-page"]');
	const a = page.querySelector('[data-testid="error-action"]');
	const ref = page.querySelector("code");
	return {heading: page.querySelector("h1").textContent.trim(), message: page.querySelector("h1 + p").textContent.trim(),
		action: a ? a.textContent.trim() : "", actionPath: a ? new URL(a.href).pathname : "",
		reference: ref ? ref.textContent.trim() : ""};
})()`))
}

// checkErrorPage wants the error page to say heading, a message with each
// of words, a reference to quote, and the action, which leads to path.
func checkErrorPage(t *testing.T, b *browser, heading, action, path string, words ...string) {
	t.Helper()
	got := readErrorPage(t, b)
	if got.Heading != heading {
		t.Errorf("error page heading %q, want %q", got.Heading, heading)
	}
	for _, w := range words {
		if !strings.Contains(got.Message, w) {
			t.Errorf("error page message %q does not say %q", got.Message, w)
		}
	}
	if got.Action != action || got.ActionPath != path {
		t.Errorf("error page offers %q to %s, want %q to %s", got.Action, got.ActionPath, action, path)
	}
	if len(got.Reference) != 24 {
		t.Errorf("error page reference %q, want the request id to quote", got.Reference)
	}
}

// waitForPage waits until the tab shows a loaded document at path with
// an element of testid: the end of a navigation that htmx starts itself
// (HX-Redirect), which no click waits for. Polled by hand: the navigation
// cancels an evaluation in flight.
func waitForPage(t *testing.T, b *browser, path, testid string) {
	t.Helper()
	check := `location.pathname === ` + jsString(path) + ` && document.readyState === "complete" && !!document.querySelector('[data-testid=` + jsString(testid) + `]')`
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		on, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](check))
		if err == nil && on {
			return
		}
		if time.Now().After(deadline) {
			loc, _ := chromedp.Run(b.ctx, chromedp.Location())
			t.Fatalf("no page at %s with %s within 10s (at %s): %v", path, testid, loc, err)
		}
	}
}

// goBack goes one page back in the tab's history, as the browser's Back
// button, and waits until the tab shows a page under pathPrefix.
// chromedp.NavigateBack waits for a load event, which a page restored
// from the back-forward cache never fires; and the page may change under
// an evaluation in flight, so the wait tolerates failed polls.
func goBack(t *testing.T, b *browser, pathPrefix string) {
	t.Helper()
	h, err := chromedp.Run(b.ctx, chromedp.NavigationEntries())
	if err != nil || h.CurrentIndex < 1 {
		t.Fatalf("no page to go back to (%v)", err)
	}
	if _, err := chromedp.Call(b.ctx, page.NavigateToHistoryEntry, page.NavigateToHistoryEntryParams{EntryID: h.Entries[h.CurrentIndex-1].ID}); err != nil {
		t.Fatalf("go back: %v", err)
	}
	check := `location.pathname.startsWith(` + jsString(pathPrefix) + `) && document.readyState === "complete"`
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		on, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](check))
		if err == nil && on {
			return
		}
		if time.Now().After(deadline) {
			loc, _ := chromedp.Run(b.ctx, chromedp.Location())
			t.Fatalf("Back did not go to a page under %s within 10s (at %s): %v", pathPrefix, loc, err)
		}
	}
}

// setJavaScript turns page script on or off in b's tab from the next
// document on, as a person switching JavaScript off in the browser.
func setJavaScript(t *testing.T, b *browser, on bool) {
	t.Helper()
	do(t, b, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !on})
		return err
	}))
}

// checkLastAccountLocked checks that the only connected account cannot be
// removed, and that the page says why, next to the disabled button.
func checkLastAccountLocked(t *testing.T, b *browser) {
	t.Helper()
	type lastState struct {
		Count     int    `json:"count"`
		Disabled  bool   `json:"disabled"`
		Described bool   `json:"described"`
		Reason    string `json:"reason"`
		Visible   bool   `json:"visible"`
	}
	got := run(t, b, chromedp.Evaluate[lastState](`(() => {
	const all = document.querySelectorAll('[data-testid="identity"]');
	const btn = all[0].querySelector('[data-testid="unlink"]');
	const reason = all[0].querySelector('[data-testid="last-reason"]');
	return {count: all.length, disabled: btn.disabled, described: !!reason && btn.getAttribute("aria-describedby") === reason.id,
		reason: reason ? reason.textContent.trim() : "", visible: !!reason && reason.checkVisibility()};
})()`))
	if got.Count != 1 || !got.Disabled || !got.Described || !got.Visible || !strings.Contains(got.Reason, "only way to sign in") {
		t.Errorf("the only account's Remove = %+v, want disabled, described by the visible reason that it is the only way to sign in", got)
	}
}

// pathOf is the path of the tab's address.
func pathOf(t *testing.T, b *browser) string {
	t.Helper()
	u, err := url.Parse(run(t, b, chromedp.Location()))
	if err != nil {
		t.Fatal(err)
	}
	return u.Path
}

// waitUntilStale waits until a sign-in at or before signedIn is older
// than the step-up age, so that the next sensitive change asks to confirm who the
// person is. The step-up age counts wall-clock time on the server, so
// this is the one wait that no selector can replace.
func waitUntilStale(signedIn time.Time, age time.Duration) {
	time.Sleep(time.Until(signedIn.Add(age + 300*time.Millisecond)))
}

// confirmItsYou is the step-up: on "Confirm it's you", which must name
// action, the person confirms with acc at its provider, and on the page
// that follows carries on with exactly that action, which leads to
// wantPath. Its two screens are saved as step-a and step-b.
func confirmItsYou(t *testing.T, b *browser, art, step string, acc account, action, wantPath string) {
	t.Helper()
	if got := run(t, b, chromedp.Text(chromedp.CSS(`[data-testid="step-up"] [data-testid="step-up-action"]`), chromedp.NodeVisible)); got != action {
		t.Errorf("the step-up page names the action %q, want %q", got, action)
	}
	capture(t, b, art, step+"a-step-up")
	clickTo(t, b, chromedp.CSS(`[data-testid="step-up-provider"][data-provider="`+acc.provider+`"]`), "/_emulator/"+acc.provider+"/")
	consentAs(t, b, acc, "/accounts/step-up/continue")
	if got := run(t, b, chromedp.Text(chromedp.CSS(`[data-testid="step-up-done"] [data-testid="step-up-action"]`))); got != action {
		t.Errorf("the Continue page names the action %q, want %q", got, action)
	}
	capture(t, b, art, step+"b-continue")
	clickTo(t, b, chromedp.CSS(`[data-testid="step-up-continue"]`), wantPath)
}
