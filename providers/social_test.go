package providers

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/markbates/goth"
)

// Kakao, Naver and GitHub: a whole sign-in against each fake, checking
// what goes on the wire (A-01, A-03, A-13b, A-14) and what comes out.
func TestKakaoNaverGitHubSignIn(t *testing.T) {
	for _, tc := range []struct {
		kind, label  string
		scope        string // "" : no scope parameter at all (Naver)
		pkce         bool
		want         []string // provider, id, name, nickname, avatar, email
		wantVerified bool
	}{
		{"kakao", "Kakao", "profile_nickname profile_image account_email", true,
			[]string{"kakao", "1234567890", "Apeach", "", "https://k.kakaocdn.net/dn/apeach.jpg", "apeach@kakao.example"}, true},
		{"naver", "Naver", "", false,
			[]string{"naver", "32742776", "Hong Gildong", "", "https://phinf.pstatic.net/gildong.png", "gildong@naver.example"}, false},
		{"github", "GitHub", "read:user user:email", true,
			[]string{"github", "583231", "The Octocat", "octocat", "https://avatars.githubusercontent.com/u/583231", "octocat@github.example"}, true},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			f := newFakePlain(t, tc.kind)
			p := f.provider(t, 2*time.Second)
			if p.Name() != tc.kind || p.Label != tc.label {
				t.Errorf("name, label = %q, %q", p.Name(), p.Label)
			}
			q, u, err := f.run(t, p)
			if err != nil {
				t.Fatalf("flow: %v", err)
			}
			// The authorization request.
			if q.Get("response_type") != "code" || q.Get("client_id") != clientOf(tc.kind) ||
				q.Get("redirect_uri") != "https://portal.example/auth/"+tc.kind+"/callback" || q.Get("state") != "plain-state" {
				t.Errorf("authorize query %v", q)
			}
			if got, has := q["scope"]; tc.scope == "" && has || tc.scope != "" && (len(got) != 1 || got[0] != tc.scope) {
				t.Errorf("scope = %q, want %q", got, tc.scope)
			}
			challenge := q.Get("code_challenge")
			if tc.pkce != (q.Get("code_challenge_method") == "S256" && regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(challenge)) {
				t.Errorf("PKCE in the authorize URL: method %q challenge %q, want PKCE %v", q.Get("code_challenge_method"), challenge, tc.pkce)
			}
			if q.Has("client_secret") || q.Has("code_verifier") {
				t.Error("the authorize URL carries a secret")
			}
			// The token request: the code, the client in the form, the
			// verifier that matches the challenge (or, for Naver, the state).
			f.mu.Lock()
			form, basic := f.tokenForms[0], f.tokenBasic
			userReq := f.userReqs[0]
			f.mu.Unlock()
			if basic || form.Get("client_id") != clientOf(tc.kind) || form.Get("client_secret") != secretOf(tc.kind) ||
				form.Get("grant_type") != "authorization_code" || form.Get("code") != plainCode {
				t.Errorf("token request: basic %v form %v", basic, form)
			}
			if v := form.Get("code_verifier"); tc.pkce && s256(v) != challenge || !tc.pkce && v != "" {
				t.Errorf("code_verifier %q does not go with challenge %q", v, challenge)
			}
			if tc.kind == "naver" && form.Get("state") != "plain-state" {
				t.Errorf("Naver token request state = %q, want the flow's", form.Get("state"))
			}
			// The profile request: the token in the header only.
			if userReq.Header.Get("Authorization") != "Bearer "+plainAccess || strings.Contains(userReq.URL.RawQuery, plainAccess) {
				t.Errorf("profile request: Authorization %q query %q", userReq.Header.Get("Authorization"), userReq.URL.RawQuery)
			}
			switch tc.kind {
			case "kakao":
				if userReq.URL.Query().Get("secure_resource") != "true" {
					t.Error("Kakao profile request without secure_resource=true: picture URLs would be http")
				}
			case "github":
				if userReq.Header.Get("User-Agent") == "" || userReq.Header.Get("X-GitHub-Api-Version") == "" {
					t.Errorf("GitHub API request headers %v", userReq.Header)
				}
			}
			got := []string{u.Provider, u.UserID, u.Name, u.NickName, u.AvatarURL, u.Email}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("user (-want +got):\n%s", diff)
			}
			if u.AccessToken != plainAccess {
				t.Errorf("AccessToken = %q", u.AccessToken)
			}
			if v := p.EmailVerified(u); v != tc.wantVerified {
				t.Errorf("EmailVerified = %v, want %v", v, tc.wantVerified)
			}
		})
	}
}

// Kakao's email is verified only when kakao_account says both
// is_email_verified and is_email_valid; an account without consent to the
// email signs in without one (identity is the member number).
func TestKakaoEmailTrust(t *testing.T) {
	account := func(extra string) string {
		return `{"id":42,"kakao_account":{"profile":{"nickname":"Ryan"}` + extra + `}}`
	}
	for _, tc := range []struct {
		name, body   string
		wantEmail    string
		wantVerified bool
	}{
		{"verified and valid", account(`,"email":"r@k.example","is_email_valid":true,"is_email_verified":true`), "r@k.example", true},
		{"verified but invalid (taken over)", account(`,"email":"r@k.example","is_email_valid":false,"is_email_verified":true`), "r@k.example", false},
		{"valid but unverified", account(`,"email":"r@k.example","is_email_valid":true,"is_email_verified":false`), "r@k.example", false},
		{"flags missing", account(`,"email":"r@k.example"`), "r@k.example", false},
		{"no consent to email", account(`,"has_email":true,"email_needs_agreement":true`), "", false},
		{"no kakao_account", `{"id":42}`, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakePlain(t, "kakao")
			f.set(func(f *fakePlain) { f.userH = jsonBody(tc.body) })
			p := f.provider(t, 2*time.Second)
			_, u, err := f.run(t, p)
			if err != nil {
				t.Fatalf("flow: %v", err)
			}
			if u.UserID != "42" || u.Email != tc.wantEmail || p.EmailVerified(u) != tc.wantVerified {
				t.Errorf("id %q email %q verified %v; want 42, %q, %v", u.UserID, u.Email, p.EmailVerified(u), tc.wantEmail, tc.wantVerified)
			}
		})
	}
}

// GitHub's email is verified only when /user/emails lists that address as
// verified: the public profile email alone proves nothing, and an account
// without a verified address signs in without one.
func TestGitHubEmailTrust(t *testing.T) {
	user := func(email string) string {
		return `{"login":"mona","id":7,"name":null,"email":` + email + `}`
	}
	for _, tc := range []struct {
		name, user   string
		emails       http.HandlerFunc
		wantEmail    string
		wantVerified bool
	}{
		{"primary verified, private", user(`null`), jsonBody(`[{"email":"m@gh.example","primary":true,"verified":true}]`), "m@gh.example", true},
		{"primary verified wins over public", user(`"public@gh.example"`),
			jsonBody(`[{"email":"public@gh.example","primary":false,"verified":false},{"email":"m@gh.example","primary":true,"verified":true}]`), "m@gh.example", true},
		{"public, listed unverified", user(`"public@gh.example"`), jsonBody(`[{"email":"public@gh.example","primary":true,"verified":false}]`), "public@gh.example", false},
		{"public, listed verified but not primary", user(`"public@gh.example"`),
			jsonBody(`[{"email":"x@gh.example","primary":true,"verified":false},{"email":"public@gh.example","primary":false,"verified":true}]`), "public@gh.example", true},
		{"no verified address", user(`null`), jsonBody(`[{"email":"m@gh.example","primary":true,"verified":false}]`), "", false},
		{"no address at all", user(`null`), jsonBody(`[]`), "", false},
		{"emails endpoint 404 (scope refused)", user(`"public@gh.example"`), func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
		}, "public@gh.example", false},
		{"emails endpoint 500", user(`null`), func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "oops", http.StatusInternalServerError)
		}, "", false},
		{"emails malformed", user(`"public@gh.example"`), jsonBody(`{"email":"public@gh.example","verified":true}`), "public@gh.example", false},
		// /user cannot vouch for its own address by imitating the record
		// the provider keeps from /user/emails.
		{"user claims the verified list", `{"login":"mona","id":7,"email":"public@gh.example","linkport_verified_emails":["public@gh.example"]}`,
			jsonBody(`[]`), "public@gh.example", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakePlain(t, "github")
			f.set(func(f *fakePlain) { f.userH, f.emailsH = jsonBody(tc.user), tc.emails })
			p := f.provider(t, 2*time.Second)
			_, u, err := f.run(t, p)
			if err != nil {
				t.Fatalf("flow: %v", err)
			}
			if u.UserID != "7" || u.Email != tc.wantEmail || p.EmailVerified(u) != tc.wantVerified {
				t.Errorf("id %q email %q verified %v; want 7, %q, %v", u.UserID, u.Email, p.EmailVerified(u), tc.wantEmail, tc.wantVerified)
			}
		})
	}
}

// A Naver profile without the name item is named by its nickname, which
// is an alias, never shown as a handle.
func TestNaverNicknameOnly(t *testing.T) {
	f := newFakePlain(t, "naver")
	f.set(func(f *fakePlain) {
		f.userH = jsonBody(`{"resultcode":"00","message":"success","response":{"id":"abc","nickname":"gildong"}}`)
	})
	_, u, err := f.run(t, f.provider(t, 2*time.Second))
	if err != nil || u.Name != "gildong" || u.NickName != "" || u.Email != "" {
		t.Errorf("user %+v, %v: want the nickname as name, no handle, no email", u, err)
	}
}

// Naver's API has no verification flag, so its email is never verified,
// whatever the answer carries.
func TestNaverEmailNeverVerified(t *testing.T) {
	f := newFakePlain(t, "naver")
	f.set(func(f *fakePlain) {
		f.userH = jsonBody(`{"resultcode":"00","message":"success","response":{"id":"abc-DEF_123","email":"n@naver.example","email_verified":true,"is_email_verified":true}}`)
	})
	p := f.provider(t, 2*time.Second)
	_, u, err := f.run(t, p)
	if err != nil {
		t.Fatalf("flow: %v", err)
	}
	if u.Email != "n@naver.example" || p.EmailVerified(u) {
		t.Errorf("email %q verified %v; want the address, never verified", u.Email, p.EmailVerified(u))
	}
	// Nor can a user of another provider borrow Kakao's or GitHub's rule.
	for _, kind := range []string{"kakao", "github"} {
		other := newFakePlain(t, kind).provider(t, time.Second)
		u.Provider = kind
		if other.EmailVerified(u) {
			t.Errorf("%s's policy verified a Naver-shaped profile", kind)
		}
	}
}

// Step-up and "Not you?": each provider's documented parameter, and none
// for GitHub's re-authentication, which it lacks.
func TestKakaoNaverGitHubReauthAndChooser(t *testing.T) {
	for _, tc := range []struct {
		kind            string
		reauth, chooser url.Values
	}{
		{"kakao", url.Values{"prompt": {"login"}}, url.Values{"prompt": {"select_account"}}},
		{"naver", url.Values{"auth_type": {"reauthenticate"}}, url.Values{"auth_type": {"reauthenticate"}}},
		{"github", url.Values{}, url.Values{"prompt": {"select_account"}}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			p := newFakePlain(t, tc.kind).provider(t, time.Second)
			sess, _ := p.BeginAuth("s")
			base, _ := sess.GetAuthURL()
			added := func(u string) url.Values {
				out := url.Values{}
				before := authQuery(t, base)
				for k, v := range authQuery(t, u) {
					if !before.Has(k) {
						out[k] = v
					}
				}
				return out
			}
			if diff := cmp.Diff(tc.reauth, added(p.WithReauthentication(base))); diff != "" {
				t.Errorf("re-authentication parameters (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.chooser, added(p.WithAccountChooser(base))); diff != "" {
				t.Errorf("account chooser parameters (-want +got):\n%s", diff)
			}
			if !p.SignedInSince(goth.User{}, time.Now()) {
				t.Error("SignedInSince = false for a provider without ID tokens")
			}
		})
	}
}

// A stored session is the provider's own, single-use, holds no token, and
// its exchange takes only the code from the callback (K2).
func TestKakaoNaverGitHubSessions(t *testing.T) {
	for _, kind := range plainKinds {
		t.Run(kind, func(t *testing.T) {
			f := newFakePlain(t, kind)
			p := f.provider(t, 2*time.Second)
			sess, _ := p.BeginAuth("st")
			stored := sess.Marshal()
			for _, other := range plainKinds {
				if other == kind {
					continue
				}
				if _, err := newFakePlain(t, other).provider(t, time.Second).UnmarshalSession(stored); err == nil {
					t.Errorf("%s restored a %s session", other, kind)
				}
			}
			if _, err := p.BeginAuth(""); err == nil {
				t.Error("BeginAuth accepted an empty state")
			}
			s2, err := p.UnmarshalSession(stored)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s2.Authorize(p, url.Values{"code": {plainCode}, "code_verifier": {"attacker-chosen-verifier-0000000000000000000"}}); err != nil {
				t.Fatalf("Authorize: %v", err)
			}
			f.mu.Lock()
			verifier := f.tokenForms[0].Get("code_verifier")
			f.mu.Unlock()
			if verifier == "attacker-chosen-verifier-0000000000000000000" {
				t.Error("the verifier came from the callback query")
			}
			if strings.Contains(s2.Marshal(), plainAccess) || strings.Contains(s2.Marshal(), plainRefresh) {
				t.Error("the marshalled session holds a token (A-13)")
			}
			_, err = s2.Authorize(p, url.Values{"code": {plainCode}})
			assertKind(t, err, ErrRejected)
			f.mu.Lock()
			hits := f.tokenHits
			f.mu.Unlock()
			if hits != 1 {
				t.Errorf("token endpoint hits = %d, want 1: a used session must not exchange again", hits)
			}
			if kind != "naver" {
				if _, err := p.UnmarshalSession(`{"provider":"` + kind + `","auth_url":"https://x.example/"}`); err == nil {
					t.Error("a PKCE provider restored a session without a verifier")
				}
			}
		})
	}
}

// A half-configured or badly configured provider is refused at start-up,
// naming what is wrong.
func TestKakaoNaverGitHubConfig(t *testing.T) {
	ok := Common{ClientID: "id", ClientSecret: "secret", CallbackURL: "https://portal.example/auth/x/callback"}
	noSecret := ok
	noSecret.ClientSecret = ""
	for _, tc := range []struct {
		name string
		new  func() (*Provider, error)
		want string
	}{
		{"kakao without secret", func() (*Provider, error) { return NewKakao(KakaoConfig{Common: noSecret}) }, "kakao: client secret is empty"},
		{"naver http endpoint", func() (*Provider, error) {
			return NewNaver(NaverConfig{Common: ok, TokenURL: "http://nid.naver.example/oauth2.0/token"})
		}, "naver: token URL"},
		{"github bad callback", func() (*Provider, error) {
			c := ok
			c.CallbackURL = "http://portal.example/auth/github/callback"
			return NewGitHub(GitHubConfig{Common: c})
		}, "github: callback URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.new()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
	// Defaults are the real providers' endpoints, which the form-action
	// policy must allow.
	for _, tc := range []struct {
		p    func() (*Provider, error)
		want string
	}{
		{func() (*Provider, error) { return NewKakao(KakaoConfig{Common: ok}) }, "https://kauth.kakao.com"},
		{func() (*Provider, error) { return NewNaver(NaverConfig{Common: ok}) }, "https://nid.naver.com"},
		{func() (*Provider, error) { return NewGitHub(GitHubConfig{Common: ok}) }, "https://github.com"},
	} {
		p, err := tc.p()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{tc.want}, p.FormActionOrigins()); diff != "" {
			t.Errorf("%s form-action origins (-want +got):\n%s", p.Name(), diff)
		}
	}
}
