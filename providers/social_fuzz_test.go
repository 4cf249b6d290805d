package providers

import (
	"strings"
	"testing"

	"github.com/markbates/goth"
)

// FuzzKakaoNaverGitHubProfiles checks that mapping any profile body of
// Kakao, Naver or GitHub never panics, that an accepted user always has a
// usable id, and that the trust policies never panic on what was accepted.
func FuzzKakaoNaverGitHubProfiles(f *testing.F) {
	for _, seed := range []string{
		`{"id":1,"kakao_account":{"email":"a@b.example","is_email_valid":true,"is_email_verified":true}}`,
		`{"id":"1"}`, `{"id":1.5}`, `{"id":-1}`, `{"id":1,"kakao_account":null}`, `{"id":1,"kakao_account":{"profile":[]}}`,
		`{"resultcode":"00","response":{"id":"abc","email":"n@naver.example"}}`,
		`{"resultcode":"00","response":{"id":""}}`, `{"resultcode":"024"}`, `{"resultcode":0}`,
		`{"id":583231,"login":"octocat","email":null,"name":null}`, `{"id":1,"email":["a"]}`,
		`{"id":1,"linkport_verified_emails":["x"]}`,
		`[{"email":"a@b.example","primary":true,"verified":true}]`, `[null]`, `[{"verified":"yes"}]`,
		`{"id":` + strings.Repeat("9", 40) + `}`, `[]`, `null`, ``, `{`,
	} {
		f.Add([]byte(seed))
	}
	kakao := &Provider{Provider: &oauth2Provider{name: "kakao"}, trustEmailVerified: true, verifyEmail: kakaoEmailVerified}
	github := &Provider{Provider: &oauth2Provider{name: "github"}, trustEmailVerified: true, verifyEmail: githubEmailVerified}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(p *Provider, u goth.User, err error) {
			if err != nil {
				return
			}
			if !validSubject(u.UserID) {
				t.Errorf("accepted id %q", u.UserID)
			}
			if p != nil {
				u.Provider = p.Name()
				p.EmailVerified(u)
			}
		}
		u, err := kakaoUserFromJSON(body)
		check(kakao, u, err)
		u, err = naverUserFromJSON(body)
		check(nil, u, err)
		u, err = githubUserFromJSON(body)
		if err == nil {
			emails, _ := githubEmailsFromJSON(body)
			githubChooseEmail(&u, emails)
		}
		check(github, u, err)
	})
}
