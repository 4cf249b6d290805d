package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// shownPreferences is how a page reads, as the switchers at its foot set
// it.
type shownPreferences struct {
	Lang      string  `json:"lang"`
	Theme     string  `json:"theme"`     // <html data-theme>, "" for the system's
	Luminance float64 `json:"luminance"` // of the page background, 0 black to 1 white
	Heading   string  `json:"heading"`
	Pressed   string  `json:"pressed"` // the switchers' pressed buttons, by data-testid
}

const readPreferences = `(() => {
	const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/[\d.]+/g).map(Number);
	return {lang: document.documentElement.lang, theme: document.documentElement.dataset.theme ?? "",
		luminance: (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255,
		heading: document.querySelector("h1").textContent.trim(),
		pressed: Array.from(document.querySelectorAll('[data-testid="prefs"] [aria-pressed="true"]')).map((b) => b.dataset.testid).join(" ")};
})()`

// TestJourneyLanguageAndTheme: with JavaScript off, the person turns the
// pages Korean and dark with the switchers at the foot of the sign-in
// page, signs in (times in UTC, saying so, as no script tells the time
// zone), signs out with both choices kept, and goes back to English and
// the system's colours.
func TestJourneyLanguageAndTheme(t *testing.T) {
	b := newBrowser(t)
	srv := startServer(t)
	art := artifactDir(t)
	forEachWidth(t, b, srv, false, func(t *testing.T, tab *browser, width int64) {
		open(t, tab, srv.URL+"/login", "/login")
		checkPreferences(t, tab, shownPreferences{Lang: "en", Heading: "Sign in to Linkport", Pressed: "lang-en theme-system"}, false)

		clickTo(t, tab, chromedp.CSS(`[data-testid="lang-ko"]`), "/login")
		checkPreferences(t, tab, shownPreferences{Lang: "ko", Heading: "Linkport에 로그인", Pressed: "lang-ko theme-system"}, false)
		capture(t, tab, art, "1-login-ko")
		clickTo(t, tab, chromedp.CSS(`[data-testid="theme-dark"]`), "/login")
		checkPreferences(t, tab, shownPreferences{Lang: "ko", Theme: "dark", Heading: "Linkport에 로그인", Pressed: "lang-ko theme-dark"}, true)
		capture(t, tab, art, "2-login-ko-dark")

		// Signed in: Korean and dark, times in UTC and saying so.
		ada := adaGoogle.at(width)
		clickTo(t, tab, providerButtonSel("google"), "/_emulator/google/")
		consentAsNew(t, tab, ada, "/accounts")
		checkPreferences(t, tab, shownPreferences{Lang: "ko", Theme: "dark", Heading: "연결된 계정", Pressed: "lang-ko theme-dark"}, true)
		times := run(t, tab, chromedp.Evaluate[[]shownTime](readTimes))
		if len(times) == 0 {
			t.Fatal("the accounts page shows no times")
		}
		for _, tm := range times {
			if !strings.HasSuffix(tm.Text, " UTC") || !strings.Contains(tm.Text, "년") {
				t.Errorf("with no time zone from script, time %s is shown as %q, want Korean and in UTC, saying so", tm.DateTime, tm.Text)
			}
		}
		capture(t, tab, art, "3-accounts-ko-dark")

		// Sign-out clears the site's cookies; both choices stay.
		clickTo(t, tab, chromedp.CSS(`[data-testid="logout"]`), "/login")
		checkPreferences(t, tab, shownPreferences{Lang: "ko", Theme: "dark", Heading: "Linkport에 로그인", Pressed: "lang-ko theme-dark"}, true)
		capture(t, tab, art, "4-signed-out-ko-dark")

		// Back to the system's colours, then English.
		clickTo(t, tab, chromedp.CSS(`[data-testid="theme-system"]`), "/login")
		checkPreferences(t, tab, shownPreferences{Lang: "ko", Heading: "Linkport에 로그인", Pressed: "lang-ko theme-system"}, false)
		clickTo(t, tab, chromedp.CSS(`[data-testid="lang-en"]`), "/login")
		checkPreferences(t, tab, shownPreferences{Lang: "en", Heading: "Sign in to Linkport", Pressed: "lang-en theme-system"}, false)
		capture(t, tab, art, "5-login-en")
	})
}

// checkPreferences wants the page to read as want, in dark colours or
// light (the browser's own scheme is light).
func checkPreferences(t *testing.T, b *browser, want shownPreferences, dark bool) {
	t.Helper()
	got := run(t, b, chromedp.Evaluate[shownPreferences](readPreferences))
	if isDark := got.Luminance < 0.5; isDark != dark {
		t.Errorf("the page background has luminance %.2f, want it dark: %v", got.Luminance, dark)
	}
	got.Luminance = 0
	if got != want {
		t.Errorf("the page reads %+v, want %+v", got, want)
	}
}
