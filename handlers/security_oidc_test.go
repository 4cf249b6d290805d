package handlers_test

// Security tests for the back channel and the ID token: PKCE, nonce, ID
// token validation, userinfo subject, redirect URI, single use of the code,
// TLS and redirects on back-channel calls (SECURITY.md,
// ), and a generic OpenID Connect provider end to end.

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/linkport/linkport/providers"
	"github.com/linkport/linkport/providers/emulator"
)

// pkceProviders are the providers that use PKCE. Facebook is the reviewed
// exception (B-15a): goth's Facebook provider sends no code_challenge and
// Facebook's PKCE support for manual flows is "in testing"; its flows rest
// on the server-held state alone. TestA03a asserts that list, so adding
// PKCE to Facebook (or losing it elsewhere) changes the test.
var pkceProviders = []string{"google", "x"}

var challengeRE = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
var verifierRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// A-03a: each flow carries its own S256 challenge.
func TestA03a_S256ChallengePerFlow(t *testing.T) {
	p := newPortal(t)
	var withPKCE []string
	for _, name := range providerNames {
		b := p.browser()
		q1, q2 := b.begin(name, nil).Query(), b.begin(name, nil).Query()
		if !q1.Has("code_challenge") {
			continue
		}
		withPKCE = append(withPKCE, name)
		for _, q := range []url.Values{q1, q2} {
			if q.Get("code_challenge_method") != "S256" || !challengeRE.MatchString(q.Get("code_challenge")) {
				t.Errorf("%s: code_challenge %q method %q, want 43 base64url characters and S256", name, q.Get("code_challenge"), q.Get("code_challenge_method"))
			}
		}
		if q1.Get("code_challenge") == q2.Get("code_challenge") {
			t.Errorf("%s: two flows share a code_challenge", name)
		}
	}
	if diff := cmp.Diff(pkceProviders, withPKCE); diff != "" {
		t.Errorf("providers sending PKCE (-want +got):\n%s", diff)
	}
}

// A-03b: the verifier reaches the token endpoint and matches the challenge;
// the emulator enforces it, so a tampered verifier fails the sign-in.
func TestA03b_VerifierSentAndEnforced(t *testing.T) {
	for _, name := range pkceProviders {
		t.Run(name+"/genuine", func(t *testing.T) {
			p := newPortalWith(t, portalOptions{record: true})
			b := p.browser()
			authURL := b.begin(name, nil)
			res := b.get(b.consent(name, authURL, person("Ann", "ann@example.com")).String())
			if res.Header.Get("Location") != "/accounts" {
				t.Fatalf("callback: %d %q", res.StatusCode, res.Header.Get("Location"))
			}
			calls := p.back.tokenCalls(name)
			if len(calls) != 1 {
				t.Fatalf("token calls = %d, want 1", len(calls))
			}
			v := calls[0].Form.Get("code_verifier")
			if !verifierRE.MatchString(v) {
				t.Errorf("code_verifier %q is not 43-128 characters of [A-Za-z0-9-._~]", v)
			}
			if s256(v) != authURL.Query().Get("code_challenge") {
				t.Error("BASE64URL(SHA256(code_verifier)) differs from the code_challenge of the flow")
			}
		})
		t.Run(name+"/tampered", func(t *testing.T) {
			p := newPortalWith(t, portalOptions{record: true})
			p.back.setHook(func(c *backCall) *http.Response {
				if isTokenCall(c) {
					c.Form.Set("code_verifier", strings.Repeat("t", 43))
				}
				return nil
			})
			b := p.browser()
			res := b.signIn(name, person("Ann", "ann@example.com"))
			wantCallbackFailure(t, b, res, "rejected", http.StatusBadGateway)
			calls := p.back.tokenCalls(name)
			if len(calls) != 1 || calls[0].Status != http.StatusBadRequest || !strings.Contains(calls[0].Body, "invalid_grant") {
				t.Errorf("token calls %+v, want one answered 400 invalid_grant", calls)
			}
			if b.signedIn() || p.count("identities") != 0 {
				t.Error("a sign-in with a wrong verifier succeeded")
			}
		})
	}
}

// A-03c: a code stolen from one browser cannot be redeemed in another
// browser's flow: the verifier does not match its challenge.
func TestA03c_CodeInjectionFailsPKCE(t *testing.T) {
	for _, name := range pkceProviders {
		t.Run(name, func(t *testing.T) {
			p := newPortal(t)
			a, victim := p.browser(), p.browser()
			stolen := a.consent(name, a.begin(name, nil), person("Mallory", "mallory@example.com")).Query().Get("code")
			own := victim.consent(name, victim.begin(name, nil), person("Vic", "vic@example.com"))
			injected := callbackWith(own, url.Values{"code": {stolen}})
			wantCallbackFailure(t, victim, victim.get(injected.String()), "rejected", http.StatusBadGateway)
			if hits := p.emu.Hits(name, "token"); hits != 1 {
				t.Errorf("token endpoint hits = %d, want 1", hits)
			}
			if victim.signedIn() {
				t.Error("the victim was signed in with an injected code")
			}
			if n := p.count("identities"); n != 0 {
				t.Errorf("identities = %d, want 0", n)
			}
		})
	}
}

// A-03d: the verifier goes to the token endpoint and nowhere else.
func TestA03d_VerifierNeverLeaves(t *testing.T) {
	for _, name := range pkceProviders {
		t.Run(name, func(t *testing.T) {
			p := newPortalWith(t, portalOptions{record: true})
			b := p.browser()
			b.mustSignIn(name, person("Ann", "ann@example.com"))
			b.post("/logout", formWithCSRF(b.get("/accounts").Body))
			calls := p.back.tokenCalls(name)
			if len(calls) != 1 {
				t.Fatalf("token calls = %d, want 1", len(calls))
			}
			v := calls[0].Form.Get("code_verifier")
			if v == "" {
				t.Fatal("no verifier recorded")
			}
			for _, r := range b.history {
				where := r.Request.Method + " " + r.Request.URL.Path
				if strings.Contains(r.Header.Get("Location"), v) {
					t.Errorf("%s: verifier in Location", where)
				}
				for _, c := range r.Header.Values("Set-Cookie") {
					if strings.Contains(c, v) {
						t.Errorf("%s: verifier in Set-Cookie", where)
					}
				}
				if strings.Contains(r.Body, v) {
					t.Errorf("%s: verifier in the body", where)
				}
			}
			if strings.Contains(p.logs.String(), v) {
				t.Error("verifier in the logs")
			}
			for _, c := range p.back.calls {
				if !isTokenCall(&c) && strings.Contains(c.URL.String()+c.Form.Encode(), v) {
					t.Errorf("verifier sent to %s", c.URL.Path)
				}
			}
		})
	}
}

// A-04a, A-04b: the ID token's nonce must be the flow's; otherwise no
// userinfo call and no sign-in.
func TestA04_NonceChecked(t *testing.T) {
	for _, tc := range []struct {
		id     string
		claims map[string]any
	}{
		{"a", map[string]any{"nonce": "not-the-flow-nonce"}},
		{"b", map[string]any{"nonce": nil}},
	} {
		t.Run(tc.id, func(t *testing.T) {
			p := newPortal(t)
			p.emu.SetFault("google", "token", emulator.Fault{IDTokenClaims: tc.claims})
			b := p.browser()
			wantCallbackFailure(t, b, b.signIn("google", person("Ann", "ann@example.com")), "rejected", http.StatusBadGateway)
			if hits := p.emu.Hits("google", "userinfo"); hits != 0 {
				t.Errorf("userinfo hits = %d, want 0", hits)
			}
			if b.signedIn() || p.count("identities") != 0 {
				t.Error("a bad nonce signed someone in")
			}
		})
	}
}

// A-04c: each flow has its own nonce.
func TestA04c_NoncePerFlow(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	n1, n2 := b.begin("google", nil).Query().Get("nonce"), b.begin("google", nil).Query().Get("nonce")
	if len(n1) < 22 || n1 == n2 {
		t.Errorf("nonces %q and %q: want two different values of at least 128 bits", n1, n2)
	}
}

// ID token validation. Each case is a fault of the emulated Google's
// token endpoint and whether the sign-in must succeed.
//
// h: exp has a leeway of 2 minutes (providers.clockSkew, E-16a): 10
// minutes past fails, 2 seconds past signs in.
func TestA05_IDTokenValidation(t *testing.T) {
	const clientID = "linkport-emulator-google"
	for _, tc := range []struct {
		id    string
		fault emulator.Fault
		ok    bool
	}{
		{"a iss evil", emulator.Fault{IDTokenClaims: map[string]any{"iss": "https://evil.example"}}, false},
		{"b aud other", emulator.Fault{IDTokenClaims: map[string]any{"aud": "other-client"}}, false},
		{"b aud untrusted extra", emulator.Fault{IDTokenClaims: map[string]any{"aud": []string{clientID, "untrusted"}}}, false},
		{"c no sub", emulator.Fault{IDTokenClaims: map[string]any{"sub": nil}}, false},
		{"d no iat", emulator.Fault{IDTokenClaims: map[string]any{"iat": nil}}, false},
		{"e alg none", emulator.Fault{IDTokenAlgNone: true}, false},
		{"f wrong key", emulator.Fault{IDTokenWrongKey: true}, false},
		{"g no kid single key", emulator.Fault{IDTokenNoKid: true}, true},
		{"h exp past", emulator.Fault{IDTokenClaims: map[string]any{"exp": time.Now().Add(-10 * time.Minute).Unix()}}, false},
		{"h exp just past, within leeway", emulator.Fault{IDTokenClaims: map[string]any{"exp": time.Now().Add(-2 * time.Second).Unix()}}, true},
		{"control", emulator.Fault{}, true},
	} {
		t.Run(tc.id, func(t *testing.T) {
			p := newPortal(t)
			p.emu.SetFault("google", "token", tc.fault)
			b := p.browser()
			res := b.signIn("google", person("Ann", "ann@example.com"))
			if tc.ok {
				if res.Header.Get("Location") != "/accounts" || !b.signedIn() {
					t.Fatalf("callback %d %q, want a sign-in; logs:\n%s", res.StatusCode, res.Header.Get("Location"), p.logs.String())
				}
				return
			}
			wantCallbackFailure(t, b, res, "rejected", http.StatusBadGateway)
			if b.signedIn() || p.count("identities") != 0 || p.count("users") != 0 {
				t.Error("a rejected ID token signed someone in or wrote a row")
			}
			if hits := p.emu.Hits("google", "userinfo"); hits != 0 {
				t.Errorf("userinfo hits = %d, want 0: no claim from a failed token may be used", hits)
			}
		})
	}
}

// A-05i: after the provider rotates its signing key, the next sign-in
// fetches the new key and succeeds.
func TestA05i_KeyRotation(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("google", person("Ann", "ann@example.com"))
	jwks := p.emu.Hits("google", "jwks")
	if err := p.emu.RotateKey(t.Context()); err != nil {
		t.Fatal(err)
	}
	p.browser().mustSignIn("google", person("Bob", "bob@example.com"))
	if got := p.emu.Hits("google", "jwks"); got <= jwks {
		t.Errorf("JWKS hits %d -> %d: the new key was not fetched", jwks, got)
	}
}

// A-06a: userinfo for another subject than the ID token's is refused.
func TestA06a_UserinfoSubMismatch(t *testing.T) {
	p := newPortal(t)
	other := "999999999999999999999"
	p.emu.SetFault("google", "userinfo", emulator.Fault{Sub: &other})
	b := p.browser()
	wantCallbackFailure(t, b, b.signIn("google", person("Ann", "ann@example.com")), "rejected", http.StatusBadGateway)
	if p.count("users") != 0 || p.count("identities") != 0 {
		t.Errorf("users %d, identities %d after a userinfo sub mismatch; want 0, 0", p.count("users"), p.count("identities"))
	}
	if b.signedIn() {
		t.Error("signed in despite a userinfo sub mismatch")
	}
}

// A-08a: the redirect_uri comes from configuration, not from Host or
// X-Forwarded-* headers.
func TestA08a_RedirectURINotFromHeaders(t *testing.T) {
	p := newPortal(t)
	for _, name := range providerNames {
		t.Run(name, func(t *testing.T) {
			b := p.browser()
			token := b.csrf()
			req := b.newRequest(http.MethodPost, "/auth/"+name, url.Values{"csrf_token": {token}}.Encode(), map[string]string{
				"Content-Type":      "application/x-www-form-urlencoded",
				"Sec-Fetch-Site":    "same-origin",
				"X-Forwarded-Host":  "evil.example",
				"X-Forwarded-Proto": "http",
				"X-Forwarded-For":   "203.0.113.9",
			})
			req.Host = "evil.example"
			// The jar keys cookies by req.Host (Go 1.26); send ours by hand.
			req.AddCookie(&http.Cookie{Name: "linkport", Value: b.sessionCookie()})
			res := b.do(req)
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("begin: %d", res.StatusCode)
			}
			loc, _ := url.Parse(res.Header.Get("Location"))
			if got, want := loc.Query().Get("redirect_uri"), p.srv.URL+"/auth/"+name+"/callback"; got != want {
				t.Errorf("redirect_uri = %q, want %q", got, want)
			}
		})
	}
}

// A-08b: the token request repeats the authorize request's redirect_uri
// exactly (the emulator refuses the code otherwise, so a full sign-in
// passing is the first half of the proof; the recording is the second).
func TestA08b_TokenRedirectURIEqualsAuthorize(t *testing.T) {
	p := newPortalWith(t, portalOptions{record: true})
	for _, name := range providerNames {
		t.Run(name, func(t *testing.T) {
			b := p.browser()
			authURL := b.begin(name, nil)
			res := b.get(b.consent(name, authURL, person("Ann", "ann@example.com")).String())
			if res.Header.Get("Location") != "/accounts" {
				t.Fatalf("callback: %d %q", res.StatusCode, res.Header.Get("Location"))
			}
			calls := p.back.tokenCalls(name)
			if len(calls) == 0 {
				t.Fatal("no token call recorded")
			}
			got := calls[len(calls)-1].Form.Get("redirect_uri")
			if want := authURL.Query().Get("redirect_uri"); got != want || want == "" {
				t.Errorf("token request redirect_uri %q, authorize %q", got, want)
			}
		})
	}
}

// A-08c: a provider cannot be built with a callback URL that is http on a
// public host, or carries a query or fragment.
func TestA08c_CallbackURLMustBeFixedHTTPS(t *testing.T) {
	build := map[string]func(providers.Common) error{
		"oidc": func(c providers.Common) error { _, err := providers.NewOIDC(providers.Google(c)); return err },
		"x":    func(c providers.Common) error { _, err := providers.NewX(providers.XConfig{Common: c}); return err },
		"facebook": func(c providers.Common) error {
			_, err := providers.NewFacebook(providers.FacebookConfig{Common: c})
			return err
		},
	}
	for _, tc := range []struct {
		callback string
		ok       bool
	}{
		{"https://portal.example/auth/p/callback", true},
		{"http://127.0.0.1:8080/auth/p/callback", true}, // loopback, RFC 9700 §2.6
		{"http://portal.example/auth/p/callback", false},
		{"https://portal.example/auth/p/callback?next=/", false},
		{"https://portal.example/auth/p/callback?", false},
		{"https://portal.example/auth/p/callback#x", false},
		{"https://user@portal.example/auth/p/callback", false},
		{"/auth/p/callback", false},
	} {
		for kind, f := range build {
			err := f(providers.Common{ClientID: "id", ClientSecret: "secret", CallbackURL: tc.callback})
			if (err == nil) != tc.ok {
				t.Errorf("%s with callback %q: err = %v, want ok=%v", kind, tc.callback, err, tc.ok)
			}
		}
	}
}

// A-11a: a failed exchange is not retried with the same code; the way back
// starts a new flow with a new state and challenge.
func TestA11a_NoRetryOfTheCode(t *testing.T) {
	p := newPortal(t)
	p.emu.SetFault("google", "token", emulator.Fault{Status: http.StatusInternalServerError})
	b := p.browser()
	first := b.begin("google", nil)
	cb := b.consent("google", first, person("Ann", "ann@example.com"))
	wantCallbackFailure(t, b, b.get(cb.String()), "unavailable", http.StatusBadGateway)
	if hits := p.emu.Hits("google", "token"); hits != 1 {
		t.Errorf("token endpoint hits = %d, want exactly 1", hits)
	}
	page := b.get("/auth/error?reason=unavailable")
	if m := errorActionRE.FindStringSubmatch(page.Body); m == nil || m[1] != "/login" {
		t.Errorf("retry action %v, want a link to /login", m)
	}
	p.emu.ClearFaults()
	// The failed callback cannot be resent.
	wantCallbackFailure(t, b, b.get(cb.String()), "invalid", http.StatusBadRequest)
	if hits := p.emu.Hits("google", "token"); hits != 1 {
		t.Errorf("token endpoint hits after resending = %d, want 1", hits)
	}
	second := b.begin("google", nil)
	for _, k := range []string{"state", "code_challenge", "nonce"} {
		if first.Query().Get(k) == second.Query().Get(k) {
			t.Errorf("the retry reused %s", k)
		}
	}
	if res := b.get(b.consent("google", second, person("Ann", "ann@example.com")).String()); res.Header.Get("Location") != "/accounts" {
		t.Errorf("retry: %d %q, want a sign-in", res.StatusCode, res.Header.Get("Location"))
	}
}

// A-15a: provider endpoints must be https unless explicitly allowed (the
// emulator and tests).
func TestA15a_InsecureEndpointsRefused(t *testing.T) {
	common := func(insecure bool) providers.Common {
		return providers.Common{Name: "p", ClientID: "id", ClientSecret: "secret",
			CallbackURL: "https://portal.example/auth/p/callback", AllowInsecureHTTP: insecure}
	}
	for _, tc := range []struct {
		name  string
		build func(insecure bool) error
	}{
		{"oidc issuer", func(in bool) error {
			_, err := providers.NewOIDC(providers.OIDCConfig{Common: common(in), Issuer: "http://idp.example"})
			return err
		}},
		{"x token URL", func(in bool) error {
			_, err := providers.NewX(providers.XConfig{Common: common(in), TokenURL: "http://api.x.example/2/oauth2/token"})
			return err
		}},
		{"x user URL", func(in bool) error {
			_, err := providers.NewX(providers.XConfig{Common: common(in), UserURL: "http://api.x.example/2/users/me"})
			return err
		}},
		{"facebook base", func(in bool) error {
			_, err := providers.NewFacebook(providers.FacebookConfig{Common: common(in), EmulatorBase: "http://fb.example/facebook"})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.build(false); err == nil {
				t.Error("http:// endpoint accepted without AllowInsecureHTTP")
			}
			if err := tc.build(true); err != nil {
				t.Errorf("with AllowInsecureHTTP: %v (the refusal must come from the scheme alone)", err)
			}
		})
	}
}

// A-15b: a token endpoint that redirects is not followed: the code, the
// verifier and the client secret never reach the redirect's target.
func TestA15b_TokenRedirectNotFollowed(t *testing.T) {
	var evilHits atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		evilHits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"evil","token_type":"Bearer"}`)
	}))
	t.Cleanup(evil.Close)
	for _, name := range providerNames {
		t.Run(name, func(t *testing.T) {
			p := newPortalWith(t, portalOptions{record: true})
			p.back.setHook(func(c *backCall) *http.Response {
				if !isTokenCall(c) {
					return nil
				}
				h := http.Header{"Location": {evil.URL + "/token"}}
				return &http.Response{StatusCode: http.StatusFound, Status: "302 Found", Header: h,
					Body: io.NopCloser(strings.NewReader("")), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
			})
			b := p.browser()
			wantCallbackFailure(t, b, b.signIn(name, person("Ann", "ann@example.com")), "unavailable", http.StatusBadGateway)
			if n := evilHits.Load(); n != 0 {
				t.Errorf("the redirect target received %d requests", n)
			}
			if b.signedIn() || p.count("identities") != 0 {
				t.Error("signed in after a redirecting token endpoint")
			}
		})
	}
}

// The generic OpenID Connect provider signs in end to end through the
// portal against mockoidc, a real OIDC server (discovery, PKCE, JWKS).
func TestGenericOIDCWithMockoidc(t *testing.T) {
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatalf("mockoidc: %v", err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	p := newPortalWith(t, portalOptions{extra: func(base string) []*providers.Provider {
		corp, err := providers.NewOIDC(providers.OIDCConfig{
			Common: providers.Common{
				Name: "corp", Label: "Corp SSO",
				ClientID: m.ClientID, ClientSecret: m.ClientSecret,
				CallbackURL:       base + "/auth/corp/callback",
				HTTPClient:        providers.NewHTTPClient(2*time.Second, nil),
				AllowInsecureHTTP: true, // mockoidc serves plain http on loopback
			},
			Issuer:           m.Issuer(),
			ClientSecretPost: true, // mockoidc reads client credentials from the form only
		})
		if err != nil {
			t.Fatalf("NewOIDC: %v", err)
		}
		return []*providers.Provider{corp}
	}})
	m.QueueUser(&mockoidc.MockUser{Subject: "corp-user-7", Email: "ada@corp.example", EmailVerified: true, PreferredUsername: "ada"})

	b := p.browser()
	login := b.get("/login")
	if !strings.Contains(login.Body, `data-provider="corp"`) || !strings.Contains(login.Body, "Corp SSO") {
		t.Fatal("/login has no Corp SSO button")
	}
	authURL := b.begin("corp", nil)
	if !strings.HasPrefix(authURL.String(), m.Issuer()) || authURL.Query().Get("code_challenge_method") != "S256" {
		t.Errorf("authorize URL %q: want mockoidc with PKCE S256", authURL.Redacted())
	}
	atOP := b.get(authURL.String())
	cb, err := url.Parse(atOP.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(cb.String(), p.srv.URL+"/auth/corp/callback?") {
		t.Fatalf("mockoidc answered %d %q, want a redirect to the corp callback", atOP.StatusCode, atOP.Header.Get("Location"))
	}
	res := b.get(cb.String())
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/accounts" {
		t.Fatalf("callback: %d %q; logs:\n%s", res.StatusCode, res.Header.Get("Location"), p.logs.String())
	}
	page := b.get("/accounts")
	if diff := cmp.Diff([]string{"corp"}, identitiesOn(page.Body)); diff != "" {
		t.Errorf("identities on /accounts (-want +got):\n%s", diff)
	}
	var subject string
	if err := p.db.DB().QueryRow("SELECT subject FROM identities WHERE provider = 'corp'").Scan(&subject); err != nil || subject != "corp-user-7" {
		t.Errorf("stored corp subject %q (%v), want corp-user-7", subject, err)
	}
}
