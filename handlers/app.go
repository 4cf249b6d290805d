// Package handlers is Linkport's HTTP layer: the Gin routes, the middleware
// that guards them (sessions, CSRF, security headers, request ids, panics)
// and the handlers of each screen and flow. Rules about accounts live in
// package accounts; handlers parse a request, call accounts or providers,
// build a view model and render it.
package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/providers"
	"github.com/linkport/linkport/views/locale"
)

// Config is everything the HTTP layer needs; cmd/linkport builds it.
type Config struct {
	// BaseURL is the public URL of the portal, e.g. http://localhost:8080.
	// Redirect URIs and cookie security come from it, never from request
	// headers.
	BaseURL   *url.URL
	Accounts  *accounts.Service
	Providers *providers.Registry
	Sessions  *scs.SessionManager
	// SessionIndex lists and revokes signed-in sessions; a signed-in
	// session without its row is signed out (K10).
	SessionIndex SessionIndex
	Logger       *slog.Logger
	// Ready reports whether the database and the session store answer.
	Ready func(ctx context.Context) error
	// Emulator, when set, is mounted at /_emulator/ (development only).
	Emulator http.Handler
	// TrustedProxies are the CIDRs whose X-Forwarded-For Gin believes;
	// empty means none.
	TrustedProxies []string
	// ImageOrigins are extra origins allowed for avatars in the CSP
	// (img-src), besides 'self' and https:.
	ImageOrigins []string
	// IdleTimeout ends a session after this long without a request; zero
	// means 2 hours.
	IdleTimeout time.Duration
	// FlowTTL bounds how long a sign-in may stay at the provider.
	FlowTTL time.Duration
	// StepUpAge is how recent a sign-in must be for a sensitive change
	// (link, remove, merge, profile, deletion, signing out other
	// sessions); zero means 15 minutes (SECURITY.md B-08).
	StepUpAge time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// KeepTokens says the store keeps provider tokens (encrypted, see
	// store.WithTokenKeys); when false they are dropped as soon as the
	// profile is read.
	KeepTokens bool
	// RateLimits are the request budgets; zero values take the defaults.
	RateLimits RateLimits
	// RequestTimeout bounds the work of one request: its context ends
	// after this long, so a database call that does not come back (a lock
	// held too long, a hung connection) ends in the 503 page instead of
	// holding the request (E-07c). Zero means 25 s, under cmd's 30 s
	// WriteTimeout so that the page still reaches the browser. Provider
	// calls have their own timeout.
	RequestTimeout time.Duration
}

// App holds every dependency of the handlers.
type App struct {
	cfg       Config
	accounts  *accounts.Service
	providers *providers.Registry
	sessions  *scs.SessionManager
	index     SessionIndex
	log       *slog.Logger
	assets    *assets
	now       func() time.Time
	secure    bool
	limits    limiters
	held      heldTokens // tokens of links waiting for confirmation
	metrics   *metrics
	locale    *locale.Catalog // the message catalogs, loaded once
	health    *providerHealth // which providers to mark temporarily unavailable (E-01c)
	pages     sync.Pool       // *bytes.Buffer to render pages into (render.go)
	// draining is set once shutdown has begun: /readyz then answers 503
	// so load balancers stop sending new requests (E-14a).
	draining atomic.Bool
}

// New checks the configuration and builds the application.
func New(cfg Config) (*App, error) {
	if cfg.BaseURL == nil || cfg.Accounts == nil || cfg.Providers == nil || cfg.Sessions == nil || cfg.SessionIndex == nil {
		return nil, errors.New("handlers: BaseURL, Accounts, Providers, Sessions and SessionIndex are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Logger = slog.New(withRequestIDs(cfg.Logger.Handler()))
	if cfg.FlowTTL <= 0 || cfg.FlowTTL > 10*time.Minute {
		cfg.FlowTTL = 10 * time.Minute
	}
	if cfg.StepUpAge <= 0 {
		cfg.StepUpAge = 15 * time.Minute
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 2 * time.Hour
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 25 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Ready == nil {
		cfg.Ready = func(context.Context) error { return nil }
	}
	as, err := loadAssets()
	if err != nil {
		return nil, err
	}
	cat, err := locale.New()
	if err != nil {
		return nil, err
	}
	m := newMetrics()
	// The session manager is the caller's, but its store is timed here, so
	// that whichever store cmd wires (SQLite, PostgreSQL, Redis) is
	// measured. Each App needs its own SessionManager.
	if ts, ok := cfg.Sessions.Store.(timedStore); ok {
		cfg.Sessions.Store = ts.next
	}
	cfg.Sessions.Store = timedStore{next: cfg.Sessions.Store, h: m.store}
	a := &App{
		cfg:       cfg,
		accounts:  cfg.Accounts,
		providers: cfg.Providers,
		sessions:  cfg.Sessions,
		index:     timedIndex{next: cfg.SessionIndex, h: m.store},
		log:       cfg.Logger,
		assets:    as,
		now:       cfg.Now,
		secure:    cfg.BaseURL.Scheme == "https",
		limits:    newLimiters(cfg.RateLimits, cfg.Logger),
		metrics:   m,
		locale:    cat,
	}
	var names []string
	for _, p := range cfg.Providers.All() {
		names = append(names, p.Name())
	}
	a.health = newProviderHealth(names, cfg.Now, cfg.Logger, m.reg)
	return a, nil
}

// Drain marks the App as shutting down: /readyz answers 503 from now on,
// while requests keep being served. cmd calls it before it stops the
// listener.
func (a *App) Drain() { a.draining.Store(true) }

// NewSessionManager configures scs as DESIGN.md says: a __Host- cookie on
// https, HttpOnly, SameSite=Lax (Strict would drop the cookie on the way
// back from the provider), with an absolute lifetime. The idle timeout is
// Config.IdleTimeout, kept by the handlers rather than by scs: scs would
// write the session back on every request to move its deadline, and such
// a late write can bring back a session that a concurrent request renewed
// or ended (SECURITY.md K10).
func NewSessionManager(store scs.Store, baseURL *url.URL, lifetime time.Duration) *scs.SessionManager {
	sm := scs.New()
	sm.Store = store
	sm.Codec = newSessionCodec()
	sm.IdleTimeout = 0
	sm.Lifetime = lifetime
	sm.HashTokenInStore = true
	sm.Cookie.Path = "/"
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Persist = false
	if baseURL.Scheme == "https" {
		sm.Cookie.Name = "__Host-linkport"
		sm.Cookie.Secure = true
	} else {
		sm.Cookie.Name = "linkport"
	}
	return sm
}
