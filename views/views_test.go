package views_test

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"

	"github.com/linkport/linkport/views"
	"github.com/linkport/linkport/views/locale"
)

// render renders c in lang, as a request of that language would.
func render(t *testing.T, lang string, c templ.Component) string {
	t.Helper()
	cat, err := locale.New()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	ctx := locale.With(context.Background(), cat.Locale(lang, nil))
	if err := c.Render(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

var layout = views.Layout{Title: "t", CSRFToken: "tok", Next: "/login"}

// A provider that has been failing keeps a working button, with a
// visible note that the button names in aria-describedby, on the login
// page, among "connect another account" and on the step-up page.
func TestUnavailableProviderButton(t *testing.T) {
	buttons := []views.ProviderButton{
		{Name: "google", Label: "Google", Icon: "/g.svg"},
		{Name: "kakao", Label: "Kakao", Icon: "/k.svg", Unavailable: true},
	}
	pages := map[string]templ.Component{
		"login":    views.Login(layout, views.LoginPage{Providers: buttons}),
		"accounts": views.Accounts(layout, views.AccountsPage{DisplayName: "Ann", Providers: buttons}),
		"step-up":  views.StepUp(layout, views.StepUpPage{ID: "x", Action: "a", Minutes: 15, Providers: buttons}),
	}
	for name, page := range pages {
		for lang, note := range map[string]string{"en": "Temporarily unavailable", "ko": "일시적으로 원활하지 않습니다"} {
			body := render(t, lang, page)
			button := regexp.MustCompile(`<button[^>]*data-provider="kakao"[^>]*>`).FindString(body)
			if !strings.Contains(button, `data-unavailable="true"`) || strings.Contains(button, "disabled") {
				t.Errorf("%s %s: kakao button %q, want data-unavailable and still enabled", name, lang, button)
			}
			m := regexp.MustCompile(`aria-describedby="([^"]+)"`).FindStringSubmatch(button)
			if m == nil {
				t.Fatalf("%s %s: kakao button has no aria-describedby: %q", name, lang, button)
			}
			described := regexp.MustCompile(`id="` + regexp.QuoteMeta(m[1]) + `"[^>]*>([^<]*)<`).FindStringSubmatch(body)
			if described == nil || !strings.Contains(described[1], note) {
				t.Errorf("%s %s: the element %s does not say %q: %v", name, lang, m[1], note, described)
			}
			google := regexp.MustCompile(`<button[^>]*data-provider="google"[^>]*>`).FindString(body)
			if strings.Contains(google, "data-unavailable") || strings.Contains(google, "aria-describedby") {
				t.Errorf("%s %s: a working provider is marked unavailable: %q", name, lang, google)
			}
			if strings.Count(body, note) != 1 {
				t.Errorf("%s %s: %d unavailable notes, want 1", name, lang, strings.Count(body, note))
			}
		}
	}
}

// Each provider's button follows its brand's wording; a configured OIDC
// provider gets the generic one.
func TestLoginButtonWording(t *testing.T) {
	buttons := []views.ProviderButton{{Name: "github", Label: "GitHub"}, {Name: "naver", Label: "NAVER"}, {Name: "corp", Label: "Corp SSO"}}
	for lang, want := range map[string][]string{
		"en": {"Sign in with GitHub", "Log in with NAVER", "Continue with Corp SSO"},
		"ko": {"GitHub로 로그인", "네이버 로그인", "Corp SSO 계정으로 계속하기"},
	} {
		body := render(t, lang, views.Login(layout, views.LoginPage{Providers: buttons}))
		got := regexp.MustCompile(`<span>([^<]+)</span>\s*</button>`).FindAllStringSubmatch(body, -1)
		var texts []string
		for _, m := range got {
			texts = append(texts, m[1])
		}
		if strings.Join(texts, "|") != strings.Join(want, "|") {
			t.Errorf("%s buttons %q, want %q", lang, texts, want)
		}
	}
}

// Every connected account says what its provider shared about the email
// and what that means.
func TestEmailNotes(t *testing.T) {
	for _, tc := range []struct {
		id         views.IdentityView
		state      string
		en, ko     string
		emailShown bool
	}{
		{views.IdentityView{ProviderLabel: "Google", Email: "a@example.com", EmailVerified: true}, "verified",
			"Google confirmed that this email address is yours.", "Google에서 이 이메일 주소가 회원님의 것임을 확인했습니다.", true},
		{views.IdentityView{ProviderLabel: "Facebook", Email: "a@example.com"}, "unverified",
			"this account cannot be used to recover access by email", "이메일을 통해 계정 접근을 복구할 수 없습니다", true},
		{views.IdentityView{ProviderLabel: "X", Nickname: "ann"}, "none",
			"X shared no email address, so this account cannot be used to recover access by email.", "X에서 이메일 주소를 공유하지 않았습니다.", false},
	} {
		for lang, want := range map[string]string{"en": tc.en, "ko": tc.ko} {
			body := render(t, lang, views.IdentityDetails(tc.id))
			note := regexp.MustCompile(`data-testid="email-note" data-email="([^"]+)">([^<]+)<`).FindStringSubmatch(body)
			if note == nil || note[1] != tc.state || !strings.Contains(note[2], want) {
				t.Errorf("%s %s: note %q, want %s saying %q", lang, tc.state, note, tc.state, want)
			}
			if strings.Contains(body, `data-testid="identity-email"`) != tc.emailShown {
				t.Errorf("%s %s: email shown = %v, want %v", lang, tc.state, !tc.emailShown, tc.emailShown)
			}
		}
	}
}

// Slots in a message are components; the message text and the data
// around them are escaped, never markup.
func TestMessageSlotsEscape(t *testing.T) {
	body := render(t, "ko", views.Accounts(layout, views.AccountsPage{DisplayName: `<script>x</script>`}))
	if strings.Contains(body, "<script>x") {
		t.Fatal("a display name was rendered as markup")
	}
	if !strings.Contains(body, `<strong data-testid="display-name">&lt;script&gt;x&lt;/script&gt;</strong> 님으로 로그인되어 있습니다`) {
		t.Errorf("the Korean 'signed in as' does not put the name first, in its <strong>: %s", body)
	}
	en := render(t, "en", views.Accounts(layout, views.AccountsPage{DisplayName: "Ann"}))
	if !strings.Contains(en, `Signed in as <strong data-testid="display-name">Ann</strong>`) {
		t.Error("the English 'signed in as' lost its <strong>")
	}
}

// The layout names the page's language and offers the other, each
// language named in itself.
func TestLayoutLanguage(t *testing.T) {
	for _, lang := range []string{"en", "ko"} {
		body := render(t, lang, views.Login(layout, views.LoginPage{}))
		if !strings.Contains(body, `<html lang="`+lang+`">`) {
			t.Errorf("%s: <html lang> is not %s", lang, lang)
		}
		if !strings.Contains(body, `<div class="prefs-group" role="group" aria-labelledby="prefs-lang"><span id="prefs-lang">`) {
			t.Errorf("%s page: the language buttons are not a group named by its label", lang)
		}
		for code, name := range map[string]string{"en": "English", "ko": "한국어"} {
			pressed := "false"
			if code == lang {
				pressed = "true"
			}
			want := `value="` + code + `" lang="` + code + `" class="link-button" aria-pressed="` + pressed + `" data-testid="lang-` + code + `">` + name + `</button>`
			if !strings.Contains(body, want) {
				t.Errorf("%s page: switcher lacks %s", lang, want)
			}
		}
	}
	// A time without a chosen zone says UTC; the datetime is the instant.
	at := time.Date(2026, 11, 26, 15, 4, 0, 0, time.FixedZone("x", 3600))
	if got := render(t, "ko", views.When(at)); got != `<time datetime="2026-11-26T14:04:00Z">2026년 11월 26일 오후 2:04 UTC</time>` {
		t.Errorf("When = %s", got)
	}
}

// The theme the person chose is written into <html data-theme> (none
// follows the system), and the theme switcher marks it with
// aria-pressed, its buttons a group named by its visible label.
func TestLayoutTheme(t *testing.T) {
	for _, tc := range []struct {
		theme, html, pressed string
	}{
		{"", `<html lang="en">`, "system"},
		{"light", `<html lang="en" data-theme="light">`, "light"},
		{"dark", `<html lang="en" data-theme="dark">`, "dark"},
	} {
		l := layout
		l.Theme = tc.theme
		body := render(t, "en", views.Login(l, views.LoginPage{}))
		if !strings.Contains(body, tc.html) {
			t.Errorf("theme %q: want %s", tc.theme, tc.html)
		}
		if !strings.Contains(body, `<div class="prefs-group" role="group" aria-labelledby="prefs-theme"><span id="prefs-theme">Theme</span>`) {
			t.Errorf("theme %q: no theme switcher group labelled Theme", tc.theme)
		}
		for _, th := range []string{"system", "light", "dark"} {
			want := `name="theme" value="` + th + `" class="link-button" aria-pressed="` + strconv.FormatBool(th == tc.pressed) + `" data-testid="theme-` + th + `">`
			if !strings.Contains(body, want) {
				t.Errorf("theme %q: switcher lacks %s", tc.theme, want)
			}
		}
	}
	ko := render(t, "ko", views.Login(views.Layout{CSRFToken: "tok", Theme: "dark"}, views.LoginPage{}))
	for _, want := range []string{`<html lang="ko" data-theme="dark">`, ">테마</span>", ">기기 설정</button>", ">밝은 테마</button>", ">어두운 테마</button>"} {
		if !strings.Contains(ko, want) {
			t.Errorf("Korean theme switcher lacks %s", want)
		}
	}
}

// Every page starts with a link that skips to <main id="main">; signed in,
// the header has a navigation landmark whose current page is marked.
func TestLayoutLandmarks(t *testing.T) {
	out := render(t, "en", views.Login(layout, views.LoginPage{}))
	skip := strings.Index(out, `<a class="skip-link" href="#main" data-testid="skip-link">Skip to main content</a>`)
	if skip < 0 || skip > strings.Index(out, "<header") || !strings.Contains(out, `<main id="main">`) {
		t.Errorf("no skip link to #main before the header: %s", out)
	}
	if strings.Contains(out, "<nav") {
		t.Error("a signed-out page shows the account navigation")
	}
	l := layout
	l.SignedIn, l.Next = true, "/accounts/activity?before=9"
	in := render(t, "ko", views.Timeline(l, views.TimelinePage{}))
	for _, want := range []string{`<nav class="topnav" aria-label="내 계정">`, `<a href="/accounts/activity" aria-current="page">보안 활동</a>`, `<a href="/accounts">연결된 계정</a>`} {
		if !strings.Contains(in, want) {
			t.Errorf("signed-in page lacks %s", want)
		}
	}
	if n := strings.Count(in, "<h1"); n != 1 {
		t.Errorf("timeline page has %d h1, want 1", n)
	}
}

// A page of the timeline that htmx swaps in says what it shows and takes
// the focus (autofocus), so a screen reader announces it; the full page
// does not steal the focus.
func TestTimelineSwapAnnounced(t *testing.T) {
	rows := []views.TimelineRow{{What: "Signed in", At: time.Now()}, {What: "Signed in", At: time.Now()}}
	older := render(t, "en", views.TimelineList(views.TimelinePage{Events: rows, NewerURL: "/accounts/activity", Swapped: true}))
	if !strings.Contains(older, `role="status" tabindex="-1" autofocus data-testid="timeline-status">Showing 2 older events.</p>`) {
		t.Errorf("swapped older page does not announce itself: %s", older)
	}
	newest := render(t, "ko", views.TimelineList(views.TimelinePage{Events: rows, Swapped: true}))
	if !strings.Contains(newest, `autofocus data-testid="timeline-status">최근 활동을 표시합니다.</p>`) {
		t.Errorf("swapped newest page does not announce itself: %s", newest)
	}
	if full := render(t, "en", views.TimelineList(views.TimelinePage{Events: rows, NewerURL: "/accounts/activity"})); strings.Contains(full, "autofocus") {
		t.Error("the full page's list takes the focus")
	}
	if !strings.Contains(older, `<td data-label="IP address">`) {
		t.Error("timeline cells do not name their column for the narrow layout")
	}
}
