package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// shownEmailNote is what the accounts page says about a connected
// account's email address.
type shownEmailNote struct {
	Provider string `json:"provider"`
	State    string `json:"state"` // data-email: none, unverified, verified
	Text     string `json:"text"`
}

const readEmailNotes = `Array.from(document.querySelectorAll('[data-testid="identity"]')).map((li) => {
	const n = li.querySelector('[data-testid="email-note"]');
	return {provider: li.dataset.provider, state: n ? n.dataset.email : "", text: n ? n.textContent.trim() : ""};
})`

// TestJourneySignInNaverAndGitHub: a person signs in with GitHub without
// sharing an email address, is told what that means, connects a Naver
// account (whose email Naver never confirms), and later signs in with
// Naver to the same Linkport account. The only account's Remove is
// disabled with its reason until the second one is connected.
func TestJourneySignInNaverAndGitHub(t *testing.T) {
	b := newBrowser(t)
	srv := startServer(t)
	art := artifactDir(t)
	forEachWidth(t, b, srv, true, func(t *testing.T, tab *browser, width int64) {
		github := account{"github", "GitHub", "Margaret Hamilton", ""}.at(width)
		naver := account{"naver", "Naver", "Jang Yeong-sil", "yeongsil@example.kr"}.at(width)

		open(t, tab, srv.URL+"/login", "/login")
		capture(t, tab, art, "1-login")
		clickTo(t, tab, providerButtonSel("github"), "/_emulator/github/")
		capture(t, tab, art, "2-github-consent")
		consentAsNewWithoutEmail(t, tab, github, "/accounts")
		checkIdentities(t, tab, github)
		if dn := run(t, tab, chromedp.Text(chromedp.CSS(`[data-testid="display-name"]`))); dn != github.name {
			t.Errorf("signed in as %q, want %q", dn, github.name)
		}
		notes := run(t, tab, chromedp.Evaluate[[]shownEmailNote](readEmailNotes))
		if len(notes) != 1 || notes[0].State != "none" || notes[0].Text != "GitHub shared no email address, so this account cannot be used to recover access by email." {
			t.Errorf("the GitHub account's email note = %+v, want that GitHub shared no email address and what that means", notes)
		}
		if n := run(t, tab, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="identity-email"]').length`)); n != 0 {
			t.Errorf("the accounts page shows %d email addresses for an account that shared none", n)
		}
		checkLastAccountLocked(t, tab)
		capture(t, tab, art, "3-accounts-github-no-email")

		// Connect Naver: the preview says what Naver shared.
		startLink(t, tab, "naver", "/_emulator/naver/")
		consentAsNew(t, tab, naver, "/accounts/link/confirm")
		checkPreview(t, tab, naver)
		note := run(t, tab, chromedp.Evaluate[shownEmailNote](`(() => {
	const n = document.querySelector('[data-testid="preview-account"] [data-testid="email-note"]');
	return {provider: "naver", state: n.dataset.email, text: n.textContent.trim()};
})()`))
		if note.State != "unverified" || !strings.HasPrefix(note.Text, "Naver shared this email address without confirming that it is yours") {
			t.Errorf("the Naver preview's email note = %+v, want that Naver did not confirm the address", note)
		}
		capture(t, tab, art, "4-naver-preview")
		clickTo(t, tab, chromedp.CSS(`[data-testid="link-confirm"]`), "/accounts")
		checkIdentities(t, tab, github, naver)
		checkNotice(t, tab, "status", "Naver", naver.email, "connected")
		if n := run(t, tab, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="unlink"]:not([disabled])').length`)); n != 2 {
			t.Errorf("with two accounts, %d Remove buttons are enabled, want 2", n)
		}
		capture(t, tab, art, "5-accounts-two")

		// Sign out, and back in with Naver: the same account.
		clickTo(t, tab, chromedp.CSS(`[data-testid="logout"]`), "/login")
		if got := run(t, tab, chromedp.Text(chromedp.CSS(`main [role="status"]`), chromedp.NodeVisible)); got != "You are signed out." {
			t.Errorf("after signing out the login page says %q, want \"You are signed out.\"", got)
		}
		capture(t, tab, art, "6-signed-out")
		clickTo(t, tab, providerButtonSel("naver"), "/_emulator/naver/")
		consentAs(t, tab, naver, "/accounts")
		checkIdentities(t, tab, github, naver)
		if dn := run(t, tab, chromedp.Text(chromedp.CSS(`[data-testid="display-name"]`))); dn != github.name {
			t.Errorf("signed in with Naver as %q, want the same account, %q", dn, github.name)
		}
		capture(t, tab, art, "7-accounts-via-naver")

		// Without JavaScript, Remove asks on a page of its own, which says
		// which account goes; then Naver is the last one.
		setJavaScript(t, tab, false)
		open(t, tab, srv.URL+"/accounts", "/accounts")
		handle := run(t, tab, chromedp.Text(chromedp.CSS(`[data-testid="identity"][data-provider="github"] [data-testid="identity-name"] span`)))
		if !strings.HasPrefix(handle, "@") {
			t.Errorf("the GitHub account shows the handle %q, want @login", handle)
		}
		clickTo(t, tab, chromedp.CSS(`[data-testid="identity"][data-provider="github"] [data-testid="unlink"]`), "/accounts/identities/")
		if h := run(t, tab, chromedp.Text(chromedp.CSS(`[data-testid="unlink-confirm-page"] h1`), chromedp.NodeVisible)); h != "Remove your GitHub account "+handle+"?" {
			t.Errorf("the remove page asks %q, want it to name the GitHub account %s", h, handle)
		}
		capture(t, tab, art, "8-remove-github-no-js")
		clickTo(t, tab, chromedp.CSS(`[data-testid="unlink-confirm"]`), "/accounts")
		checkIdentities(t, tab, naver)
		checkNotice(t, tab, "status", "Removed your GitHub account "+handle+".")
		checkLastAccountLocked(t, tab)
		capture(t, tab, art, "9-naver-last")
	})
}
