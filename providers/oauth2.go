package providers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/markbates/goth"
	"golang.org/x/oauth2"
)

// oauth2Provider is the goth.Provider of a plain OAuth 2.0 provider, one
// that issues no ID token: X, Kakao, Naver and GitHub. The flow is the
// authorization code grant, with PKCE S256 where the provider takes it;
// the client credentials travel in the token request's form (X alone wants
// HTTP Basic there, see NewX), and the person is read from a profile
// endpoint with the access token in the Authorization header.
//
// goth's own kakao, naver and github providers are not used: their token
// exchange lets x/oauth2 guess the client authentication style, which sends
// the same code a second time after any failure (A-11a); none sends PKCE;
// kakao reads no email at all, naver never checks resultcode, and github
// fails the sign-in of an account without a verified primary email and
// believes the profile's public email without asking /user/emails.
type oauth2Provider struct {
	name   string
	client *http.Client
	oauth  *oauth2.Config
	// pkce says whether the provider takes PKCE S256 (Kakao, GitHub); Naver
	// does not, and its flows rest on the state alone, as Facebook's do.
	pkce bool
	// stateInToken sends the flow's state with the token request, which
	// Naver's API documents as a parameter of that request.
	stateInToken bool
	// unnamedSessions accepts a stored session without a provider name as
	// this provider's: X's sessions had none before X moved onto this core.
	unnamedSessions bool
	// profile reads the person with an access token.
	profile func(ctx context.Context, accessToken string) (goth.User, error)
	// revokeGrant ends the portal's access at the provider; nil when the
	// provider offers no way to.
	revokeGrant func(ctx context.Context, token string) error
}

// endpointSetting is one provider URL: its configured value, its name in
// error messages, and the real provider's URL used when it is empty.
type endpointSetting struct {
	field *string
	name  string
	def   string
}

// resolveEndpoints fills empty URLs with the real provider's and checks
// each one (A-15a).
func resolveEndpoints(c Common, list []endpointSetting) error {
	for _, d := range list {
		if *d.field == "" {
			*d.field = d.def
		}
		if err := checkEndpoint(*d.field, c.AllowInsecureHTTP); err != nil {
			return fmt.Errorf("providers: %s: %s: %w", c.Name, d.name, err)
		}
	}
	return nil
}

// newOAuth2Provider builds the parts every plain OAuth 2.0 provider
// shares. The auth style is fixed (credentials in the form; a provider may
// fix another, as X does): x/oauth2's auto-detection would retry a failed
// exchange with the same code (A-11a).
func newOAuth2Provider(c Common, authURL, tokenURL string, scopes []string) *oauth2Provider {
	return &oauth2Provider{
		name:   c.Name,
		client: prepareClient(c.HTTPClient, nil),
		oauth: &oauth2.Config{
			ClientID:     c.ClientID,
			ClientSecret: c.ClientSecret,
			RedirectURL:  c.CallbackURL,
			Scopes:       scopes,
			Endpoint: oauth2.Endpoint{
				AuthURL:   authURL,
				TokenURL:  tokenURL,
				AuthStyle: oauth2.AuthStyleInParams,
			},
		},
	}
}

// Name returns the provider's URL name.
func (p *oauth2Provider) Name() string { return p.name }

// SetName does nothing: the name is fixed at construction (see oidcProvider).
func (p *oauth2Provider) SetName(string) {}

// Debug does nothing; logging belongs to the handlers.
func (p *oauth2Provider) Debug(bool) {}

// RefreshTokenAvailable reports false: the portal refreshes no provider
// tokens (it keeps them, sealed, only to revoke them on unlink).
func (p *oauth2Provider) RefreshTokenAvailable() bool { return false }

// RefreshToken is not supported, see RefreshTokenAvailable.
func (p *oauth2Provider) RefreshToken(string) (*oauth2.Token, error) {
	return nil, fmt.Errorf("providers: %s: refresh: %w", p.name, errors.ErrUnsupported)
}

// BeginAuth starts a flow with the handler's state and, where the provider
// takes PKCE, a fresh verifier kept only in the returned session.
func (p *oauth2Provider) BeginAuth(state string) (goth.Session, error) {
	if state == "" {
		return nil, newError(p.name, "begin", ErrRejected, "empty state")
	}
	s := &oauth2Session{Provider: p.name}
	var opts []oauth2.AuthCodeOption
	if p.pkce {
		s.Verifier = oauth2.GenerateVerifier()
		opts = append(opts, oauth2.S256ChallengeOption(s.Verifier))
	}
	if p.stateInToken {
		s.State = state
	}
	s.AuthURL = p.oauth.AuthCodeURL(state, opts...)
	return s, nil
}

// UnmarshalSession restores a session stored by the handler after
// BeginAuth; a session of another provider, or a PKCE provider's session
// without its verifier, is refused.
func (p *oauth2Provider) UnmarshalSession(data string) (goth.Session, error) {
	var s oauth2Session
	err := json.Unmarshal([]byte(data), &s)
	if s.Provider == "" && p.unnamedSessions {
		s.Provider = p.name
	}
	if err != nil || s.AuthURL == "" ||
		s.Provider != p.name || p.pkce && s.Verifier == "" {
		return nil, newError(p.name, "session", ErrRejected, "stored session is unreadable")
	}
	return &s, nil
}

// FetchUser reads the person from the provider's profile endpoint and
// refuses a profile without a usable id.
func (p *oauth2Provider) FetchUser(gs goth.Session) (_ goth.User, err error) {
	const op = "user"
	defer recoverAs(p.name, op, &err)
	s, ok := gs.(*oauth2Session)
	if !ok || s.token == nil || s.Provider != p.name {
		return goth.User{}, newError(p.name, op, ErrRejected, "session is not authorized")
	}
	ctx, cancel := callContext(p.client)
	defer cancel()
	u, err := p.profile(ctx, s.token.AccessToken)
	if err != nil {
		return goth.User{}, wrapError(p.name, op, err, s.token.AccessToken)
	}
	if !validSubject(u.UserID) {
		return goth.User{}, newError(p.name, op, ErrBadResponse, "profile id is empty or too long")
	}
	u.Provider = p.name
	u.AccessToken = s.token.AccessToken
	u.RefreshToken = s.token.RefreshToken
	u.ExpiresAt = s.token.Expiry
	return u, nil
}

// revoke ends the grant the token belongs to (see Provider.Revoke).
func (p *oauth2Provider) revoke(ctx context.Context, token string) error {
	if p.revokeGrant == nil {
		return fmt.Errorf("providers: %s: revoke: %w", p.name, errors.ErrUnsupported)
	}
	return p.revokeGrant(ctx, token)
}

// apiGet calls a provider API with the access token in the Authorization
// header (never the query: RFC 9700 §4.3.2) and returns the body of its
// 200 JSON answer, read up to maxBodyBytes.
func (p *oauth2Provider) apiGet(ctx context.Context, op, endpoint, accessToken string, header http.Header) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return nil, newError(p.name, op, ErrUnavailable, "bad endpoint")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, wrapError(p.name, op, err, accessToken)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, newError(p.name, op, statusKind(resp.StatusCode), fmt.Sprintf("status %d", resp.StatusCode))
	}
	body, err := readBody(resp.Body)
	if err != nil {
		return nil, wrapError(p.name, op, err, accessToken)
	}
	if !isJSON(resp.Header.Get("Content-Type")) {
		return nil, newError(p.name, op, ErrBadResponse, "answer is not JSON")
	}
	return body, nil
}

// isJSON reports whether a Content-Type is JSON: application/json or a
// +json type such as GitHub's application/vnd.github+json.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// refreshed trades token for a new access token when it is a refresh
// token the provider still honours. The portal keeps the refresh token
// when there is one and hands that to Revoke, but Kakao and Naver end a
// grant only with an access token.
func (p *oauth2Provider) refreshed(ctx context.Context, token string) (string, bool) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, p.client)
	t, err := p.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: token}).Token()
	if err != nil || t.AccessToken == "" {
		return "", false
	}
	return t.AccessToken, true
}

// exchangeError classifies a failed token request. Naver and GitHub
// answer a refused code with status 200 and an OAuth error body; that is a
// rejection, not a malformed answer.
func exchangeError(name, op string, err error, secrets ...string) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode != "" && re.Response != nil && re.Response.StatusCode < 300 {
		return newError(name, op, ErrRejected, "error "+sanitizeCode(re.ErrorCode), secrets...)
	}
	return wrapError(name, op, err, secrets...)
}
