package providers

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/oauth2-proxy/mockoidc"
)

const testCallback = "http://127.0.0.1:8080/auth/corp/callback"

// startMockOIDC runs mockoidc (a real OIDC server) for one test.
func startMockOIDC(t *testing.T) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatalf("mockoidc.Run: %v", err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return m
}

func newMockOIDCProvider(t *testing.T, m *mockoidc.MockOIDC, trust bool) *Provider {
	t.Helper()
	p, err := NewOIDC(OIDCConfig{
		Common: Common{
			Name: "corp", Label: "Corp SSO",
			ClientID: m.ClientID, ClientSecret: m.ClientSecret,
			CallbackURL:       testCallback,
			AllowInsecureHTTP: true, // mockoidc listens on plain http on loopback
		},
		Issuer:             m.Issuer(),
		TrustEmailVerified: trust,
		ClientSecretPost:   true, // mockoidc reads client credentials only from the form
	})
	if err != nil {
		t.Fatalf("NewOIDC: %v", err)
	}
	return p
}

var challengePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

func TestOIDCSignInWithMockOIDC(t *testing.T) {
	tests := []struct {
		name          string
		trust         bool
		emailVerified bool
		wantVerified  bool
	}{
		{"trusted and verified", true, true, true},
		{"trusted but unverified", true, false, false},
		{"verified but provider not trusted", false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := startMockOIDC(t)
			p := newMockOIDCProvider(t, m, tt.trust)
			m.QueueUser(&mockoidc.MockUser{
				Subject: "user-42", Email: "ada@example.com", EmailVerified: tt.emailVerified,
				PreferredUsername: "ada",
			})

			const state = "state-from-the-handler"
			sess, err := p.BeginAuth(state)
			if err != nil {
				t.Fatalf("BeginAuth: %v", err)
			}
			authURL, err := sess.GetAuthURL()
			if err != nil {
				t.Fatalf("GetAuthURL: %v", err)
			}
			q := authQuery(t, authURL)
			want := map[string]string{
				"response_type": "code", "code_challenge_method": "S256", "state": state,
				"scope": "openid email profile", "redirect_uri": testCallback, "client_id": m.ClientID,
			}
			got := map[string]string{}
			for k := range want {
				got[k] = q.Get(k)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("auth URL parameters (-want +got):\n%s", diff)
			}
			if !challengePattern.MatchString(q.Get("code_challenge")) {
				t.Errorf("code_challenge %q is not 43 base64url characters", q.Get("code_challenge"))
			}
			if len(q.Get("nonce")) < 43 {
				t.Errorf("nonce %q shorter than 32 random bytes", q.Get("nonce"))
			}

			stored := sess.Marshal()
			cb := browserToCallback(t, authURL, testCallback)
			if cb.Get("state") != state {
				t.Fatalf("callback state = %q, want %q", cb.Get("state"), state)
			}

			sess2, err := p.UnmarshalSession(stored)
			if err != nil {
				t.Fatalf("UnmarshalSession: %v", err)
			}
			// Only the code is passed: verifier and nonce come from the stored session.
			if _, err := sess2.Authorize(p, url.Values{"code": {cb.Get("code")}}); err != nil {
				t.Fatalf("Authorize: %v", err)
			}
			user, err := p.FetchUser(sess2)
			if err != nil {
				t.Fatalf("FetchUser: %v", err)
			}
			gotUser := []string{user.Provider, user.UserID, user.Email, user.NickName}
			if diff := cmp.Diff([]string{"corp", "user-42", "ada@example.com", "ada"}, gotUser); diff != "" {
				t.Errorf("user (-want +got):\n%s", diff)
			}
			if got := p.EmailVerified(user); got != tt.wantVerified {
				t.Errorf("EmailVerified = %v, want %v", got, tt.wantVerified)
			}
			// The code is single use at the session level too.
			if _, err := sess2.Authorize(p, url.Values{"code": {cb.Get("code")}}); err == nil {
				t.Error("second Authorize on the same session succeeded")
			}
		})
	}
}

func TestOIDCFreshPKCEAndNoncePerFlow(t *testing.T) {
	m := startMockOIDC(t)
	p := newMockOIDCProvider(t, m, true)
	seenChallenge := map[string]bool{}
	seenNonce := map[string]bool{}
	for i := range 5 {
		sess, err := p.BeginAuth("s")
		if err != nil {
			t.Fatalf("BeginAuth: %v", err)
		}
		u, _ := sess.GetAuthURL()
		q := authQuery(t, u)
		if seenChallenge[q.Get("code_challenge")] || seenNonce[q.Get("nonce")] {
			t.Fatalf("flow %d reused a code_challenge or nonce", i)
		}
		seenChallenge[q.Get("code_challenge")] = true
		seenNonce[q.Get("nonce")] = true
		// The verifier in the stored session matches the challenge sent.
		s, err := unmarshalOIDCSession(sess.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		if s256(s.Verifier) != q.Get("code_challenge") {
			t.Errorf("challenge is not S256(verifier)")
		}
	}
}

func TestOIDCNonceIsChecked(t *testing.T) {
	m := startMockOIDC(t)
	p := newMockOIDCProvider(t, m, true)
	sess, err := p.BeginAuth("s")
	if err != nil {
		t.Fatal(err)
	}
	authURL, _ := sess.GetAuthURL()
	// An attacker-influenced authorization request carries another nonce; the
	// OP signs it into the ID token, and the client must notice.
	u, _ := url.Parse(authURL)
	q := u.Query()
	q.Set("nonce", "not-the-flow-nonce")
	u.RawQuery = q.Encode()
	cb := browserToCallback(t, u.String(), testCallback)

	sess2, _ := p.UnmarshalSession(sess.Marshal())
	_, err = sess2.Authorize(p, url.Values{"code": {cb.Get("code")}})
	assertKind(t, err, ErrRejected)
	if !strings.Contains(err.Error(), "nonce") {
		t.Errorf("err = %v, want a nonce mismatch", err)
	}
	if _, err := p.FetchUser(sess2); err == nil {
		t.Error("FetchUser succeeded after a rejected Authorize")
	}
}

func TestOIDCCodeInjectionFailsPKCE(t *testing.T) {
	m := startMockOIDC(t)
	p := newMockOIDCProvider(t, m, true)
	victim, _ := p.BeginAuth("sv")
	attacker, _ := p.BeginAuth("sa")
	attackerURL, _ := attacker.GetAuthURL()
	code := browserToCallback(t, attackerURL, testCallback).Get("code")

	// The attacker's code injected into the victim's flow (A-03c).
	sess, _ := p.UnmarshalSession(victim.Marshal())
	_, err := sess.Authorize(p, url.Values{"code": {code}})
	assertKind(t, err, ErrRejected)
	assertNoSecrets(t, err, code, m.ClientSecret)
}
