package providers

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/markbates/goth"
	"golang.org/x/oauth2"
)

// oauth2Session is one flow of a plain OAuth 2.0 provider. As with
// oidcSession, only what BeginAuth made is marshalled; the tokens stay in
// memory.
type oauth2Session struct {
	// Provider names the provider that made the session, so that a stored
	// session can never be completed by another one.
	Provider string `json:"provider"`
	AuthURL  string `json:"auth_url"`
	Verifier string `json:"verifier,omitempty"`
	// State is kept only for Naver, whose token request repeats it.
	State string `json:"state,omitempty"`

	token *oauth2.Token
}

// GetAuthURL returns the authorization URL made by BeginAuth.
func (s *oauth2Session) GetAuthURL() (string, error) {
	if s.AuthURL == "" {
		return "", errors.New(goth.NoAuthUrlErrorMessage)
	}
	return s.AuthURL, nil
}

// Marshal returns the session as JSON for the server-side session store; it
// may hold the PKCE verifier, so it must never be sent to the browser.
func (s *oauth2Session) Marshal() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Authorize exchanges params' "code" (and nothing else from the query)
// with the stored PKCE verifier, once.
func (s *oauth2Session) Authorize(gp goth.Provider, params goth.Params) (_ string, err error) {
	p, ok := unwrapProvider(gp).(*oauth2Provider)
	if !ok || p.name != s.Provider {
		return "", newError(s.Provider, "token exchange", ErrRejected, "session used with another provider")
	}
	const op = "token exchange"
	defer recoverAs(p.name, op, &err)
	if p.pkce && s.Verifier == "" {
		return "", newError(p.name, op, ErrRejected, "session has no verifier")
	}
	if s.token != nil {
		return "", newError(p.name, op, ErrRejected, "session already used")
	}
	code := params.Get("code")
	if code == "" || len(code) > maxCodeBytes {
		return "", newError(p.name, op, ErrRejected, "missing or oversized code")
	}
	var opts []oauth2.AuthCodeOption
	if s.Verifier != "" {
		opts = append(opts, oauth2.VerifierOption(s.Verifier))
	}
	if p.stateInToken && s.State != "" {
		opts = append(opts, oauth2.SetAuthURLParam("state", s.State))
	}
	ctx, cancel := callContext(p.client)
	defer cancel()
	secrets := []string{code, s.Verifier, p.oauth.ClientSecret}
	tok, err := p.oauth.Exchange(ctx, code, opts...)
	if err != nil {
		return "", exchangeError(p.name, op, err, secrets...)
	}
	if tt := tok.TokenType; tt != "" && !strings.EqualFold(tt, "bearer") {
		return "", newError(p.name, op, ErrBadResponse, "token_type is not Bearer")
	}
	s.token = tok
	return tok.AccessToken, nil
}
