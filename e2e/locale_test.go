package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// shownTime is a <time> as a page shows it.
type shownTime struct {
	DateTime string `json:"datetime"`
	Text     string `json:"text"`
}

const readTimes = `Array.from(document.querySelectorAll('time')).map((t) => ({datetime: t.dateTime, text: t.textContent.trim()}))`

// TestLanguageAndTimeZone: in a real browser under the CSP, prefs.js
// tells the server the browser's time zone, so pages show times on the
// person's own clock; the language switcher turns the pages Korean, and
// they stay Korean, after signing out too.
func TestLanguageAndTimeZone(t *testing.T) {
	b := newBrowser(t)
	srv := startServer(t)
	art := artifactDir(t)
	t.Cleanup(func() { checkPageHealth(t, b, srv.URL) })
	seoul, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		t.Skipf("no zoneinfo for Asia/Seoul: %v", err)
	}
	do(t, b, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Seoul"})
		return err
	}))

	signInAsNew(t, b, srv.URL, adaGoogle)
	if tz := browserCookie(t, b, srv.URL, "tz"); tz == nil || tz.Value != "Asia/Seoul" {
		t.Fatalf("tz cookie %+v, want Asia/Seoul from prefs.js", tz)
	}
	open(t, b, srv.URL+"/accounts", "/accounts")
	checkTimes(t, b, "en", seoul)

	clickTo(t, b, chromedp.CSS(`[data-testid="lang-ko"]`), "/accounts")
	if lang := run(t, b, chromedp.Evaluate[string](`document.documentElement.lang`)); lang != "ko" {
		t.Fatalf("after 한국어, <html lang=%q>", lang)
	}
	if h := run(t, b, chromedp.Text(chromedp.CSS(`h1`))); h != "연결된 계정" {
		t.Errorf("after 한국어, heading %q, want 연결된 계정", h)
	}
	checkTimes(t, b, "ko", seoul)
	screenshot(t, b, art, "1-accounts-ko")

	open(t, b, srv.URL+"/accounts/sessions", "/accounts/sessions")
	if h := run(t, b, chromedp.Text(chromedp.CSS(`h1`))); h != "로그인된 곳" {
		t.Errorf("sessions page heading %q, want Korean", h)
	}
	// Sign-out clears every cookie of the site; the sign-in page still
	// speaks Korean and remembers it again.
	clickTo(t, b, chromedp.CSS(`[data-testid="logout"]`), "/login")
	if h := run(t, b, chromedp.Text(chromedp.CSS(`h1`))); h != "Linkport에 로그인" {
		t.Errorf("after signing out, heading %q, want Korean", h)
	}
	if lang := browserCookie(t, b, srv.URL, "lang"); lang == nil || lang.Value != "ko" || !lang.HTTPOnly {
		t.Errorf("lang cookie after sign-out %+v, want ko, HttpOnly", lang)
	}
	screenshot(t, b, art, "2-login-ko")

	clickTo(t, b, chromedp.CSS(`[data-testid="lang-en"]`), "/login")
	if h := run(t, b, chromedp.Text(chromedp.CSS(`h1`))); h != "Sign in to Linkport" {
		t.Errorf("after English, heading %q", h)
	}
}

// checkTimes wants every time on the page on the clock of zone, written
// the lang way, with its instant in the datetime attribute.
func checkTimes(t *testing.T, b *browser, lang string, zone *time.Location) {
	t.Helper()
	times := run(t, b, chromedp.Evaluate[[]shownTime](readTimes))
	if len(times) < 2 {
		t.Fatalf("%s: %d times on the page, want the linked and last used times at least", lang, len(times))
	}
	for _, tm := range times {
		at, err := time.Parse(time.RFC3339, tm.DateTime)
		if err != nil {
			t.Fatalf("datetime %q: %v", tm.DateTime, err)
		}
		at = at.In(zone)
		want := at.Format("Jan 2, 2006, 3:04 PM")
		if lang == "ko" {
			ampm, h := "오전", at.Hour()%12
			if at.Hour() >= 12 {
				ampm = "오후"
			}
			if h == 0 {
				h = 12
			}
			want = fmt.Sprintf("%d년 %d월 %d일 %s %d:%02d", at.Year(), at.Month(), at.Day(), ampm, h, at.Minute())
		}
		if tm.Text != want || strings.Contains(tm.Text, "UTC") {
			t.Errorf("%s: time %s shown as %q, want %q", lang, tm.DateTime, tm.Text, want)
		}
	}
}

// browserCookie returns the browser's cookie name for base, or nil.
func browserCookie(t *testing.T, b *browser, base, name string) *network.Cookie {
	t.Helper()
	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}
