package emulator

import (
	"errors"
	"net/http"
	"time"
)

// naverTokenTTL is the lifetime of Naver access tokens: an hour, which
// Naver's token answer gives as the string "3600".
const naverTokenTTL = time.Hour

// naverRefreshTTL bounds the emulator's Naver refresh tokens; Naver
// documents none, so a year stands for "long".
const naverRefreshTTL = 365 * 24 * time.Hour

// naverRoutes adds Naver's endpoints, nid.naver.com's and
// openapi.naver.com's paths under /naver.
func (e *Emulator) naverRoutes(mux *http.ServeMux) {
	ep := e.route(mux)
	ep("GET /naver/oauth2.0/authorize", "naver", "authorize", e.authorizePage("naver"))
	ep("POST /naver/oauth2.0/authorize", "naver", "authorize", e.consentSubmit("naver"))
	// One URL issues, refreshes and deletes tokens; a deletion is counted
	// and faulted as the "revoke" endpoint so tests can tell them apart.
	token := e.endpoint("naver", "token", e.naverToken)
	revoke := e.endpoint("naver", "revoke", e.naverToken)
	byGrant := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		_ = r.ParseForm() // an unreadable form arrives empty at naverToken, which refuses it
		if r.Form.Get("grant_type") == "delete" {
			revoke.ServeHTTP(w, r)
			return
		}
		token.ServeHTTP(w, r)
	})
	mux.Handle("GET /naver/oauth2.0/token", byGrant)
	mux.Handle("POST /naver/oauth2.0/token", byGrant)
	ep("GET /naver/v1/nid/me", "naver", "me", e.naverMe)
	ep("POST /naver/v1/nid/me", "naver", "me", e.naverMe)
}

// naverToken serves GET|POST /naver/oauth2.0/token with the grant types
// authorization_code (which, as Naver documents, carries the state),
// refresh_token and delete. Parameters come from the query or the form,
// the client credentials always among them. Like Naver, it answers a
// refused request with status 200 and an error body.
func (e *Emulator) naverToken(w http.ResponseWriter, r *http.Request) {
	w = okOnClientError{w}
	v := r.Form // parsed by naverRoutes: query and form body
	c := e.clients["naver"]
	if !noRepeats(w, v) || !formClient(w, r, v, c) {
		return
	}
	switch v.Get("grant_type") {
	case "authorization_code":
		if v.Get("state") == "" {
			writeError(w, http.StatusBadRequest, "invalid_request", "state is missing")
			return
		}
		ac, _, ok := e.redeem(w, r, providers["naver"], v)
		if !ok {
			return
		}
		t, rt, ok := e.issueTokens(w, r, ac, naverTokenTTL, naverRefreshTTL)
		if !ok {
			return
		}
		writeJSON(w, r, http.StatusOK, map[string]any{
			"access_token": t.Token, "refresh_token": rt.Token, "token_type": "bearer", "expires_in": "3600",
		})
	case "refresh_token":
		t, ok := e.refreshGrant(w, r, "naver", v, naverTokenTTL)
		if ok {
			writeJSON(w, r, http.StatusOK, map[string]any{"access_token": t.Token, "token_type": "bearer", "expires_in": "3600"})
		}
	case "delete":
		e.naverDelete(w, r, v.Get("access_token"), v.Get("service_provider"))
	case "":
		writeError(w, http.StatusBadRequest, "invalid_request", "grant_type is missing")
	default:
		writeError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code, refresh_token or delete")
	}
}

// naverDelete deletes an access token and with it the app's connection to
// the account: every token of the grant stops working.
func (e *Emulator) naverDelete(w http.ResponseWriter, r *http.Request, token, serviceProvider string) {
	if token == "" || serviceProvider != "NAVER" {
		writeError(w, http.StatusBadRequest, "invalid_request", "access_token and service_provider=NAVER are required")
		return
	}
	c := e.clients["naver"]
	t, err := e.lookupToken(r.Context(), "naver", token)
	switch {
	case errors.Is(err, errBadToken), err == nil && t.ClientID != c.ID:
		writeError(w, http.StatusBadRequest, "invalid_request", "no valid data in session")
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, "server_error", "the emulator could not read the token")
		return
	}
	if err := e.endGrant(r.Context(), "naver", c.ID, t.Sub); err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", "the emulator could not delete the token")
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"access_token": token, "result": "success"})
}

// naverMe serves GET|POST /naver/v1/nid/me: the profile wrapped in
// {resultcode, message, response}, the id a string, the email only when
// the person shares one. A bad token gets Naver's 401 with resultcode 024.
func (e *Emulator) naverMe(w http.ResponseWriter, r *http.Request) {
	tok, _ := bearer(r)
	t, err := e.lookupToken(r.Context(), "naver", tok)
	if tok == "" || errors.Is(err, errBadToken) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="emulator", error="invalid_token"`)
		writeJSON(w, r, http.StatusUnauthorized, map[string]string{"resultcode": "024", "message": "Authentication failed"})
		return
	}
	var p Person
	if err == nil {
		p, err = e.person(r.Context(), "naver", t.Sub)
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", "the emulator could not read the token")
		return
	}
	id := p.Sub
	if f := faultFrom(r.Context()); f.Sub != nil {
		id = *f.Sub
	}
	profile := map[string]any{"id": id, "name": p.Name, "profile_image": e.avatarURL(p)}
	if p.Username != "" {
		profile["nickname"] = p.Username
	}
	if p.Email != "" {
		profile["email"] = p.Email
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"resultcode": "00", "message": "success", "response": profile})
}
