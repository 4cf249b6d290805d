package handlers_test

// SECURITY.md group E, the provider side, end to end through the portal:
// a provider that fails (E-01), hangs (E-02), answers nonsense (E-03),
// loses its keys (E-05) or has a clock a little off (E-16). What the
// providers package does alone is in providers/reliability_test.go.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkport/linkport/providers/emulator"
)

// send is browser.do for requests sent from several goroutines: it keeps
// no history and reports errors instead of failing the test from a
// goroutine that is not the test's.
func (b *browser) send(req *http.Request) (response, error) {
	res, err := b.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return response{Response: res, Body: string(body)}, err
}

// trySignIn is signIn for goroutines: every step reports an error instead
// of failing the test. It returns the callback's response.
func (b *browser) trySignIn(provider string, person emulator.Person) (response, error) {
	login, err := b.send(b.newRequest(http.MethodGet, "/login", "", nil))
	if err != nil {
		return response{}, err
	}
	m := csrfField.FindStringSubmatch(login.Body)
	if m == nil {
		return response{}, fmt.Errorf("GET /login: %d without a csrf_token", login.StatusCode)
	}
	begin, err := b.send(b.newRequest(http.MethodPost, "/auth/"+provider, url.Values{"csrf_token": {m[1]}}.Encode(), map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "Origin": b.p.srv.URL, "Sec-Fetch-Site": "same-origin",
	}))
	if err != nil {
		return response{}, err
	}
	authURL, err := url.Parse(begin.Header.Get("Location"))
	if begin.StatusCode != http.StatusSeeOther || err != nil {
		return response{}, fmt.Errorf("POST /auth/%s: %d %q", provider, begin.StatusCode, begin.Header.Get("Location"))
	}
	cb, err := b.p.emu.Approve(context.Background(), provider, authURL.Query(), person)
	if err != nil {
		return response{}, fmt.Errorf("approve: %w", err)
	}
	return b.send(b.newRequest(http.MethodGet, cb, "", nil))
}

// wantProviderFailure is wantCallbackFailure for answers that may fail
// at more than one step depending on the provider (a bad token is refused
// by some providers' code, and rejected by others' profile endpoints): any
// of the provider error pages (502, or 504 for a timeout) with a way back.
func wantProviderFailure(t *testing.T, b *browser, res response) {
	t.Helper()
	u, err := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusSeeOther || err != nil || u.Path != "/auth/error" {
		t.Fatalf("callback: %d %q, want 303 to the error page; logs:\n%s", res.StatusCode, res.Header.Get("Location"), b.p.logs.String())
	}
	switch reason := u.Query().Get("reason"); reason {
	case "unavailable", "rejected":
		wantCallbackFailure(t, b, res, reason, http.StatusBadGateway)
	case "timeout":
		wantCallbackFailure(t, b, res, reason, http.StatusGatewayTimeout)
	default:
		t.Fatalf("callback sent the browser to the %q page, want a provider error page", reason)
	}
}

// auditLines counts the log lines of an audit event with an outcome.
func auditLines(p *portal, event, outcome string) int {
	n := 0
	for _, line := range strings.Split(p.logs.String(), "\n") {
		if strings.Contains(line, `"event":"`+event+`"`) && strings.Contains(line, `"outcome":"`+outcome+`"`) {
			n++
		}
	}
	return n
}

// wantHealthy checks that the process still serves: /healthz and /readyz
// answer 200, no request answered 500, and a new person can sign in.
func wantHealthy(t *testing.T, p *portal) {
	t.Helper()
	p.emu.ClearFaults()
	b := p.browser()
	for _, path := range []string{"/healthz", "/readyz"} {
		if res := b.get(path); res.StatusCode != http.StatusOK {
			t.Errorf("%s: %d, want 200", path, res.StatusCode)
		}
	}
	b.mustSignIn("google", person("Healthy", "healthy@example.com"))
	if strings.Contains(p.logs.String(), `"status":500`) {
		t.Errorf("a request answered 500:\n%s", p.logs.String())
	}
}

// E-01a: the token endpoint answers 500 or 503. The callback sends the
// browser to the 502 page with "Try again"; the session is the same one
// (same cookie, nobody signed in); the code was sent exactly once (no
// retry of the exchange, A-11a); one audit line; the process is healthy.
func TestE01a_TokenEndpoint5xx(t *testing.T) {
	for _, tc := range []struct {
		provider string
		status   int
	}{
		{"google", http.StatusInternalServerError}, {"google", http.StatusServiceUnavailable},
		{"facebook", http.StatusInternalServerError}, {"x", http.StatusServiceUnavailable},
	} {
		provider := tc.provider
		t.Run(fmt.Sprint(provider, " ", tc.status), func(t *testing.T) {
			p := newPortal(t)
			b := p.browser()
			b.csrf()
			cookie := b.sessionCookie()
			p.emu.SetFault(provider, "token", emulator.Fault{Status: tc.status})
			res := b.signIn(provider, person("Pat", "pat@example.com"))
			wantCallbackFailure(t, b, res, "unavailable", http.StatusBadGateway)
			page := b.history[len(b.history)-1]
			if !strings.Contains(page.Body, "Try again") || !strings.Contains(page.Body, `href="/login"`) {
				t.Errorf("the 502 page offers no retry: %.500s", page.Body)
			}
			if b.sessionCookie() != cookie || b.userID() != 0 {
				t.Errorf("session after the failure: cookie changed %v, user %d; want the same anonymous session", b.sessionCookie() != cookie, b.userID())
			}
			if hits := p.emu.Hits(provider, "token"); hits != 1 {
				t.Errorf("token endpoint hits = %d, want exactly 1", hits)
			}
			if n := auditLines(p, "sign_in", "failed"); n != 1 {
				t.Errorf("%d sign_in failed audit lines, want 1", n)
			}
			if p.count("users") != 0 || p.count("identities") != 0 {
				t.Error("a failed sign-in wrote a row")
			}
			wantHealthy(t, p)
		})
	}
}

// E-01b: the userinfo endpoint (Google), or the profile endpoint
// (Facebook, X), answers 500 after a successful token exchange: no user,
// no identity, no session, no provider token kept.
func TestE01b_UserinfoFailsAfterToken(t *testing.T) {
	for _, provider := range providerNames {
		t.Run(provider, func(t *testing.T) {
			p := newPortal(t)
			b := p.browser()
			p.emu.SetFault(provider, "userinfo", emulator.Fault{Status: http.StatusInternalServerError})
			res := b.signIn(provider, person("Pat", "pat@example.com"))
			wantCallbackFailure(t, b, res, "unavailable", http.StatusBadGateway)
			if p.emu.Hits(provider, "token") != 1 || p.emu.Hits(provider, "userinfo") != 1 {
				t.Errorf("hits: token %d, userinfo %d; want 1, 1", p.emu.Hits(provider, "token"), p.emu.Hits(provider, "userinfo"))
			}
			for _, table := range []string{"users", "identities", "session_index"} {
				if n := p.count(table); n != 0 {
					t.Errorf("%s: %d rows, want 0", table, n)
				}
			}
			if b.signedIn() {
				t.Error("signed in without a profile")
			}
		})
	}
}

// E-01c: Google is down entirely (discovery, token and userinfo answer
// 503) while Facebook works: Facebook sign-ins are not affected, before
// or after failed Google attempts. Google's discovery is only retried
// every 10 s (providers.discoveryRetry); the "temporarily unavailable"
// mark (the breaker) is tested in breaker_test.go.
func TestE01c_GoogleDownFacebookWorks(t *testing.T) {
	p := newPortal(t)
	for _, ep := range []string{"discovery", "token", "userinfo", "jwks"} {
		p.emu.SetFault("google", ep, emulator.Fault{Status: http.StatusServiceUnavailable})
	}
	for i := range 3 {
		b := p.browser()
		// Google's discovery fails at "Sign in with Google": the 502 page
		// at once, no redirect to the provider.
		res := b.post("/auth/google", url.Values{"csrf_token": {b.csrf()}})
		if res.StatusCode != http.StatusBadGateway {
			t.Errorf("POST /auth/google while Google is down: %d, want 502", res.StatusCode)
		}
		page := b.mustSignIn("facebook", person(fmt.Sprint("Fay ", i), fmt.Sprintf("fay%d@example.com", i)))
		if got := identitiesOn(page.Body); len(got) != 1 || got[0] != "facebook" {
			t.Errorf("identities %v, want facebook", got)
		}
	}
	if n := p.count("users"); n != 3 {
		t.Errorf("%d users, want the 3 Facebook sign-ins", n)
	}
}

// E-02a: the token endpoint hangs (60 s). With a 500 ms provider timeout
// the callback answers within timeout + 1 s, to the 504 page.
func TestE02a_TokenEndpointHangs(t *testing.T) {
	const timeout = 500 * time.Millisecond
	for _, provider := range providerNames {
		t.Run(provider, func(t *testing.T) {
			p := newPortalWith(t, portalOptions{timeout: timeout})
			b := p.browser()
			cb := b.consent(provider, b.begin(provider, nil), person("Pat", "pat@example.com"))
			p.emu.SetFault(provider, "token", emulator.Fault{Delay: time.Minute})
			start := time.Now()
			res := b.get(cb.String())
			if took := time.Since(start); took > timeout+time.Second {
				t.Errorf("callback took %v, want within %v", took, timeout+time.Second)
			}
			wantCallbackFailure(t, b, res, "timeout", http.StatusGatewayTimeout)
		})
	}
}

// E-02b: the userinfo endpoint, or Google's JWKS (fetched at the first
// sign-in), hangs: the same bound.
func TestE02b_UserinfoOrJWKSHangs(t *testing.T) {
	const timeout = 500 * time.Millisecond
	for _, tc := range []struct{ provider, endpoint string }{
		{"google", "userinfo"}, {"google", "jwks"}, {"facebook", "me"}, {"x", "me"},
	} {
		t.Run(tc.provider+" "+tc.endpoint, func(t *testing.T) {
			p := newPortalWith(t, portalOptions{timeout: timeout})
			b := p.browser()
			cb := b.consent(tc.provider, b.begin(tc.provider, nil), person("Pat", "pat@example.com"))
			p.emu.SetFault(tc.provider, tc.endpoint, emulator.Fault{Delay: time.Minute})
			start := time.Now()
			res := b.get(cb.String())
			if took := time.Since(start); took > timeout+time.Second {
				t.Errorf("callback took %v, want within %v", took, timeout+time.Second)
			}
			wantCallbackFailure(t, b, res, "timeout", http.StatusGatewayTimeout)
			if p.count("users") != 0 {
				t.Error("a timed-out sign-in wrote a user")
			}
		})
	}
}

// settledGoroutines waits up to 5 s for the goroutine count to fall to
// at most want and returns the last count.
func settledGoroutines(want int, closeIdle func()) int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(5 * time.Second); n > want && time.Now().Before(deadline); n = runtime.NumGoroutine() {
		closeIdle()
		time.Sleep(20 * time.Millisecond)
	}
	return n
}

// E-02c: after 200 sign-ins that time out at the provider (50 ms timeout,
// token endpoint and userinfo hanging, 20 at a time), the number of
// goroutines returns to what it was: nothing waits on a provider that
// never answers.
func TestE02c_TimeoutsLeakNoGoroutines(t *testing.T) {
	const timeout = 50 * time.Millisecond
	p := newPortalWith(t, portalOptions{timeout: timeout})
	// Our own transport, so its idle connections can be closed before
	// counting (the servers keep a goroutine per open connection).
	tr := &http.Transport{MaxIdleConnsPerHost: 100}
	defer tr.CloseIdleConnections()
	closeIdle := func() {
		tr.CloseIdleConnections()
		p.srv.CloseClientConnections()
	}
	run := func(i int) error {
		b := p.browser()
		b.client.Transport = tr
		provider := providerNames[i%len(providerNames)]
		res, err := b.trySignIn(provider, person(fmt.Sprint("Slow ", i), ""))
		if err != nil {
			return err
		}
		// The timeout page; or, for Google, "unavailable" once a JWKS
		// fetch timed out (refetches are then held back for 10 s).
		loc := res.Header.Get("Location")
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/auth/error?reason=timeout") &&
			!(provider == "google" && strings.HasPrefix(loc, "/auth/error?reason=unavailable")) {
			return fmt.Errorf("callback %d %q, want the timeout page; %s", res.StatusCode, loc, res.Header.Get("X-Request-Id"))
		}
		return nil
	}
	for _, provider := range providerNames {
		p.emu.SetFault(provider, "token", emulator.Fault{Delay: time.Hour})
	}
	// Warm up: discovery, pools and the emulator's tables exist before
	// the baseline is taken.
	for i := range 3 {
		if err := run(i); err != nil {
			t.Fatal(err)
		}
	}
	closeIdle()
	time.Sleep(100 * time.Millisecond)
	baseline := runtime.NumGoroutine()

	const total, parallel = 200, 20
	errs := make(chan error, total)
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallel)
	for i := range total {
		if i == total/2 {
			// The second half hangs after a good token, at the profile.
			wg.Wait()
			p.emu.ClearFaults()
			for _, provider := range providerNames {
				p.emu.SetFault(provider, "userinfo", emulator.Fault{Delay: time.Hour})
			}
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := run(i); err != nil {
				errs <- fmt.Errorf("sign-in %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.Logf("logs:\n%s", p.logs.String())
	}
	const slack = 5
	n := settledGoroutines(baseline+slack, closeIdle)
	t.Logf("goroutines: %d before, %d after %d timed-out sign-ins", baseline, n, total)
	if n > baseline+slack {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("goroutines: %d before, %d after %d timed-out sign-ins (slack %d)\n%s", baseline, n, total, slack, buf)
	}
}

// E-03a: malformed token answers from each provider go to the 502 page,
// never a panic or a 500. Where the answer fails depends on the provider:
// Google and X refuse it at the token step; goth's Facebook code ignores
// token_type and id_token, so Facebook's profile endpoint refuses the
// bogus access token instead ("rejected", also a 502).
func TestE03a_MalformedTokenResponse(t *testing.T) {
	bodies := map[string]string{
		"truncated json":   `{"access_token":"a","token_type":"Bearer","id_tok`,
		"html with 200":    `<!doctype html><html><body><h1>Sign in</h1></body></html>`,
		"access_token 1":   `{"access_token":1}`,
		"token_type mac":   `{"access_token":"a","token_type":"mac","id_token":"x.y.z","expires_in":3600}`,
		"id_token 123":     `{"access_token":"a","token_type":"Bearer","id_token":123}`,
		"empty object":     `{}`,
		"json array":       `[]`,
		"access_token nil": `{"access_token":null,"token_type":"Bearer"}`,
	}
	p := newPortal(t)
	for _, provider := range providerNames {
		for name, body := range bodies {
			t.Run(provider+" "+name, func(t *testing.T) {
				p.emu.SetFault(provider, "token", emulator.Fault{Body: body})
				defer p.emu.ClearFaults()
				b := p.browser()
				b.t = t
				wantProviderFailure(t, b, b.signIn(provider, person("Pat", "pat@example.com")))
			})
		}
	}
	if p.count("users") != 0 {
		t.Errorf("%d users after malformed token answers", p.count("users"))
	}
	if logs := p.logs.String(); strings.Contains(logs, `"msg":"panic"`) || strings.Contains(logs, `"status":500`) {
		t.Errorf("a malformed answer panicked or answered 500:\n%s", logs)
	}
}

// E-03b: malformed or huge profile answers are refused: X's {"data":{}}
// (goth's twitterv2 panics on it, K3), no subject, a null id, a 10 MB
// body. Nothing is written and nothing panics.
func TestE03b_MalformedProfileResponse(t *testing.T) {
	p := newPortal(t)
	empty := ""
	for _, tc := range []struct {
		name, provider string
		fault          emulator.Fault
		reason         string
	}{
		{"x data empty", "x", emulator.Fault{Body: `{"data":{}}`}, "unavailable"},
		{"x data null", "x", emulator.Fault{Body: `{"data":null}`}, "unavailable"},
		{"x id null", "x", emulator.Fault{Body: `{"data":{"id":null,"name":"X","username":"x"}}`}, "unavailable"},
		{"facebook id null", "facebook", emulator.Fault{Body: `{"id":null,"name":"F"}`}, "unavailable"},
		{"facebook no id", "facebook", emulator.Fault{Body: `{"name":"F"}`}, "unavailable"},
		{"google sub missing", "google", emulator.Fault{Body: `{"email":"pat@example.com"}`}, "rejected"},
		{"google sub empty", "google", emulator.Fault{Sub: &empty}, "rejected"},
		{"google 10 MB", "google", emulator.Fault{BodySize: 10 << 20}, "unavailable"},
		{"facebook 10 MB", "facebook", emulator.Fault{BodySize: 10 << 20}, "unavailable"},
		{"x 10 MB", "x", emulator.Fault{BodySize: 10 << 20}, "unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.emu.SetFault(tc.provider, "userinfo", tc.fault)
			defer p.emu.ClearFaults()
			b := p.browser()
			b.t = t
			res := b.signIn(tc.provider, person("Pat", "pat@example.com"))
			wantCallbackFailure(t, b, res, tc.reason, http.StatusBadGateway)
			if p.count("users") != 0 || p.count("identities") != 0 {
				t.Error("a refused profile wrote a row")
			}
		})
	}
	if strings.Contains(p.logs.String(), `"msg":"panic"`) {
		t.Error("a malformed profile panicked")
	}
}

// E-05a: after a first sign-in fetched Google's keys, the JWKS endpoint
// goes down; sign-ins with tokens signed by the cached key succeed and
// the JWKS is not asked.
func TestE05a_JWKSDownCachedKeyWorks(t *testing.T) {
	p := newPortal(t)
	p.browser().mustSignIn("google", person("Ann", "ann@example.com"))
	jwks := p.emu.Hits("google", "jwks")
	p.emu.SetFault("google", "jwks", emulator.Fault{Status: http.StatusServiceUnavailable})
	p.browser().mustSignIn("google", person("Bob", "bob@example.com"))
	if got := p.emu.Hits("google", "jwks"); got != jwks {
		t.Errorf("JWKS hits %d -> %d with the key cached", jwks, got)
	}
}

// E-05b: Google rotates its key while its JWKS endpoint is down: the new
// kid cannot be fetched, so 10 sign-ins in a row fail closed (502 page,
// nobody signed in), and the JWKS is asked once, not once per sign-in
// (providers.keysRetry holds refetches back for 10 s after a failure).
func TestE05b_JWKSDownUnknownKidFailsClosed(t *testing.T) {
	p := newPortal(t)
	p.browser().mustSignIn("google", person("Ann", "ann@example.com"))
	users := p.count("users")
	if err := p.emu.RotateKey(t.Context()); err != nil {
		t.Fatal(err)
	}
	p.emu.SetFault("google", "jwks", emulator.Fault{Status: http.StatusServiceUnavailable})
	before := p.emu.Hits("google", "jwks")
	for i := range 10 {
		b := p.browser()
		b.t = t
		wantCallbackFailure(t, b, b.signIn("google", person(fmt.Sprint("Eve ", i), "")), "unavailable", http.StatusBadGateway)
		if b.signedIn() {
			t.Fatal("signed in with an ID token whose key could not be fetched")
		}
	}
	if got := p.emu.Hits("google", "jwks") - before; got != 1 {
		t.Errorf("10 sign-ins with an unknown kid fetched the JWKS %d times, want 1", got)
	}
	if p.count("users") != users {
		t.Errorf("users %d -> %d", users, p.count("users"))
	}
}

// E-16a, end to end: Google's ID token with iat 90 s ahead or exp 30 s
// ago signs in (leeway 2 min); 5 minutes off is refused.
func TestE16a_IDTokenClockSkew(t *testing.T) {
	p := newPortal(t)
	for _, tc := range []struct {
		name   string
		claims func(now time.Time) map[string]any
		ok     bool
	}{
		{"iat 90s ahead", func(now time.Time) map[string]any { return map[string]any{"iat": now.Add(90 * time.Second).Unix()} }, true},
		{"exp 30s ago", func(now time.Time) map[string]any {
			return map[string]any{"iat": now.Add(-time.Hour).Unix(), "exp": now.Add(-30 * time.Second).Unix()}
		}, true},
		{"iat 5min ahead", func(now time.Time) map[string]any { return map[string]any{"iat": now.Add(5 * time.Minute).Unix()} }, false},
		{"exp 5min ago", func(now time.Time) map[string]any {
			return map[string]any{"iat": now.Add(-time.Hour).Unix(), "exp": now.Add(-5 * time.Minute).Unix()}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.emu.SetFault("google", "token", emulator.Fault{IDTokenClaims: tc.claims(time.Now())})
			defer p.emu.ClearFaults()
			b := p.browser()
			b.t = t
			res := b.signIn("google", person("Skew", ""))
			if tc.ok {
				if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/accounts" || !b.signedIn() {
					t.Fatalf("callback %d %q, want a sign-in; logs:\n%s", res.StatusCode, res.Header.Get("Location"), p.logs.String())
				}
				return
			}
			wantCallbackFailure(t, b, res, "rejected", http.StatusBadGateway)
		})
	}
}
