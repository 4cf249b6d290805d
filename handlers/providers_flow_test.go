package handlers_test

// Kakao, Naver and GitHub end to end: the real router, a cookie jar and
// the emulator on its own server, as for Google, Facebook and X.

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/linkport/linkport/providers/emulator"
)

// The emulated people of the new providers. Kakao and GitHub ids are
// numbers, Naver's a string.
var (
	kakaoRyan  = emulator.Person{Sub: "4100000001", Name: "Ryan Kakao", Email: "ryan@kakao.example", EmailVerified: true}
	naverHong  = emulator.Person{Sub: "32742776", Name: "Hong Gildong", Username: "gildong", Email: "hong@naver.example", EmailVerified: true}
	githubMona = emulator.Person{Sub: "583231", Name: "Mona Lisa", Username: "mona", Email: "mona@github.example", EmailVerified: true}
)

// newProviderNames are the providers this file is about.
var newProviderNames = []string{"kakao", "naver", "github"}

// identityRow is what the identities table holds about one account.
type identityRow struct {
	UserID   int64
	Email    string
	Verified bool
}

// identityAt reads the identity of provider and subject.
func (p *portal) identityAt(provider, subject string) identityRow {
	p.t.Helper()
	var r identityRow
	var email *string
	err := p.db.DB().QueryRow("SELECT user_id, email, email_verified FROM identities WHERE provider = ? AND subject = ?", provider, subject).
		Scan(&r.UserID, &email, &r.Verified)
	if err != nil {
		p.t.Fatalf("identity %s/%s: %v", provider, subject, err)
	}
	if email != nil {
		r.Email = *email
	}
	return r
}

// Journey 1 with Kakao, Naver and GitHub: sign in, sign out, sign in again
// as the same person: the same user, one identity, shown with its email,
// verified only where the provider's trust policy allows (Naver: never).
func TestKakaoNaverGitHubSignInTwiceIsSameUser(t *testing.T) {
	for _, tc := range []struct {
		provider     string
		person       emulator.Person
		wantVerified bool
	}{
		{"kakao", kakaoRyan, true},
		{"naver", naverHong, false},
		{"github", githubMona, true},
	} {
		t.Run(tc.provider, func(t *testing.T) {
			p := newPortal(t)
			b := p.browser()
			page := b.mustSignIn(tc.provider, tc.person)
			if got := identitiesOn(page.Body); !slices.Equal(got, []string{tc.provider}) {
				t.Errorf("identities on /accounts %v, want [%s]", got, tc.provider)
			}
			for _, want := range []string{tc.person.Name, `data-testid="identity-email"`, tc.person.Email} {
				if !strings.Contains(page.Body, want) {
					t.Errorf("/accounts lacks %q", want)
				}
			}
			if verifiedBadge := strings.Contains(page.Body, `class="badge ok"`); verifiedBadge != tc.wantVerified {
				t.Errorf("verified badge shown %v, want %v", verifiedBadge, tc.wantVerified)
			}
			first := b.userID()
			row := p.identityAt(tc.provider, tc.person.Sub)
			if row.UserID != first || row.Email != tc.person.Email || row.Verified != tc.wantVerified {
				t.Errorf("identity row %+v, want user %d, %s, verified %v", row, first, tc.person.Email, tc.wantVerified)
			}

			if res := b.post("/logout", formWithCSRF(b.accountsPage().Body)); res.StatusCode != http.StatusSeeOther || b.signedIn() {
				t.Fatalf("logout: %d", res.StatusCode)
			}
			b.mustSignIn(tc.provider, tc.person)
			if second := b.userID(); second != first || p.count("users") != 1 || p.count("identities") != 1 {
				t.Errorf("second sign-in: user %d (first %d), %d users, %d identities; want the same user, 1, 1",
					second, first, p.count("users"), p.count("identities"))
			}
			if n := p.emu.Hits(tc.provider, "token"); n != 2 {
				t.Errorf("token endpoint hits = %d, want 2", n)
			}
		})
	}
}

// A Google-started account connects a Kakao and a GitHub account: one
// user with three identities, each shown.
func TestLinkKakaoAndGitHubToGoogleAccount(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("google", ann)
	uid := b.userID()
	b.mustLink("kakao", kakaoRyan)
	page := b.mustLink("github", githubMona)
	if got := providersOf(p.identitiesOf(uid)); !slices.Equal(got, []string{"google", "kakao", "github"}) {
		t.Errorf("identities %v, want [google kakao github]", got)
	}
	if got := identitiesOn(page.Body); !slices.Equal(got, []string{"google", "kakao", "github"}) {
		t.Errorf("/accounts shows %v", got)
	}
	if p.count("users") != 1 {
		t.Errorf("users = %d, want 1", p.count("users"))
	}
	// Signing in with the linked Kakao account is signing in to Ann's.
	other := p.browser()
	other.mustSignIn("kakao", kakaoRyan)
	if other.userID() != uid {
		t.Errorf("sign-in with the linked Kakao account: user %d, want %d", other.userID(), uid)
	}
}

// Accounts that share no email sign in all the same, identified by
// (provider, subject), and no email is shown or stored: a Kakao person who
// withholds the email, a GitHub person whose only address is private and
// unverified.
func TestEmaillessKakaoGitHubSignIn(t *testing.T) {
	for _, tc := range []struct {
		provider string
		person   emulator.Person
	}{
		{"kakao", emulator.Person{Sub: "4100000002", Name: "Muzi"}},
		{"github", emulator.Person{Sub: "583232", Name: "Private Cat", Username: "privatecat", Email: "private@github.example"}},
	} {
		t.Run(tc.provider, func(t *testing.T) {
			p := newPortal(t)
			b := p.browser()
			page := b.mustSignIn(tc.provider, tc.person)
			if got := identitiesOn(page.Body); !slices.Equal(got, []string{tc.provider}) || !strings.Contains(page.Body, tc.person.Name) {
				t.Fatalf("/accounts shows %v without %q", got, tc.person.Name)
			}
			if strings.Contains(page.Body, `data-testid="identity-email"`) || strings.Contains(page.Body, "@github.example") {
				t.Error("/accounts shows an email for an account that shared none")
			}
			uid := b.userID()
			if row := p.identityAt(tc.provider, tc.person.Sub); row.Email != "" || row.Verified {
				t.Errorf("identity row %+v, want no email", row)
			}
			if e := p.primaryEmail(uid); e != "" {
				t.Errorf("primary email %q, want none", e)
			}
			b.post("/logout", formWithCSRF(b.accountsPage().Body))
			b.mustSignIn(tc.provider, tc.person)
			if b.userID() != uid || p.count("users") != 1 {
				t.Errorf("second sign-in: user %d, %d users; want %d, 1", b.userID(), p.count("users"), uid)
			}
		})
	}
}

// Naver's email is never verified (its API has no such flag), so it
// neither becomes a primary email nor joins an account that has the same
// address verified (C-02, C-08).
func TestNaverEmailNeverVerified(t *testing.T) {
	p := newPortal(t)
	google := p.browser()
	google.mustSignIn("google", ann)
	googleUser := google.userID()

	b := p.browser()
	claim := emulator.Person{Sub: "naver-ann-1", Name: "Not Ann", Email: ann.Email, EmailVerified: true}
	page := b.mustSignIn("naver", claim)
	if b.userID() == googleUser || p.count("users") != 2 {
		t.Fatalf("a Naver account with Ann's address reached her account (user %d, %d users)", b.userID(), p.count("users"))
	}
	if strings.Contains(page.Body, `class="badge ok"`) || !strings.Contains(page.Body, ann.Email) {
		t.Error("the Naver email is not shown as an unverified address")
	}
	if row := p.identityAt("naver", claim.Sub); row.Verified || row.Email != ann.Email {
		t.Errorf("identity row %+v: want the address, unverified", row)
	}
	if e := p.primaryEmail(b.userID()); e != "" {
		t.Errorf("primary email %q from an unverified Naver address", e)
	}
}

// E-01a for the new providers: the token endpoint answers 5xx; the
// callback ends on the 502 page, the code was sent once, and nothing is
// written.
func TestKakaoNaverGitHubTokenEndpoint5xx(t *testing.T) {
	for _, provider := range newProviderNames {
		for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable} {
			t.Run(provider+" "+http.StatusText(status), func(t *testing.T) {
				p := newPortal(t)
				b := p.browser()
				p.emu.SetFault(provider, "token", emulator.Fault{Status: status})
				res := b.signIn(provider, person("Pat", "pat@example.com"))
				wantCallbackFailure(t, b, res, "unavailable", http.StatusBadGateway)
				if hits := p.emu.Hits(provider, "token"); hits != 1 {
					t.Errorf("token endpoint hits = %d, want exactly 1", hits)
				}
				if hits := p.emu.Hits(provider, "me"); hits != 0 {
					t.Errorf("profile endpoint hits = %d after a failed exchange", hits)
				}
				if p.count("users") != 0 || p.count("identities") != 0 || b.signedIn() {
					t.Error("a failed sign-in wrote a row or signed in")
				}
			})
		}
	}
}

// "Not you? Choose another account" asks each provider for its chooser:
// prompt=select_account at Kakao and GitHub, a fresh sign-in at Naver. A
// plain start asks for neither. Kakao and GitHub get PKCE, Naver none.
func TestKakaoNaverGitHubAuthorizeRequest(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	for _, tc := range []struct {
		provider string
		chooser  url.Values
		pkce     bool
	}{
		{"kakao", url.Values{"prompt": {"select_account"}}, true},
		{"naver", url.Values{"auth_type": {"reauthenticate"}}, false},
		{"github", url.Values{"prompt": {"select_account"}}, true},
	} {
		plain := b.begin(tc.provider, nil).Query()
		for k := range tc.chooser {
			if plain.Has(k) {
				t.Errorf("%s: a plain start carries %s", tc.provider, k)
			}
		}
		if (plain.Get("code_challenge_method") == "S256") != tc.pkce {
			t.Errorf("%s: PKCE in the authorize URL %v, want %v", tc.provider, plain.Has("code_challenge"), tc.pkce)
		}
		chosen := b.begin(tc.provider, url.Values{"choose": {"1"}}).Query()
		for k, v := range tc.chooser {
			if !slices.Equal(chosen[k], v) {
				t.Errorf("%s: choose another account sent %s=%v, want %v", tc.provider, k, chosen[k], v)
			}
		}
	}
}

// A-13d for the new providers: with tokens kept, removing a Kakao, Naver
// or GitHub account ends the grant at the provider (Kakao's unlink after
// trading the kept refresh token, Naver's token deletion, GitHub's grant
// deletion), once each, and no token of that grant is alive there.
func TestKakaoNaverGitHubUnlinkRevokes(t *testing.T) {
	p := newPortalWith(t, portalOptions{tokenKeys: newKeyring(t)})
	b := p.browser()
	b.mustSignIn("google", ann)
	uid := b.userID()
	for _, tc := range []struct {
		provider string
		person   emulator.Person
	}{{"kakao", kakaoRyan}, {"naver", naverHong}, {"github", githubMona}} {
		b.mustLink(tc.provider, tc.person)
		p.emu.ResetHits()
		if res := b.unlink(p.identityID(uid, tc.provider, tc.person.Sub), true, false); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("unlink %s: status %d", tc.provider, res.StatusCode)
		}
		if n := p.emu.Hits(tc.provider, "revoke"); n != 1 {
			t.Errorf("unlink %s: revocation endpoint hit %d times, want 1", tc.provider, n)
		}
		// The emulator keeps its tokens in the portal's database; those of
		// this person (access and refresh) must all be revoked now.
		var alive int
		err := p.db.DB().QueryRow(`SELECT count(*) FROM emulator_tokens WHERE provider IN (?, ?) AND sub = ? AND revoked = 0`,
			tc.provider, tc.provider+"/refresh", tc.person.Sub).Scan(&alive)
		if err != nil || alive != 0 {
			t.Errorf("unlink %s: %d tokens still alive at the provider (%v)", tc.provider, alive, err)
		}
	}
	if strings.Contains(p.logs.String(), "token revocation failed") {
		t.Errorf("a revocation failed:\n%s", p.logs.String())
	}
	if got := providersOf(p.identitiesOf(uid)); !slices.Equal(got, []string{"google"}) {
		t.Errorf("identities %v after the removals, want [google]", got)
	}
}

// B-08 with the new providers: a stale session removes an account only
// after a step-up, and the step-up asks each provider for a fresh sign-in
// its own way (Kakao prompt=login, Naver auth_type=reauthenticate; GitHub
// has no such parameter). The step-up succeeds and the removal runs.
func TestKakaoNaverGitHubStepUp(t *testing.T) {
	for _, tc := range []struct {
		provider string
		person   emulator.Person
		want     url.Values
	}{
		{"kakao", kakaoRyan, url.Values{"prompt": {"login"}}},
		{"naver", naverHong, url.Values{"auth_type": {"reauthenticate"}}},
		{"github", githubMona, url.Values{}},
	} {
		t.Run(tc.provider, func(t *testing.T) {
			p := newPortal(t)
			b := p.browser()
			p.ago(30*time.Minute, func() {
				b.mustSignIn(tc.provider, tc.person)
				b.mustLink("x", bob)
			})
			uid := b.userID()
			xID := p.identityID(uid, "x", bob.Sub)
			id := stepUpID(t, b.unlink(xID, true, false))
			page := b.get("/accounts/step-up?id=" + url.QueryEscape(id))
			form := formWithCSRF(page.Body)
			form["id"] = []string{id}
			res := b.post("/accounts/step-up/"+tc.provider, form)
			authURL, err := url.Parse(res.Header.Get("Location"))
			if res.StatusCode != http.StatusSeeOther || err != nil {
				t.Fatalf("POST /accounts/step-up/%s: %d", tc.provider, res.StatusCode)
			}
			q := authURL.Query()
			for _, k := range []string{"prompt", "auth_type", "max_age"} {
				if got, want := q[k], tc.want[k]; !slices.Equal(got, want) {
					t.Errorf("step-up authorize %s=%v, want %v", k, got, want)
				}
			}
			res = b.get(b.consent(tc.provider, authURL, tc.person).String())
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/accounts/step-up/continue?id="+id {
				t.Fatalf("step-up callback: %d %q", res.StatusCode, res.Header.Get("Location"))
			}
			b.carryOn(id, fmt.Sprintf("/accounts/identities/%d/unlink", xID))
			if got := providersOf(p.identitiesOf(uid)); !slices.Equal(got, []string{tc.provider}) {
				t.Errorf("identities %v after the stepped-up removal, want [%s]", got, tc.provider)
			}
		})
	}
}

// A-07c, A-02d for the new providers: they have no issuer, so a callback
// carrying any iss is refused before the code is sent; a completed
// callback replayed is refused too, and the token endpoint is called once.
func TestKakaoNaverGitHubCallbackChecks(t *testing.T) {
	for _, provider := range newProviderNames {
		t.Run(provider, func(t *testing.T) {
			p := newPortal(t)
			b := p.browser()
			cb := b.consent(provider, b.begin(provider, nil), person("Pat", "pat@example.com"))
			withIss := callbackWith(cb, url.Values{"iss": {p.emuSrv.URL + "/" + provider}})
			wantCallbackFailure(t, b, b.get(withIss.String()), "invalid", http.StatusBadRequest)
			if n := p.emu.Hits(provider, "token"); n != 0 {
				t.Fatalf("token endpoint hits = %d after a callback with iss, want 0", n)
			}

			cb = b.consent(provider, b.begin(provider, nil), person("Pat", "pat@example.com"))
			if res := b.get(cb.String()); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/accounts" {
				t.Fatalf("callback: %d %q", res.StatusCode, res.Header.Get("Location"))
			}
			wantCallbackFailure(t, b, b.get(cb.String()), "invalid", http.StatusBadRequest)
			if n := p.emu.Hits(provider, "token"); n != 1 {
				t.Errorf("token endpoint hits = %d, want 1: the replay must not reach it", n)
			}
		})
	}
}
