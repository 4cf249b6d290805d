package providers

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/markbates/goth"
)

// fakeX answers like X's OAuth 2.0 token and users/me endpoints, and checks
// PKCE the way X does.
type fakeX struct {
	srv *httptest.Server

	mu        sync.Mutex
	challenge string // recorded from the authorization URL by the test
	userBody  string
	verifier  string // received at the token endpoint
	pkceOK    bool
	userQuery url.Values
	userAuth  string
}

func newFakeX(t *testing.T) *fakeX {
	t.Helper()
	f := &fakeX{userBody: `{"data":{"id":"2244994945","name":"Ada","username":"ada","profile_image_url":"https://pbs.example/ada.jpg","confirmed_email":"ada@example.com"}}`}
	mux := http.NewServeMux()
	mux.HandleFunc("/2/oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		id, secret, ok := r.BasicAuth()
		f.mu.Lock()
		f.verifier = r.PostForm.Get("code_verifier")
		f.pkceOK = f.verifier != "" && s256(f.verifier) == f.challenge
		pkceOK := f.pkceOK
		f.mu.Unlock()
		if !ok || id != "x-client" || secret != "x-secret" || r.PostForm.Get("client_secret") != "" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		if !pkceOK {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant"}`)
			return
		}
		writeJSON(w, map[string]any{"access_token": "x-access", "token_type": "bearer", "expires_in": 7200, "scope": "users.read tweet.read users.email"})
	})
	mux.HandleFunc("/2/users/me", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.userQuery = r.URL.Query()
		f.userAuth = r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, f.userBody)
	})
	f.srv = httptest.NewTLSServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeX) provider(t *testing.T) *Provider {
	t.Helper()
	p, err := NewX(XConfig{
		Common: Common{
			ClientID: "x-client", ClientSecret: "x-secret",
			CallbackURL: "https://portal.example/auth/x/callback",
			HTTPClient:  NewHTTPClient(2*time.Second, f.srv.Client().Transport),
		},
		AuthURL:   f.srv.URL + "/i/oauth2/authorize",
		TokenURL:  f.srv.URL + "/2/oauth2/token",
		UserURL:   f.srv.URL + "/2/users/me",
		RevokeURL: f.srv.URL + "/2/oauth2/revoke",
	})
	if err != nil {
		t.Fatalf("NewX: %v", err)
	}
	return p
}

// run does a whole X flow and returns the callback-side errors.
func (f *fakeX) run(t *testing.T, p *Provider) (authQ url.Values, user any, err error) {
	t.Helper()
	sess, err := p.BeginAuth("x-state")
	if err != nil {
		t.Fatalf("BeginAuth: %v", err)
	}
	u, _ := sess.GetAuthURL()
	authQ = authQuery(t, u)
	f.mu.Lock()
	f.challenge = authQ.Get("code_challenge")
	f.mu.Unlock()
	sess2, err := p.UnmarshalSession(sess.Marshal())
	if err != nil {
		t.Fatalf("UnmarshalSession: %v", err)
	}
	if _, err := sess2.Authorize(p, url.Values{"code": {"x-code"}}); err != nil {
		return authQ, nil, err
	}
	gu, err := p.FetchUser(sess2)
	return authQ, gu, err
}

func TestXSignIn(t *testing.T) {
	f := newFakeX(t)
	p := f.provider(t)
	if p.Name() != "x" || p.Label != "X (Twitter)" {
		t.Errorf("name, label = %q, %q", p.Name(), p.Label)
	}
	q, got, err := f.run(t, p)
	if err != nil {
		t.Fatalf("flow: %v", err)
	}
	wantQ := map[string]string{"response_type": "code", "scope": "users.read tweet.read users.email", "code_challenge_method": "S256", "state": "x-state"}
	gotQ := map[string]string{}
	for k := range wantQ {
		gotQ[k] = q.Get(k)
	}
	if diff := cmp.Diff(wantQ, gotQ); diff != "" {
		t.Errorf("auth URL (-want +got):\n%s", diff)
	}
	f.mu.Lock()
	pkceOK, userFields, userAuth := f.pkceOK, f.userQuery.Get("user.fields"), f.userAuth
	f.mu.Unlock()
	if !pkceOK {
		t.Error("the verifier at the token endpoint does not match the challenge")
	}
	if userFields != "profile_image_url,confirmed_email" || userAuth != "Bearer x-access" {
		t.Errorf("users/me got user.fields=%q Authorization=%q", userFields, userAuth)
	}
	gu := got.(goth.User)
	want := []string{"x", "2244994945", "Ada", "ada", "https://pbs.example/ada.jpg", "ada@example.com"}
	if diff := cmp.Diff(want, []string{gu.Provider, gu.UserID, gu.Name, gu.NickName, gu.AvatarURL, gu.Email}); diff != "" {
		t.Errorf("user (-want +got):\n%s", diff)
	}
	if p.EmailVerified(gu) {
		t.Error("X email counted as verified; X's trust policy is never")
	}
}

func TestXUserResponses(t *testing.T) {
	tests := []struct {
		name string
		body string
		want error // nil: success
	}{
		{"empty data", `{"data":{}}`, ErrBadResponse},
		{"no data", `{"errors":[{"message":"x"}]}`, ErrBadResponse},
		{"missing name is fine", `{"data":{"id":"1","username":"u"}}`, nil},
		{"id number", `{"data":{"id":1}}`, ErrBadResponse},
		{"name wrong type", `{"data":{"id":"1","name":{}}}`, ErrBadResponse},
		{"id too long", `{"data":{"id":"` + strings.Repeat("9", 256) + `"}}`, ErrBadResponse},
		{"html", `<html></html>`, ErrBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeX(t)
			f.userBody = tt.body
			_, _, err := f.run(t, f.provider(t))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("err = %v, want success", err)
				}
				return
			}
			assertKind(t, err, tt.want)
			assertNoSecrets(t, err, "x-access", "x-secret")
		})
	}
}

func TestXWrongVerifierRejected(t *testing.T) {
	f := newFakeX(t)
	p := f.provider(t)
	sess, _ := p.BeginAuth("s")
	f.mu.Lock()
	f.challenge = "some-other-flow's-challenge"
	f.mu.Unlock()
	// A verifier in the callback query is ignored; the stored one is used.
	_, err := sess.Authorize(p, url.Values{"code": {"x-code"}, "code_verifier": {"attacker"}})
	assertKind(t, err, ErrRejected)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.verifier == "attacker" {
		t.Error("the verifier was taken from the callback query (K2)")
	}
}
