package e2e

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
)

// account is a person at an emulated provider.
type account struct {
	provider string // URL name: google, facebook, x
	label    string // what Linkport calls the provider
	name     string
	email    string
}

var (
	adaGoogle     = account{"google", "Google", "Ada Lovelace", "ada@example.com"}
	adaWorkGoogle = account{"google", "Google", "Ada at Work", "ada.work@example.com"}
	graceFacebook = account{"facebook", "Facebook", "Grace Hopper", "grace@example.org"}
)

// TestLinkWithPreview links a Facebook account, then a second Google
// account, to a Google sign-in. Each time the provider account is shown on
// the preview before anything is attached, and is attached only by "Link
// it".
//
// It runs at each width of journeyWidths, as a subtest.
func TestLinkWithPreview(t *testing.T) {
	b := newBrowser(t)
	srv := startServer(t)
	art := artifactDir(t)
	forEachWidth(t, b, srv, true, func(t *testing.T, b *browser, width int64) {
		ada, grace, adaWork := adaGoogle.at(width), graceFacebook.at(width), adaWorkGoogle.at(width)
		signInAsNew(t, b, srv.URL, ada)

		startLink(t, b, grace.provider, "/_emulator/facebook/")
		consentAsNew(t, b, grace, "/accounts/link/confirm")
		checkPreview(t, b, grace)
		if got := accountsBehindTheScenes(t, b); !slices.Equal(got, []string{"google"}) {
			t.Fatalf("while the preview is shown, /accounts lists %q, want only [google]: nothing may be linked before Link it", got)
		}
		capture(t, b, art, "1-preview")
		clickTo(t, b, chromedp.CSS(`[data-testid="link-confirm"]`), "/accounts")
		checkIdentities(t, b, ada, grace)
		checkNotice(t, b, "status", grace.label, grace.email, "connected")
		capture(t, b, art, "2-accounts-two")

		// A second account of the same provider.
		startLink(t, b, adaWork.provider, "/_emulator/google/")
		consentAsNew(t, b, adaWork, "/accounts/link/confirm")
		checkPreview(t, b, adaWork)
		capture(t, b, art, "3-preview-same-provider")
		clickTo(t, b, chromedp.CSS(`[data-testid="link-confirm"]`), "/accounts")
		ids := checkIdentities(t, b, ada, grace, adaWork)
		googles := 0
		for _, id := range ids {
			if id.Provider == "google" {
				googles++
			}
		}
		if googles != 2 {
			t.Errorf("accounts page shows %d Google identities, want 2: %+v", googles, ids)
		}
		checkNotice(t, b, "status", adaWork.label, adaWork.email, "connected")
		if dn := run(t, b, chromedp.Text(chromedp.CSS(`[data-testid="display-name"]`))); dn != ada.name {
			t.Errorf("after linking, signed in as %q, want %q (linking must not change the profile)", dn, ada.name)
		}
		capture(t, b, art, "4-accounts-three")
	})
}

// TestRemoveThroughHTMXWithoutReload removes a connected account with
// htmx: the browser asks with a dialog that names the account, the section
// is swapped in place (the document stays), the notice takes the focus,
// and the last account left cannot be removed.
//
// It runs at each width of journeyWidths, as a subtest.
func TestRemoveThroughHTMXWithoutReload(t *testing.T) {
	b := newBrowser(t)
	srv := startServer(t)
	art := artifactDir(t)
	forEachWidth(t, b, srv, true, func(t *testing.T, b *browser, width int64) {
		ada, grace := adaGoogle.at(width), graceFacebook.at(width)
		signInAsNew(t, b, srv.URL, ada)
		linkAsNew(t, b, grace)
		checkIdentities(t, b, ada, grace)
		checkHTMX(t, b, "accounts page")
		capture(t, b, art, "1-accounts-two")

		// A marker on this document and on its body: a reload or a swap of
		// the whole body would lose them. And where the focus is when htmx
		// swaps: it tells whether the notice gets the focus from autofocus, or
		// only from htmx keeping the focused element's id.
		do(t, b, chromedp.Evaluate[chromedp.Void](`window.__marker = 1; window.__body = document.body;
document.body.addEventListener("htmx:beforeSwap", () => {
	const el = document.activeElement;
	window.__focusBeforeSwap = el ? (el.dataset.testid || el.id || el.tagName) : "none";
});
undefined`))
		dialogs := acceptDialogs(t, b)
		do(t, b, chromedp.Click(chromedp.CSS(`[data-testid="identity"][data-provider="facebook"] [data-testid="unlink"]`), chromedp.NodeVisible))
		select {
		case msg := <-dialogs:
			if want := "Remove your Facebook account " + grace.email + " from Linkport? Sessions started with it will be signed out."; msg != want {
				t.Errorf("confirm dialog says %q, want %q", msg, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("clicking Remove opened no confirm dialog within 10s")
		}
		if _, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-testid="identity"]').length === 1`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			loc, _ := chromedp.Run(b.ctx, chromedp.Location())
			t.Fatalf("after Remove the list did not shrink to one identity in this document (now at %s): %v", loc, err)
		}

		type state struct {
			Marker   any    `json:"marker"`
			SameBody bool   `json:"sameBody"`
			Path     string `json:"path"`
		}
		got := run(t, b, chromedp.Evaluate[state](`({marker: window.__marker ?? null, sameBody: window.__body === document.body, path: location.pathname})`))
		if diff := cmp.Diff(state{Marker: float64(1), SameBody: true, Path: "/accounts"}, got); diff != "" {
			t.Errorf("after removing with htmx, the document was replaced or moved (-want +got):\n%s", diff)
		}
		checkIdentities(t, b, ada)
		checkNotice(t, b, "status", "Removed", grace.label, grace.email)

		// htmx focuses an [autofocus] element of swapped content when it
		// settles; allow it that moment, and no more. The focus was on the
		// Remove button then (a click focuses it), not on the old notice.
		if before := run(t, b, chromedp.Evaluate[string](`window.__focusBeforeSwap ?? "no swap seen"`)); before != "unlink" {
			t.Errorf("when htmx swapped, the focus was on %q, want the Remove button (unlink)", before)
		}
		focus := `document.activeElement && document.activeElement.id === "notice" && document.activeElement.textContent.includes("Removed")`
		if _, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](focus, chromedp.WithPollingTimeout(3*time.Second))); err != nil {
			active := run(t, b, chromedp.Evaluate[string](`(() => { const el = document.activeElement; return el ? "<" + el.tagName.toLowerCase() + (el.id ? " id=" + el.id : "") + (el.dataset.testid ? " data-testid=" + el.dataset.testid : "") + ">" : "none"; })()`))
			t.Errorf("after the swap the notice does not have the focus (autofocus on swapped content): active element is %s (%v)", active, err)
		}

		// The last account: its Remove is disabled and says why.
		type lastState struct {
			Disabled  bool   `json:"disabled"`
			Described bool   `json:"described"`
			Reason    string `json:"reason"`
			Visible   bool   `json:"visible"`
		}
		last := run(t, b, chromedp.Evaluate[lastState](`(() => {
	const li = document.querySelector('[data-testid="identity"]');
	const btn = li.querySelector('[data-testid="unlink"]');
	const reason = li.querySelector('[data-testid="last-reason"]');
	return {disabled: btn.disabled, described: !!reason && btn.getAttribute("aria-describedby") === reason.id,
		reason: reason ? reason.textContent.trim() : "", visible: !!reason && reason.checkVisibility()};
})()`))
		if !last.Disabled || !last.Described || !last.Visible || !strings.Contains(last.Reason, "only way to sign in") {
			t.Errorf("the last account's Remove = %+v, want disabled, described by the visible reason that it is the only way to sign in", last)
		}
		capture(t, b, art, "2-accounts-after-htmx-removal")
	})
}

// TestRemoveWithJavaScriptOff removes a connected account with plain
// forms: without JavaScript there is no dialog, so the server asks on a
// page that names the account.
//
// It runs at each width of journeyWidths, as a subtest.
func TestRemoveWithJavaScriptOff(t *testing.T) {
	b := newBrowser(t)
	srv := startServer(t)
	art := artifactDir(t)
	forEachWidth(t, b, srv, false, func(t *testing.T, b *browser, width int64) {
		ada, grace := adaGoogle.at(width), graceFacebook.at(width)
		signInAsNew(t, b, srv.URL, ada)
		if got := run(t, b, chromedp.Evaluate[string](`typeof window.htmx`)); got != "undefined" {
			t.Fatalf("typeof window.htmx = %q with JavaScript off, want undefined: scripts still run", got)
		}
		linkAsNew(t, b, grace)
		checkIdentities(t, b, ada, grace)
		capture(t, b, art, "1-accounts-two")

		clickTo(t, b, chromedp.CSS(`[data-testid="identity"][data-provider="facebook"] [data-testid="unlink"]`), "/accounts/identities/")
		heading := run(t, b, chromedp.Text(chromedp.CSS(`[data-testid="unlink-confirm-page"] h1`), chromedp.NodeVisible))
		if want := "Remove your Facebook account " + grace.email + "?"; heading != want {
			t.Errorf("confirmation page asks %q, want %q", heading, want)
		}
		capture(t, b, art, "2-unlink-confirm")
		clickTo(t, b, chromedp.CSS(`[data-testid="unlink-confirm"]`), "/accounts")
		checkIdentities(t, b, ada)
		checkNotice(t, b, "status", "Removed", grace.label, grace.email)
		capture(t, b, art, "3-accounts")
	})
}

// TestConflictAndMerge: B tries to link a Google account that is A's
// sign-in, is told so without any change, and merges A's Linkport account
// into B's. A's account is then gone, and A's browser is signed out.
//
// It runs at each width of journeyWidths, as a subtest.
func TestConflictAndMerge(t *testing.T) {
	root := newBrowser(t)
	art := artifactDir(t)
	// A server per width: the Google consent page must list only A.
	forEachWidthApart(t, root, true, func(t *testing.T, b *browser, srv *server, width int64) {
		t.Cleanup(func() {
			// The conflict page answers 409 on purpose; Chrome logs every
			// document that answers 4xx as a failed resource.
			allowDocumentStatus(b, srv.URL+"/accounts/link/conflict", 409)
		})
		// Person A, in a browser context of its own at the same width,
		// with Google.
		a := otherDevice(t, root, srv)
		setViewport(t, a, width)
		signInAsNew(t, a, srv.URL, adaGoogle)
		// Person B, in the width's own tab, with Facebook.
		signInAsNew(t, b, srv.URL, graceFacebook)

		// B links A's Google account: the conflict, nothing changed.
		startLink(t, b, "google", "/_emulator/google/")
		people := run(t, b, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('[data-testid="emulator-person"]')).map((b) => b.textContent)`))
		if len(people) != 1 || !strings.Contains(people[0], adaGoogle.email) {
			t.Fatalf("Google consent page lists people %q, want one: %s <%s>", people, adaGoogle.name, adaGoogle.email)
		}
		clickToStatus(t, b, chromedp.CSS(`[data-testid="emulator-person"]`), "/accounts/link/conflict", 409)
		acc := run(t, b, chromedp.Evaluate[shownIdentity](`(() => {
	const el = document.querySelector('[data-testid="conflict"] [data-testid="conflict-account"]');
	return {id: "", provider: el.dataset.provider,
		name: el.querySelector('[data-testid="identity-name"]').textContent.trim().replace(/\s+/g, " "),
		email: el.querySelector('[data-testid="identity-email"]').textContent.trim().replace(/\s+/g, " ")};
})()`))
		if acc.Provider != "google" || !strings.HasPrefix(acc.Name, adaGoogle.name) || !strings.HasPrefix(acc.Email, adaGoogle.email) {
			t.Errorf("conflict page names %+v, want A's Google account %s <%s>", acc, adaGoogle.name, adaGoogle.email)
		}
		if h := run(t, b, chromedp.Text(chromedp.CSS(`[data-testid="conflict"] h1`))); !strings.Contains(h, "Google") {
			t.Errorf("conflict heading %q does not name Google", h)
		}
		capture(t, b, art, "1-conflict")

		// The merge preview: A's Google moves here, B's Facebook stays.
		clickTo(t, b, chromedp.CSS(`[data-testid="conflict-merge"]`), "/accounts/merge/preview")
		do(t, b, chromedp.WaitVisible(chromedp.CSS(`[data-testid="merge-preview"]`)))
		type listed struct {
			Provider string `json:"provider"`
			Text     string `json:"text"`
		}
		readList := func(testid string) []listed {
			return run(t, b, chromedp.Evaluate[[]listed](`Array.from(document.querySelectorAll('[data-testid="`+testid+`"] > li')).map((li) => ({
	provider: li.dataset.provider, text: li.textContent.trim().replace(/\s+/g, " ")}))`))
		}
		moving, keeping := readList("moving"), readList("keeping")
		if len(moving) != 1 || moving[0].Provider != "google" || !strings.Contains(moving[0].Text, adaGoogle.email) {
			t.Errorf("merge preview moves %+v, want A's Google account %s", moving, adaGoogle.email)
		}
		if len(keeping) != 1 || keeping[0].Provider != "facebook" || !strings.Contains(keeping[0].Text, graceFacebook.email) {
			t.Errorf("merge preview keeps %+v, want B's Facebook account %s", keeping, graceFacebook.email)
		}
		if ev := run(t, b, chromedp.Text(chromedp.CSS(`[data-testid="merge-events"]`))); !strings.Contains(ev, " of its security history move") {
			t.Errorf("merge preview events line = %q", ev)
		}
		capture(t, b, art, "2-merge-preview")

		do(t, b, chromedp.Click(chromedp.CSS(`[data-testid="merge-check"]`), chromedp.NodeVisible))
		if !run(t, b, chromedp.Evaluate[bool](`document.querySelector('[data-testid="merge-check"]').checked`)) {
			t.Fatal("the merge confirmation box is not ticked after clicking it")
		}
		clickTo(t, b, chromedp.CSS(`[data-testid="merge-confirm"]`), "/accounts")
		checkIdentities(t, b, graceFacebook, adaGoogle)
		checkNotice(t, b, "status", "Merged")
		if dn := run(t, b, chromedp.Text(chromedp.CSS(`[data-testid="display-name"]`))); dn != graceFacebook.name {
			t.Errorf("after the merge B is signed in as %q, want %q (the profile stays)", dn, graceFacebook.name)
		}
		capture(t, b, art, "3-accounts-merged")

		// A's browser: the account is gone, so its session ends.
		open(t, a, srv.URL+"/accounts", "/login")
		do(t, a, chromedp.WaitVisible(providerButtonSel("google")))
		if run(t, a, chromedp.Evaluate[bool](`document.querySelector('[data-testid="logout"]') !== null`)) {
			t.Error("A's browser still offers to sign out after A's account was merged away")
		}
		capture(t, a, art, "4-a-signed-out")
	})
}

// signInAsNew signs in from the login page as a person new to the
// emulated provider, and lands on the connected accounts.
func signInAsNew(t *testing.T, b *browser, base string, acc account) {
	t.Helper()
	open(t, b, base+"/login", "/login")
	clickTo(t, b, providerButtonSel(acc.provider), "/_emulator/"+acc.provider+"/")
	consentAsNew(t, b, acc, "/accounts")
	checkIdentities(t, b, acc)
}

// startLink clicks "Connect <provider>" on the accounts page and lands on
// the provider's (emulated) consent page.
func startLink(t *testing.T, b *browser, provider, wantPath string) {
	t.Helper()
	clickTo(t, b, chromedp.CSS(`[data-testid="link-button"][data-provider="`+provider+`"]`), wantPath)
}

// consentAsNew fills the emulator's "new person" form and continues.
func consentAsNew(t *testing.T, b *browser, acc account, wantPath string) {
	t.Helper()
	checkConsentPage(t, b, acc.label)
	do(t, b,
		chromedp.SendKeys(chromedp.ID("emulator-name"), acc.name),
		chromedp.SendKeys(chromedp.ID("emulator-email"), acc.email),
	)
	if !run(t, b, chromedp.Evaluate[bool](`document.getElementById("emulator-email-verified").checked`)) {
		do(t, b, chromedp.Click(chromedp.ID("emulator-email-verified")))
	}
	clickTo(t, b, chromedp.CSS(`[data-testid="emulator-continue"]`), wantPath)
}

// linkAsNew links a provider account new to the emulator, through the
// preview, from the accounts page back to it.
func linkAsNew(t *testing.T, b *browser, acc account) {
	t.Helper()
	startLink(t, b, acc.provider, "/_emulator/"+acc.provider+"/")
	consentAsNew(t, b, acc, "/accounts/link/confirm")
	checkPreview(t, b, acc)
	clickTo(t, b, chromedp.CSS(`[data-testid="link-confirm"]`), "/accounts")
}

// checkPreview checks that the link preview shows the provider account,
// and offers Link it, Cancel and Not you.
func checkPreview(t *testing.T, b *browser, acc account) {
	t.Helper()
	do(t, b, chromedp.WaitVisible(chromedp.CSS(`[data-testid="link-preview"]`)))
	got := run(t, b, chromedp.Evaluate[shownIdentity](`(() => {
	const el = document.querySelector('[data-testid="link-preview"] [data-testid="preview-account"]');
	return {id: "", provider: el.dataset.provider,
		name: el.querySelector('[data-testid="identity-name"]').textContent.trim().replace(/\s+/g, " "),
		email: el.querySelector('[data-testid="identity-email"]').textContent.trim().replace(/\s+/g, " ")};
})()`))
	if got.Provider != acc.provider || !strings.HasPrefix(got.Name, acc.name) || !strings.HasPrefix(got.Email, acc.email) {
		t.Errorf("link preview shows %+v, want %s account %s <%s>", got, acc.label, acc.name, acc.email)
	}
	if h := run(t, b, chromedp.Text(chromedp.CSS(`[data-testid="link-preview"] h1`))); !strings.Contains(h, acc.label) {
		t.Errorf("link preview heading %q does not name %s", h, acc.label)
	}
	for _, id := range []string{"link-confirm", "link-cancel", "link-not-you"} {
		do(t, b, chromedp.WaitVisible(chromedp.CSS(`[data-testid="`+id+`"]`)))
	}
}

// accountsBehindTheScenes fetches /accounts from the current page, with
// the tab's session, and returns the providers of the identities it lists;
// the tab stays where it is.
func accountsBehindTheScenes(t *testing.T, b *browser) []string {
	t.Helper()
	return run(t, b, chromedp.Evaluate[[]string](`fetch("/accounts", {credentials: "same-origin"})
	.then((r) => r.text())
	.then((html) => Array.from(new DOMParser().parseFromString(html, "text/html")
		.querySelectorAll('[data-testid="identity"]')).map((li) => li.dataset.provider))`, chromedp.EvalAwaitPromise))
}

// checkIdentities checks that the accounts page lists exactly these
// provider accounts, in any order, and returns what it shows.
func checkIdentities(t *testing.T, b *browser, want ...account) []shownIdentity {
	t.Helper()
	do(t, b, chromedp.WaitVisible(chromedp.CSS(`[data-testid="identity"]`)))
	ids := run(t, b, chromedp.Evaluate[[]shownIdentity](readIdentities))
	if len(ids) != len(want) {
		t.Fatalf("accounts page shows %d identities, want %d: %+v", len(ids), len(want), ids)
	}
	left := slices.Clone(ids)
	for _, acc := range want {
		i := slices.IndexFunc(left, func(id shownIdentity) bool {
			return id.Provider == acc.provider && strings.HasPrefix(id.Name, acc.name) && strings.HasPrefix(id.Email, acc.email)
		})
		if i < 0 {
			t.Fatalf("accounts page does not show the %s account %s <%s>: %+v", acc.label, acc.name, acc.email, ids)
		}
		left = slices.Delete(left, i, i+1)
	}
	return ids
}

// checkNotice checks that a visible notice of the role says each of the
// words.
func checkNotice(t *testing.T, b *browser, role string, words ...string) {
	t.Helper()
	sel := chromedp.CSS(`[data-testid="notice"][role="` + role + `"]`)
	if _, err := chromedp.Run(b.ctx, chromedp.Text(sel, chromedp.NodeVisible)); err != nil {
		t.Fatalf("no visible notice with role %s: %v", role, err)
	}
	text := run(t, b, chromedp.Text(sel))
	for _, w := range words {
		if !strings.Contains(text, w) {
			t.Errorf("notice %q does not say %q", text, w)
		}
	}
}

// clickToStatus is clickTo for a page that answers another status than
// 200, such as the conflict page's 409.
func clickToStatus[S chromedp.Selectable](t *testing.T, b *browser, sel S, wantPath string, wantStatus int64) {
	t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(sel, chromedp.NodeVisible))
	if err != nil {
		_, _, csp, _ := b.watch.report()
		t.Fatalf("click %v: %v (CSP reports: %q)", sel, err, csp)
	}
	checkLandedStatus(t, b, resp, wantPath, wantStatus)
}

func checkLandedStatus(t *testing.T, b *browser, resp *network.Response, wantPath string, wantStatus int64) {
	t.Helper()
	if resp == nil {
		t.Fatalf("no response while going to %s", wantPath)
	}
	loc := run(t, b, chromedp.Location())
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != wantStatus || u.Path != wantPath {
		body, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		t.Fatalf("landed on %s with status %d, want %d at %s; page says:\n%s", loc, resp.Status, wantStatus, wantPath, body)
	}
}

// allowDocumentStatus drops from b's console errors the one line that
// Chrome logs for a page under prefix (the URL up to its query) that
// answered the status on purpose, and nothing else.
func allowDocumentStatus(b *browser, prefix string, status int) {
	w := b.watch
	w.mu.Lock()
	defer w.mu.Unlock()
	want := "log network/error: Failed to load resource: the server responded with a status of " + strconv.Itoa(status) + " "
	w.errors = slices.DeleteFunc(w.errors, func(line string) bool {
		if !strings.HasPrefix(line, want) {
			return false
		}
		i := strings.LastIndex(line, " (")
		u := strings.TrimSuffix(line[i+2:], ")")
		return u == prefix || strings.HasPrefix(u, prefix+"?")
	})
}
