package emulator

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// maxForm bounds token and revoke request bodies.
const maxForm = 64 << 10

// readPostForm reads a form-encoded POST body, refusing repeated parameters
// (RFC 6749 §3.2) and other content types, as real token endpoints do.
func readPostForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		writeError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "the form could not be read")
		return nil, false
	}
	return r.PostForm, noRepeats(w, r.PostForm)
}

// noRepeats refuses a parameter given more than once: with two codes or two
// verifiers it would be unclear which one was checked.
func noRepeats(w http.ResponseWriter, v url.Values) bool {
	for k, vs := range v {
		if len(vs) > 1 {
			writeError(w, http.StatusBadRequest, "invalid_request", k+" appears more than once")
			return false
		}
	}
	return true
}

// authenticateClient checks the client credentials, sent either with HTTP
// Basic (RFC 6749 §2.3.1, form-encoded inside) or as client_id and
// client_secret form fields, but not both. It writes the 401 itself.
func authenticateClient(w http.ResponseWriter, r *http.Request, form url.Values, c Client) bool {
	id, secret, basic := r.BasicAuth()
	if basic {
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return denyClient(w, "malformed HTTP Basic credentials")
		}
		if form.Has("client_secret") {
			writeError(w, http.StatusBadRequest, "invalid_request", "use one client authentication method, not both Basic and client_secret")
			return false
		}
		if form.Has("client_id") && form.Get("client_id") != id {
			return denyClient(w, "client_id in the form differs from the Basic credentials")
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	switch {
	case id == "" && secret == "":
		return denyClient(w, "client authentication is required")
	case subtle.ConstantTimeCompare([]byte(id), []byte(c.ID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1:
		return denyClient(w, "unknown client or wrong client secret")
	}
	return true
}

func denyClient(w http.ResponseWriter, description string) bool {
	w.Header().Set("WWW-Authenticate", `Basic realm="emulator"`)
	writeError(w, http.StatusUnauthorized, "invalid_client", description)
	return false
}

// pkceVerifier is RFC 7636 §4.1's code_verifier.
var pkceVerifier = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// redeem checks an authorization_code grant and takes the code. The code
// is marked used before the remaining checks, so a code presented with a
// wrong verifier or redirect URI is burnt, as at real providers: an
// injected code is of no use to anybody afterwards.
func (e *Emulator) redeem(w http.ResponseWriter, r *http.Request, prov provider, form url.Values) (authCode, Person, bool) {
	c := e.clients[prov.name]
	fail := func(code, description string) (authCode, Person, bool) {
		writeError(w, http.StatusBadRequest, code, description)
		return authCode{}, Person{}, false
	}
	if gt := form.Get("grant_type"); gt != "authorization_code" && !(prov.name == "facebook" && gt == "") {
		if gt == "" {
			return fail("invalid_request", "grant_type is missing")
		}
		return fail("unsupported_grant_type", "only grant_type=authorization_code is supported")
	}
	code := form.Get("code")
	if code == "" {
		return fail("invalid_request", "code is missing")
	}
	if form.Get("redirect_uri") == "" {
		return fail("invalid_request", "redirect_uri is missing")
	}
	ac, err := e.takeCode(r.Context(), prov.name, code)
	if errors.Is(err, errBadCode) {
		return fail("invalid_grant", err.Error())
	} else if err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", "the emulator could not read the code")
		return authCode{}, Person{}, false
	}
	verifier := form.Get("code_verifier")
	switch {
	case ac.ClientID != c.ID:
		return fail("invalid_grant", "the code was issued to another client")
	case form.Get("redirect_uri") != ac.RedirectURI:
		return fail("invalid_grant", "redirect_uri differs from the one in the authorization request")
	case ac.CodeChallenge == "" && verifier != "":
		// RFC 9700 §4.8.2: a verifier without a challenge is a downgrade attempt.
		return fail("invalid_grant", "code_verifier sent but the authorization request had no code_challenge")
	case ac.CodeChallenge != "" && verifier == "":
		return fail("invalid_grant", "code_verifier is missing")
	case ac.CodeChallenge != "" && !pkceVerifier.MatchString(verifier):
		return fail("invalid_grant", "code_verifier must be 43-128 characters of [A-Za-z0-9-._~]")
	case ac.CodeChallenge != "" && !s256Matches(verifier, ac.CodeChallenge):
		return fail("invalid_grant", "code_verifier does not match the code_challenge")
	}
	p, err := e.person(r.Context(), prov.name, ac.Sub)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", "the emulator could not read the person")
		return authCode{}, Person{}, false
	}
	return ac, p, true
}

func s256Matches(verifier, challenge string) bool {
	sum := sha256.Sum256([]byte(verifier))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}

// issueToken stores a new access token for the code's person.
func (e *Emulator) issueToken(r *http.Request, ac authCode, ttl time.Duration) (accessToken, error) {
	t := accessToken{
		Token: randomToken(32), Provider: ac.Provider, ClientID: ac.ClientID,
		Sub: ac.Sub, Scope: ac.Scope, Expires: e.now().Add(ttl),
	}
	return t, e.saveToken(r.Context(), t)
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// authorizedPerson checks a bearer token of the provider and returns the
// token and its person; it writes the 401 itself.
func (e *Emulator) authorizedPerson(w http.ResponseWriter, r *http.Request, prov, token string) (accessToken, Person, bool) {
	if token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="emulator"`)
		writeError(w, http.StatusUnauthorized, "invalid_request", "an access token is required")
		return accessToken{}, Person{}, false
	}
	t, err := e.lookupToken(r.Context(), prov, token)
	if errors.Is(err, errBadToken) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="emulator", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "invalid_token", err.Error())
		return accessToken{}, Person{}, false
	}
	if err == nil {
		var p Person
		p, err = e.person(r.Context(), prov, t.Sub)
		if err == nil {
			return t, p, true
		}
	}
	writeError(w, http.StatusInternalServerError, "server_error", "the emulator could not read the token")
	return accessToken{}, Person{}, false
}

// revoke serves Google's and X's revocation endpoints (RFC 7009). X wants
// client authentication; Google does not.
func (e *Emulator) revoke(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		form, ok := readPostForm(w, r)
		if !ok {
			return
		}
		c := e.clients[name]
		if name == "x" && !authenticateClient(w, r, form, c) {
			return
		}
		tok := form.Get("token")
		if tok == "" && name == "google" {
			tok = r.URL.Query().Get("token") // Google documents the query form too
		}
		if tok == "" {
			writeError(w, http.StatusBadRequest, "invalid_request", "token is missing")
			return
		}
		found, err := e.revokeToken(r.Context(), name, c.ID, tok)
		switch {
		case err != nil:
			writeError(w, http.StatusInternalServerError, "server_error", "the emulator could not revoke the token")
		case name == "google" && !found:
			writeError(w, http.StatusBadRequest, "invalid_token", "Token expired or revoked")
		case name == "google":
			writeJSON(w, r, http.StatusOK, struct{}{})
		default:
			// RFC 7009 §2.2: an unknown token is not an error.
			writeJSON(w, r, http.StatusOK, map[string]bool{"revoked": true})
		}
	}
}
