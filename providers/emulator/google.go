package emulator

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Google's token lifetimes: access tokens and ID tokens last an hour.
const (
	googleTokenTTL = time.Hour
	idTokenTTL     = time.Hour
)

// googleDiscovery serves GET /google/.well-known/openid-configuration.
func (e *Emulator) googleDiscovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, http.StatusOK, map[string]any{
		"issuer":                                e.Issuer(),
		"authorization_endpoint":                e.url("/google/authorize"),
		"token_endpoint":                        e.url("/google/token"),
		"userinfo_endpoint":                     e.url("/google/userinfo"),
		"jwks_uri":                              e.url("/google/jwks"),
		"revocation_endpoint":                   e.url("/google/revoke"),
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"grant_types_supported":                 []string{"authorization_code"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"scopes_supported":                      []string{"openid", "email", "profile"},
		"claims_supported": []string{"aud", "auth_time", "azp", "email", "email_verified", "exp",
			"family_name", "given_name", "iat", "iss", "name", "nonce", "picture", "sub"},
	})
}

// googleJWKS serves GET /google/jwks: the public halves of the newest keys.
func (e *Emulator) googleJWKS(w http.ResponseWriter, r *http.Request) {
	keys, err := e.keys.newest(r.Context(), publishedKeys)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", "the emulator could not read its keys")
		return
	}
	set := jose.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.key.PublicKey, KeyID: k.kid, Algorithm: string(jose.RS256), Use: "sig"})
	}
	writeJSON(w, r, http.StatusOK, set)
}

// googleToken serves POST /google/token.
func (e *Emulator) googleToken(w http.ResponseWriter, r *http.Request) {
	form, ok := readPostForm(w, r)
	if !ok || !authenticateClient(w, r, form, e.clients["google"]) {
		return
	}
	ac, p, ok := e.redeem(w, r, providers["google"], form)
	if !ok {
		return
	}
	t, err := e.issueToken(r, ac, googleTokenTTL)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", "the emulator could not save the token")
		return
	}
	idToken, err := e.idToken(r, ac, p)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", "the emulator could not sign the ID token")
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{
		"access_token": t.Token,
		"token_type":   "Bearer",
		"expires_in":   int(googleTokenTTL.Seconds()) - 1, // Google says 3599
		"scope":        ac.Scope,
		"id_token":     idToken,
	})
}

// profileClaims are the person's claims that the granted scope releases,
// shared by the ID token and userinfo as at Google: email needs "email",
// name and picture need "profile".
func (e *Emulator) profileClaims(scope string, p Person) map[string]any {
	scopes := strings.Fields(scope)
	c := map[string]any{"sub": p.Sub}
	if slices.Contains(scopes, "email") && p.Email != "" {
		c["email"] = p.Email
		c["email_verified"] = p.EmailVerified
	}
	if slices.Contains(scopes, "profile") {
		given, family := splitName(p.Name)
		c["name"] = p.Name
		c["given_name"] = given
		if family != "" {
			c["family_name"] = family
		}
		c["picture"] = e.avatarURL(p)
	}
	return c
}

// idToken mints the ID token, applying the token endpoint's fault.
func (e *Emulator) idToken(r *http.Request, ac authCode, p Person) (string, error) {
	f := faultFrom(r.Context())
	now := e.now()
	claims := e.profileClaims(ac.Scope, p)
	claims["iss"] = e.Issuer()
	claims["aud"] = ac.ClientID
	claims["azp"] = ac.ClientID
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(idTokenTTL).Unix()
	claims["auth_time"] = ac.Created.Unix()
	if ac.Nonce != "" {
		claims["nonce"] = ac.Nonce
	}
	for k, v := range f.IDTokenClaims {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("emulator: encode claims: %w", err)
	}
	if f.IDTokenAlgNone {
		header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
		return header + "." + base64.RawURLEncoding.EncodeToString(payload) + ".", nil
	}
	sk, err := e.keys.current(r.Context())
	if err != nil {
		return "", err
	}
	key, kid := sk.key, sk.kid
	if f.IDTokenWrongKey {
		if key, err = e.wrongKey.get(); err != nil {
			return "", err
		}
	}
	if f.IDTokenNoKid {
		kid = ""
	}
	return sign(key, kid, payload)
}

func sign(key *rsa.PrivateKey, kid string, payload []byte) (string, error) {
	jwk := jose.JSONWebKey{Key: key, KeyID: kid}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jwk}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("emulator: signer: %w", err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("emulator: sign: %w", err)
	}
	return obj.CompactSerialize()
}

// googleUserinfo serves GET/POST /google/userinfo.
func (e *Emulator) googleUserinfo(w http.ResponseWriter, r *http.Request) {
	tok, _ := bearer(r)
	t, p, ok := e.authorizedPerson(w, r, "google", tok)
	if !ok {
		return
	}
	claims := e.profileClaims(t.Scope, p)
	if f := faultFrom(r.Context()); f.Sub != nil {
		claims["sub"] = *f.Sub
	}
	writeJSON(w, r, http.StatusOK, claims)
}
