package providers

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/markbates/goth"
	"github.com/markbates/goth/providers/facebook"
	"golang.org/x/oauth2"
)

// facebookSession wraps goth's Facebook session. Only the (rewritten)
// authorization URL is marshalled: goth's own Marshal would include the
// access token, and a stored blob must not be able to inject one.
type facebookSession struct {
	AuthURL string `json:"auth_url"`

	inner *facebook.Session
}

func unmarshalFacebookSession(data string) (*facebookSession, error) {
	var s facebookSession
	if err := json.Unmarshal([]byte(data), &s); err != nil {
		return nil, err
	}
	if s.AuthURL == "" {
		return nil, errors.New("missing auth URL")
	}
	s.inner = &facebook.Session{}
	return &s, nil
}

// GetAuthURL returns the authorization URL, rewritten to the emulator when
// one is configured.
func (s *facebookSession) GetAuthURL() (string, error) {
	if s.AuthURL == "" {
		return "", errors.New(goth.NoAuthUrlErrorMessage)
	}
	return s.AuthURL, nil
}

// Marshal returns the session as JSON for the server-side session store.
func (s *facebookSession) Marshal() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// facebookTokenURL is goth's (unexported) Facebook token endpoint; the
// transport sends it to the emulator when one is configured.
const facebookTokenURL = "https://graph.facebook.com/oauth/access_token"

// Authorize exchanges params' "code" (and nothing else from the query).
// It does what goth's facebook.Session.Authorize does, with the client
// credentials in the form (AuthStyleInParams, as Facebook documents) and
// a deadline: goth's oauth2.Config leaves the auth style to x/oauth2's
// auto-detection, which, on any failure of the first attempt (a 5xx, a
// timeout), sends the same code a second time with the credentials moved
// (A-11a, E-01a).
func (s *facebookSession) Authorize(gp goth.Provider, params goth.Params) (_ string, err error) {
	p, ok := unwrapProvider(gp).(*facebookProvider)
	if !ok {
		return "", newError("facebook", "token exchange", ErrRejected, "session used with another provider")
	}
	const op = "token exchange"
	defer recoverAs(p.name, op, &err)
	if s.inner == nil {
		s.inner = &facebook.Session{}
	}
	if s.inner.AccessToken != "" {
		return "", newError(p.name, op, ErrRejected, "session already used")
	}
	code := params.Get("code")
	if code == "" || len(code) > maxCodeBytes {
		return "", newError(p.name, op, ErrRejected, "missing or oversized code")
	}
	call, rec := p.perCall()
	conf := oauth2.Config{
		ClientID:     call.ClientKey,
		ClientSecret: call.Secret,
		RedirectURL:  call.CallbackURL,
		Endpoint:     oauth2.Endpoint{TokenURL: facebookTokenURL, AuthStyle: oauth2.AuthStyleInParams},
	}
	ctx, cancel := callContext(call.HTTPClient)
	defer cancel()
	tok, err := conf.Exchange(ctx, code)
	if err != nil {
		return "", p.fail(op, err, rec, code)
	}
	if !tok.Valid() {
		return "", newError(p.name, op, ErrBadResponse, "no usable access token", code)
	}
	if tt := tok.TokenType; tt != "" && !strings.EqualFold(tt, "bearer") {
		return "", newError(p.name, op, ErrBadResponse, "token_type is not Bearer")
	}
	s.inner.AccessToken, s.inner.ExpiresAt = tok.AccessToken, tok.Expiry
	return tok.AccessToken, nil
}

// rewriteFacebookURL points a www.facebook.com or graph.facebook.com URL at
// the emulator: base + path, query kept.
func rewriteFacebookURL(raw string, base *url.URL) string {
	if base == nil {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil || !isFacebookHost(u) {
		return raw
	}
	return rewriteFacebook(u, base).String()
}

func isFacebookHost(u *url.URL) bool {
	return u.Scheme == "https" && (u.Host == "www.facebook.com" || u.Host == "graph.facebook.com")
}

func rewriteFacebook(u, base *url.URL) *url.URL {
	out := *base
	out.Path = base.Path + u.Path
	out.RawPath = ""
	out.RawQuery = u.RawQuery
	return &out
}

// facebookTransport moves the access token goth puts in the Graph query
// string into the Authorization header (RFC 6750 §2.1; K5) and, when an
// emulator is configured, sends Facebook's hosts to it.
type facebookTransport struct {
	base     http.RoundTripper
	emulator *url.URL
}

func (t facebookTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !isFacebookHost(req.URL) {
		return t.base.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	if r.URL.Host == "graph.facebook.com" {
		q := r.URL.Query()
		if tok := q.Get("access_token"); tok != "" {
			q.Del("access_token")
			r.URL.RawQuery = q.Encode()
			r.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	if t.emulator != nil {
		r.URL = rewriteFacebook(r.URL, t.emulator)
		r.Host = ""
	}
	return t.base.RoundTrip(r)
}

// statusRecorder remembers the status of the last response of one call.
type statusRecorder struct{ status int }

type recordTransport struct {
	base http.RoundTripper
	rec  *statusRecorder
}

func (t recordTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err == nil {
		t.rec.status = resp.StatusCode
	}
	return resp, err
}
