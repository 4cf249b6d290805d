package handlers_test

// Security tests for what responses carry and what logs hold: the callback
// never renders and leaks nothing, security headers on every page and
// fragment, and a panic's last-resort page (SECURITY.md A-10, B-10, B-14).

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/markbates/goth"
	"golang.org/x/oauth2"

	"github.com/linkport/linkport/providers"
)

// A-10a: a successful callback answers 303 to a clean URL, with no
// referrer, no caching and nothing that loads from another origin.
func TestA10a_CallbackRedirectsClean(t *testing.T) {
	p := newPortal(t)
	for _, name := range providerNames {
		t.Run(name, func(t *testing.T) {
			b := p.browser()
			res := b.signIn(name, person("Ann", "ann@example.com"))
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("callback: %d, want 303", res.StatusCode)
			}
			loc := res.Header.Get("Location")
			u, err := url.Parse(loc)
			if err != nil || u.Host != "" || u.RawQuery != "" {
				t.Errorf("Location %q, want a local path without a query", loc)
			}
			for _, k := range []string{"code", "state", "iss"} {
				if strings.Contains(loc, k+"=") {
					t.Errorf("Location %q carries %s", loc, k)
				}
			}
			if got := res.Header.Get("Referrer-Policy"); got != "no-referrer" {
				t.Errorf("Referrer-Policy %q, want no-referrer", got)
			}
			if got := res.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
			for _, tag := range []string{"<script", "<img", "<link", "<iframe"} {
				if strings.Contains(strings.ToLower(res.Body), tag) {
					t.Errorf("callback body has %s", tag)
				}
			}
		})
	}
}

// A-10b: a failing callback also answers 303 (to the error page), never a
// page at the callback URL. Decision: the error page is
// /auth/error?reason=<fixed word>, not SECURITY.md's /signin?error=<id>:
// the reason is one of a fixed set of words, so it carries nothing from the
// request either.
func TestA10b_FailingCallbackRedirects(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	cb := b.consent("google", b.begin("google", nil), person("Ann", "ann@example.com"))
	for _, tc := range []struct {
		name   string
		url    *url.URL
		reason string
	}{
		{"bad state", callbackWith(cb, url.Values{"state": {"nope"}}), "invalid"},
		{"no query", callbackWith(cb, url.Values{"state": nil, "code": nil, "iss": nil}), "invalid"},
		{"unknown provider", &url.URL{Path: "/auth/nobody/callback", RawQuery: cb.RawQuery}, "invalid"},
		{"provider error", callbackWith(cb, url.Values{"code": nil, "error": {"access_denied"}}), "denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := b.get(tc.url.String())
			if res.StatusCode != http.StatusSeeOther || errorRedirect(t, res) != "/auth/error?reason="+tc.reason {
				t.Errorf("callback: %d %q, want 303 /auth/error?reason=%s", res.StatusCode, res.Header.Get("Location"), tc.reason)
			}
			if got := res.Header.Get("Referrer-Policy"); got != "no-referrer" {
				t.Errorf("Referrer-Policy %q, want no-referrer", got)
			}
			if strings.Contains(res.Body, "<html") {
				t.Error("the callback rendered a page")
			}
		})
	}
}

// A-10c: a full sign-in with every provider writes none of the code, state,
// provider tokens or session tokens to the logs.
func TestA10c_NoSecretsInLogs(t *testing.T) {
	p := newPortalWith(t, portalOptions{record: true})
	var secrets []string
	for _, name := range providerNames {
		b := p.browser()
		b.get("/login")
		secrets = append(secrets, b.sessionCookie())
		cb := b.consent(name, b.begin(name, nil), person("Ann", "ann@example.com"))
		secrets = append(secrets, b.sessionCookie(), cb.Query().Get("code"), cb.Query().Get("state"))
		if res := b.get(cb.String()); res.Header.Get("Location") != "/accounts" {
			t.Fatalf("%s: callback %d %q", name, res.StatusCode, res.Header.Get("Location"))
		}
		secrets = append(secrets, b.sessionCookie())
		calls := p.back.tokenCalls(name)
		if len(calls) != 1 {
			t.Fatalf("%s: %d token calls, want 1", name, len(calls))
		}
		var tok struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
			IDToken      string `json:"id_token"`
		}
		if err := json.Unmarshal([]byte(calls[0].Body), &tok); err != nil || tok.AccessToken == "" {
			t.Fatalf("%s: token answer %q: %v", name, calls[0].Body, err)
		}
		secrets = append(secrets, tok.AccessToken, tok.RefreshToken, tok.IDToken, calls[0].Form.Get("code_verifier"))
	}
	logs := p.logs.String()
	if !strings.Contains(logs, `"msg":"signed in"`) || !strings.Contains(logs, "/auth/google/callback") {
		t.Fatal("the logs lack the sign-in and access lines; is the log captured?")
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("the logs contain a secret (%.8s...)", s)
		}
	}
}

// cspDirectives parses a Content-Security-Policy into its directives.
func cspDirectives(csp string) map[string][]string {
	out := map[string][]string{}
	for _, d := range strings.Split(csp, ";") {
		f := strings.Fields(d)
		if len(f) > 0 {
			out[f[0]] = f[1:]
		}
	}
	return out
}

// checkSecurityHeaders checks the headers every HTML response carries.
// There is no script nonce: pages have no inline script at all, so
// script-src is 'self' alone, which is stricter than a nonce.
func checkSecurityHeaders(t *testing.T, where string, h http.Header, formOrigin string) {
	t.Helper()
	csp := cspDirectives(h.Get("Content-Security-Policy"))
	for _, bad := range []string{"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"} {
		if slices.Contains(csp["script-src"], bad) {
			t.Errorf("%s: script-src allows %s", where, bad)
		}
	}
	if len(csp["script-src"]) == 0 {
		t.Errorf("%s: no script-src", where)
	}
	for d, want := range map[string]string{"object-src": "'none'", "base-uri": "'none'", "frame-ancestors": "'none'"} {
		if !slices.Equal(csp[d], []string{want}) {
			t.Errorf("%s: %s %v, want %s", where, d, csp[d], want)
		}
	}
	if fa := csp["form-action"]; !slices.Contains(fa, "'self'") || !slices.Contains(fa, formOrigin) {
		t.Errorf("%s: form-action %v, want 'self' and %s", where, fa, formOrigin)
	}
	for k, want := range map[string]string{
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "strict-origin-when-cross-origin",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %s %q, want %q", where, k, got, want)
		}
	}
}

var hstsMaxAge = regexp.MustCompile(`^max-age=(\d+); includeSubDomains`)

// B-10a: security headers on every page; HSTS only when served over https.
func TestB10a_SecurityHeaders(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("google", person("Ann", "ann@example.com"))
	for _, path := range []string{"/login", "/accounts", "/auth/error?reason=invalid", "/nowhere", "/logout"} {
		res := b.get(path)
		checkSecurityHeaders(t, "GET "+path, res.Header, p.emuSrv.URL)
		if h := res.Header.Get("Strict-Transport-Security"); h != "" {
			t.Errorf("GET %s over http sends HSTS %q", path, h)
		}
	}
	t.Run("https", func(t *testing.T) {
		h := p.handlerAt("https://portal.example")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://portal.example/login", nil))
		checkSecurityHeaders(t, "https GET /login", rec.Result().Header, p.emuSrv.URL)
		m := hstsMaxAge.FindStringSubmatch(rec.Result().Header.Get("Strict-Transport-Security"))
		if m == nil {
			t.Fatalf("HSTS %q, want max-age and includeSubDomains", rec.Result().Header.Get("Strict-Transport-Security"))
		}
		if age, _ := strconv.Atoi(m[1]); age < 31536000 {
			t.Errorf("HSTS max-age %d, want at least a year", age)
		}
	})
}

// B-10b: htmx requests get the same headers, and every response varies on
// HX-Request (and Cookie) so no cache serves a fragment for a page.
func TestB10b_HTMXResponsesCarryHeaders(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("google", person("Ann", "ann@example.com"))
	for _, path := range []string{"/login", "/accounts", "/auth/error?reason=invalid"} {
		for _, hx := range []bool{true, false} {
			h := map[string]string{}
			if hx {
				h["HX-Request"] = "true"
			}
			res := b.do(b.newRequest(http.MethodGet, path, "", h))
			where := "GET " + path + " hx=" + strconv.FormatBool(hx)
			checkSecurityHeaders(t, where, res.Header, p.emuSrv.URL)
			var vary []string
			for _, v := range res.Header.Values("Vary") {
				for _, f := range strings.Split(v, ",") {
					vary = append(vary, strings.TrimSpace(f))
				}
			}
			if !slices.Contains(vary, "HX-Request") || !slices.Contains(vary, "Cookie") {
				t.Errorf("%s: Vary %v, want HX-Request and Cookie", where, vary)
			}
		}
	}
}

// B-10e: the connected-accounts page is neither cached nor kept in htmx's
// history.
func TestB10e_AccountsPageNotCached(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	page := b.mustSignIn("google", person("Ann", "ann@example.com"))
	if got := page.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
	if !strings.Contains(page.Body, `hx-history="false"`) {
		t.Error(`/accounts lacks hx-history="false"`)
	}
}

// panicky is a goth.Provider whose code panics where a careless provider
// might (goth's Google on a numeric id_token, K4; goth's X on a missing
// name, K3). The panic value looks like a stack so a leak would show.
type panicky struct{ at string }

const panicValue = "boom: goroutine 7 [running]: provider.go:42 panic"

func (p panicky) Name() string                { return "boom" }
func (p panicky) SetName(string)              {}
func (p panicky) Debug(bool)                  {}
func (p panicky) RefreshTokenAvailable() bool { return false }
func (p panicky) RefreshToken(string) (*oauth2.Token, error) {
	return nil, nil
}
func (p panicky) BeginAuth(state string) (goth.Session, error) {
	if p.at == "begin" {
		panic(panicValue)
	}
	return panickySession("https://idp.example/authorize?state=" + state), nil
}
func (p panicky) UnmarshalSession(s string) (goth.Session, error) { return panickySession(s), nil }
func (p panicky) FetchUser(goth.Session) (goth.User, error)       { panic(panicValue) }

type panickySession string

func (s panickySession) GetAuthURL() (string, error) { return string(s), nil }
func (s panickySession) Marshal() string             { return string(s) }
func (s panickySession) Authorize(goth.Provider, goth.Params) (string, error) {
	panic(panicValue)
}

// B-14a: a panicking provider yields the generic error page with a
// reference, nothing of the panic, and the portal keeps serving.
func TestB14a_ProviderPanicIsContained(t *testing.T) {
	for _, tc := range []struct {
		at     string
		status int
	}{
		// A panic while starting: the last-resort handler's 500 page.
		{"begin", http.StatusInternalServerError},
		// A panic in the exchange (as K3/K4): the provider failed, 502.
		{"authorize", http.StatusBadGateway},
	} {
		t.Run(tc.at, func(t *testing.T) {
			p := newPortalWith(t, portalOptions{extra: func(string) []*providers.Provider {
				return []*providers.Provider{{Provider: panicky{at: tc.at}, Label: "Boom"}}
			}})
			b := p.browser()
			token := b.csrf()
			res := b.post("/auth/boom", url.Values{"csrf_token": {token}})
			page := res
			ref := res.Header.Get("X-Request-ID")
			if tc.at != "begin" {
				if res.StatusCode != http.StatusSeeOther {
					t.Fatalf("begin: %d", res.StatusCode)
				}
				loc, _ := url.Parse(res.Header.Get("Location"))
				cb := b.get("/auth/boom/callback?code=c&state=" + url.QueryEscape(loc.Query().Get("state")))
				if cb.StatusCode != http.StatusSeeOther || errorRedirect(t, cb) != "/auth/error?reason=unavailable" {
					t.Fatalf("callback: %d %q", cb.StatusCode, cb.Header.Get("Location"))
				}
				page = b.get(cb.Header.Get("Location"))
				ref = cb.Header.Get("X-Request-ID") // the failed callback's, carried in ?ref=
			}
			if page.StatusCode != tc.status {
				t.Errorf("status %d, want %d", page.StatusCode, tc.status)
			}
			if ref == "" || !strings.Contains(page.Body, "Reference: <code>"+ref+"</code>") {
				t.Errorf("page lacks the reference %q", ref)
			}
			for _, leak := range []string{"goroutine", "panic", ".go:", "boom:"} {
				if strings.Contains(page.Body, leak) {
					t.Errorf("page shows %q", leak)
				}
			}
			// The operator can find what happened from the reference on
			// the page: the begin panic is logged with its stack, the
			// exchange panic as a failed sign-in, both under that id.
			logs := p.logs.String()
			if tc.at == "begin" && !regexp.MustCompile(`"msg":"panic".*goroutine \d+.*"request_id":"`+ref+`"`).MatchString(logs) {
				t.Error("the panic is not logged with the page's reference")
			}
			if tc.at != "begin" && !regexp.MustCompile(`provider code panicked.*"request_id":"`+ref+`"`).MatchString(logs) {
				t.Error("the exchange panic is not logged with the page's reference")
			}
			if res := p.browser().get("/healthz"); res.StatusCode != http.StatusOK {
				t.Errorf("after the panic /healthz answers %d", res.StatusCode)
			}
			p.browser().mustSignIn("google", person("Ann", "ann@example.com"))
		})
	}
}
