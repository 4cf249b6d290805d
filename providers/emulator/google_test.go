package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"
)

// googleConfig is the portal's side of a Google flow against the fixture.
func googleConfig(t *testing.T, f *fixture) (*oidc.Provider, oauth2.Config) {
	t.Helper()
	ctx := oidc.ClientContext(context.Background(), f.client())
	p, err := oidc.NewProvider(ctx, f.e.Issuer())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	c := testClients["google"]
	ep := p.Endpoint()
	// Auto-detection would retry a failed exchange with the other style
	// and double the token hits tests count.
	ep.AuthStyle = oauth2.AuthStyleInHeader
	return p, oauth2.Config{
		ClientID: c.ID, ClientSecret: c.Secret, RedirectURL: c.RedirectURI,
		Endpoint: ep, Scopes: []string{oidc.ScopeOpenID, "email", "profile"},
	}
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)

// submitConsent plays the browser: it loads the consent page at authURL
// and posts the new-person form with the hidden fields the page carries.
func submitConsent(t *testing.T, f *fixture, authURL string, person url.Values) *http.Response {
	t.Helper()
	resp, err := f.client().Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("consent page: status %d: %s", resp.StatusCode, body)
	}
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(string(body), -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	for k, v := range person {
		form[k] = v
	}
	u, _ := url.Parse(authURL)
	u.RawQuery = ""
	resp, err = f.client().PostForm(u.String(), form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestGoogleCodeFlowWithPKCE(t *testing.T) {
	f := newFixture(t)
	ctx := oidc.ClientContext(context.Background(), f.client())
	provider, cfg := googleConfig(t, f)
	verifier := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-1"))

	resp := submitConsent(t, f, authURL, url.Values{"name": {"Ada Lovelace"}, "email": {"ada@example.com"}, "email_verified": {"on"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("consent POST: status %d, want 303", resp.StatusCode)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if got, want := loc.Scheme+"://"+loc.Host+loc.Path, cfg.RedirectURL; got != want {
		t.Fatalf("redirected to %q, want %q", got, want)
	}
	q := loc.Query()
	if q.Get("state") != "state-1" || q.Get("iss") != f.e.Issuer() || len(q.Get("code")) < 43 {
		t.Fatalf("callback query %v: want state-1, iss and a 32-byte code", q)
	}

	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		t.Fatal("no id_token in the token response")
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: cfg.ClientID}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("ID token does not verify: %v", err)
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
		Name          string `json:"name"`
		GivenName     string `json:"given_name"`
		Picture       string `json:"picture"`
		Azp           string `json:"azp"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	people, err := f.e.People(ctx, "google")
	if err != nil || len(people) != 1 {
		t.Fatalf("People = %v, %v; want the one new person", people, err)
	}
	ada := people[0]
	if len(ada.Sub) != 21 {
		t.Errorf("generated Google sub %q, want 21 digits", ada.Sub)
	}
	if idt.Subject != ada.Sub || idt.Nonce != "nonce-1" || idt.Issuer != f.e.Issuer() {
		t.Errorf("ID token sub/nonce/iss = %q/%q/%q", idt.Subject, idt.Nonce, idt.Issuer)
	}
	want := struct {
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
		Name          string `json:"name"`
		GivenName     string `json:"given_name"`
		Picture       string `json:"picture"`
		Azp           string `json:"azp"`
	}{"ada@example.com", true, "Ada Lovelace", "Ada", f.srv.URL + "/avatar/google/" + ada.Sub + ".svg", cfg.ClientID}
	if diff := cmp.Diff(want, claims); diff != "" {
		t.Errorf("ID token claims (-want +got):\n%s", diff)
	}

	ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if ui.Subject != ada.Sub || ui.Email != "ada@example.com" || !ui.EmailVerified {
		t.Errorf("userinfo = %+v", ui)
	}

	// The picture is served.
	pic, err := f.client().Get(claims.Picture)
	if err != nil {
		t.Fatal(err)
	}
	svg, _ := io.ReadAll(pic.Body)
	pic.Body.Close()
	if pic.StatusCode != 200 || pic.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(string(svg), ">AL</text>") {
		t.Errorf("avatar: %d %q %s", pic.StatusCode, pic.Header.Get("Content-Type"), svg)
	}

	// Codes are single use.
	_, err = cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	assertOAuthError(t, err, http.StatusBadRequest, "invalid_grant")

	// Revocation ends the access token.
	rv, err := f.client().PostForm(f.srv.URL+"/google/revoke", url.Values{"token": {tok.AccessToken}})
	if err != nil {
		t.Fatal(err)
	}
	rv.Body.Close()
	if rv.StatusCode != http.StatusOK {
		t.Errorf("revoke: status %d", rv.StatusCode)
	}
	if _, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
		t.Error("userinfo accepted a revoked token")
	}
}

// assertOAuthError checks an oauth2 exchange error.
func assertOAuthError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want an OAuth error %s", err, code)
	}
	if re.Response.StatusCode != status || re.ErrorCode != code {
		t.Fatalf("got %d %q (%s), want %d %q", re.Response.StatusCode, re.ErrorCode, re.ErrorDescription, status, code)
	}
}

func TestGoogleTokenErrors(t *testing.T) {
	f := newFixture(t)
	verifier := oauth2.GenerateVerifier()
	ada := Person{Name: "Ada", Email: "ada@example.com"}
	code := func(t *testing.T, q url.Values) string {
		return f.approve(t, "google", q, ada).Get("code")
	}
	withPKCE := googleQuery(oauth2.S256ChallengeFromVerifier(verifier))
	noPKCE := googleQuery("")
	noPKCE.Del("code_challenge")
	noPKCE.Del("code_challenge_method")
	c := testClients["google"]

	tests := []struct {
		name       string
		query      url.Values
		form       func(code string) url.Values
		basic      [2]string // client ID and secret for HTTP Basic; empty: none
		before     func()
		wantStatus int
		wantError  string
	}{
		{"wrong verifier", withPKCE, func(code string) url.Values {
			return url.Values{"code_verifier": {oauth2.GenerateVerifier()}}
		}, [2]string{c.ID, c.Secret}, nil, 400, "invalid_grant"},
		{"missing verifier", withPKCE, func(string) url.Values { return url.Values{} }, [2]string{c.ID, c.Secret}, nil, 400, "invalid_grant"},
		{"short verifier", withPKCE, func(string) url.Values { return url.Values{"code_verifier": {"abc"}} }, [2]string{c.ID, c.Secret}, nil, 400, "invalid_grant"},
		{"verifier without challenge", noPKCE, func(string) url.Values {
			return url.Values{"code_verifier": {verifier}}
		}, [2]string{c.ID, c.Secret}, nil, 400, "invalid_grant"},
		{"wrong redirect_uri", withPKCE, func(string) url.Values {
			return url.Values{"code_verifier": {verifier}, "redirect_uri": {"http://portal.test/other"}}
		}, [2]string{c.ID, c.Secret}, nil, 400, "invalid_grant"},
		{"wrong client secret", withPKCE, func(string) url.Values {
			return url.Values{"code_verifier": {verifier}}
		}, [2]string{c.ID, "nope"}, nil, 401, "invalid_client"},
		{"wrong secret in form", withPKCE, func(string) url.Values {
			return url.Values{"code_verifier": {verifier}, "client_id": {c.ID}, "client_secret": {"nope"}}
		}, [2]string{}, nil, 401, "invalid_client"},
		{"no client authentication", withPKCE, func(string) url.Values {
			return url.Values{"code_verifier": {verifier}}
		}, [2]string{}, nil, 401, "invalid_client"},
		{"expired code", withPKCE, func(string) url.Values {
			return url.Values{"code_verifier": {verifier}}
		}, [2]string{c.ID, c.Secret}, func() { f.clock.Add(6 * time.Minute) }, 400, "invalid_grant"},
		{"unknown code", withPKCE, func(string) url.Values {
			return url.Values{"code_verifier": {verifier}, "code": {"made-up"}}
		}, [2]string{c.ID, c.Secret}, nil, 400, "invalid_grant"},
		{"repeated code", withPKCE, func(code string) url.Values {
			return url.Values{"code_verifier": {verifier}, "code": {code, code}}
		}, [2]string{c.ID, c.Secret}, nil, 400, "invalid_request"},
		{"wrong grant type", withPKCE, func(string) url.Values {
			return url.Values{"code_verifier": {verifier}, "grant_type": {"password"}}
		}, [2]string{c.ID, c.Secret}, nil, 400, "unsupported_grant_type"},
		{"client secret post works", withPKCE, func(string) url.Values {
			return url.Values{"code_verifier": {verifier}, "client_id": {c.ID}, "client_secret": {c.Secret}}
		}, [2]string{}, nil, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := code(t, tt.query)
			if tt.before != nil {
				tt.before()
			}
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {c.RedirectURI}}
			for k, v := range tt.form(code) {
				form[k] = v
			}
			status, body := postToken(t, f, "/google/token", form, tt.basic)
			if status != tt.wantStatus || body.Error != tt.wantError {
				t.Errorf("got %d %+v, want %d %q", status, body, tt.wantStatus, tt.wantError)
			}
		})
	}
}

// postToken posts a token request and decodes the answer.
func postToken(t *testing.T, f *fixture, path string, form url.Values, basic [2]string) (int, oauthError) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic[0] != "" {
		req.SetBasicAuth(url.QueryEscape(basic[0]), url.QueryEscape(basic[1]))
	}
	resp, err := f.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var e oauthError
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatalf("token answer is not JSON: %v", err)
	}
	return resp.StatusCode, e
}
