package providers

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/markbates/goth"
	"golang.org/x/oauth2"
)

// XConfig configures the X (Twitter) provider. The URLs default to X's; the
// emulator and tests point them elsewhere.
type XConfig struct {
	Common
	AuthURL, TokenURL, UserURL, RevokeURL string
}

// xScopes are exactly the scopes the portal needs: users.email lets
// /2/users/me return confirmed_email.
var xScopes = []string{"users.read", "tweet.read", "users.email"}

// xUserFields asks /2/users/me for the avatar and the confirmed email.
const xUserFields = "profile_image_url,confirmed_email"

// NewX returns the X provider: OAuth 2.0 authorization code with PKCE S256
// (which X requires), client authentication with HTTP Basic. goth's own
// twitter providers speak OAuth 1.0a and panic on a missing name (K3).
func NewX(cfg XConfig) (*Provider, error) {
	if cfg.Name == "" {
		cfg.Name = "x"
	}
	if cfg.Label == "" {
		cfg.Label = "X (Twitter)"
	}
	defaults := []struct {
		field *string
		name  string
		def   string
	}{
		{&cfg.AuthURL, "auth URL", "https://x.com/i/oauth2/authorize"},
		{&cfg.TokenURL, "token URL", "https://api.x.com/2/oauth2/token"},
		{&cfg.UserURL, "user URL", "https://api.x.com/2/users/me"},
		{&cfg.RevokeURL, "revoke URL", "https://api.x.com/2/oauth2/revoke"},
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	for _, d := range defaults {
		if *d.field == "" {
			*d.field = d.def
		}
		if err := checkEndpoint(*d.field, cfg.AllowInsecureHTTP); err != nil {
			return nil, fmt.Errorf("providers: %s: %s: %w", cfg.Name, d.name, err)
		}
	}
	xp := &xProvider{
		name:   cfg.Name,
		cfg:    cfg,
		client: prepareClient(cfg.HTTPClient, nil),
		oauth: &oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			RedirectURL:  cfg.CallbackURL,
			Scopes:       xScopes,
			Endpoint: oauth2.Endpoint{
				AuthURL:   cfg.AuthURL,
				TokenURL:  cfg.TokenURL,
				AuthStyle: oauth2.AuthStyleInHeader,
			},
		},
	}
	authOrigin := origin(cfg.AuthURL)
	return &Provider{
		Provider:          xp,
		Label:             cfg.Label,
		formActionOrigins: func() []string { return []string{authOrigin} },
	}, nil
}

// xProvider is the goth.Provider for X.
type xProvider struct {
	name   string
	cfg    XConfig
	client *http.Client
	oauth  *oauth2.Config
}

// Name returns the provider's URL name.
func (p *xProvider) Name() string { return p.name }

// SetName does nothing: the name is fixed at construction (see oidcProvider).
func (p *xProvider) SetName(string) {}

// Debug does nothing; logging belongs to the handlers.
func (p *xProvider) Debug(bool) {}

// RefreshTokenAvailable reports false: the portal discards provider tokens.
func (p *xProvider) RefreshTokenAvailable() bool { return false }

// RefreshToken is not supported, see RefreshTokenAvailable.
func (p *xProvider) RefreshToken(string) (*oauth2.Token, error) {
	return nil, fmt.Errorf("providers: %s: refresh: %w", p.name, errors.ErrUnsupported)
}

// BeginAuth starts a flow with the handler's state and a fresh PKCE verifier
// kept only in the returned session.
func (p *xProvider) BeginAuth(state string) (goth.Session, error) {
	if state == "" {
		return nil, newError(p.name, "begin", ErrRejected, "empty state")
	}
	verifier := oauth2.GenerateVerifier()
	return &xSession{
		AuthURL:  p.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)),
		Verifier: verifier,
	}, nil
}

// UnmarshalSession restores a session stored by the handler after BeginAuth.
func (p *xProvider) UnmarshalSession(data string) (goth.Session, error) {
	s, err := unmarshalXSession(data)
	if err != nil {
		return nil, newError(p.name, "session", ErrRejected, "stored session is unreadable")
	}
	return s, nil
}

// FetchUser calls /2/users/me with the access token in the Authorization
// header and maps the answer.
func (p *xProvider) FetchUser(gs goth.Session) (_ goth.User, err error) {
	const op = "user"
	defer recoverAs(p.name, op, &err)
	s, ok := gs.(*xSession)
	if !ok || s.token == nil {
		return goth.User{}, newError(p.name, op, ErrRejected, "session is not authorized")
	}
	tok := s.token
	ctx, cancel := callContext(p.client)
	defer cancel()
	endpoint := p.cfg.UserURL
	if strings.Contains(endpoint, "?") {
		endpoint += "&user.fields=" + xUserFields
	} else {
		endpoint += "?user.fields=" + xUserFields
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return goth.User{}, newError(p.name, op, ErrUnavailable, "bad user endpoint")
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return goth.User{}, wrapError(p.name, op, err, tok.AccessToken)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return goth.User{}, newError(p.name, op, statusKind(resp.StatusCode), fmt.Sprintf("status %d", resp.StatusCode))
	}
	body, err := readBody(resp.Body)
	if err != nil {
		return goth.User{}, wrapError(p.name, op, err, tok.AccessToken)
	}
	u, err := xUserFromJSON(body)
	if err != nil {
		return goth.User{}, newError(p.name, op, ErrBadResponse, err.Error())
	}
	u.Provider = p.name
	u.AccessToken = tok.AccessToken
	u.RefreshToken = tok.RefreshToken
	u.ExpiresAt = tok.Expiry
	return u, nil
}
