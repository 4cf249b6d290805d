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

const fbToken = "FB-SECRET-TOKEN-777"

// fakeFacebook is the Facebook part of the emulator, mounted under
// /_emulator/facebook as CONTRACTS.md lays it out.
type fakeFacebook struct {
	srv  *httptest.Server
	base string

	mu       sync.Mutex
	me       http.HandlerFunc // replaces /me
	tokenHit int
	meHit    int
	meQuery  url.Values
	meAuth   string
}

func newFakeFacebook(t *testing.T) *fakeFacebook {
	t.Helper()
	f := &fakeFacebook{}
	mux := http.NewServeMux()
	mux.HandleFunc("/_emulator/facebook/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.tokenHit++
		f.mu.Unlock()
		_ = r.ParseForm()
		if r.PostForm.Get("code") != "fb-code" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant"}`)
			return
		}
		writeJSON(w, map[string]any{"access_token": fbToken, "token_type": "bearer", "expires_in": 3600})
	})
	mux.HandleFunc("/_emulator/facebook/me", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.meHit++
		f.meQuery = r.URL.Query()
		f.meAuth = r.Header.Get("Authorization")
		h := f.me
		f.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		writeJSON(w, map[string]any{"id": "10001", "name": "Ada Lovelace", "email": "ada@example.com", "first_name": "Ada"})
	})
	f.srv = httptest.NewServer(mux)
	f.base = f.srv.URL + "/_emulator/facebook"
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeFacebook) provider(t *testing.T, timeout time.Duration) *Provider {
	t.Helper()
	p, err := NewFacebook(FacebookConfig{
		Common: Common{
			ClientID: "fb-app", ClientSecret: "fb-app-secret",
			CallbackURL:       "http://localhost:8080/auth/facebook/callback",
			HTTPClient:        NewHTTPClient(timeout, nil),
			AllowInsecureHTTP: true,
		},
		EmulatorBase: f.base,
	})
	if err != nil {
		t.Fatalf("NewFacebook: %v", err)
	}
	return p
}

// flow runs begin → callback and returns the auth URL and the FetchUser result.
func (f *fakeFacebook) flow(t *testing.T, p *Provider, code string) (string, goth.User, error) {
	t.Helper()
	sess, err := p.BeginAuth("fb-state")
	if err != nil {
		t.Fatalf("BeginAuth: %v", err)
	}
	authURL, _ := sess.GetAuthURL()
	sess2, err := p.UnmarshalSession(sess.Marshal())
	if err != nil {
		t.Fatalf("UnmarshalSession: %v", err)
	}
	if _, err := sess2.Authorize(p, url.Values{"code": {code}}); err != nil {
		return authURL, goth.User{}, err
	}
	u, err := p.FetchUser(sess2)
	return authURL, u, err
}

// A-13b: the whole Facebook flow through EmulatorBase; the Graph /me call
// carries the token in the Authorization header, never in the query (K5).
func TestA13b_FacebookTokenInHeaderNotQuery(t *testing.T) {
	f := newFakeFacebook(t)
	p := f.provider(t, 2*time.Second)
	authURL, u, err := f.flow(t, p, "fb-code")
	if err != nil {
		t.Fatalf("flow: %v", err)
	}
	if !strings.HasPrefix(authURL, f.base+"/dialog/oauth?") {
		t.Errorf("auth URL %q not rewritten to %s/dialog/oauth", authURL, f.base)
	}
	q := authQuery(t, authURL)
	if q.Get("state") != "fb-state" || q.Get("scope") != "email public_profile" || q.Get("response_type") != "code" {
		t.Errorf("auth URL query = %v", q)
	}
	f.mu.Lock()
	tokenHit, meHit, meQuery, meAuth := f.tokenHit, f.meHit, f.meQuery, f.meAuth
	f.mu.Unlock()
	if tokenHit != 1 || meHit != 1 {
		t.Errorf("emulator hits: token %d, me %d; want 1, 1", tokenHit, meHit)
	}
	if meQuery.Has("access_token") || meAuth != "Bearer "+fbToken {
		t.Errorf("/me got query %v and Authorization %q; want the token only in the header (A-13b)", meQuery, meAuth)
	}
	if meQuery.Get("appsecret_proof") == "" {
		t.Error("appsecret_proof dropped")
	}
	// No nickname: goth copies the name there, and Facebook has no handle.
	want := []string{"facebook", "10001", "Ada Lovelace", "ada@example.com", ""}
	if diff := cmp.Diff(want, []string{u.Provider, u.UserID, u.Name, u.Email, u.NickName}); diff != "" {
		t.Errorf("user (-want +got):\n%s", diff)
	}
	if p.EmailVerified(u) {
		t.Error("Facebook email counted as verified")
	}
	if diff := cmp.Diff([]string{f.srv.URL}, p.FormActionOrigins()); diff != "" {
		t.Errorf("FormActionOrigins (-want +got):\n%s", diff)
	}
}

// A-13c: a /me call that times out leaves the token out of every error.
func TestA13c_FacebookTimeoutLeaksNoToken(t *testing.T) {
	f := newFakeFacebook(t)
	f.me = func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}
	p := f.provider(t, 300*time.Millisecond)
	start := time.Now()
	_, _, err := f.flow(t, p, "fb-code")
	if time.Since(start) > 2*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
	assertKind(t, err, ErrTimeout)
	proof := p.Provider.(*facebookProvider).appSecretProof(fbToken)
	assertNoSecrets(t, err, fbToken, proof, "fb-code", "fb-app-secret", "access_token", "appsecret_proof")
	if s := fmt.Sprintf("%+v %#v", err, err); strings.Contains(s, fbToken) {
		t.Errorf("formatted error carries the token: %s", s)
	}
}

func TestFacebookFaults(t *testing.T) {
	tests := []struct {
		name string
		code string
		me   http.HandlerFunc
		want error
	}{
		{"bad code", "wrong", nil, ErrRejected},
		{"missing id", "fb-code", jsonBody(`{"name":"No Id"}`), ErrBadResponse},
		{"me 500", "fb-code", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", 500) }, ErrUnavailable},
		{"me 401", "fb-code", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", http.StatusUnauthorized) }, ErrRejected},
		{"me html", "fb-code", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "<html>") }, ErrBadResponse},
		{"me huge", "fb-code", jsonBody(`{"id":"1","pad":"` + strings.Repeat("x", 2<<20) + `"}`), ErrBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeFacebook(t)
			f.me = tt.me
			_, _, err := f.flow(t, f.provider(t, 2*time.Second), tt.code)
			assertKind(t, err, tt.want)
			assertNoSecrets(t, err, fbToken, tt.code, "fb-app-secret")
		})
	}
}
