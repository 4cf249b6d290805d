package e2e

import (
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestJourneyProviderErrors: what a person sees when a sign-in does not
// work out, in plain words with a way on. They cancel at the provider;
// the provider sends them back with an error instead of an answer; and
// they go Back to the provider's page after signing in and continue
// there again, which sends an answer the portal has already used.
func TestJourneyProviderErrors(t *testing.T) {
	b := newBrowser(t)
	srv := startServer(t)
	art := artifactDir(t)
	forEachWidth(t, b, srv, true, func(t *testing.T, tab *browser, width int64) {
		// The error pages answer 4xx and 5xx on purpose; Chrome logs each
		// as a failed resource.
		t.Cleanup(func() {
			for _, status := range []int{400, 403, 502} {
				allowDocumentStatus(tab, srv.URL+"/auth/error", status)
			}
		})

		// Cancel at the provider.
		open(t, tab, srv.URL+"/login", "/login")
		clickTo(t, tab, providerButtonSel("google"), "/_emulator/google/")
		checkConsentPage(t, tab, "Google")
		clickToStatus(t, tab, chromedp.CSS(`[data-testid="emulator-cancel"]`), "/auth/error", 403)
		checkErrorPage(t, tab, "Sign-in cancelled", "Back to sign-in", "/login", "You cancelled at the provider, so nothing was changed.")
		capture(t, tab, art, "1-cancelled")
		clickTo(t, tab, chromedp.CSS(`[data-testid="error-action"]`), "/login")
		if run(t, tab, chromedp.Evaluate[bool](`!!document.querySelector('[data-testid="logout"]')`)) {
			t.Error("after cancelling at the provider the person is signed in")
		}

		// The provider answers with an error (RFC 6749 §4.1.2.1) instead
		// of a code: what Facebook does when it is down.
		clickTo(t, tab, providerButtonSel("facebook"), "/_emulator/facebook/")
		checkConsentPage(t, tab, "Facebook")
		state := run(t, tab, chromedp.Evaluate[string](`document.querySelector('input[name="state"]').value`))
		back := srv.URL + "/auth/facebook/callback?" + url.Values{
			"error": {"temporarily_unavailable"}, "error_description": {"Please try again later"}, "state": {state},
		}.Encode()
		openStatus(t, tab, back, "/auth/error", 502)
		checkErrorPage(t, tab, "The provider is not answering properly", "Try again", "/login",
			"the provider had a problem", "Nothing was changed", "choose another provider")
		if loc := run(t, tab, chromedp.Location()); strings.Contains(loc, state) || strings.Contains(loc, "temporarily_unavailable") {
			t.Errorf("the error page's address %s still carries the callback's parameters", loc)
		}
		capture(t, tab, art, "2-provider-error")
		clickTo(t, tab, chromedp.CSS(`[data-testid="error-action"]`), "/login")

		// Sign in with X, go Back to X's page, and continue there again:
		// the answer it sends was used already.
		x := account{"x", "X", "Alan Turing", "alan@example.net"}.at(width)
		clickTo(t, tab, providerButtonSel("x"), "/_emulator/x/")
		consentAsNew(t, tab, x, "/accounts")
		checkIdentities(t, tab, x)
		// Back shows the page as it was, before X knew the person; a
		// reload asks X for it again, with the same request.
		goBack(t, tab, "/_emulator/x/")
		if err := chromedp.Do(tab.ctx, chromedp.Reload(), chromedp.WaitVisible(emulatorPerson(x))); err != nil {
			t.Fatalf("reloading X's page: %v", err)
		}
		clickToStatus(t, tab, emulatorPerson(x), "/auth/error", 400)
		checkErrorPage(t, tab, "This sign-in link is not valid", "Back to sign-in", "/login", "It may have been used already", "Start again from the sign-in page.")
		capture(t, tab, art, "3-used-answer")
		// The used answer changed nothing: still signed in, same account.
		if got := accountsBehindTheScenes(t, tab); len(got) != 1 || got[0] != "x" {
			t.Errorf("after the used answer /accounts lists %q, want the one X account", got)
		}
		clickTo(t, tab, chromedp.CSS(`[data-testid="error-action"]`), "/login")
	})
}

// TestJourneyProviderOutage: a provider that keeps failing. Every
// sign-in with it ends on a page that says so plainly and offers to try
// again; after a few in a row the sign-in button says it is temporarily
// unavailable, still works, and the other providers' buttons do not say
// so. The outage is a provider that never answers in time
// (LINKPORT_PROVIDER_TIMEOUT of a nanosecond); the running binary has no
// other way to break the emulated provider's back channel.
func TestJourneyProviderOutage(t *testing.T) {
	b := newBrowser(t)
	srv := startServerWith(t, "LINKPORT_PROVIDER_TIMEOUT=1ns")
	art := artifactDir(t)
	// Each width breaks its own provider: the mark is the server's, for
	// everyone.
	failing := map[int64]account{
		phoneWidth:  {"naver", "Naver", "Jang Yeong-sil", "yeongsil@example.kr"},
		laptopWidth: {"github", "GitHub", "Margaret Hamilton", "margaret@example.com"},
	}
	forEachWidth(t, b, srv, true, func(t *testing.T, tab *browser, width int64) {
		t.Cleanup(func() { allowDocumentStatus(tab, srv.URL+"/auth/error", 504) })
		acc := failing[width]
		marked := providerButtonSel(acc.provider) + `[data-unavailable="true"]`

		open(t, tab, srv.URL+"/login", "/login")
		for attempt := 1; attempt <= 5; attempt++ {
			if run(t, tab, chromedp.Evaluate[bool](`!!document.querySelector(`+jsString(string(marked))+`)`)) {
				t.Fatalf("the %s button is marked unavailable after %d failures, want 5", acc.label, attempt-1)
			}
			clickTo(t, tab, providerButtonSel(acc.provider), "/_emulator/"+acc.provider+"/")
			checkConsentPage(t, tab, acc.label)
			if attempt == 1 {
				fillNewPerson(t, tab, acc)
				clickToStatus(t, tab, chromedp.CSS(`[data-testid="emulator-continue"]`), "/auth/error", 504)
			} else {
				clickToStatus(t, tab, emulatorPerson(acc), "/auth/error", 504)
			}
			checkErrorPage(t, tab, "The provider took too long", "Try again", "/login", "We stopped waiting for the provider.", "choose another provider")
			if attempt == 1 {
				capture(t, tab, art, "1-timeout")
			}
			clickTo(t, tab, chromedp.CSS(`[data-testid="error-action"]`), "/login")
		}

		do(t, tab, chromedp.WaitVisible(marked))
		type mark struct {
			Provider string `json:"provider"`
			Note     string `json:"note"`
			Visible  bool   `json:"visible"`
		}
		marks := run(t, tab, chromedp.Evaluate[[]mark](`Array.from(document.querySelectorAll('[data-testid="provider-button"][data-unavailable="true"]')).map((b) => {
	const note = document.getElementById(b.getAttribute("aria-describedby"));
	return {provider: b.dataset.provider, note: note ? note.textContent.trim() : "", visible: !!note && note.checkVisibility()};
})`))
		var own *mark
		for i, m := range marks {
			if m.Provider == acc.provider {
				own = &marks[i]
			} else if !failingProvider(failing, m.Provider) {
				t.Errorf("the %s button is marked unavailable too; only failing providers may be", m.Provider)
			}
		}
		if own == nil || !own.Visible || own.Note != "Temporarily unavailable: you can still try, or choose another way." {
			t.Errorf("after 5 failures the %s button's mark is %+v, want a visible note that it is temporarily unavailable", acc.label, own)
		}
		if run(t, tab, chromedp.Evaluate[bool](`document.querySelector(`+jsString(string(marked))+`).disabled`)) {
			t.Errorf("the marked %s button is disabled; it must still work", acc.label)
		}
		capture(t, tab, art, "2-marked-unavailable")
		// Still works: one more try reaches the provider.
		clickTo(t, tab, marked, "/_emulator/"+acc.provider+"/")
	})
}

// failingProvider reports whether provider is one of the journeys'
// failing providers.
func failingProvider(failing map[int64]account, provider string) bool {
	for _, acc := range failing {
		if acc.provider == provider {
			return true
		}
	}
	return false
}
