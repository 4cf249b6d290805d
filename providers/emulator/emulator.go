// Package emulator is a local stand-in for the identity providers Linkport
// signs people in with: Google (OpenID Connect), Facebook (OAuth 2.0 and the
// Graph /me endpoint), X (OAuth 2.0 with PKCE and /2/users/me), Kakao
// (OAuth 2.0 with PKCE and /v2/user/me), Naver (OAuth 2.0 and /v1/nid/me)
// and GitHub (OAuth 2.0 with PKCE, /user and /user/emails).
//
// It exists so that a newcomer can run the portal and sign in without
// registering real OAuth applications, and so that tests can drive complete
// sign-in flows, including the ways real providers misbehave (see [Fault]),
// without the network. It is deliberately strict where real providers are
// strict (exact redirect_uri match, single-use codes, PKCE S256, client
// authentication) so that a portal bug shows up here first rather than in
// production.
//
// Everything it remembers (people, codes, tokens, the signing key) lives in
// the [Config.DB] database so that restarting the portal loses nothing.
//
// It must never be mounted in production: it hands out identities to anyone
// who asks.
package emulator

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Client is the one OAuth client registered at an emulated provider: the
// portal's client ID, secret and the single callback URL it may use.
type Client struct {
	ID          string
	Secret      string
	RedirectURI string
}

// Config configures an [Emulator].
type Config struct {
	// DB is required. People, pending codes, access tokens and the signing
	// key persist here in emulator_* tables created by New. The SQL is
	// portable between SQLite and PostgreSQL.
	DB *sql.DB
	// BaseURL is the public URL at which Handler is served, without a
	// trailing slash, e.g. "http://localhost:8080/_emulator".
	BaseURL string
	// Clients holds the registered client per provider, keyed "google",
	// "facebook", "x", "kakao", "naver" and "github". A provider without a
	// client answers 404.
	Clients map[string]Client
	// Now is the clock; nil means time.Now. Tests inject one to expire
	// codes and tokens.
	Now func() time.Time
}

// Emulator serves the emulated providers. It is safe for concurrent use.
type Emulator struct {
	db       *sql.DB
	base     *url.URL // parsed BaseURL
	baseURL  string   // BaseURL as configured, no trailing slash
	clients  map[string]Client
	now      func() time.Time
	handler  http.Handler
	pages    *pages
	keys     *keyring
	mu       sync.Mutex
	faults   map[string]Fault // key: provider + "/" + canonical endpoint
	hits     map[string]int   // same keys as faults
	wrongKey *wrongKey

	// codeSweep and tokenSweep pace the deletion of long-expired codes
	// and tokens (see sweepEvery).
	codeSweep, tokenSweep sweeper
}

// Errors returned by the API. Handlers translate them to OAuth error answers.
var (
	// ErrUnknownProvider is returned for a provider name other than
	// "google", "facebook", "x", "kakao", "naver" or "github".
	ErrUnknownProvider = errors.New("emulator: unknown provider")
	// ErrNoClient is returned when the provider has no registered client.
	ErrNoClient = errors.New("emulator: provider has no registered client")
	// ErrPersonExists is returned by AddPerson when the subject is taken.
	ErrPersonExists = errors.New("emulator: person already exists")
	// ErrInvalidPerson is returned when a person's fields are unacceptable.
	ErrInvalidPerson = errors.New("emulator: invalid person")
	// ErrInvalidRequest is returned by Approve when the authorization
	// request is one the provider would refuse.
	ErrInvalidRequest = errors.New("emulator: invalid authorization request")
)

// New checks cfg, creates the emulator_* tables if needed and makes sure a
// signing key exists.
func New(ctx context.Context, cfg Config) (*Emulator, error) {
	if cfg.DB == nil {
		return nil, errors.New("emulator: Config.DB is required")
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("emulator: Config.BaseURL %q must be an absolute http(s) URL", cfg.BaseURL)
	}
	if base.RawQuery != "" || base.Fragment != "" || strings.HasSuffix(cfg.BaseURL, "/") {
		return nil, fmt.Errorf("emulator: Config.BaseURL %q must have no query, fragment or trailing slash", cfg.BaseURL)
	}
	clients := make(map[string]Client, len(cfg.Clients))
	for name, c := range cfg.Clients {
		if _, ok := providers[name]; !ok {
			return nil, fmt.Errorf("%w: %q", ErrUnknownProvider, name)
		}
		if c.ID == "" || c.Secret == "" || c.RedirectURI == "" {
			return nil, fmt.Errorf("emulator: client for %s needs ID, Secret and RedirectURI", name)
		}
		if u, err := url.Parse(c.RedirectURI); err != nil || !u.IsAbs() || u.Fragment != "" {
			return nil, fmt.Errorf("emulator: client for %s: RedirectURI %q must be absolute, without fragment", name, c.RedirectURI)
		}
		clients[name] = c
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	e := &Emulator{
		db:       cfg.DB,
		base:     base,
		baseURL:  cfg.BaseURL,
		clients:  clients,
		now:      now,
		faults:   map[string]Fault{},
		hits:     map[string]int{},
		wrongKey: &wrongKey{},
	}
	if err := e.migrate(ctx); err != nil {
		return nil, err
	}
	e.keys = &keyring{db: cfg.DB, parsed: map[string]*signingKey{}}
	if err := e.keys.ensure(ctx, now()); err != nil {
		return nil, err
	}
	e.pages, err = newPages()
	if err != nil {
		return nil, err
	}
	e.handler = e.routes()
	return e, nil
}

// Issuer is the OpenID Connect issuer of the emulated Google: BaseURL +
// "/google". ID tokens carry it as iss and discovery lives under it.
func (e *Emulator) Issuer() string { return e.baseURL + "/google" }

// Handler serves every emulated endpoint. It routes on the part of the path
// after BaseURL's path, so it works both when mounted with the prefix
// stripped (http.StripPrefix, or at the root of an httptest server) and when
// it receives the full path.
func (e *Emulator) Handler() http.Handler { return e.handler }

// url returns the absolute public URL of an emulator path such as
// "/google/token".
func (e *Emulator) url(path string) string { return e.baseURL + path }

// client returns the registered client of a provider.
func (e *Emulator) client(provider string) (Client, error) {
	if _, ok := providers[provider]; !ok {
		return Client{}, fmt.Errorf("%w: %q", ErrUnknownProvider, provider)
	}
	c, ok := e.clients[provider]
	if !ok {
		return Client{}, fmt.Errorf("%w: %s", ErrNoClient, provider)
	}
	return c, nil
}
