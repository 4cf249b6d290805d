package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"
)

// socialConfig is a client of the emulated Kakao, Naver or GitHub as the
// portal's providers configure it: credentials in the form.
func socialConfig(f *fixture, provider, authPath, tokenPath string, scopes ...string) oauth2.Config {
	c := testClients[provider]
	return oauth2.Config{
		ClientID: c.ID, ClientSecret: c.Secret, RedirectURL: c.RedirectURI, Scopes: scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL: f.e.baseURL + authPath, TokenURL: f.e.baseURL + tokenPath, AuthStyle: oauth2.AuthStyleInParams,
		},
	}
}

func kakaoConfig(f *fixture, scopes ...string) oauth2.Config {
	return socialConfig(f, "kakao", "/kakao/oauth/authorize", "/kakao/oauth/token", scopes...)
}

// apiCall sends an API request with an Authorization header and returns
// the status and the JSON body decoded with numbers kept as json.Number,
// so tests can tell a JSON number from a string.
func apiCall(t *testing.T, f *fixture, method, path, auth string) (int, any) {
	t.Helper()
	req, _ := http.NewRequest(method, f.e.baseURL+path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := f.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v any
	if len(b) > 0 {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			t.Fatalf("%s %s: %d, body %q is not JSON", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, v
}

// TestKakaoCodeFlow: PKCE, the token answer with a refresh token, and
// /v2/user/me releasing exactly what the consent items allow, the member
// number as a JSON number.
func TestKakaoCodeFlow(t *testing.T) {
	for _, tt := range []struct {
		name      string
		scopes    []string
		verified  bool
		wantEmail bool
	}{
		{"all items, verified", []string{"profile_nickname", "profile_image", "account_email"}, true, true},
		{"all items, unverified", []string{"profile_nickname", "profile_image", "account_email"}, false, true},
		{"email not asked for", []string{"profile_nickname", "profile_image"}, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, f.client())
			cfg := kakaoConfig(f, tt.scopes...)
			verifier := oauth2.GenerateVerifier()
			u, _ := url.Parse(cfg.AuthCodeURL("state-k", oauth2.S256ChallengeOption(verifier)))
			q := f.approve(t, "kakao", u.Query(), Person{Name: "Ryan", Email: "ryan@kakao.example", EmailVerified: tt.verified})
			if q.Get("state") != "state-k" || q.Has("iss") {
				t.Errorf("callback query %v: want the state and no iss", q)
			}
			tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if tok.RefreshToken == "" || tok.Extra("scope") != strings.Join(tt.scopes, " ") || tok.Extra("refresh_token_expires_in") == nil {
				t.Errorf("token answer: refresh %q scope %v", tok.RefreshToken, tok.Extra("scope"))
			}
			people, _ := f.e.People(ctx, "kakao")
			if len(people) != 1 || len(people[0].Sub) != 10 || !digits(people[0].Sub) {
				t.Fatalf("people %+v: want one with a 10-digit member number", people)
			}
			status, body := apiCall(t, f, http.MethodGet, "/kakao/v2/user/me?secure_resource=true", "Bearer "+tok.AccessToken)
			if status != http.StatusOK {
				t.Fatalf("user/me: %d %v", status, body)
			}
			me := body.(map[string]any)
			if me["id"] != json.Number(people[0].Sub) {
				t.Errorf("id = %#v, want the JSON number %s", me["id"], people[0].Sub)
			}
			account := me["kakao_account"].(map[string]any)
			wantProfile := map[string]any{"nickname": "Ryan", "is_default_nickname": false, "is_default_image": false,
				"profile_image_url":   f.e.baseURL + "/avatar/kakao/" + people[0].Sub + ".svg",
				"thumbnail_image_url": f.e.baseURL + "/avatar/kakao/" + people[0].Sub + ".svg"}
			if diff := cmp.Diff(wantProfile, account["profile"]); diff != "" {
				t.Errorf("profile (-want +got):\n%s", diff)
			}
			if tt.wantEmail {
				if account["email"] != "ryan@kakao.example" || account["is_email_verified"] != tt.verified ||
					account["is_email_valid"] != true || account["email_needs_agreement"] != false {
					t.Errorf("kakao_account %v: want the email with is_email_verified %v", account, tt.verified)
				}
			} else if _, has := account["email"]; has || account["email_needs_agreement"] != true {
				t.Errorf("kakao_account %v: want no email and email_needs_agreement", account)
			}
		})
	}
}

// TestKakaoTokenChecks: PKCE is checked when the request had a challenge,
// and the client must authenticate in the form, not with Basic.
func TestKakaoTokenChecks(t *testing.T) {
	f := newFixture(t)
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, f.client())
	cfg := kakaoConfig(f, "profile_nickname")
	verifier := oauth2.GenerateVerifier()
	u, _ := url.Parse(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	ryan := Person{Name: "Ryan", Sub: "1234567890"}
	code := func() string { return f.approve(t, "kakao", u.Query(), ryan).Get("code") }

	_, err := cfg.Exchange(ctx, code(), oauth2.VerifierOption(oauth2.GenerateVerifier()))
	assertOAuthError(t, err, http.StatusBadRequest, "invalid_grant")
	_, err = cfg.Exchange(ctx, code())
	assertOAuthError(t, err, http.StatusBadRequest, "invalid_grant")
	basic := cfg
	basic.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	_, err = basic.Exchange(ctx, code(), oauth2.VerifierOption(verifier))
	assertOAuthError(t, err, http.StatusUnauthorized, "invalid_client")
	// Without PKCE at all (Kakao makes it optional) the flow works.
	plain, _ := url.Parse(cfg.AuthCodeURL("s"))
	if _, err := cfg.Exchange(ctx, f.approve(t, "kakao", plain.Query(), ryan).Get("code")); err != nil {
		t.Errorf("exchange without PKCE: %v", err)
	}
}

// TestKakaoRefreshAndUnlink: a refresh token gives a new access token and
// is never one itself; unlink ends every token of the grant.
func TestKakaoRefreshAndUnlink(t *testing.T) {
	f := newFixture(t)
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, f.client())
	cfg := kakaoConfig(f, "profile_nickname")
	u, _ := url.Parse(cfg.AuthCodeURL("s"))
	tok, err := cfg.Exchange(ctx, f.approve(t, "kakao", u.Query(), Person{Name: "Ryan", Sub: "1234567890"}).Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := apiCall(t, f, http.MethodGet, "/kakao/v2/user/me", "Bearer "+tok.RefreshToken); status != http.StatusUnauthorized {
		t.Errorf("user/me with the refresh token: %d, want 401", status)
	}
	fresh, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil || fresh.AccessToken == tok.AccessToken {
		t.Fatalf("refresh: %v (same token %v)", err, fresh != nil && fresh.AccessToken == tok.AccessToken)
	}
	if status, _ := apiCall(t, f, http.MethodGet, "/kakao/v2/user/me", "Bearer "+fresh.AccessToken); status != http.StatusOK {
		t.Errorf("user/me with the refreshed token: %d", status)
	}
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.AccessToken}).Token()
	assertOAuthError(t, err, http.StatusBadRequest, "invalid_grant")

	status, body := apiCall(t, f, http.MethodPost, "/kakao/v1/user/unlink", "Bearer "+fresh.AccessToken)
	if status != http.StatusOK || body.(map[string]any)["id"] != json.Number("1234567890") {
		t.Fatalf("unlink: %d %v", status, body)
	}
	for _, at := range []string{tok.AccessToken, fresh.AccessToken} {
		if status, _ := apiCall(t, f, http.MethodGet, "/kakao/v2/user/me", "Bearer "+at); status != http.StatusUnauthorized {
			t.Errorf("user/me after unlink: %d, want 401", status)
		}
	}
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	assertOAuthError(t, err, http.StatusBadRequest, "invalid_grant")
	if n := f.e.Hits("kakao", "revoke"); n != 1 {
		t.Errorf("revoke hits = %d, want 1", n)
	}
}

// TestSocialConsentForm: the consent page of Kakao, Naver and GitHub is
// marked as the emulator, offers to withhold the email, and a new person
// made with it unchecked has none; a numeric-id provider refuses an id
// that is not digits.
func TestSocialConsentForm(t *testing.T) {
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	for _, tt := range []struct {
		provider, path string
		query          url.Values
		want           []string
	}{
		{"kakao", "/kakao/oauth/authorize", url.Values{"scope": {"profile_nickname account_email"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}},
			[]string{"not the real Kakao.", "<code>account_email</code>"}},
		{"naver", "/naver/oauth2.0/authorize", url.Values{}, []string{"not the real Naver.", "Naver never tells", "Nickname (optional)"}},
		{"github", "/github/login/oauth/authorize", url.Values{"scope": {"read:user user:email"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}},
			[]string{"not the real GitHub.", "<code>user:email</code>", "Username (optional)"}},
	} {
		t.Run(tt.provider, func(t *testing.T) {
			f := newFixture(t)
			c := testClients[tt.provider]
			q := tt.query
			q.Set("client_id", c.ID)
			q.Set("redirect_uri", c.RedirectURI)
			q.Set("response_type", "code")
			q.Set("state", "st")
			resp, page := getPage(t, f, f.srv.URL+tt.path+"?"+q.Encode())
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("consent page: %d", resp.StatusCode)
			}
			for _, w := range append(tt.want, `name="share_email" type="checkbox" value="on" checked`, `data-testid="emulator-banner"`) {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			post := func(form url.Values) *http.Response {
				t.Helper()
				resp, err := f.client().PostForm(f.srv.URL+tt.path, form)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp
			}
			form := url.Values{}
			for k, v := range q {
				form[k] = v
			}
			form.Set("name", "Withheld Person")
			form.Set("email", "withheld@example.com")
			form.Set("email_verified", "on")
			form.Set("sub", "123456789")
			if res := post(form); res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "code=") {
				t.Fatalf("consent without share_email: %d %s", res.StatusCode, res.Header.Get("Location"))
			}
			form.Set("share_email", "on")
			form.Set("name", "Sharing Person")
			form.Set("email", "shared@example.com")
			form.Set("sub", "223456789")
			if res := post(form); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("consent with share_email: %d", res.StatusCode)
			}
			people, _ := f.e.People(context.Background(), tt.provider)
			got := map[string]string{}
			for _, p := range people {
				got[p.Name] = p.Email
			}
			if diff := cmp.Diff(map[string]string{"Withheld Person": "", "Sharing Person": "shared@example.com"}, got); diff != "" {
				t.Errorf("people's emails (-want +got):\n%s", diff)
			}
			form.Set("sub", "not-a-number")
			form.Set("name", "Odd Id")
			res := post(form)
			if numeric := providers[tt.provider].numericSub; numeric != (res.StatusCode == http.StatusBadRequest) {
				t.Errorf("sub not-a-number: status %d, numeric ids %v", res.StatusCode, numeric)
			}
		})
	}
}
