package providers

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/markbates/goth"
)

func TestOIDCFakeOPSignIn(t *testing.T) {
	op := newFakeOP(t)
	p := op.provider(t, 2*time.Second)
	stored := op.begin(t, p)
	got, err := finish(p, stored, "the-code")
	if err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	u := got.(goth.User)
	want := []string{fakeSubject, "ada@example.com", "Ada Lovelace", "Ada", "Lovelace", "ada", "https://img.example/ada.png", "corp"}
	gotFields := []string{u.UserID, u.Email, u.Name, u.FirstName, u.LastName, u.NickName, u.AvatarURL, u.Provider}
	if diff := cmp.Diff(want, gotFields); diff != "" {
		t.Errorf("user (-want +got):\n%s", diff)
	}
	if !p.EmailVerified(u) {
		t.Error("EmailVerified = false for a trusted provider with email_verified true")
	}
	// The verifier reached the token endpoint, and only there.
	op.mu.Lock()
	form := op.lastTokenForm
	op.mu.Unlock()
	s, _ := unmarshalOIDCSession(stored)
	if form.Get("code_verifier") != s.Verifier || form.Get("redirect_uri") != "https://portal.example/auth/corp/callback" {
		t.Errorf("token request form = %v, want the stored verifier and configured redirect_uri", form)
	}
}

func TestOIDCEmailVerifiedForms(t *testing.T) {
	tests := []struct {
		name  string
		value any
		want  bool
	}{
		{"bool true", true, true},
		{"string true", "true", true},
		{"bool false", false, false},
		{"string false", "false", false},
		{"number", 1, false},
		{"absent", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := newFakeOP(t)
			op.set(func(op *fakeOP) {
				op.mutateClaims = func(c map[string]any) {
					if tt.value == nil {
						delete(c, "email_verified")
					} else {
						c["email_verified"] = tt.value
					}
				}
			})
			p := op.provider(t, 2*time.Second)
			got, err := finish(p, op.begin(t, p), "c")
			if err != nil {
				t.Fatal(err)
			}
			if v := p.EmailVerified(got.(goth.User)); v != tt.want {
				t.Errorf("EmailVerified = %v, want %v", v, tt.want)
			}
		})
	}
}

func TestOIDCTokenEndpointFaults(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    error
	}{
		{"500", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", 500) }, ErrUnavailable},
		{"503 json", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(503)
			w.Write([]byte(`{"error":"temporarily_unavailable"}`))
		}, ErrUnavailable},
		{"invalid_grant", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			w.Write([]byte(`{"error":"invalid_grant"}`))
		}, ErrRejected},
		{"id_token number", jsonBody(`{"access_token":"a","token_type":"Bearer","id_token":123}`), ErrBadResponse},
		{"truncated json", jsonBody(`{"access_token":"a","token_ty`), ErrBadResponse},
		{"access_token number", jsonBody(`{"access_token":1}`), ErrBadResponse},
		{"mac token", jsonBody(`{"access_token":"a","token_type":"mac","id_token":"x.y.z"}`), ErrBadResponse},
		{"no id_token", jsonBody(`{"access_token":"a","token_type":"Bearer"}`), ErrBadResponse},
		{"html 200", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html><body>Sign in</body></html>"))
		}, ErrBadResponse},
		{"garbage id_token", jsonBody(`{"access_token":"a","token_type":"Bearer","id_token":"not.a.jwt"}`), ErrRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := newFakeOP(t)
			op.set(func(op *fakeOP) { op.tokenHandler = tt.handler })
			p := op.provider(t, 2*time.Second)
			_, err := finish(p, op.begin(t, p), "code-xyz")
			assertKind(t, err, tt.want)
			assertNoSecrets(t, err, "code-xyz", fakeSecret)
			if op.userinfoHits.Load() != 0 {
				t.Errorf("userinfo called %d times after a failed exchange", op.userinfoHits.Load())
			}
		})
	}
}

func jsonBody(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(body))
	}
}

func TestOIDCTokenEndpointTimeout(t *testing.T) {
	op := newFakeOP(t)
	op.set(func(op *fakeOP) {
		op.tokenHandler = func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(30 * time.Second):
			}
		}
	})
	const timeout = 500 * time.Millisecond
	p := op.provider(t, timeout)
	stored := op.begin(t, p)
	start := time.Now()
	_, err := finish(p, stored, "c")
	if d := time.Since(start); d > timeout+time.Second {
		t.Errorf("took %v, want within %v", d, timeout+time.Second)
	}
	assertKind(t, err, ErrTimeout)
}

func TestOIDCTokenRedirectNotFollowed(t *testing.T) {
	evilHits := 0
	evil := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { evilHits++ }))
	defer evil.Close()
	op := newFakeOP(t)
	op.set(func(op *fakeOP) {
		op.tokenHandler = func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, evil.URL+"/token", http.StatusFound)
		}
	})
	p := op.provider(t, 2*time.Second)
	_, err := finish(p, op.begin(t, p), "c")
	if err == nil {
		t.Fatal("sign-in succeeded through a redirecting token endpoint")
	}
	assertKind(t, err, ErrUnavailable)
	if evilHits != 0 {
		t.Errorf("redirect target received %d requests", evilHits)
	}
}

func TestOIDCIDTokenClaimChecks(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c map[string]any)
	}{
		{"wrong nonce", func(c map[string]any) { c["nonce"] = "other" }},
		{"no nonce", func(c map[string]any) { delete(c, "nonce") }},
		{"wrong iss", func(c map[string]any) { c["iss"] = "https://evil.example" }},
		{"other aud", func(c map[string]any) { c["aud"] = "other-client" }},
		{"untrusted extra aud", func(c map[string]any) { c["aud"] = []string{fakeClientID, "untrusted"}; c["azp"] = fakeClientID }},
		{"no sub", func(c map[string]any) { delete(c, "sub") }},
		{"long sub", func(c map[string]any) { c["sub"] = strings.Repeat("s", 256) }},
		{"no iat", func(c map[string]any) { delete(c, "iat") }},
		{"iat in future", func(c map[string]any) { c["iat"] = time.Now().Add(time.Hour).Unix() }},
		{"expired", func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }},
		{"azp other", func(c map[string]any) { c["azp"] = "other-client" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := newFakeOP(t)
			op.set(func(op *fakeOP) { op.mutateClaims = tt.mutate })
			p := op.provider(t, 2*time.Second)
			_, err := finish(p, op.begin(t, p), "c")
			assertKind(t, err, ErrRejected)
			if op.userinfoHits.Load() != 0 {
				t.Errorf("userinfo called after a rejected ID token")
			}
		})
	}
}

func TestOIDCUserinfoChecks(t *testing.T) {
	tests := []struct {
		name string
		body string
		want error
	}{
		{"sub mismatch", `{"sub":"someone-else","email":"ada@example.com"}`, ErrRejected},
		{"sub missing", `{"email":"ada@example.com"}`, ErrRejected},
		{"sub wrong type", `{"sub":42}`, ErrRejected},
		{"not json", `<html>`, ErrBadResponse},
		{"json null", `null`, ErrBadResponse},
		{"too large", `{"sub":"` + fakeSubject + `","pad":"` + strings.Repeat("x", 2<<20) + `"}`, ErrBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := newFakeOP(t)
			op.set(func(op *fakeOP) { op.userinfoBody = func(string) string { return tt.body } })
			p := op.provider(t, 2*time.Second)
			_, err := finish(p, op.begin(t, p), "c")
			assertKind(t, err, tt.want)
			assertNoSecrets(t, err, fakeAccess)
		})
	}
}

func TestOIDCUserinfoEmailVerifiedOnlyForSameAddress(t *testing.T) {
	op := newFakeOP(t)
	op.set(func(op *fakeOP) {
		op.mutateClaims = func(c map[string]any) { delete(c, "email_verified") }
		op.userinfoBody = func(sub string) string {
			return `{"sub":"` + sub + `","email":"other@example.com","email_verified":true}`
		}
	})
	p := op.provider(t, 2*time.Second)
	got, err := finish(p, op.begin(t, p), "c")
	if err != nil {
		t.Fatal(err)
	}
	u := got.(goth.User)
	if u.Email != "ada@example.com" || p.EmailVerified(u) {
		t.Errorf("email %q verified=%v; want the ID token's address, unverified", u.Email, p.EmailVerified(u))
	}
}

func TestOIDCDiscoveryIssuerMismatch(t *testing.T) {
	op := newFakeOP(t)
	op.set(func(op *fakeOP) { op.discoveryIss = "https://evil.example" })
	p := op.provider(t, 2*time.Second)
	_, err := p.BeginAuth("s")
	assertKind(t, err, ErrUnavailable)
	if got := p.FormActionOrigins(); len(got) != 1 || got[0] != op.srv.URL {
		t.Errorf("FormActionOrigins = %v, want only the issuer origin", got)
	}
}

func TestOIDCDiscoveryRetryIsThrottled(t *testing.T) {
	op := newFakeOP(t)
	op.set(func(op *fakeOP) { op.discoveryIss = "https://evil.example" })
	p := op.provider(t, 2*time.Second)
	inner := p.Provider.(*oidcProvider)
	now := time.Now()
	inner.now = func() time.Time { return now }

	if _, err := p.BeginAuth("s"); err == nil {
		t.Fatal("BeginAuth succeeded with a bad discovery document")
	}
	if _, err := p.BeginAuth("s"); err == nil {
		t.Fatal("second BeginAuth succeeded")
	}
	if n := op.discoveryHits.Load(); n != 1 {
		t.Errorf("discovery fetched %d times within the retry window, want 1", n)
	}
	// The provider recovers: after the window a later call discovers again.
	op.set(func(op *fakeOP) { op.discoveryIss = "" })
	now = now.Add(discoveryRetry + time.Second)
	if _, err := p.BeginAuth("s"); err != nil {
		t.Fatalf("BeginAuth after the provider recovered: %v", err)
	}
	if n := op.discoveryHits.Load(); n != 2 {
		t.Errorf("discovery fetched %d times, want 2", n)
	}
}

func TestOIDCSessionMarshalHoldsNoTokens(t *testing.T) {
	op := newFakeOP(t)
	p := op.provider(t, 2*time.Second)
	sess, _ := p.UnmarshalSession(op.begin(t, p))
	if _, err := sess.Authorize(p, url.Values{"code": {"c"}}); err != nil {
		t.Fatal(err)
	}
	if m := sess.Marshal(); strings.Contains(m, fakeAccess) || strings.Contains(m, "eyJ") {
		t.Errorf("marshalled session after Authorize carries a token: %s", m)
	}
}
