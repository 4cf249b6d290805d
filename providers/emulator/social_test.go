package emulator

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"
)

// socialFlow gets an access token for person at Kakao, Naver or GitHub
// through the emulator's authorize and token endpoints.
func socialFlow(t *testing.T, f *fixture, provider string, person Person) (string, error) {
	t.Helper()
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, f.client())
	var cfg oauth2.Config
	switch provider {
	case "kakao":
		cfg = kakaoConfig(f, "profile_nickname", "profile_image", "account_email")
	case "naver":
		cfg = socialConfig(f, "naver", "/naver/oauth2.0/authorize", "/naver/oauth2.0/token")
	case "github":
		cfg = githubConfig(f, "read:user", "user:email")
	}
	u, _ := url.Parse(cfg.AuthCodeURL("st"))
	code := f.approve(t, provider, u.Query(), person).Get("code")
	tok, err := cfg.Exchange(ctx, code, oauth2.SetAuthURLParam("state", "st"))
	if err != nil {
		return "", err
	}
	return tok.AccessToken, nil
}

// userPaths are the profile endpoints.
var userPaths = map[string]string{"kakao": "/kakao/v2/user/me", "naver": "/naver/v1/nid/me", "github": "/github/user"}

// TestSocialFaults: the fault switches reach the new endpoints: a status
// on the token endpoint, a replaced subject on the profile endpoint
// ("me" and "userinfo" alike), and hits are counted.
func TestSocialFaults(t *testing.T) {
	for _, provider := range []string{"kakao", "naver", "github"} {
		t.Run(provider, func(t *testing.T) {
			f := newFixture(t)
			f.e.SetFault(provider, "token", Fault{Status: http.StatusBadGateway})
			_, err := socialFlow(t, f, provider, Person{Name: "Pat", Sub: "1001"})
			assertOAuthError(t, err, http.StatusBadGateway, "emulated_fault")
			if n := f.e.Hits(provider, "token"); n != 1 {
				t.Errorf("token hits = %d, want 1", n)
			}
			f.e.ClearFaults()
			tok, err := socialFlow(t, f, provider, Person{Name: "Pat", Sub: "1001"})
			if err != nil {
				t.Fatal(err)
			}
			odd := "not-a-number"
			f.e.SetFault(provider, "userinfo", Fault{Sub: &odd})
			status, body := apiCall(t, f, http.MethodGet, userPaths[provider], "Bearer "+tok)
			id := body.(map[string]any)["id"]
			if provider == "naver" {
				id = body.(map[string]any)["response"].(map[string]any)["id"]
			}
			if status != http.StatusOK || id != "not-a-number" {
				t.Errorf("profile under a Sub fault: %d id %#v, want the string the fault set", status, id)
			}
			f.e.SetFault(provider, "me", Fault{Body: `{"id":`})
			resp, err := f.client().Get(f.e.baseURL + userPaths[provider])
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("profile under a Body fault: %d, want the fault's 200", resp.StatusCode)
			}
			if n := f.e.Hits(provider, "me"); n != 2 {
				t.Errorf("profile hits = %d, want 2", n)
			}
		})
	}
}

// TestSocialStatePersists: people and tokens of the new providers live in
// the database: another emulator on the same database (a restarted
// portal) knows them.
func TestSocialStatePersists(t *testing.T) {
	db := openDB(t)
	first := newFixtureOn(t, db, "")
	tokens := map[string]string{}
	for _, provider := range []string{"kakao", "naver", "github"} {
		tok, err := socialFlow(t, first, provider, Person{Name: "Persistent " + provider, Sub: "4242", Email: "p@example.com", EmailVerified: true})
		if err != nil {
			t.Fatalf("%s: %v", provider, err)
		}
		tokens[provider] = tok
	}
	second := newFixtureOn(t, db, "")
	for provider, tok := range tokens {
		status, body := apiCall(t, second, http.MethodGet, userPaths[provider], "Bearer "+tok)
		b, _ := json.Marshal(body)
		if status != http.StatusOK {
			t.Errorf("%s profile after restart: %d %s", provider, status, b)
		}
		if p := mustPerson(t, second, provider); p.Name != "Persistent "+provider || p.Email != "p@example.com" {
			t.Errorf("%s person after restart: %+v", provider, p)
		}
	}
}
