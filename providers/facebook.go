package providers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/markbates/goth"
	"github.com/markbates/goth/providers/facebook"
	"golang.org/x/oauth2"
)

// FacebookConfig configures the Facebook provider.
type FacebookConfig struct {
	Common
	// EmulatorBase, if set (e.g. "http://localhost:8080/_emulator/facebook"),
	// replaces https://www.facebook.com and https://graph.facebook.com in
	// every URL: the authorization URL the browser gets and, through the HTTP
	// client's transport, every back-channel call. goth's Facebook endpoints
	// are constants, so rewriting is the only way to point them elsewhere.
	EmulatorBase string
}

// facebookFields are the profile fields requested: only what the portal
// shows, and none that needs a permission beyond email and public_profile.
var facebookFields = []string{"id", "name", "email", "first_name", "last_name", "picture"}

// NewFacebook returns goth's Facebook provider (scopes email and
// public_profile) wrapped so that: its calls go through a client with a
// timeout (K6); the access token travels in the Authorization header rather
// than the Graph query string (K5, A-13b); its errors are replaced by errors
// that never contain the access token, code, app secret proof or URL query;
// and a profile without an id is refused.
func NewFacebook(cfg FacebookConfig) (*Provider, error) {
	if cfg.Name == "" {
		cfg.Name = "facebook"
	}
	if cfg.Label == "" {
		cfg.Label = "Facebook"
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	authOrigin := "https://www.facebook.com"
	var base *url.URL
	if cfg.EmulatorBase != "" {
		if err := checkEndpoint(cfg.EmulatorBase, cfg.AllowInsecureHTTP); err != nil {
			return nil, fmt.Errorf("providers: %s: emulator base: %w", cfg.Name, err)
		}
		base, _ = url.Parse(strings.TrimSuffix(cfg.EmulatorBase, "/"))
		authOrigin = origin(cfg.EmulatorBase)
	}
	client := prepareClient(cfg.HTTPClient, func(rt http.RoundTripper) http.RoundTripper {
		return facebookTransport{base: rt, emulator: base}
	})
	inner := facebook.New(cfg.ClientID, cfg.ClientSecret, cfg.CallbackURL, "email", "public_profile")
	inner.SetName(cfg.Name)
	inner.SetCustomFields(facebookFields)
	inner.HTTPClient = client
	fp := &facebookProvider{name: cfg.Name, inner: inner, secret: cfg.ClientSecret, emulator: base}
	return &Provider{
		Provider:          fp,
		Label:             cfg.Label,
		formActionOrigins: func() []string { return []string{authOrigin} },
		// Facebook has no account chooser; re-authentication is the
		// nearest thing: it asks for the password again.
		chooser: [2]string{"auth_type", "reauthenticate"},
	}, nil
}

// facebookProvider wraps goth's Facebook provider.
type facebookProvider struct {
	name     string
	inner    *facebook.Provider
	secret   string
	emulator *url.URL // nil: talk to Facebook
}

// Name returns the provider's URL name.
func (p *facebookProvider) Name() string { return p.name }

// SetName does nothing: the name is fixed at construction (see oidcProvider).
func (p *facebookProvider) SetName(string) {}

// Debug does nothing; logging belongs to the handlers.
func (p *facebookProvider) Debug(bool) {}

// RefreshTokenAvailable reports false: Facebook issues no refresh tokens.
func (p *facebookProvider) RefreshTokenAvailable() bool { return false }

// RefreshToken is not supported, see RefreshTokenAvailable.
func (p *facebookProvider) RefreshToken(string) (*oauth2.Token, error) {
	return nil, fmt.Errorf("providers: %s: refresh: %w", p.name, errors.ErrUnsupported)
}

// BeginAuth starts a flow with the handler's state. goth's Facebook provider
// sends no PKCE; the state, checked by the handler, is the CSRF defence.
func (p *facebookProvider) BeginAuth(state string) (_ goth.Session, err error) {
	defer recoverAs(p.name, "begin", &err)
	if state == "" {
		return nil, newError(p.name, "begin", ErrRejected, "empty state")
	}
	gs, err := p.inner.BeginAuth(state)
	if err != nil {
		return nil, newError(p.name, "begin", ErrBadResponse, "goth facebook begin failed")
	}
	authURL, err := gs.GetAuthURL()
	if err != nil {
		return nil, newError(p.name, "begin", ErrBadResponse, "no authorization URL")
	}
	return &facebookSession{AuthURL: rewriteFacebookURL(authURL, p.emulator), inner: &facebook.Session{}}, nil
}

// UnmarshalSession restores a session stored by the handler after BeginAuth.
func (p *facebookProvider) UnmarshalSession(data string) (goth.Session, error) {
	s, err := unmarshalFacebookSession(data)
	if err != nil {
		return nil, newError(p.name, "session", ErrRejected, "stored session is unreadable")
	}
	return s, nil
}

// FetchUser reads the profile through goth and refuses one without a usable
// id.
func (p *facebookProvider) FetchUser(gs goth.Session) (_ goth.User, err error) {
	const op = "user"
	defer recoverAs(p.name, op, &err)
	s, ok := gs.(*facebookSession)
	if !ok || s.inner == nil || s.inner.AccessToken == "" {
		return goth.User{}, newError(p.name, op, ErrRejected, "session is not authorized")
	}
	call, rec := p.perCall()
	u, err := call.FetchUser(s.inner)
	if err != nil {
		return goth.User{}, p.fail(op, err, rec, s.inner.AccessToken, p.appSecretProof(s.inner.AccessToken))
	}
	if !validSubject(u.UserID) {
		return goth.User{}, newError(p.name, op, ErrBadResponse, "profile id is empty or too long")
	}
	u.Provider = p.name
	// goth copies the full name into NickName; Facebook has no public
	// handle, so showing it as one ("@Grace Hopper") would mislead.
	u.NickName = ""
	return u, nil
}

// perCall returns a copy of goth's provider whose client records the last
// response status, so failures can be classified without reading goth's
// error text (which may quote the token-bearing URL). A copy per call keeps
// concurrent flows from sharing the recorder.
func (p *facebookProvider) perCall() (*facebook.Provider, *statusRecorder) {
	rec := &statusRecorder{}
	c := *p.inner.HTTPClient
	c.Transport = recordTransport{base: c.Transport, rec: rec}
	cp := *p.inner
	cp.HTTPClient = &c
	return &cp, rec
}

// fail turns an error from goth into a sanitized *Error.
func (p *facebookProvider) fail(op string, err error, rec *statusRecorder, secrets ...string) error {
	detail, kind := classify(err)
	if kind == ErrBadResponse && !errors.Is(err, errBodyTooLarge) && rec.status != 0 && rec.status != http.StatusOK {
		kind, detail = statusKind(rec.status), fmt.Sprintf("status %d", rec.status)
	}
	return newError(p.name, op, kind, detail, append(secrets, p.secret)...)
}

// appSecretProof is the HMAC goth adds to Graph calls; computed here only to
// redact it.
func (p *facebookProvider) appSecretProof(token string) string {
	h := hmac.New(sha256.New, []byte(p.secret))
	h.Write([]byte(token))
	return hex.EncodeToString(h.Sum(nil))
}
