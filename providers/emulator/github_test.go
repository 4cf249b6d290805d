package emulator

import (
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

func githubConfig(f *fixture, scopes ...string) oauth2.Config {
	return socialConfig(f, "github", "/github/login/oauth/authorize", "/github/login/oauth/access_token", scopes...)
}

// githubTokenRaw posts a token request and returns the status, the
// Content-Type and the body.
func githubTokenRaw(t *testing.T, f *fixture, form url.Values, accept string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.e.baseURL+"/github/login/oauth/access_token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := f.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// TestGitHubTokenAnswers: form-encoded unless JSON is asked for, scopes
// with commas, and refusals with status 200 and GitHub's error codes.
func TestGitHubTokenAnswers(t *testing.T) {
	f := newFixture(t)
	c := testClients["github"]
	verifier := oauth2.GenerateVerifier()
	cfg := githubConfig(f, "read:user", "user:email")
	u, _ := url.Parse(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	code := func() string {
		return f.approve(t, "github", u.Query(), Person{Name: "Mona", Sub: "583231"}).Get("code")
	}
	form := func(code string) url.Values {
		return url.Values{"client_id": {c.ID}, "client_secret": {c.Secret}, "code": {code}, "redirect_uri": {c.RedirectURI},
			"grant_type": {"authorization_code"}, "code_verifier": {verifier}}
	}

	status, ctype, body := githubTokenRaw(t, f, form(code()), "")
	v, _ := url.ParseQuery(body)
	if status != http.StatusOK || !strings.HasPrefix(ctype, "application/x-www-form-urlencoded") ||
		v.Get("access_token") == "" || v.Get("scope") != "read:user,user:email" || v.Get("token_type") != "bearer" {
		t.Errorf("default answer: %d %s %q", status, ctype, body)
	}
	status, ctype, body = githubTokenRaw(t, f, form(code()), "application/json")
	var j map[string]string
	if err := json.Unmarshal([]byte(body), &j); status != http.StatusOK || ctype != "application/json" || err != nil || j["access_token"] == "" {
		t.Errorf("JSON answer: %d %s %q", status, ctype, body)
	}

	for _, tt := range []struct {
		name   string
		change func(url.Values)
		want   string
	}{
		{"used code", func(v url.Values) { v.Set("code", "no-such-code") }, "bad_verification_code"},
		{"wrong verifier", func(v url.Values) { v.Set("code_verifier", oauth2.GenerateVerifier()) }, "bad_verification_code"},
		{"no verifier", func(v url.Values) { v.Del("code_verifier") }, "bad_verification_code"},
		{"other redirect_uri", func(v url.Values) { v.Set("redirect_uri", "http://portal.test/elsewhere") }, "redirect_uri_mismatch"},
		{"wrong secret", func(v url.Values) { v.Set("client_secret", "nope") }, "incorrect_client_credentials"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fv := form(code())
			tt.change(fv)
			status, _, body := githubTokenRaw(t, f, fv, "application/json")
			var e map[string]string
			_ = json.Unmarshal([]byte(body), &e)
			if status != http.StatusOK || e["error"] != tt.want || e["access_token"] != "" {
				t.Errorf("%d %q, want 200 with error %s", status, body, tt.want)
			}
		})
	}
	// x/oauth2 reads the refusal as an error, not as a token.
	_, err := cfg.Exchange(context.WithValue(context.Background(), oauth2.HTTPClient, f.client()), "no-such-code", oauth2.VerifierOption(verifier))
	assertOAuthError(t, err, http.StatusOK, "bad_verification_code")
}

// TestGitHubUserAndEmails: /user with the id as a JSON number and the
// email public only when verified; /user/emails with the verification,
// only with the user:email scope; empty for a person without an email.
func TestGitHubUserAndEmails(t *testing.T) {
	for _, tt := range []struct {
		name       string
		person     Person
		scopes     []string
		wantPublic any
		wantEmails any // nil: 404
	}{
		{"verified", Person{Name: "Mona Lisa", Username: "mona", Email: "mona@gh.example", EmailVerified: true}, []string{"read:user", "user:email"},
			"mona@gh.example", []any{map[string]any{"email": "mona@gh.example", "primary": true, "verified": true, "visibility": "public"}}},
		{"unverified", Person{Name: "Mona Lisa", Username: "mona", Email: "mona@gh.example"}, []string{"read:user", "user:email"},
			nil, []any{map[string]any{"email": "mona@gh.example", "primary": true, "verified": false, "visibility": "private"}}},
		{"no email", Person{Name: "Mona Lisa", Username: "mona"}, []string{"read:user", "user:email"}, nil, []any{}},
		{"no user:email scope", Person{Name: "Mona Lisa", Username: "mona", Email: "mona@gh.example", EmailVerified: true}, []string{"read:user"},
			"mona@gh.example", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, f.client())
			cfg := githubConfig(f, tt.scopes...)
			u, _ := url.Parse(cfg.AuthCodeURL("st"))
			tok, err := cfg.Exchange(ctx, f.approve(t, "github", u.Query(), tt.person).Get("code"))
			if err != nil {
				t.Fatal(err)
			}
			p := mustPerson(t, f, "github")
			// GitHub takes its older "token" scheme as well as Bearer.
			status, body := apiCall(t, f, http.MethodGet, "/github/user", "token "+tok.AccessToken)
			user, _ := body.(map[string]any)
			if status != http.StatusOK || user["id"] != json.Number(p.Sub) || user["login"] != "mona" || user["name"] != "Mona Lisa" ||
				user["email"] != tt.wantPublic || !strings.HasSuffix(user["avatar_url"].(string), "/avatar/github/"+p.Sub+".svg") {
				t.Errorf("/user: %d %v", status, body)
			}
			status, body = apiCall(t, f, http.MethodGet, "/github/user/emails", "Bearer "+tok.AccessToken)
			if tt.wantEmails == nil {
				if status != http.StatusNotFound {
					t.Errorf("/user/emails without user:email: %d, want 404", status)
				}
				return
			}
			if diff := cmp.Diff(tt.wantEmails, body); status != http.StatusOK || diff != "" {
				t.Errorf("/user/emails %d (-want +got):\n%s", status, diff)
			}
		})
	}
}

// TestGitHubDeleteGrant: Basic client authentication, the token in the
// JSON body, 204, and every token of the grant stops working.
func TestGitHubDeleteGrant(t *testing.T) {
	f := newFixture(t)
	c := testClients["github"]
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, f.client())
	cfg := githubConfig(f, "read:user")
	u, _ := url.Parse(cfg.AuthCodeURL("st"))
	mona := Person{Name: "Mona", Sub: "583231"}
	first, err := cfg.Exchange(ctx, f.approve(t, "github", u.Query(), mona).Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := cfg.Exchange(ctx, f.approve(t, "github", u.Query(), mona).Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	del := func(clientID, id, secret, token string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodDelete, f.e.baseURL+"/github/applications/"+clientID+"/grant", strings.NewReader(`{"access_token":"`+token+`"}`))
		req.Header.Set("Content-Type", "application/json")
		if id != "" {
			req.SetBasicAuth(id, secret)
		}
		resp, err := f.client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tt := range []struct {
		name                      string
		clientID, id, secret, tok string
		want                      int
	}{
		{"no Basic", c.ID, "", "", first.AccessToken, http.StatusUnauthorized},
		{"wrong secret", c.ID, c.ID, "nope", first.AccessToken, http.StatusUnauthorized},
		{"other client in the path", "someone-else", c.ID, c.Secret, first.AccessToken, http.StatusNotFound},
		{"unknown token", c.ID, c.ID, c.Secret, "no-such-token", http.StatusNotFound},
	} {
		if got := del(tt.clientID, tt.id, tt.secret, tt.tok); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
	if status, _ := apiCall(t, f, http.MethodGet, "/github/user", "Bearer "+second.AccessToken); status != http.StatusOK {
		t.Fatalf("refused deletions ended the grant: /user %d", status)
	}
	if got := del(c.ID, c.ID, c.Secret, first.AccessToken); got != http.StatusNoContent {
		t.Fatalf("delete grant: %d, want 204", got)
	}
	for _, tok := range []string{first.AccessToken, second.AccessToken} {
		if status, _ := apiCall(t, f, http.MethodGet, "/github/user", "Bearer "+tok); status != http.StatusUnauthorized {
			t.Errorf("/user after the grant was deleted: %d, want 401", status)
		}
	}
}
