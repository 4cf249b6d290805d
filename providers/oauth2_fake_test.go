package providers

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/markbates/goth"
)

// fakePlain answers like Kakao, Naver or GitHub (kind) at the real
// providers' paths, and records what the provider under test sent. A
// test replaces an endpoint's answer with tokenH, userH or emailsH.
type fakePlain struct {
	kind string
	srv  *httptest.Server

	mu         sync.Mutex
	tokenH     http.HandlerFunc
	userH      http.HandlerFunc
	emailsH    http.HandlerFunc
	revokeH    http.HandlerFunc
	tokenForms []url.Values
	tokenBasic bool
	userReqs   []*http.Request
	revokeReqs []recordedRevoke
	tokenHits  int
	userHits   int
	emailsHits int
	revokeHits int
}

// recordedRevoke is a call to a revocation endpoint.
type recordedRevoke struct {
	method, auth, body string
	form               url.Values
}

// clientOf and secretOf are the fake client's credentials per kind.
func clientOf(kind string) string { return kind + "-client" }
func secretOf(kind string) string { return kind + "-secret-0123456789" }

// The tokens the fakes hand out; tests look for them in error texts.
const (
	plainAccess  = "fake-access-token-3f9a"
	plainRefresh = "fake-refresh-token-7c21"
	plainCode    = "fake-code-9d44"
)

// paths of the fake endpoints per kind: token, user, emails, revoke.
var fakePaths = map[string][4]string{
	"kakao":  {"/oauth/token", "/v2/user/me", "", "/v1/user/unlink"},
	"naver":  {"/oauth2.0/token", "/v1/nid/me", "", ""},
	"github": {"/login/oauth/access_token", "/user", "/user/emails", "/applications/github-client/grant"},
}

// defaultUser is each kind's profile answer.
var defaultUser = map[string]string{
	"kakao": `{"id":1234567890,"connected_at":"2026-01-02T03:04:05Z","kakao_account":{"profile_nickname_needs_agreement":false,
		"profile":{"nickname":"Apeach","profile_image_url":"https://k.kakaocdn.net/dn/apeach.jpg","is_default_image":false},
		"has_email":true,"email_needs_agreement":false,"is_email_valid":true,"is_email_verified":true,"email":"apeach@kakao.example"}}`,
	"naver": `{"resultcode":"00","message":"success","response":{"id":"32742776","nickname":"gildong","name":"Hong Gildong",
		"email":"gildong@naver.example","profile_image":"https://phinf.pstatic.net/gildong.png"}}`,
	"github": `{"login":"octocat","id":583231,"name":"The Octocat","email":null,"avatar_url":"https://avatars.githubusercontent.com/u/583231"}`,
}

const defaultGitHubEmails = `[{"email":"octocat@github.example","primary":true,"verified":true,"visibility":"private"}]`

func newFakePlain(t *testing.T, kind string) *fakePlain {
	t.Helper()
	f := &fakePlain{kind: kind}
	paths := fakePaths[kind]
	mux := http.NewServeMux()
	mux.HandleFunc(paths[0], func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		_, _, basic := r.BasicAuth()
		f.mu.Lock()
		f.tokenHits++
		f.tokenForms = append(f.tokenForms, r.PostForm)
		f.tokenBasic = f.tokenBasic || basic
		h := f.tokenH
		f.mu.Unlock()
		if kind == "naver" && r.PostForm.Get("grant_type") == "delete" {
			f.recordRevoke(r, "")
			f.serveRevoke(w, r)
			return
		}
		if h != nil {
			h(w, r)
			return
		}
		f.defaultToken(w, r)
	})
	mux.HandleFunc(paths[1], func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.userHits++
		f.userReqs = append(f.userReqs, r.Clone(r.Context()))
		h := f.userH
		f.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		jsonBody(defaultUser[kind])(w, r)
	})
	if paths[2] != "" {
		mux.HandleFunc(paths[2], func(w http.ResponseWriter, r *http.Request) {
			f.mu.Lock()
			f.emailsHits++
			h := f.emailsH
			f.mu.Unlock()
			if h != nil {
				h(w, r)
				return
			}
			jsonBody(defaultGitHubEmails)(w, r)
		})
	}
	if paths[3] != "" {
		mux.HandleFunc(paths[3], func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			f.recordRevoke(r, string(b))
			f.serveRevoke(w, r)
		})
	}
	f.srv = httptest.NewTLSServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakePlain) recordRevoke(r *http.Request, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revokeHits++
	f.revokeReqs = append(f.revokeReqs, recordedRevoke{method: r.Method, auth: r.Header.Get("Authorization"), body: body, form: r.PostForm})
}

func (f *fakePlain) serveRevoke(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	h := f.revokeH
	f.mu.Unlock()
	if h != nil {
		h(w, r)
		return
	}
	switch f.kind {
	case "kakao":
		jsonBody(`{"id":1234567890}`)(w, r)
	case "naver":
		jsonBody(`{"access_token":"x","result":"success"}`)(w, r)
	case "github":
		w.WriteHeader(http.StatusNoContent)
	}
}

// defaultToken answers a token request as the real provider would: Kakao
// and Naver with JSON and a refresh token (and a new access token for a
// refresh grant), GitHub form-encoded, as it does without Accept: JSON.
func (f *fakePlain) defaultToken(w http.ResponseWriter, r *http.Request) {
	if r.PostForm.Get("grant_type") == "refresh_token" {
		if r.PostForm.Get("refresh_token") != plainRefresh {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant"}`)
			return
		}
		jsonBody(`{"access_token":"refreshed-access","token_type":"bearer","expires_in":3600}`)(w, r)
		return
	}
	switch f.kind {
	case "kakao":
		writeJSON(w, map[string]any{"token_type": "bearer", "access_token": plainAccess, "expires_in": 21599,
			"refresh_token": plainRefresh, "refresh_token_expires_in": 5183999, "scope": "account_email profile_image profile_nickname"})
	case "naver":
		writeJSON(w, map[string]any{"access_token": plainAccess, "refresh_token": plainRefresh, "token_type": "bearer", "expires_in": "3600"})
	case "github":
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		fmt.Fprint(w, url.Values{"access_token": {plainAccess}, "scope": {"read:user,user:email"}, "token_type": {"bearer"}}.Encode())
	}
}

// set changes the fake under its lock.
func (f *fakePlain) set(fn func(f *fakePlain)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// provider returns the provider of the fake's kind with the given client
// timeout, every URL pointing at the fake.
func (f *fakePlain) provider(t *testing.T, timeout time.Duration) *Provider {
	t.Helper()
	c := Common{
		ClientID: clientOf(f.kind), ClientSecret: secretOf(f.kind),
		CallbackURL: "https://portal.example/auth/" + f.kind + "/callback",
		HTTPClient:  NewHTTPClient(timeout, f.srv.Client().Transport),
	}
	u := f.srv.URL
	var p *Provider
	var err error
	switch f.kind {
	case "kakao":
		p, err = NewKakao(KakaoConfig{Common: c, AuthURL: u + "/oauth/authorize", TokenURL: u + "/oauth/token",
			UserURL: u + "/v2/user/me", UnlinkURL: u + "/v1/user/unlink"})
	case "naver":
		p, err = NewNaver(NaverConfig{Common: c, AuthURL: u + "/oauth2.0/authorize", TokenURL: u + "/oauth2.0/token",
			UserURL: u + "/v1/nid/me"})
	case "github":
		p, err = NewGitHub(GitHubConfig{Common: c, AuthURL: u + "/login/oauth/authorize", TokenURL: u + "/login/oauth/access_token",
			UserURL: u + "/user", EmailsURL: u + "/user/emails", RevokeURL: u + "/applications/github-client/grant"})
	}
	if err != nil {
		t.Fatalf("new %s: %v", f.kind, err)
	}
	return p
}

// run does a whole flow through the handler's steps (begin, store,
// restore, exchange the code, fetch the user) and returns the
// authorization URL's query with the callback-side result.
func (f *fakePlain) run(t *testing.T, p *Provider) (url.Values, goth.User, error) {
	t.Helper()
	sess, err := p.BeginAuth("plain-state")
	if err != nil {
		t.Fatalf("BeginAuth: %v", err)
	}
	authURL, _ := sess.GetAuthURL()
	restored, err := p.UnmarshalSession(sess.Marshal())
	if err != nil {
		t.Fatalf("UnmarshalSession: %v", err)
	}
	q := authQuery(t, authURL)
	if _, err := restored.Authorize(p, url.Values{"code": {plainCode}}); err != nil {
		return q, goth.User{}, err
	}
	u, err := p.FetchUser(restored)
	return q, u, err
}

// plainKinds are the providers this file's fake stands in for.
var plainKinds = []string{"kakao", "naver", "github"}
