package providers

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/markbates/goth"
	"golang.org/x/oauth2"
)

// OIDCConfig configures a generic OpenID Connect provider.
type OIDCConfig struct {
	Common
	// Issuer is the provider's issuer URL. Discovery fetches
	// Issuer + "/.well-known/openid-configuration", and the issuer it
	// announces must equal this string exactly.
	Issuer string
	// Scopes are sent exactly as given; the default is openid email profile.
	Scopes []string
	// TrustEmailVerified says whether the email_verified claim is honoured
	// (true for Google). When false, EmailVerified is always false.
	TrustEmailVerified bool
	// AuthParams are extra authorization request parameters, e.g.
	// {"prompt": "select_account"}. The protocol's own parameters (state,
	// nonce, PKCE, scope, ...) cannot be overridden.
	AuthParams map[string]string
	// TrustedAudiences are audiences besides ClientID that an ID token may
	// carry. Any other extra audience is refused (OIDC Core §3.1.3.7 step 3).
	TrustedAudiences []string
	// ClientSecretPost sends the client credentials in the token request body
	// instead of HTTP Basic, for providers that accept only that. It is also
	// chosen when discovery lists client_secret_post but not
	// client_secret_basic. The choice is never probed at run time because
	// probing would send the authorization code twice.
	ClientSecretPost bool
}

// discoveryRetry is the least time between two discovery attempts, so a
// provider that is down is not hammered by every sign-in click.
const discoveryRetry = 10 * time.Second

// keysRetry is the least time between a failed key set (JWKS) fetch and
// the next attempt.
const keysRetry = 10 * time.Second

// errKeysThrottled is the keyFetchGate's answer while it holds fetches
// back.
var errKeysThrottled = errors.New("key set fetch failed recently; not retried yet")

// keyFetchGate is the transport of go-oidc's key set fetches. go-oidc
// verifies with its cached keys first and fetches the JWKS again for every
// ID token whose key it does not hold (OIDC Core §10.1.1), with no
// back-off: while the JWKS endpoint is down, every such sign-in would call
// it and wait. After a failed fetch (a transport error or a status other
// than 200) the gate answers errKeysThrottled for keysRetry without
// calling the provider (E-05b); tokens signed with a cached key still
// verify, since the cache is looked at first (E-05a). A successful fetch
// is never held back: a provider that rotated its key is fetched at once
// (A-05i).
type keyFetchGate struct {
	next http.RoundTripper
	now  func() time.Time

	mu       sync.Mutex
	failedAt time.Time // zero: the last fetch succeeded
}

func (g *keyFetchGate) RoundTrip(req *http.Request) (*http.Response, error) {
	g.mu.Lock()
	held := !g.failedAt.IsZero() && g.now().Sub(g.failedAt) < keysRetry
	g.mu.Unlock()
	if held {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errKeysThrottled
	}
	resp, err := g.next.RoundTrip(req)
	g.mu.Lock()
	if err != nil || resp.StatusCode != http.StatusOK {
		g.failedAt = g.now()
	} else {
		g.failedAt = time.Time{}
	}
	g.mu.Unlock()
	return resp, err
}

// reservedAuthParams are the parameters this package sets itself; letting
// configuration override them would undo PKCE, nonce or the fixed scope set.
var reservedAuthParams = []string{
	"state", "nonce", "code_challenge", "code_challenge_method", "response_type",
	"response_mode", "client_id", "redirect_uri", "scope", "access_type",
}

// Google returns the configuration of Google as an OIDC provider: issuer
// https://accounts.google.com, email_verified trusted, name "google" and label
// "Google" unless c sets them.
func Google(c Common) OIDCConfig {
	if c.Name == "" {
		c.Name = "google"
	}
	if c.Label == "" {
		c.Label = "Google"
	}
	return OIDCConfig{
		Common:             c,
		Issuer:             "https://accounts.google.com",
		TrustEmailVerified: true,
	}
}

// NewOIDC returns an OpenID Connect provider. It does not contact the
// provider: discovery happens on the first BeginAuth and is cached, and a
// failed discovery is retried on a later call (at most once per 10 s), so the
// portal starts even when the provider is down.
func NewOIDC(cfg OIDCConfig) (*Provider, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := checkEndpoint(cfg.Issuer, cfg.AllowInsecureHTTP); err != nil {
		return nil, fmt.Errorf("providers: %s: issuer: %w", cfg.Name, err)
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{oidc.ScopeOpenID, "email", "profile"}
	}
	if !slices.Contains(cfg.Scopes, oidc.ScopeOpenID) {
		return nil, fmt.Errorf("providers: %s: scopes must include %q", cfg.Name, oidc.ScopeOpenID)
	}
	for k := range cfg.AuthParams {
		if slices.Contains(reservedAuthParams, k) || k == "" {
			return nil, fmt.Errorf("providers: %s: auth parameter %q cannot be configured", cfg.Name, k)
		}
	}
	if cfg.Label == "" {
		cfg.Label = cfg.Name
	}
	cfg.Scopes = slices.Clone(cfg.Scopes)
	cfg.TrustedAudiences = slices.Clone(cfg.TrustedAudiences)
	op := &oidcProvider{
		name:   cfg.Name,
		cfg:    cfg,
		client: prepareClient(cfg.HTTPClient, nil),
		now:    time.Now,
	}
	return &Provider{
		Provider:           op,
		Label:              cfg.Label,
		trustEmailVerified: cfg.TrustEmailVerified,
		formActionOrigins:  op.formActionOrigins,
		issuer:             cfg.Issuer,
		chooser:            [2]string{"prompt", "select_account"},
	}, nil
}

// oidcProvider is the goth.Provider for OpenID Connect providers.
type oidcProvider struct {
	name   string
	cfg    OIDCConfig
	client *http.Client
	now    func() time.Time

	mu      sync.Mutex
	disc    *discovered // nil until discovery succeeds
	lastTry time.Time
	lastErr error
}

// discovered is what discovery yields, ready for flows.
type discovered struct {
	oauth       *oauth2.Config
	verifier    *oidc.IDTokenVerifier
	userinfoURL string
	// revocationURL is the RFC 7009 endpoint, empty when none is announced.
	revocationURL string
}

// Name returns the provider's URL name.
func (p *oidcProvider) Name() string { return p.name }

// SetName does nothing: the name is fixed at construction because the
// registry, the callback URL and stored identities all depend on it.
func (p *oidcProvider) SetName(string) {}

// Debug does nothing; logging belongs to the handlers.
func (p *oidcProvider) Debug(bool) {}

// RefreshTokenAvailable reports false: the portal discards provider tokens
// after sign-in.
func (p *oidcProvider) RefreshTokenAvailable() bool { return false }

// RefreshToken is not supported, see RefreshTokenAvailable.
func (p *oidcProvider) RefreshToken(string) (*oauth2.Token, error) {
	return nil, fmt.Errorf("providers: %s: refresh: %w", p.name, errors.ErrUnsupported)
}

// formActionOrigins lists the issuer's origin and, once discovered, the
// authorization endpoint's origin (Google's is the issuer's).
func (p *oidcProvider) formActionOrigins() []string {
	out := []string{origin(p.cfg.Issuer)}
	p.mu.Lock()
	if p.disc != nil {
		if o := origin(p.disc.oauth.Endpoint.AuthURL); o != out[0] {
			out = append(out, o)
		}
	}
	p.mu.Unlock()
	return out
}

// BeginAuth starts a flow with the handler's state, a fresh PKCE verifier and
// a fresh nonce, both kept only in the returned session.
func (p *oidcProvider) BeginAuth(state string) (_ goth.Session, err error) {
	defer recoverAs(p.name, "begin", &err)
	if state == "" {
		return nil, newError(p.name, "begin", ErrRejected, "empty state")
	}
	d, err := p.discover()
	if err != nil {
		return nil, err
	}
	verifier := oauth2.GenerateVerifier()
	nonce := randomToken()
	opts := []oauth2.AuthCodeOption{
		oauth2.S256ChallengeOption(verifier),
		oidc.Nonce(nonce),
		oauth2.AccessTypeOnline,
	}
	for k, v := range p.cfg.AuthParams {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	return &oidcSession{
		AuthURL:  d.oauth.AuthCodeURL(state, opts...),
		Verifier: verifier,
		Nonce:    nonce,
	}, nil
}

// discover returns the cached discovery result, or fetches it unless the
// last attempt failed less than discoveryRetry ago.
func (p *oidcProvider) discover() (*discovered, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.disc != nil {
		return p.disc, nil
	}
	now := p.now()
	if !p.lastTry.IsZero() && now.Sub(p.lastTry) < discoveryRetry {
		return nil, p.lastErr
	}
	p.lastTry = now
	d, err := p.fetchDiscovery()
	if err != nil {
		p.lastErr = err
		return nil, err
	}
	p.disc = d
	return d, nil
}

// fetchDiscovery runs OIDC discovery and checks that every endpoint it
// announces satisfies the same TLS rule as the configured issuer.
func (p *oidcProvider) fetchDiscovery() (*discovered, error) {
	const op = "discovery"
	// go-oidc keeps the client of this context for its key set fetches,
	// so they go through the gate (E-05b).
	keysClient := *p.client
	keysClient.Transport = &keyFetchGate{next: p.client.Transport, now: p.now}
	ctx, cancel := callContext(&keysClient)
	defer cancel()
	prov, err := oidc.NewProvider(ctx, p.cfg.Issuer)
	if err != nil {
		var mismatch *oidc.IssuerMismatchError
		_, kind := classify(err)
		switch {
		case errors.As(err, &mismatch):
			return nil, newError(p.name, op, ErrUnavailable, "announced issuer differs from the configured issuer")
		case kind == ErrTimeout:
			return nil, newError(p.name, op, ErrTimeout, "deadline exceeded")
		default:
			return nil, newError(p.name, op, ErrUnavailable, "discovery failed")
		}
	}
	var meta struct {
		UserinfoURL      string   `json:"userinfo_endpoint"`
		JWKSURL          string   `json:"jwks_uri"`
		TokenAuthMethods []string `json:"token_endpoint_auth_methods_supported"`
		RevocationURL    string   `json:"revocation_endpoint"`
	}
	if err := prov.Claims(&meta); err != nil {
		return nil, newError(p.name, op, ErrUnavailable, "malformed discovery document")
	}
	ep := prov.Endpoint()
	endpoints := map[string]string{"authorization_endpoint": ep.AuthURL, "token_endpoint": ep.TokenURL, "jwks_uri": meta.JWKSURL}
	if meta.UserinfoURL != "" {
		endpoints["userinfo_endpoint"] = meta.UserinfoURL
	}
	if checkEndpoint(meta.RevocationURL, p.cfg.AllowInsecureHTTP) != nil {
		// Optional: without it tokens are only deleted on unlink, never sent.
		meta.RevocationURL = ""
	}
	for field, u := range endpoints {
		if err := checkEndpoint(u, p.cfg.AllowInsecureHTTP); err != nil {
			return nil, newError(p.name, op, ErrUnavailable, field+" is missing or not https")
		}
	}
	ep.AuthStyle = oauth2.AuthStyleInHeader
	if p.cfg.ClientSecretPost || len(meta.TokenAuthMethods) > 0 &&
		!slices.Contains(meta.TokenAuthMethods, "client_secret_basic") &&
		slices.Contains(meta.TokenAuthMethods, "client_secret_post") {
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	return &discovered{
		oauth: &oauth2.Config{
			ClientID:     p.cfg.ClientID,
			ClientSecret: p.cfg.ClientSecret,
			RedirectURL:  p.cfg.CallbackURL,
			Endpoint:     ep,
			Scopes:       p.cfg.Scopes,
		},
		// checkIDToken checks exp, with leeway (clockSkew).
		verifier:      prov.Verifier(&oidc.Config{ClientID: p.cfg.ClientID, Now: p.now, SkipExpiryCheck: true}),
		userinfoURL:   meta.UserinfoURL,
		revocationURL: meta.RevocationURL,
	}, nil
}

// UnmarshalSession restores a session stored by the handler after BeginAuth.
func (p *oidcProvider) UnmarshalSession(data string) (goth.Session, error) {
	s, err := unmarshalOIDCSession(data)
	if err != nil {
		return nil, newError(p.name, "session", ErrRejected, "stored session is unreadable")
	}
	return s, nil
}

// unwrapProvider returns the goth.Provider inside a *Provider, so sessions
// accept either the registry's *Provider or the inner provider.
func unwrapProvider(gp goth.Provider) goth.Provider {
	if p, ok := gp.(*Provider); ok {
		return p.Provider
	}
	return gp
}
