package providers

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/markbates/goth"
	"golang.org/x/oauth2"
)

// maxCodeBytes bounds the authorization code we forward to the token
// endpoint; real codes are far shorter.
const maxCodeBytes = 2048

// clockSkew is the leeway for the ID token's time claims (OIDC Core
// §3.1.3.7 steps 9-10 allow a small one): iat and nbf may lie this far in
// the future and exp this far in the past (E-16a). go-oidc checks exp with
// no leeway at all, so the verifier skips its expiry check and
// checkIDToken does it.
const clockSkew = 2 * time.Minute

// oidcSession is one OIDC flow. Only the fields set by BeginAuth are
// marshalled: the result of Authorize (tokens, claims) stays in memory so it
// can never end up in the scs session store.
type oidcSession struct {
	AuthURL  string `json:"auth_url"`
	Verifier string `json:"verifier"`
	Nonce    string `json:"nonce"`

	token      *oauth2.Token
	rawIDToken string
	claims     map[string]any // verified ID token claims
}

func unmarshalOIDCSession(data string) (*oidcSession, error) {
	var s oidcSession
	if err := json.Unmarshal([]byte(data), &s); err != nil {
		return nil, err
	}
	if s.Verifier == "" || s.Nonce == "" {
		return nil, errors.New("missing verifier or nonce")
	}
	return &s, nil
}

// GetAuthURL returns the authorization URL made by BeginAuth.
func (s *oidcSession) GetAuthURL() (string, error) {
	if s.AuthURL == "" {
		return "", errors.New(goth.NoAuthUrlErrorMessage)
	}
	return s.AuthURL, nil
}

// Marshal returns the session as JSON for the server-side session store. It
// holds the PKCE verifier and nonce, so it must never be sent to the browser.
func (s *oidcSession) Marshal() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Authorize exchanges the code for tokens and verifies the ID token. Only
// params' "code" is read: the PKCE verifier and nonce come from the stored
// session, never from the callback query (goth's openidConnect takes the
// verifier from the query, K2).
func (s *oidcSession) Authorize(gp goth.Provider, params goth.Params) (_ string, err error) {
	p, ok := unwrapProvider(gp).(*oidcProvider)
	if !ok {
		return "", newError("oidc", "token exchange", ErrRejected, "session used with another provider")
	}
	const op = "token exchange"
	defer recoverAs(p.name, op, &err)
	if s.Verifier == "" || s.Nonce == "" {
		return "", newError(p.name, op, ErrRejected, "session has no verifier or nonce")
	}
	if s.token != nil {
		return "", newError(p.name, op, ErrRejected, "session already used")
	}
	code := params.Get("code")
	if code == "" || len(code) > maxCodeBytes {
		return "", newError(p.name, op, ErrRejected, "missing or oversized code")
	}
	d, err := p.discover()
	if err != nil {
		return "", err
	}
	ctx, cancel := callContext(p.client)
	defer cancel()
	secrets := []string{code, s.Verifier, p.cfg.ClientSecret}
	tok, err := d.oauth.Exchange(ctx, code, oauth2.VerifierOption(s.Verifier))
	if err != nil {
		return "", wrapError(p.name, op, err, secrets...)
	}
	secrets = append(secrets, tok.AccessToken, tok.RefreshToken)
	if tt := tok.TokenType; tt != "" && !strings.EqualFold(tt, "bearer") {
		return "", newError(p.name, op, ErrBadResponse, "token_type is not Bearer")
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return "", newError(p.name, op, ErrBadResponse, "id_token missing or not a string")
	}
	idt, err := d.verifier.Verify(ctx, raw)
	if err != nil {
		return "", verifyError(p.name, err, append(secrets, raw)...)
	}
	claims, err := p.checkIDToken(idt, s.Nonce, tok.AccessToken)
	if err != nil {
		return "", err
	}
	s.token, s.rawIDToken, s.claims = tok, raw, claims
	return tok.AccessToken, nil
}

// checkIDToken adds the checks go-oidc leaves to the caller: nonce,
// iat and sub presence, extra audiences and azp, at_hash.
func (p *oidcProvider) checkIDToken(idt *oidc.IDToken, nonce, accessToken string) (map[string]any, error) {
	const op = "id token"
	reject := func(why string) (map[string]any, error) {
		return nil, newError(p.name, op, ErrRejected, why)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return reject("nonce does not match the flow")
	}
	now := p.now()
	if idt.Expiry.IsZero() {
		return reject("exp missing")
	}
	if now.After(idt.Expiry.Add(clockSkew)) {
		return reject("expired")
	}
	if idt.IssuedAt.IsZero() {
		return reject("iat missing")
	}
	if idt.IssuedAt.After(now.Add(clockSkew)) {
		return reject("iat in the future")
	}
	if !validSubject(idt.Subject) {
		return reject("sub missing or longer than 255 bytes")
	}
	for _, aud := range idt.Audience {
		if aud != p.cfg.ClientID && !slices.Contains(p.cfg.TrustedAudiences, aud) {
			return reject("untrusted audience")
		}
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil || claims == nil {
		return nil, newError(p.name, op, ErrBadResponse, "claims are not a JSON object")
	}
	// go-oidc has already refused an nbf that is not a number.
	if nbf, ok := claims["nbf"].(float64); ok && time.Unix(int64(nbf), 0).After(now.Add(clockSkew)) {
		return reject("not valid yet (nbf)")
	}
	azp, hasAZP := claims["azp"]
	if hasAZP && azp != p.cfg.ClientID || !hasAZP && len(idt.Audience) > 1 {
		return reject("azp is not this client")
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(accessToken); err != nil {
			return reject("at_hash does not match the access token")
		}
	}
	return claims, nil
}

// verifyError classifies a go-oidc verification failure: a JWKS fetch that
// timed out or failed is the provider's outage, anything else a rejection.
func verifyError(name string, err error, secrets ...string) error {
	_, kind := classify(err)
	// go-oidc reports a failed key fetch as "failed to verify signature:
	// fetching keys ..." with %v, which drops the error chain: a fetch
	// that ran out of time is recognised by its text (E-02b).
	msg := err.Error()
	fetching := strings.Contains(msg, "failed to verify signature: fetching keys")
	switch {
	case kind == ErrTimeout, fetching && (strings.Contains(msg, "deadline exceeded") || strings.Contains(msg, "Client.Timeout")):
		return newError(name, "id token", ErrTimeout, "fetching keys: deadline exceeded")
	case kind == ErrUnavailable, fetching, strings.Contains(msg, "get keys failed"):
		return newError(name, "id token", ErrUnavailable, "fetching keys failed")
	}
	var expired *oidc.TokenExpiredError
	if errors.As(err, &expired) {
		return newError(name, "id token", ErrRejected, "expired")
	}
	detail := err.Error()
	if len(detail) > 200 {
		detail = detail[:200]
	}
	return newError(name, "id token", ErrRejected, "verification failed: "+detail, secrets...)
}
