package providers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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
// (which X requires), client authentication with HTTP Basic, and the person
// from /2/users/me. Its email never counts as verified. Removing the
// account revokes the token at X's revoke URL. goth's own twitter providers
// speak OAuth 1.0a and panic on a missing name (K3).
func NewX(cfg XConfig) (*Provider, error) {
	if cfg.Name == "" {
		cfg.Name = "x"
	}
	if cfg.Label == "" {
		cfg.Label = "X (Twitter)"
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	err := resolveEndpoints(cfg.Common, []endpointSetting{
		{&cfg.AuthURL, "auth URL", "https://x.com/i/oauth2/authorize"},
		{&cfg.TokenURL, "token URL", "https://api.x.com/2/oauth2/token"},
		{&cfg.UserURL, "user URL", "https://api.x.com/2/users/me"},
		{&cfg.RevokeURL, "revoke URL", "https://api.x.com/2/oauth2/revoke"},
	})
	if err != nil {
		return nil, err
	}
	op := newOAuth2Provider(cfg.Common, cfg.AuthURL, cfg.TokenURL, xScopes)
	op.pkce = true
	// X's confidential clients authenticate with HTTP Basic at the token
	// endpoint. Still a fixed style, never auto-detected (A-11a).
	op.oauth.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	op.unnamedSessions = true
	userURL := withQuery(cfg.UserURL, "user.fields", xUserFields)
	op.profile = func(ctx context.Context, accessToken string) (goth.User, error) {
		body, err := op.apiGet(ctx, "user", userURL, accessToken, nil)
		if err != nil {
			return goth.User{}, err
		}
		u, err := xUserFromJSON(body)
		if err != nil {
			return goth.User{}, newError(op.name, "user", ErrBadResponse, err.Error())
		}
		return u, nil
	}
	// X wants a confidential client's credentials in HTTP Basic here too.
	op.revokeGrant = func(ctx context.Context, token string) error {
		return revokeAt(ctx, op.client, op.name, cfg.RevokeURL, token, cfg.ClientID, cfg.ClientSecret, true)
	}
	authOrigin := origin(cfg.AuthURL)
	return &Provider{
		Provider:          op,
		Label:             cfg.Label,
		formActionOrigins: func() []string { return []string{authOrigin} },
	}, nil
}

// xUserFromJSON maps a /2/users/me response to a goth.User. It never panics
// on missing or wrong-typed fields (goth's twitterv2 does, K3) and refuses an
// empty or oversized id.
func xUserFromJSON(body []byte) (goth.User, error) {
	var resp struct {
		Data *struct {
			ID              string `json:"id"`
			Name            string `json:"name"`
			Username        string `json:"username"`
			ProfileImageURL string `json:"profile_image_url"`
			ConfirmedEmail  string `json:"confirmed_email"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return goth.User{}, errors.New("users/me is not the expected JSON")
	}
	if resp.Data == nil {
		return goth.User{}, errors.New("users/me has no data")
	}
	d := resp.Data
	if !validSubject(d.ID) {
		return goth.User{}, fmt.Errorf("users/me id is empty or longer than %d bytes", maxSubjectBytes)
	}
	var raw struct {
		Data map[string]any `json:"data"`
	}
	_ = json.Unmarshal(body, &raw) // same bytes decoded above; types already checked
	return goth.User{
		RawData:   raw.Data,
		UserID:    d.ID,
		Name:      d.Name,
		NickName:  d.Username,
		AvatarURL: d.ProfileImageURL,
		Email:     d.ConfirmedEmail,
	}, nil
}
