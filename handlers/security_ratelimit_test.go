package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/linkport/linkport/handlers"
)

// postBegin posts a sign-in start with extra headers.
func (b *browser) postBegin(token string, header map[string]string) response {
	b.t.Helper()
	h := map[string]string{
		"Content-Type":   "application/x-www-form-urlencoded",
		"Origin":         b.p.srv.URL,
		"Sec-Fetch-Site": "same-origin",
	}
	for k, v := range header {
		h[k] = v
	}
	return b.do(b.newRequest(http.MethodPost, "/auth/google", url.Values{"csrf_token": {token}}.Encode(), h))
}

// wantLimited checks a 429 with a Retry-After in seconds and a readable page.
func wantLimited(t *testing.T, res response) {
	t.Helper()
	if res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429", res.StatusCode)
	}
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || s <= 0 {
		t.Errorf("Retry-After %q, want a positive number of seconds", res.Header.Get("Retry-After"))
	}
	if !strings.Contains(res.Body, "Too many attempts") || !strings.Contains(res.Body, "try again") {
		t.Errorf("the 429 page does not explain itself: %.300s", res.Body)
	}
}

// B-09a: 61 sign-in starts from one client IP within a minute meet a 429
// with Retry-After (default budget 30 a minute).
func TestB09a_SignInStartsLimitedPerIP(t *testing.T) {
	p := newPortalWith(t, portalOptions{rateLimited: true})
	b := p.browser()
	token := b.csrf()
	var limited []response
	for range 61 {
		if res := b.postBegin(token, nil); res.StatusCode == http.StatusTooManyRequests {
			limited = append(limited, res)
		} else if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("status %d", res.StatusCode)
		}
	}
	if len(limited) == 0 {
		t.Fatal("61 starts from one IP were all accepted")
	}
	wantLimited(t, limited[0])
	// A new browser on the same address shares the budget.
	if res := p.browser().get("/login"); res.StatusCode != http.StatusOK {
		t.Fatalf("/login %d", res.StatusCode)
	}
	b2 := p.browser()
	if res := b2.postBegin(b2.csrf(), nil); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("another browser on the same IP: status %d, want 429", res.StatusCode)
	}
	if !strings.Contains(p.logs.String(), `"msg":"rate limited"`) {
		t.Error("the refusal is not logged")
	}
}

// B-09b, A-16a, LINKING.md P11 TestRateLimitIgnoresSpoofedXFF: from a peer
// that is not a trusted proxy, a rotating X-Forwarded-For neither resets
// the budget nor shows up as the client IP; from a trusted proxy it names
// the client.
func TestB09b_A16a_RateLimitIgnoresSpoofedXFF(t *testing.T) {
	limits := handlers.RateLimits{SignIn: handlers.Rate{Events: 3, Per: time.Minute}}
	t.Run("untrusted peer", func(t *testing.T) {
		p := newPortalWith(t, portalOptions{rateLimited: true, limits: limits})
		b := p.browser()
		token := b.csrf()
		for i := range 3 {
			if res := b.postBegin(token, map[string]string{"X-Forwarded-For": "203.0.113." + strconv.Itoa(i+1)}); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("start %d: %d", i, res.StatusCode)
			}
		}
		wantLimited(t, b.postBegin(token, map[string]string{"X-Forwarded-For": "198.51.100.77"}))
		logs := p.logs.String()
		if strings.Contains(logs, "203.0.113.") || strings.Contains(logs, "198.51.100.77") {
			t.Error("a spoofed X-Forwarded-For address reached the log as the client IP")
		}
		if !strings.Contains(logs, `"ip":"127.0.0.1"`) {
			t.Error("the log does not show the socket address")
		}
	})
	t.Run("trusted proxy", func(t *testing.T) {
		p := newPortalWith(t, portalOptions{rateLimited: true, limits: limits, trustedProxies: []string{"127.0.0.1/32", "::1/128"}})
		b := p.browser()
		token := b.csrf()
		for i := range 6 {
			if res := b.postBegin(token, map[string]string{"X-Forwarded-For": "203.0.113." + strconv.Itoa(i+1)}); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("client %d behind the proxy: %d, want 303", i, res.StatusCode)
			}
		}
		for range 3 {
			b.postBegin(token, map[string]string{"X-Forwarded-For": "198.51.100.7"})
		}
		wantLimited(t, b.postBegin(token, map[string]string{"X-Forwarded-For": "198.51.100.7"}))
		if !strings.Contains(p.logs.String(), `"ip":"198.51.100.7"`) {
			t.Error("the forwarded client address is not the client IP behind a trusted proxy")
		}
	})
}

// B-09d, LINKING.md P11 TestLinkStartRateLimitedPerUser: link and unlink
// share a budget per user (10 a minute), across the user's sessions; other
// users are not affected.
func TestB09d_LinkAndUnlinkLimitedPerUser(t *testing.T) {
	p := newPortalWith(t, portalOptions{rateLimited: true})
	b := p.browser()
	b.mustSignIn("google", ann)
	uid := b.userID()
	for i := range 10 {
		if i%2 == 0 {
			b.beginLink("x", nil)
			continue
		}
		if res := b.unlink(p.identityID(uid, "google", ann.Sub), false, false); res.StatusCode != http.StatusOK {
			t.Fatalf("unlink confirmation %d: %d", i, res.StatusCode)
		}
	}
	token := formWithCSRF(b.accountsPage().Body)["csrf_token"][0]
	wantLimited(t, b.unlinkWith(token, p.identityID(uid, "google", ann.Sub), true, false))
	wantLimited(t, b.post("/accounts/link/x", url.Values{"csrf_token": {token}}))
	htmx := b.unlinkWith(token, p.identityID(uid, "google", ann.Sub), true, true)
	if htmx.StatusCode != http.StatusTooManyRequests || htmx.Header.Get("Retry-After") == "" {
		t.Errorf("htmx unlink: %d Retry-After %q", htmx.StatusCode, htmx.Header.Get("Retry-After"))
	}

	// The same user in another browser shares the budget.
	same := p.browser()
	same.mustSignIn("google", ann)
	tok2 := formWithCSRF(same.accountsPage().Body)["csrf_token"][0]
	wantLimited(t, same.post("/accounts/link/x", url.Values{"csrf_token": {tok2}}))

	other := p.browser()
	other.mustSignIn("google", annWork)
	other.beginLink("x", nil)
}

// A-16b: on an https portal, X-Forwarded-Proto: http (and a forged host)
// from an untrusted peer changes neither the cookie's Secure flag nor the
// redirect_uri sent to the provider.
func TestA16b_ForwardedProtoIgnored(t *testing.T) {
	p := newPortal(t)
	h := p.handlerAt("https://portal.example")
	spoof := map[string]string{"X-Forwarded-Proto": "http", "X-Forwarded-Host": "evil.example", "X-Forwarded-For": "203.0.113.9"}

	login := httptest.NewRequest(http.MethodGet, "https://portal.example/login", nil)
	for k, v := range spoof {
		login.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, login)
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != "__Host-linkport" || !cookies[0].Secure {
		t.Fatalf("cookies %v, want one Secure __Host-linkport", rec.Result().Header.Values("Set-Cookie"))
	}
	if !strings.Contains(rec.Header().Get("Strict-Transport-Security"), "max-age=") {
		t.Error("HSTS dropped")
	}
	m := csrfField.FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatal("no CSRF token")
	}

	begin := func(headers map[string]string) *url.URL {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "https://portal.example/auth/google", strings.NewReader(url.Values{"csrf_token": {m[1]}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://portal.example")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.AddCookie(cookies[0])
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusSeeOther {
			t.Fatalf("begin: %d %.200s", rec.Code, rec.Body.String())
		}
		for _, c := range rec.Result().Cookies() {
			if !c.Secure {
				t.Errorf("cookie %s without Secure", c.Name)
			}
		}
		u, err := url.Parse(rec.Header().Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	plain, spoofed := begin(nil), begin(spoof)
	if got, want := spoofed.Query().Get("redirect_uri"), plain.Query().Get("redirect_uri"); got != want || strings.Contains(got, "evil.example") {
		t.Errorf("redirect_uri %q with forwarded headers, %q without", got, want)
	}
}
