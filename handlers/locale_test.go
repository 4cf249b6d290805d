package handlers_test

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/linkport/linkport/handlers"
	"github.com/linkport/linkport/providers/emulator"
	"github.com/linkport/linkport/views/locale"
)

// langTransport sends Accept-Language on every request, as a browser set
// to that language does.
type langTransport struct {
	lang string
	next http.RoundTripper
}

func (t langTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Accept-Language", t.lang)
	return t.next.RoundTrip(r)
}

// browserIn is a browser whose language is acceptLanguage.
func (p *portal) browserIn(acceptLanguage string) *browser {
	b := p.browser()
	b.client.Transport = langTransport{acceptLanguage, http.DefaultTransport}
	return b
}

// setCookie puts a cookie for the portal into the browser, as the
// switcher or prefs.js would have.
func (b *browser) setCookie(name, value string) {
	u, _ := url.Parse(b.p.srv.URL)
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// catalogs are both languages' messages, for checking pages against.
type catalogs struct{ en, ko map[string][]string }

func loadCatalogs(t *testing.T) catalogs {
	t.Helper()
	cat, err := locale.New()
	if err != nil {
		t.Fatal(err)
	}
	return catalogs{cat.Sources(locale.English), cat.Sources(locale.Korean)}
}

var templateAction = regexp.MustCompile(`\{\{[^}]*\}\}`)

// fragments are the fixed words of a message: its text between the
// variables, trimmed of punctuation, kept when long enough to mean
// something ("Sign out", not "Mac").
func fragments(src string) []string {
	var out []string
	for _, f := range templateAction.Split(src, -1) {
		f = strings.TrimFunc(f, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) || r == '·' })
		if len(f) >= 8 && strings.Contains(f, " ") {
			out = append(out, f)
		}
	}
	return out
}

// englishLeaks lists the English catalog text on a page that should be
// Korean: the fixed words of every message whose Korean differs.
func (c catalogs) englishLeaks(body string) []string {
	text := html.UnescapeString(body)
	var leaks []string
	for key, forms := range c.en {
		if slices.Equal(forms, c.ko[key]) {
			continue
		}
		for _, src := range forms {
			for _, f := range fragments(src) {
				if strings.Contains(text, f) {
					leaks = append(leaks, key+": "+f)
				}
			}
		}
	}
	slices.Sort(leaks)
	return slices.Compact(leaks)
}

// wantKorean checks that a page is in Korean: <html lang="ko"> (but for
// an htmx fragment), the
// Korean words of keys (their longest fixed fragment), and no English
// catalog text. A wantStatus of 0 takes any status.
func (c catalogs) wantKorean(t *testing.T, what string, res response, wantStatus int, keys ...string) {
	t.Helper()
	if wantStatus != 0 && res.StatusCode != wantStatus {
		t.Errorf("%s: status %d, want %d", what, res.StatusCode, wantStatus)
	}
	if strings.Contains(res.Body, "<html") != strings.Contains(res.Body, `<html lang="ko">`) {
		t.Errorf("%s: not <html lang=\"ko\">", what)
	}
	text := html.UnescapeString(res.Body)
	for _, key := range keys {
		srcs, ok := c.ko[key]
		if !ok {
			t.Fatalf("%s: no key %q", what, key)
		}
		fixed := templateAction.Split(srcs[len(srcs)-1], -1)
		slices.SortFunc(fixed, func(a, b string) int { return len(b) - len(a) })
		if want := strings.TrimSpace(fixed[0]); !strings.Contains(text, want) {
			t.Errorf("%s: lacks the Korean %s %q", what, key, want)
		}
	}
	if leaks := c.englishLeaks(res.Body); len(leaks) > 0 {
		t.Errorf("%s: English on a Korean page:\n  %s", what, strings.Join(leaks, "\n  "))
	}
	if runs := englishRuns(res.Body); len(runs) > 0 {
		t.Errorf("%s: English words outside the catalogs on a Korean page: %q", what, runs)
	}
}

var (
	// shown is what a person reads or hears: text between tags, and the
	// attributes that speak (aria-label, hx-confirm, title, alt).
	shown = regexp.MustCompile(`>([^<]+)<|\b(?:aria-label|hx-confirm|title|alt|placeholder)="([^"]*)"`)
	// threeWords is a run of English prose, longer than any name a test
	// person or provider has ("Ann Google", "X (Twitter)").
	threeWords = regexp.MustCompile(`[A-Za-z]+ [a-z]+ [a-z]+`)
)

// englishRuns finds English prose on a page that is not catalog text
// (englishLeaks finds that): words written into a view by hand.
func englishRuns(body string) []string {
	var out []string
	for _, m := range shown.FindAllStringSubmatch(body, -1) {
		if r := threeWords.FindString(html.UnescapeString(m[1] + m[2])); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// Every screen, in Korean, through the real router: a browser that asks
// for Korean gets each page in Korean with nothing left in English.
func TestKoreanEveryScreen(t *testing.T) {
	cat := loadCatalogs(t)
	p := newPortal(t)
	b := p.browserIn("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7")

	cat.wantKorean(t, "login", b.get("/login"), http.StatusOK, "login.heading", "login.intro", "login.button.google", "layout.footer")
	cat.wantKorean(t, "signed out", b.get("/login?signed_out=1"), http.StatusOK, "login.signed_out")

	// Three accounts: Google shares a verified email, Facebook one it
	// does not vouch for, X none.
	page := b.mustSignIn("google", ann)
	cat.wantKorean(t, "accounts", page, http.StatusOK, "accounts.title", "accounts.signed_in_as", "identity.email_verified_note", "accounts.connect_button", "event.signed_up")
	page = b.mustLink("facebook", annFB)
	cat.wantKorean(t, "accounts after a link", page, http.StatusOK, "notice.linked", "identity.email_unverified_note", "profile.heading")
	annX := emulator.Person{Sub: "3000000000000000001", Name: "Ann X"}
	preview := b.get("/accounts/link/confirm?id=" + url.QueryEscape(b.linkPreview("x", annX)))
	cat.wantKorean(t, "link preview", preview, http.StatusOK, "link.heading", "link.explain", "identity.no_email_note")
	page = b.mustLink("x", annX)
	cat.wantKorean(t, "accounts with three", page, http.StatusOK, "identity.no_email_note", "identity.dates", "identity.remove_confirm")
	if !strings.Contains(page.Body, "년 ") || !strings.Contains(page.Body, "UTC</time>") {
		t.Errorf("accounts: times are not Korean dates saying UTC")
	}

	uid := b.userID()
	fb := p.identityID(uid, "facebook", annFB.Sub)
	cat.wantKorean(t, "unlink confirmation", b.unlink(fb, false, false), http.StatusOK, "unlink.heading", "unlink.explain")
	res := b.unlink(fb, true, true)
	cat.wantKorean(t, "htmx unlink", res, http.StatusOK, "notice.removed", "event.unlinked")

	// A provider account of another Linkport account: the conflict page
	// and the merge preview.
	bob := emulator.Person{Sub: "3000000000000099", Name: "Bob Facebook", Email: "bob@example.com"}
	p.browser().mustSignIn("facebook", bob)
	id := pendingID(t, b.link("facebook", bob), "/accounts/link/conflict")
	cat.wantKorean(t, "conflict", b.get("/accounts/link/conflict?id="+id), http.StatusConflict, "conflict.heading", "conflict.two_accounts")
	cat.wantKorean(t, "merge preview", b.get("/accounts/merge/preview?id="+id), http.StatusOK, "merge.heading", "merge.events", "merge.understand")

	cat.wantKorean(t, "sessions", b.get("/accounts/sessions"), http.StatusOK, "sessions.title", "session.dates", "browser.go", "device.unknown")
	cat.wantKorean(t, "timeline", b.get("/accounts/activity"), http.StatusOK, "timeline.title", "timeline.col_when", "event.linked", "event.unlinked")
	cat.wantKorean(t, "delete", b.get("/accounts/delete"), http.StatusOK, "delete.heading", "delete.erase_sessions", "delete.grace", "duration.days")

	for _, reason := range []string{"invalid", "expired", "denied", "noemail", "unavailable", "timeout", "rejected"} {
		cat.wantKorean(t, "error "+reason, b.get("/auth/error?reason="+reason), 0, "error."+reason+".heading", "error."+reason+".message", "error.reference")
	}
	cat.wantKorean(t, "404", b.get("/no/such/page"), http.StatusNotFound, "error.notfound.heading", "nav.home")
	cat.wantKorean(t, "405", b.get("/logout"), http.StatusMethodNotAllowed, "error.method.heading")
	cat.wantKorean(t, "CSRF", b.post("/accounts/profile", url.Values{}), http.StatusForbidden, "error.forbidden.heading")

	// A sign-in older than the step-up age: the step-up page.
	p.clock.Advance(30 * time.Minute)
	token := formWithCSRF(b.accountsPage().Body)["csrf_token"][0]
	stepID := stepUpID(t, b.post("/accounts/sessions/revoke-others", url.Values{"csrf_token": {token}}))
	cat.wantKorean(t, "step-up", b.get("/accounts/step-up?id="+stepID), http.StatusOK, "stepup.title", "stepup.explain", "action.revoke_others", "stepup.confirm_with")
	cont := b.stepUpWith(stepID, "x", annX)
	if cont.StatusCode != http.StatusSeeOther || !strings.HasPrefix(cont.Header.Get("Location"), "/accounts/step-up/continue?") {
		t.Fatalf("step-up with X: %d %q", cont.StatusCode, cont.Header.Get("Location"))
	}
	cat.wantKorean(t, "step-up continue", b.get(cont.Header.Get("Location")), http.StatusOK, "stepup.done_heading", "stepup.done_intro", "action.revoke_others", "stepup.continue")

	// Deletion, the goodbye page, and the offer to restore.
	p.clock.Advance(-30 * time.Minute)
	b.deleteAccount(true)
	deleted := b.get("/deleted?until=2026-12-03")
	cat.wantKorean(t, "deleted", deleted, http.StatusOK, "deleted.heading", "deleted.until")
	if !strings.Contains(deleted.Body, "2026년 12월 3일") {
		t.Error("deleted: the day is not written the Korean way")
	}
	restore := pendingID(t, b.signIn("x", annX), "/restore")
	cat.wantKorean(t, "restore", b.get("/restore?id="+url.QueryEscape(restore)), http.StatusOK, "restore.heading", "restore.explain", "restore.confirm")

	// Fixed-width and plural words in the 429 page.
	rl := newPortalWith(t, portalOptions{rateLimited: true, limits: handlers.RateLimits{SignIn: handlers.Rate{Events: 1, Per: time.Minute}}})
	k := rl.browserIn("ko")
	csrf := k.csrf()
	k.post("/auth/google", url.Values{"csrf_token": {csrf}})
	limited := k.post("/auth/google", url.Values{"csrf_token": {csrf}})
	cat.wantKorean(t, "429", limited, http.StatusTooManyRequests, "error.ratelimited.heading", "error.ratelimited.message", "wait.seconds")

	// The database is down: the 503 page.
	br := &breaker{err: sqliteCantOpen(t)}
	down := newBrokenPortal(t, br)
	d := down.browserIn("ko")
	d.mustSignIn("google", ann)
	br.down(true)
	cat.wantKorean(t, "503", d.get("/accounts"), http.StatusServiceUnavailable, "error.down.heading", "error.down.message")
}

// The language cookie set by the switcher wins over Accept-Language, is
// remembered for a year, and the switcher goes back to the page.
func TestLanguageSwitcher(t *testing.T) {
	p := newPortal(t)
	b := p.browserIn("ko")
	page := b.get("/accounts/activity?before=1")
	if page.StatusCode != http.StatusSeeOther {
		t.Fatalf("signed-out /accounts/activity: %d", page.StatusCode)
	}
	login := b.get("/login?next=%2Faccounts")
	if !strings.Contains(login.Body, `<html lang="ko">`) {
		t.Fatal("Accept-Language: ko did not give a Korean login page")
	}
	if vary := strings.Join(login.Header.Values("Vary"), ","); !strings.Contains(vary, "Accept-Language") || !strings.Contains(vary, "HX-Request") {
		t.Errorf("Vary %q, want Accept-Language beside HX-Request", vary)
	}
	for _, want := range []string{`action="/preferences"`, `name="next" value="/login?next=%2Faccounts"`, `lang="en"`, `>English</button>`, `lang="ko"`, `>한국어</button>`, `aria-pressed="true" data-testid="lang-ko"`} {
		if !strings.Contains(login.Body, want) {
			t.Errorf("login page's switcher lacks %s", want)
		}
	}
	form := formWithCSRF(login.Body)
	form["lang"], form["next"] = []string{"en"}, []string{"/login?next=%2Faccounts"}
	res := b.post("/preferences", form)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?next=%2Faccounts" {
		t.Fatalf("POST /preferences: %d %q, want 303 back to the page", res.StatusCode, res.Header.Get("Location"))
	}
	ck := setCookie(res, "lang")
	if ck == nil || ck.Value != "en" || ck.MaxAge < 364*24*3600 || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure {
		t.Errorf("lang cookie %+v, want en for a year, HttpOnly, SameSite=Lax, Path=/, not Secure on http", ck)
	}
	en := b.get("/login")
	if !strings.Contains(en.Body, `<html lang="en">`) || !strings.Contains(en.Body, "Sign in to Linkport") {
		t.Error("the lang cookie did not win over Accept-Language: ko")
	}

	// Back to Korean, signed in: the accounts page follows.
	b.mustSignIn("google", ann)
	form = formWithCSRF(b.accountsPage().Body)
	form["lang"], form["next"], form["tz"] = []string{"ko"}, []string{"/accounts"}, []string{"Asia/Seoul"}
	res = b.post("/preferences", form)
	if tz := setCookie(res, "tz"); tz == nil || tz.Value != "Asia/Seoul" || tz.HttpOnly || tz.MaxAge < 364*24*3600 {
		t.Errorf("tz cookie %+v, want Asia/Seoul for a year, readable by prefs.js", tz)
	}
	if page := b.accountsPage(); !strings.Contains(page.Body, `<html lang="ko">`) || !strings.Contains(page.Body, "연결된 계정") {
		t.Error("after choosing 한국어 the accounts page is not Korean")
	}

	// next is checked like every return path.
	form["next"] = []string{"//evil.example/x"}
	if res := b.post("/preferences", form); res.Header.Get("Location") != "/" {
		t.Errorf("next //evil.example/x: Location %q, want /", res.Header.Get("Location"))
	}
	// Without the CSRF token, nothing is set.
	res = b.post("/preferences", url.Values{"lang": {"en"}})
	if res.StatusCode != http.StatusForbidden || setCookie(res, "lang") != nil {
		t.Errorf("POST /preferences without a token: %d, cookie %v; want 403 and none", res.StatusCode, setCookie(res, "lang"))
	}

	// On https the preference cookies are Secure.
	rec := httptest.NewRecorder()
	p.handlerAt("https://portal.example").ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://portal.example/login?lang=ko", nil))
	if ck := setCookie(response{Response: rec.Result()}, "lang"); ck == nil || !ck.Secure || ck.Value != "ko" {
		t.Errorf("https lang cookie %+v, want Secure", ck)
	}
}

// setCookie returns the cookie named name that res sets, or nil.
func setCookie(res response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// An unknown language or time zone, in a cookie, a form or the query, is
// ignored: the page is served as if it were absent.
func TestInvalidPreferencesIgnored(t *testing.T) {
	p := newPortal(t)
	for _, tc := range []struct {
		accept, cookie, want string
	}{
		{"ko", "xx", "ko"},
		{"", "xx", "en"},
		{"", "ko-KR", "en"}, // only the codes the switcher sets
		{"ko", "../en", "ko"},
	} {
		b := p.browserIn(tc.accept)
		b.setCookie("lang", tc.cookie)
		if page := b.get("/login"); page.StatusCode != http.StatusOK || !strings.Contains(page.Body, `<html lang="`+tc.want+`">`) {
			t.Errorf("Accept-Language %q, lang cookie %q: %d, want a %s page", tc.accept, tc.cookie, page.StatusCode, tc.want)
		}
	}
	if page := p.browser().get("/login?lang=fr"); !strings.Contains(page.Body, `<html lang="en">`) || setCookie(page, "lang") != nil {
		t.Error("?lang=fr changed the language or set a cookie")
	}

	b := p.browser()
	b.mustSignIn("google", ann)
	for _, tz := range []string{"Not/AZone", "../../../etc/passwd", "Local", "Asia/Seoul%00", "Asia/../Asia/Seoul"} {
		b.setCookie("tz", tz)
		times := timeRE.FindAllStringSubmatch(b.accountsPage().Body, -1)
		if len(times) == 0 {
			t.Fatal("no times on the accounts page")
		}
		for _, m := range times {
			if !strings.HasSuffix(m[2], " UTC") {
				t.Errorf("tz %q: time %q, want UTC and saying so", tz, m[2])
			}
		}
	}
	form := formWithCSRF(b.accountsPage().Body)
	form["lang"], form["tz"], form["next"] = []string{"fr"}, []string{"Mars/Olympus_Mons"}, []string{"/accounts"}
	res := b.post("/preferences", form)
	if res.StatusCode != http.StatusSeeOther || setCookie(res, "lang") != nil || setCookie(res, "tz") != nil {
		t.Errorf("POST /preferences lang=fr tz=Mars/…: %d, cookies %v; want 303 and none", res.StatusCode, res.Header.Values("Set-Cookie"))
	}
}

var timeRE = regexp.MustCompile(`<time datetime="([^"]+)">([^<]+)</time>`)

// Times are shown in the person's zone (the tz cookie of prefs.js) and
// language; the datetime attribute keeps the instant in UTC.
func TestTimesInPersonsZone(t *testing.T) {
	p := newPortal(t)
	seoul, _ := time.LoadLocation("Asia/Seoul")
	b := p.browser()
	b.setCookie("tz", "Asia/Seoul")
	page := b.mustSignIn("google", ann)
	times := timeRE.FindAllStringSubmatch(page.Body, -1)
	if len(times) < 3 {
		t.Fatalf("accounts page shows %d times, want the linked, last used and activity times", len(times))
	}
	for _, m := range times {
		at, err := time.Parse(time.RFC3339, m[1])
		if err != nil || !strings.HasSuffix(m[1], "Z") {
			t.Fatalf("datetime %q is not an RFC 3339 UTC instant", m[1])
		}
		if want := at.In(seoul).Format("Jan 2, 2006, 3:04 PM"); m[2] != want {
			t.Errorf("time %s shown as %q, want %q (Asia/Seoul, no UTC)", m[1], m[2], want)
		}
	}
	b.client.Transport = langTransport{"ko", http.DefaultTransport}
	for _, m := range timeRE.FindAllStringSubmatch(b.accountsPage().Body, -1) {
		at, _ := time.Parse(time.RFC3339, m[1])
		s := at.In(seoul)
		ampm, h := "오전", s.Hour()%12
		if s.Hour() >= 12 {
			ampm = "오후"
		}
		if h == 0 {
			h = 12
		}
		want := s.Format("2006년 1월 2일 ") + ampm + " " + time.Date(0, 1, 1, h, s.Minute(), 0, 0, time.UTC).Format("3:04")
		if m[2] != want {
			t.Errorf("ko time %s shown as %q, want %q", m[1], m[2], want)
		}
	}
}

// Signing out clears every cookie (Clear-Site-Data), the language too; the
// redirect carries the choice to the sign-in page, which remembers it.
func TestSignOutKeepsLanguage(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.setCookie("lang", "ko")
	page := b.mustSignIn("google", ann)
	res := b.post("/logout", formWithCSRF(page.Body))
	if got := res.Header.Get("Location"); got != "/login?signed_out=1&lang=ko" {
		t.Fatalf("logout Location %q, want /login?signed_out=1&lang=ko", got)
	}
	fresh := p.browser() // a browser that obeyed Clear-Site-Data
	login := fresh.get(res.Header.Get("Location"))
	if !strings.Contains(login.Body, `<html lang="ko">`) || !strings.Contains(login.Body, "로그아웃되었습니다.") {
		t.Error("the page after sign-out is not Korean")
	}
	if ck := setCookie(login, "lang"); ck == nil || ck.Value != "ko" {
		t.Errorf("the page after sign-out set lang %v, want ko again", ck)
	}
	if !strings.Contains(login.Body, `name="next" value="/login?signed_out=1"`) {
		t.Error("the switcher's next keeps ?lang=, which would undo the next choice")
	}
}

// The refusal of a cross-site request answers before the router, and so
// before the localize middleware: it still speaks the person's language
// (from the lang cookie or Accept-Language), and mints no session.
func TestCrossSiteRefusalLocalized(t *testing.T) {
	for _, tc := range []struct {
		name, acceptLanguage, cookie, want string
	}{
		{"default", "", "", "came from another site"},
		{"Accept-Language", "ko-KR,ko;q=0.9", "", "다른 사이트에서 보낸 요청"},
		{"lang cookie wins", "ko", "en", "came from another site"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPortal(t)
			b := p.browser()
			header := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "cross-site"}
			if tc.acceptLanguage != "" {
				header["Accept-Language"] = tc.acceptLanguage
			}
			if tc.cookie != "" {
				header["Cookie"] = "lang=" + tc.cookie
			}
			res := b.do(b.newRequest(http.MethodPost, "/logout", "", header))
			if res.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, want 403", res.StatusCode)
			}
			if !strings.Contains(res.Body, tc.want) {
				t.Errorf("body %q, want it to contain %q", res.Body, tc.want)
			}
			if sc := res.Header.Values("Set-Cookie"); len(sc) != 0 {
				t.Errorf("a refused cross-site request set cookies: %q", sc)
			}
		})
	}
}
