package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"
)

func xConfig(f *fixture, scopes ...string) oauth2.Config {
	c := testClients["x"]
	return oauth2.Config{
		ClientID: c.ID, ClientSecret: c.Secret, RedirectURL: c.RedirectURI, Scopes: scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL: f.e.baseURL + "/x/i/oauth2/authorize", TokenURL: f.e.baseURL + "/x/2/oauth2/token",
			AuthStyle: oauth2.AuthStyleInHeader,
		},
	}
}

func TestXRequiresPKCE(t *testing.T) {
	f := newFixture(t)
	cfg := xConfig(f, "users.read", "tweet.read")
	authURL := cfg.AuthCodeURL("state-x") // no challenge
	resp, err := f.client().Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Query().Get("error") != "invalid_request" ||
		loc.Query().Get("state") != "state-x" || loc.Query().Has("code") {
		t.Fatalf("authorize without PKCE: %d %s, want a redirect with error=invalid_request", resp.StatusCode, loc)
	}
	u, _ := url.Parse(authURL)
	to, err := f.e.Approve(context.Background(), "x", u.Query(), Person{Name: "Someone"})
	if !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("Approve without PKCE: %q, %v; want ErrInvalidRequest", to, err)
	}
	// plain is not S256.
	q := u.Query()
	q.Set("code_challenge", oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier()))
	q.Set("code_challenge_method", "plain")
	if _, err := f.e.Approve(context.Background(), "x", q, Person{Name: "Someone"}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("Approve with plain PKCE: %v; want ErrInvalidRequest", err)
	}
}

func TestXCodeFlow(t *testing.T) {
	for _, tt := range []struct {
		name      string
		scopes    []string
		wantEmail bool
	}{
		{"with users.email", []string{"users.read", "tweet.read", "users.email"}, true},
		{"without users.email", []string{"users.read", "tweet.read"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, f.client())
			cfg := xConfig(f, tt.scopes...)
			verifier := oauth2.GenerateVerifier()
			u, _ := url.Parse(cfg.AuthCodeURL("state-x", oauth2.S256ChallengeOption(verifier)))
			q := f.approve(t, "x", u.Query(), Person{Name: "Alan Turing", Email: "alan@example.com", EmailVerified: true})
			tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			resp, err := cfg.Client(ctx, tok).Get(f.e.baseURL + "/x/2/users/me?user.fields=profile_image_url,confirmed_email")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got struct {
				Data map[string]string `json:"data"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			people, _ := f.e.People(ctx, "x")
			if len(people) != 1 || len(people[0].Sub) != 19 {
				t.Fatalf("people %+v: want one with a 19-digit id", people)
			}
			want := map[string]string{
				"id": people[0].Sub, "name": "Alan Turing", "username": "alanturing",
				"profile_image_url": f.e.baseURL + "/avatar/x/" + people[0].Sub + ".svg",
			}
			if tt.wantEmail {
				want["confirmed_email"] = "alan@example.com"
			}
			if diff := cmp.Diff(want, got.Data); diff != "" {
				t.Errorf("users/me data (-want +got):\n%s", diff)
			}
			// A wrong verifier burns nothing else but fails.
			q2 := f.approve(t, "x", u.Query(), people[0])
			_, err = cfg.Exchange(ctx, q2.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier()))
			assertOAuthError(t, err, http.StatusBadRequest, "invalid_grant")
		})
	}
}
