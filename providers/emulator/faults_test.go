package emulator

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"
)

// googleLogin runs a Google code flow with PKCE and returns the token
// answer (or the exchange error) and the ID token verification error.
func googleLogin(t *testing.T, f *fixture) (*oauth2.Token, string, error, error) {
	t.Helper()
	ctx := oidc.ClientContext(context.Background(), f.client())
	provider, cfg := googleConfig(t, f)
	verifier := oauth2.GenerateVerifier()
	u, _ := url.Parse(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-1")))
	q := f.approve(t, "google", u.Query(), Person{Sub: "1234", Name: "Ada", Email: "ada@example.com"})
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, "", err, nil
	}
	raw, _ := tok.Extra("id_token").(string)
	_, verr := provider.Verifier(&oidc.Config{ClientID: cfg.ClientID}).Verify(ctx, raw)
	return tok, raw, nil, verr
}

// jwtPart decodes the header (0) or payload (1) of a compact JWT.
func jwtPart(t *testing.T, raw string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWT: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIDTokenFaults(t *testing.T) {
	tests := []struct {
		name       string
		fault      Fault
		wantVerify bool                                     // does go-oidc accept the token?
		check      func(header, claims map[string]any) bool // what the fault did
	}{
		{"none", Fault{}, true, func(h, c map[string]any) bool { return c["nonce"] == "nonce-1" && h["kid"] != nil }},
		{"nonce", Fault{IDTokenClaims: map[string]any{"nonce": "x"}}, true, func(h, c map[string]any) bool { return c["nonce"] == "x" }},
		{"no nonce", Fault{IDTokenClaims: map[string]any{"nonce": nil}}, true, func(h, c map[string]any) bool { _, ok := c["nonce"]; return !ok }},
		{"iss", Fault{IDTokenClaims: map[string]any{"iss": "https://evil.example"}}, false, func(h, c map[string]any) bool { return c["iss"] == "https://evil.example" }},
		{"aud", Fault{IDTokenClaims: map[string]any{"aud": "other"}}, false, func(h, c map[string]any) bool { return c["aud"] == "other" }},
		{"aud list", Fault{IDTokenClaims: map[string]any{"aud": []string{"google-client", "untrusted"}}}, true, func(h, c map[string]any) bool { return len(c["aud"].([]any)) == 2 }},
		{"no sub", Fault{IDTokenClaims: map[string]any{"sub": nil}}, true, func(h, c map[string]any) bool { _, ok := c["sub"]; return !ok }},
		{"no iat", Fault{IDTokenClaims: map[string]any{"iat": nil}}, true, func(h, c map[string]any) bool { _, ok := c["iat"]; return !ok }},
		{"expired", Fault{IDTokenClaims: map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}}, false, func(h, c map[string]any) bool { return true }},
		{"alg none", Fault{IDTokenAlgNone: true}, false, func(h, c map[string]any) bool { return h["alg"] == "none" }},
		{"wrong key", Fault{IDTokenWrongKey: true}, false, func(h, c map[string]any) bool { return h["alg"] == "RS256" }},
		{"no kid", Fault{IDTokenNoKid: true}, true, func(h, c map[string]any) bool { _, ok := h["kid"]; return !ok }},
	}
	f := newFixture(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.e.SetFault("google", "token", tt.fault)
			defer f.e.ClearFaults()
			_, raw, err, verr := googleLogin(t, f)
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if (verr == nil) != tt.wantVerify {
				t.Errorf("go-oidc Verify error = %v, want accepted=%v", verr, tt.wantVerify)
			}
			if !tt.check(jwtPart(t, raw, 0), jwtPart(t, raw, 1)) {
				t.Errorf("fault not visible in header %v claims %v", jwtPart(t, raw, 0), jwtPart(t, raw, 1))
			}
		})
	}
}

func TestResponseFaults(t *testing.T) {
	f := newFixture(t)

	f.e.SetFault("google", "token", Fault{Status: http.StatusServiceUnavailable})
	_, _, err, _ := googleLogin(t, f)
	assertOAuthError(t, err, http.StatusServiceUnavailable, "emulated_fault")

	f.e.SetFault("google", "token", Fault{Body: `{"access_token":1}`})
	_, _, err, _ = googleLogin(t, f)
	if err == nil {
		t.Error(`{"access_token":1} was accepted`)
	}
	f.e.SetFault("google", "token", Fault{Body: `{"access_tok`, Status: 200})
	if _, _, err, _ = googleLogin(t, f); err == nil {
		t.Error("truncated JSON was accepted")
	}
	if got := f.e.Hits("google", "token"); got != 3 {
		t.Errorf("token hits = %d, want 3 (faulted requests count)", got)
	}
	f.e.ClearFaults()
	f.e.ResetHits()
	if got := f.e.Hits("google", "token"); got != 0 {
		t.Errorf("token hits after ResetHits = %d", got)
	}

	// BodySize pads a valid answer.
	tok, _, err, _ := googleLogin(t, f)
	if err != nil {
		t.Fatal(err)
	}
	const size = 1 << 20
	f.e.SetFault("google", "userinfo", Fault{BodySize: size})
	body := userinfo(t, f, "/google/userinfo", tok.AccessToken)
	var m map[string]any
	if len(body) != size || json.Unmarshal(body, &m) != nil || m["sub"] != "1234" {
		t.Errorf("padded userinfo: %d bytes, sub %v; want %d bytes of valid JSON", len(body), m["sub"], size)
	}

	// Sub replaces the subject in every provider's user endpoint.
	evil := "666"
	f.e.SetFault("google", "userinfo", Fault{Sub: &evil})
	if err := json.Unmarshal(userinfo(t, f, "/google/userinfo", tok.AccessToken), &m); err != nil || m["sub"] != "666" {
		t.Errorf("google Sub fault: %v %v", m, err)
	}
	if got := f.e.Hits("google", "me"); got != 2 {
		t.Errorf(`Hits("google","me") = %d, want the userinfo count 2`, got)
	}
}

func userinfo(t *testing.T, f *fixture, path, token string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := f.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

func TestSubFaultFacebookAndX(t *testing.T) {
	f := newFixture(t)
	evil := "666"
	f.e.SetFault("facebook", "me", Fault{Sub: &evil})
	f.e.SetFault("x", "userinfo", Fault{Sub: &evil}) // "userinfo" names X's users/me too
	p := gothFacebook(f)
	sess, _ := p.BeginAuth("s")
	au, _ := sess.GetAuthURL()
	u, _ := url.Parse(au)
	q := f.approve(t, "facebook", u.Query(), Person{Name: "F"})
	if _, err := sess.Authorize(p, q); err != nil {
		t.Fatal(err)
	}
	if user, err := p.FetchUser(sess); err != nil || user.UserID != "666" {
		t.Errorf("facebook Sub fault: %q %v", user.UserID, err)
	}

	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, f.client())
	cfg := xConfig(f, "users.read")
	v := oauth2.GenerateVerifier()
	xu, _ := url.Parse(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
	tok, err := cfg.Exchange(ctx, f.approve(t, "x", xu.Query(), Person{Name: "X"}).Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	var m struct{ Data map[string]any }
	if err := json.Unmarshal(userinfo(t, f, "/x/2/users/me", tok.AccessToken), &m); err != nil || m.Data["id"] != "666" {
		t.Errorf("x Sub fault: %v %v", m, err)
	}
}

func TestDelayHonoursCancellation(t *testing.T) {
	f := newFixture(t)
	f.e.SetFault("google", "jwks", Fault{Delay: time.Minute})
	for name, c := range map[string]*http.Client{
		"network":   f.client(),
		"Transport": {Transport: f.e.Transport(nil)},
		// http.Client.Timeout reaches the handler as context cancellation.
		"Transport with Client.Timeout": {Transport: f.e.Transport(nil), Timeout: 100 * time.Millisecond},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", f.e.baseURL+"/google/jwks", nil)
			start := time.Now()
			resp, err := c.Do(req)
			if err == nil {
				resp.Body.Close()
				t.Fatal("a delayed answer arrived before the deadline")
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want a deadline error", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v; the delay did not end with the context", d)
			}
		})
	}
}

func TestRedirectParamsFault(t *testing.T) {
	f := newFixture(t)
	q := googleQuery(oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier()))
	f.e.SetFault("google", "authorize", Fault{RedirectParams: url.Values{"iss": {"https://evil.example"}}})
	if got := f.approve(t, "google", q, Person{Name: "A"}).Get("iss"); got != "https://evil.example" {
		t.Errorf("iss = %q", got)
	}
	f.e.SetFault("google", "authorize", Fault{RedirectParams: url.Values{"iss": nil}})
	if got := f.approve(t, "google", q, Person{Name: "B"}); got.Has("iss") {
		t.Errorf("iss not removed: %v", got)
	}
}

func TestKeyRotation(t *testing.T) {
	f := newFixture(t)
	_, raw1, err, verr := googleLogin(t, f)
	if err != nil || verr != nil {
		t.Fatal(err, verr)
	}
	if err := f.e.RotateKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, raw2, err, verr := googleLogin(t, f)
	if err != nil || verr != nil {
		t.Fatalf("after rotation: %v %v", err, verr)
	}
	kid1, kid2 := jwtPart(t, raw1, 0)["kid"], jwtPart(t, raw2, 0)["kid"]
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(userinfo(t, f, "/google/jwks", ""), &set); err != nil {
		t.Fatal(err)
	}
	var kids []any
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	if diff := cmp.Diff([]any{kid2, kid1}, kids); diff != "" || kid1 == kid2 {
		t.Errorf("JWKS kids after rotation (-want +got):\n%s", diff)
	}
}
