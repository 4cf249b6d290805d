package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// What the emulated Kakao, Naver and GitHub share: their token endpoints
// take the client credentials in the form only, Kakao and Naver issue
// refresh tokens, all three end a whole grant at once rather than revoke
// one token, and their consent page lets the tester withhold the email.

// route returns the registration helper of routes, for the providers
// whose routes live in their own files: every endpoint goes through
// e.endpoint, so hits are counted and faults applied as for the others.
func (e *Emulator) route(mux *http.ServeMux) func(pattern, prov, name string, h http.HandlerFunc) {
	return func(pattern, prov, name string, h http.HandlerFunc) {
		mux.Handle(pattern, e.endpoint(prov, name, h))
	}
}

// formClient authenticates the client with client_id and client_secret
// in the form, the only way Kakao, Naver and GitHub document: HTTP Basic
// alone is refused, as they would refuse it for lack of a client_id.
func formClient(w http.ResponseWriter, r *http.Request, form url.Values, c Client) bool {
	if _, _, basic := r.BasicAuth(); basic || form.Get("client_id") == "" {
		return denyClient(w, "send client_id and client_secret in the form")
	}
	return authenticateClient(w, r, form, c)
}

// refreshSuffix marks refresh tokens in emulator_tokens: stored under
// provider + "/refresh", a refresh token is never accepted where an access
// token is expected, nor the other way round.
const refreshSuffix = "/refresh"

// issueTokens stores an access token and a refresh token for the code's
// person, as Kakao and Naver hand out both; on failure it writes the error
// answer itself and ok is false.
func (e *Emulator) issueTokens(w http.ResponseWriter, r *http.Request, ac authCode, ttl, refreshTTL time.Duration) (t, rt accessToken, ok bool) {
	t, err := e.issueToken(r, ac, ttl)
	if err == nil {
		ac.Provider += refreshSuffix
		rt, err = e.issueToken(r, ac, refreshTTL)
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", "the emulator could not save the token")
		return t, rt, false
	}
	return t, rt, true
}

// refreshGrant checks a refresh_token grant and issues a new access token
// for the same person and scope; it writes the error answer itself.
func (e *Emulator) refreshGrant(w http.ResponseWriter, r *http.Request, prov string, form url.Values, ttl time.Duration) (accessToken, bool) {
	rt := form.Get("refresh_token")
	if rt == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "refresh_token is missing")
		return accessToken{}, false
	}
	t, err := e.lookupToken(r.Context(), prov+refreshSuffix, rt)
	switch {
	case errors.Is(err, errBadToken), err == nil && t.ClientID != e.clients[prov].ID:
		writeError(w, http.StatusBadRequest, "invalid_grant", "refresh token is invalid, expired or revoked")
		return accessToken{}, false
	case err != nil:
		writeError(w, http.StatusInternalServerError, "server_error", "the emulator could not read the token")
		return accessToken{}, false
	}
	nt, err := e.issueToken(r, authCode{Provider: prov, ClientID: t.ClientID, Sub: t.Sub, Scope: t.Scope}, ttl)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", "the emulator could not save the token")
		return accessToken{}, false
	}
	return nt, true
}

// endGrant revokes every token, access and refresh, that the provider
// issued to the client for sub: what Kakao's unlink, Naver's token
// deletion and GitHub's grant deletion do.
func (e *Emulator) endGrant(ctx context.Context, prov, clientID, sub string) error {
	_, err := e.db.ExecContext(ctx, `UPDATE emulator_tokens SET revoked = 1
		WHERE (provider = $1 OR provider = $2) AND client_id = $3 AND sub = $4`,
		prov, prov+refreshSuffix, clientID, sub)
	if err != nil {
		return fmt.Errorf("emulator: end grant: %w", err)
	}
	return nil
}

// consentSubmit is the consent POST of Kakao, Naver and GitHub: the
// common one, after two changes to a new person's form. With "share the
// email" unchecked the person is made without an email, which is what the
// application sees of a person who declines the optional email item
// (Kakao, Naver) or has no verified address (GitHub). And a numeric-id
// provider refuses a subject that is not digits, which its real
// counterpart could never send.
func (e *Emulator) consentSubmit(name string) http.HandlerFunc {
	prov := providers[name]
	submit := e.authorizeSubmit(name)
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			e.errorPage(w, http.StatusBadRequest, prov, "invalid_request", "the form could not be read")
			return
		}
		if r.PostForm.Get("person") == "" && r.PostForm.Get("deny") == "" {
			if r.PostForm.Get("share_email") != "on" {
				for _, k := range []string{"email", "email_verified"} {
					r.PostForm.Del(k)
					r.Form.Del(k)
				}
			}
			if sub := strings.TrimSpace(r.PostForm.Get("sub")); prov.numericSub && sub != "" && !digits(sub) {
				if a, ae := parseAuthRequest(prov, e.clients[name], r.PostForm); ae == nil {
					e.renderConsent(w, r, http.StatusBadRequest, a, prov.title+" user ids are numbers: enter digits, or leave the id empty to get one.")
					return
				}
			}
		}
		// authorizeSubmit reads the form parsed here: ParseForm does not
		// parse twice.
		submit(w, r)
	}
}

// digits reports whether s is one or more ASCII digits.
func digits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// numericID is a subject as Kakao and GitHub send their ids: a JSON
// number. A subject that is not digits (only a test's Fault.Sub can make
// one) is sent as a string, which the portal must refuse as malformed.
func numericID(sub string) any {
	if digits(sub) && len(sub) <= 18 {
		return json.Number(sub)
	}
	return sub
}

// okOnClientError makes a 4xx answer go out as 200 with the same body, as
// Naver answers a refused token request. (GitHub does too, with its own
// error codes; githubToken rewords them.)
type okOnClientError struct{ http.ResponseWriter }

func (w okOnClientError) WriteHeader(code int) {
	if code >= 400 && code < 500 {
		code = http.StatusOK
	}
	w.ResponseWriter.WriteHeader(code)
}
