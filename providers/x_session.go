package providers

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/markbates/goth"
	"golang.org/x/oauth2"
)

// xSession is one X flow. As with oidcSession, only what BeginAuth made is
// marshalled; the tokens stay in memory.
type xSession struct {
	AuthURL  string `json:"auth_url"`
	Verifier string `json:"verifier"`

	token *oauth2.Token
}

func unmarshalXSession(data string) (*xSession, error) {
	var s xSession
	if err := json.Unmarshal([]byte(data), &s); err != nil {
		return nil, err
	}
	if s.Verifier == "" {
		return nil, errors.New("missing verifier")
	}
	return &s, nil
}

// GetAuthURL returns the authorization URL made by BeginAuth.
func (s *xSession) GetAuthURL() (string, error) {
	if s.AuthURL == "" {
		return "", errors.New(goth.NoAuthUrlErrorMessage)
	}
	return s.AuthURL, nil
}

// Marshal returns the session as JSON for the server-side session store; it
// holds the PKCE verifier, so it must never be sent to the browser.
func (s *xSession) Marshal() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Authorize exchanges params' "code" with the stored PKCE verifier.
func (s *xSession) Authorize(gp goth.Provider, params goth.Params) (_ string, err error) {
	p, ok := unwrapProvider(gp).(*xProvider)
	if !ok {
		return "", newError("x", "token exchange", ErrRejected, "session used with another provider")
	}
	const op = "token exchange"
	defer recoverAs(p.name, op, &err)
	if s.Verifier == "" {
		return "", newError(p.name, op, ErrRejected, "session has no verifier")
	}
	if s.token != nil {
		return "", newError(p.name, op, ErrRejected, "session already used")
	}
	code := params.Get("code")
	if code == "" || len(code) > maxCodeBytes {
		return "", newError(p.name, op, ErrRejected, "missing or oversized code")
	}
	ctx, cancel := callContext(p.client)
	defer cancel()
	tok, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(s.Verifier))
	if err != nil {
		return "", wrapError(p.name, op, err, code, s.Verifier, p.cfg.ClientSecret)
	}
	if tt := tok.TokenType; tt != "" && !strings.EqualFold(tt, "bearer") {
		return "", newError(p.name, op, ErrBadResponse, "token_type is not Bearer")
	}
	s.token = tok
	return tok.AccessToken, nil
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
