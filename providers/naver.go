package providers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/markbates/goth"
)

// NaverConfig configures the Naver provider. The URLs default to Naver's;
// the emulator and tests point them elsewhere. Naver revokes tokens at its
// token URL, so there is no revocation URL.
type NaverConfig struct {
	Common
	AuthURL, TokenURL, UserURL string
}

// NewNaver returns the Naver provider: OAuth 2.0 authorization code,
// client credentials and the state in the token request's form, and the
// person from /v1/nid/me. Naver's login API takes no PKCE, so the state,
// checked by the handler, is the defence against a forged callback, as for
// Facebook. It takes no scope either: what it releases is chosen on the
// application's page at Naver Developers. Its email is never treated as
// verified: the API says nothing about verification (C-08). Removing the
// account deletes the token at Naver, which disconnects the app.
func NewNaver(cfg NaverConfig) (*Provider, error) {
	if cfg.Name == "" {
		cfg.Name = "naver"
	}
	if cfg.Label == "" {
		cfg.Label = "Naver"
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	err := resolveEndpoints(cfg.Common, []endpointSetting{
		{&cfg.AuthURL, "auth URL", "https://nid.naver.com/oauth2.0/authorize"},
		{&cfg.TokenURL, "token URL", "https://nid.naver.com/oauth2.0/token"},
		{&cfg.UserURL, "user URL", "https://openapi.naver.com/v1/nid/me"},
	})
	if err != nil {
		return nil, err
	}
	op := newOAuth2Provider(cfg.Common, cfg.AuthURL, cfg.TokenURL, nil)
	op.stateInToken = true
	op.profile = func(ctx context.Context, accessToken string) (goth.User, error) {
		body, err := op.apiGet(ctx, "user", cfg.UserURL, accessToken, nil)
		if err != nil {
			return goth.User{}, err
		}
		u, err := naverUserFromJSON(body)
		if errors.Is(err, errNaverRefused) {
			return goth.User{}, newError(op.name, "user", ErrRejected, err.Error())
		}
		if err != nil {
			return goth.User{}, newError(op.name, "user", ErrBadResponse, err.Error())
		}
		return u, nil
	}
	op.revokeGrant = func(ctx context.Context, token string) error {
		return naverDelete(ctx, op, token)
	}
	authOrigin := origin(cfg.AuthURL)
	return &Provider{
		Provider:          op,
		Label:             cfg.Label,
		formActionOrigins: func() []string { return []string{authOrigin} },
		// Naver has no account chooser; asking for the password again is
		// the nearest thing, and also its re-authentication.
		chooser: [2]string{"auth_type", "reauthenticate"},
		reauth:  [2]string{"auth_type", "reauthenticate"},
	}, nil
}

// errNaverRefused is a /v1/nid/me answer whose resultcode is not "00".
var errNaverRefused = errors.New("nid/me refused")

// naverUserFromJSON maps a /v1/nid/me answer to a goth.User. Naver wraps
// the profile in {resultcode, message, response}; only resultcode "00" is
// a profile.
func naverUserFromJSON(body []byte) (goth.User, error) {
	var resp struct {
		ResultCode string `json:"resultcode"`
		Response   *struct {
			ID           string `json:"id"`
			Email        string `json:"email"`
			Nickname     string `json:"nickname"`
			Name         string `json:"name"`
			ProfileImage string `json:"profile_image"`
		} `json:"response"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return goth.User{}, errors.New("nid/me is not the expected JSON")
	}
	switch resp.ResultCode {
	case "00":
	case "":
		return goth.User{}, errors.New("nid/me has no resultcode")
	default:
		return goth.User{}, fmt.Errorf("%w: resultcode %q", errNaverRefused, sanitizeCode(resp.ResultCode))
	}
	r := resp.Response
	if r == nil || !validSubject(r.ID) {
		return goth.User{}, fmt.Errorf("nid/me id is empty or longer than %d bytes", maxSubjectBytes)
	}
	var raw struct {
		Response map[string]any `json:"response"`
	}
	_ = json.Unmarshal(body, &raw) // same bytes decoded above
	// A Naver nickname is a display alias, not a unique handle, so it is
	// never shown as "@nickname"; it names the person only when the name
	// was not released.
	name := r.Name
	if name == "" {
		name = r.Nickname
	}
	return goth.User{
		RawData:   raw.Response,
		UserID:    r.ID,
		Name:      name,
		Email:     r.Email,
		AvatarURL: r.ProfileImage,
	}, nil
}

// naverDelete deletes the token at Naver (grant_type=delete), which ends
// the app's connection to the account. Naver wants an access token there,
// so a refresh token is first traded for one. The request is a POST form:
// Naver's documented GET would put the token and the client secret in a URL.
func naverDelete(ctx context.Context, p *oauth2Provider, token string) error {
	const op = "revoke"
	access := token
	if a, ok := p.refreshed(ctx, token); ok {
		access = a
	}
	form := url.Values{
		"grant_type":       {"delete"},
		"client_id":        {p.oauth.ClientID},
		"client_secret":    {p.oauth.ClientSecret},
		"access_token":     {access},
		"service_provider": {"NAVER"},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.oauth.Endpoint.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return newError(p.name, op, ErrUnavailable, "bad token endpoint")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	secrets := []string{token, access, p.oauth.ClientSecret}
	resp, err := p.client.Do(req)
	if err != nil {
		return wrapError(p.name, op, err, secrets...)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return newError(p.name, op, statusKind(resp.StatusCode), fmt.Sprintf("status %d", resp.StatusCode))
	}
	body, err := readBody(resp.Body)
	if err != nil {
		return wrapError(p.name, op, err, secrets...)
	}
	// Naver answers a refusal with status 200 and an error member.
	var answer struct {
		Result string `json:"result"`
		Error  string `json:"error"`
	}
	if json.Unmarshal(body, &answer) != nil {
		return newError(p.name, op, ErrBadResponse, "answer is not the expected JSON")
	}
	if answer.Result != "success" {
		return newError(p.name, op, ErrRejected, "error "+sanitizeCode(answer.Error))
	}
	return nil
}
