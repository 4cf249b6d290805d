package providers

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// fakeOP is a small OpenID provider over TLS whose every answer can be
// bent by a test (SECURITY.md H1).
type fakeOP struct {
	t   *testing.T
	srv *httptest.Server
	key *rsa.PrivateKey

	mu           sync.Mutex
	discoveryIss string                  // issuer announced by discovery; "" → srv.URL
	nonce        string                  // nonce put in the ID token
	mutateClaims func(map[string]any)    // edits the ID token claims
	tokenHandler http.HandlerFunc        // replaces the token endpoint
	userinfoBody func(sub string) string // userinfo JSON
	// userinfoHandler and jwksHandler replace those endpoints; kid is the
	// key id put in ID token headers ("" → "k1", the published one).
	userinfoHandler http.HandlerFunc
	jwksHandler     http.HandlerFunc
	kid             string
	jwksHits        atomic.Int32
	tokenHits       atomic.Int32
	userinfoHits    atomic.Int32
	discoveryHits   atomic.Int32
	lastTokenForm   url.Values
}

const (
	fakeClientID = "client-123"
	fakeSecret   = "secret-456"
	fakeSubject  = "sub-789"
	fakeAccess   = "access-token-abc"
)

func newFakeOP(t *testing.T) *fakeOP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	op := &fakeOP{t: t, key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", op.discovery)
	mux.HandleFunc("/jwks", op.jwks)
	mux.HandleFunc("/token", op.token)
	mux.HandleFunc("/userinfo", op.userinfo)
	op.srv = httptest.NewTLSServer(mux)
	t.Cleanup(op.srv.Close)
	return op
}

func (op *fakeOP) set(f func(op *fakeOP)) {
	op.mu.Lock()
	defer op.mu.Unlock()
	f(op)
}

func (op *fakeOP) discovery(w http.ResponseWriter, _ *http.Request) {
	op.discoveryHits.Add(1)
	op.mu.Lock()
	iss := op.discoveryIss
	op.mu.Unlock()
	if iss == "" {
		iss = op.srv.URL
	}
	writeJSON(w, map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                op.srv.URL + "/authorize",
		"token_endpoint":                        op.srv.URL + "/token",
		"userinfo_endpoint":                     op.srv.URL + "/userinfo",
		"jwks_uri":                              op.srv.URL + "/jwks",
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
}

func (op *fakeOP) jwks(w http.ResponseWriter, r *http.Request) {
	op.jwksHits.Add(1)
	op.mu.Lock()
	h := op.jwksHandler
	op.mu.Unlock()
	if h != nil {
		h(w, r)
		return
	}
	writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &op.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
}

func (op *fakeOP) token(w http.ResponseWriter, r *http.Request) {
	op.tokenHits.Add(1)
	_ = r.ParseForm()
	op.mu.Lock()
	op.lastTokenForm = r.PostForm
	h := op.tokenHandler
	op.mu.Unlock()
	if h != nil {
		h(w, r)
		return
	}
	if id, secret, ok := r.BasicAuth(); !ok || id != fakeClientID || secret != fakeSecret {
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	writeJSON(w, map[string]any{"access_token": fakeAccess, "token_type": "Bearer", "expires_in": 3600, "id_token": op.idToken()})
}

// idToken signs the default claims, edited by mutateClaims.
func (op *fakeOP) idToken() string {
	now := time.Now()
	op.mu.Lock()
	claims := map[string]any{
		"iss": op.srv.URL, "sub": fakeSubject, "aud": fakeClientID,
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "nonce": op.nonce,
		"email": "ada@example.com", "email_verified": true, "name": "Ada Lovelace",
		"given_name": "Ada", "family_name": "Lovelace", "picture": "https://img.example/ada.png",
	}
	if op.mutateClaims != nil {
		op.mutateClaims(claims)
	}
	op.mu.Unlock()
	return op.sign(claims)
}

func (op *fakeOP) sign(claims map[string]any) string {
	op.mu.Lock()
	kid := op.kid
	op.mu.Unlock()
	if kid == "" {
		kid = "k1"
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: op.key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		op.t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := signer.Sign(payload)
	if err != nil {
		op.t.Fatal(err)
	}
	s, _ := obj.CompactSerialize()
	return s
}

func (op *fakeOP) userinfo(w http.ResponseWriter, r *http.Request) {
	op.userinfoHits.Add(1)
	if r.Header.Get("Authorization") != "Bearer "+fakeAccess {
		http.Error(w, "no token", http.StatusUnauthorized)
		return
	}
	op.mu.Lock()
	body, h := op.userinfoBody, op.userinfoHandler
	op.mu.Unlock()
	if h != nil {
		h(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if body != nil {
		fmt.Fprint(w, body(fakeSubject))
		return
	}
	fmt.Fprintf(w, `{"sub":%q,"email":"ada@example.com","preferred_username":"ada"}`, fakeSubject)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// provider returns an OIDC provider for op with the given client timeout.
func (op *fakeOP) provider(t *testing.T, timeout time.Duration) *Provider {
	t.Helper()
	p, err := NewOIDC(OIDCConfig{
		Common: Common{
			Name: "corp", ClientID: fakeClientID, ClientSecret: fakeSecret,
			CallbackURL: "https://portal.example/auth/corp/callback",
			HTTPClient:  NewHTTPClient(timeout, op.srv.Client().Transport),
		},
		Issuer:             op.srv.URL,
		TrustEmailVerified: true,
	})
	if err != nil {
		t.Fatalf("NewOIDC: %v", err)
	}
	return p
}

// begin starts a flow and tells the fake OP the nonce to sign, as a real OP
// would learn it from the authorization request.
func (op *fakeOP) begin(t *testing.T, p *Provider) string {
	t.Helper()
	sess, err := p.BeginAuth("state-1")
	if err != nil {
		t.Fatalf("BeginAuth: %v", err)
	}
	u, _ := sess.GetAuthURL()
	nonce := authQuery(t, u).Get("nonce")
	op.set(func(op *fakeOP) { op.nonce = nonce })
	return sess.Marshal()
}

// finish runs the callback half of a flow with the given code.
func finish(p *Provider, stored, code string) (user any, err error) {
	sess, err := p.UnmarshalSession(stored)
	if err != nil {
		return nil, err
	}
	if _, err := sess.Authorize(p, url.Values{"code": {code}}); err != nil {
		return nil, err
	}
	u, err := p.FetchUser(sess)
	if err != nil {
		return nil, err
	}
	return u, nil
}
