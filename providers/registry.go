package providers

import (
	"fmt"
	"net/url"
	"slices"

	"github.com/markbates/goth"
)

// Provider is one configured sign-in provider: a goth.Provider plus what the
// portal needs to know about it beyond the protocol.
type Provider struct {
	// Provider's Name is the URL name: "google", "facebook", "x", or a
	// generic OIDC provider's configured name.
	goth.Provider
	// Label is the human name shown on buttons, e.g. "X (Twitter)".
	Label string

	// trustEmailVerified says whether the provider's email_verified claim may
	// ever be believed (Google: yes; Facebook and X: never).
	trustEmailVerified bool
	// formActionOrigins lists the origins the browser is sent to at begin; a
	// func because an OIDC provider learns its authorization endpoint only
	// from discovery.
	formActionOrigins func() []string
	// issuer is the OpenID Connect issuer; empty for plain OAuth 2.0
	// providers, which have none.
	issuer string
	// chooser is the authorize parameter that makes the provider ask
	// which account to use ("Not you?"); empty where there is none (X).
	chooser [2]string
	// reauth is the authorize parameter that makes the provider ask for the
	// sign-in again, where it is not the chooser (Kakao: prompt=login).
	reauth [2]string
	// verifyEmail is the provider's own rule for when its email is
	// verified, where that is not an email_verified claim (Kakao, GitHub).
	verifyEmail func(goth.User) bool
}

// WithAccountChooser returns authURL asking the provider to let the person
// pick another account: prompt=select_account for OpenID Connect, Kakao
// and GitHub, auth_type=reauthenticate for Facebook and Naver; X has no
// such parameter and gets authURL unchanged.
func (p *Provider) WithAccountChooser(authURL string) string {
	if p.chooser[0] == "" {
		return authURL
	}
	u, err := url.Parse(authURL)
	if err != nil {
		return authURL
	}
	q := u.Query()
	q.Set(p.chooser[0], p.chooser[1])
	u.RawQuery = q.Encode()
	return u.String()
}

// AcceptsIssuer reports whether iss, the RFC 9207 "iss" parameter of an
// authorization response, names this provider. A provider without an
// issuer accepts none: an "iss" on its callback means the response came
// from another server (mix-up, A-07). Comparison is exact, as RFC 9207
// §2.4 says.
func (p *Provider) AcceptsIssuer(iss string) bool {
	return p.issuer != "" && iss == p.issuer
}

// FormActionOrigins returns scheme://host[:port] of every URL a browser is
// sent to when a flow with this provider begins. Chromium and Safari apply
// the CSP form-action directive to the redirect that follows the begin POST,
// so these origins must be listed there (K15, B-10d).
func (p *Provider) FormActionOrigins() []string {
	if p.formActionOrigins == nil {
		return nil
	}
	return p.formActionOrigins()
}

// Registry holds the configured providers by name. It is built once at
// start-up and is safe for concurrent use because it is never modified.
type Registry struct {
	byName map[string]*Provider
	all    []*Provider
}

// NewRegistry builds a registry from ps, refusing a nil provider and invalid
// or duplicate names: two providers under one name would let one's callback
// complete the other's flow.
func NewRegistry(ps ...*Provider) (*Registry, error) {
	r := &Registry{byName: make(map[string]*Provider, len(ps))}
	for i, p := range ps {
		if p == nil || p.Provider == nil {
			return nil, fmt.Errorf("providers: provider %d is nil", i)
		}
		name := p.Name()
		if err := checkName(name); err != nil {
			return nil, err
		}
		if _, dup := r.byName[name]; dup {
			return nil, fmt.Errorf("providers: duplicate provider name %q", name)
		}
		r.byName[name] = p
		r.all = append(r.all, p)
	}
	return r, nil
}

// Get returns the provider with the given URL name.
func (r *Registry) Get(name string) (*Provider, bool) {
	p, ok := r.byName[name]
	return p, ok
}

// All returns the providers in the order given to NewRegistry (the order of
// the sign-in buttons).
func (r *Registry) All() []*Provider {
	return slices.Clone(r.all)
}

// FormActionOrigins returns the union of the providers' form-action origins,
// sorted and without duplicates, ready for a CSP header.
func (r *Registry) FormActionOrigins() []string {
	var out []string
	for _, p := range r.all {
		out = append(out, p.FormActionOrigins()...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
