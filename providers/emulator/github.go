package emulator

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"time"
)

// githubTokenTTL stands for "does not expire": OAuth app tokens live until
// revoked, but the emulator's tokens table wants an expiry.
const githubTokenTTL = 365 * 24 * time.Hour

// githubDocs is where GitHub's error answers point.
const githubDocs = "https://docs.github.com/rest"

// githubRoutes adds GitHub's endpoints, github.com's and api.github.com's
// paths under /github.
func (e *Emulator) githubRoutes(mux *http.ServeMux) {
	ep := e.route(mux)
	ep("GET /github/login/oauth/authorize", "github", "authorize", e.authorizePage("github"))
	ep("POST /github/login/oauth/authorize", "github", "authorize", e.consentSubmit("github"))
	ep("POST /github/login/oauth/access_token", "github", "token", e.githubToken)
	ep("GET /github/user", "github", "me", e.githubUser)
	ep("GET /github/user/emails", "github", "emails", e.githubEmails)
	ep("DELETE /github/applications/{client_id}/grant", "github", "revoke", e.githubDeleteGrant)
}

// githubToken serves POST /github/login/oauth/access_token. Like GitHub it
// answers in JSON when the request accepts application/json and
// form-encoded otherwise, refuses with status 200 and GitHub's own error
// codes (bad_verification_code, redirect_uri_mismatch,
// incorrect_client_credentials), and lists the granted scopes with commas.
func (e *Emulator) githubToken(w http.ResponseWriter, r *http.Request) {
	// The shared checks write OAuth errors; they go to a recorder and are
	// reworded as GitHub words them.
	rec := httptest.NewRecorder()
	answer := e.githubGrant(rec, r)
	if answer == nil {
		if rec.Code >= http.StatusInternalServerError {
			writeError(w, rec.Code, "server_error", "the emulator could not issue the token")
			return
		}
		var oe oauthError
		_ = json.Unmarshal(rec.Body.Bytes(), &oe)
		answer = map[string]string{
			"error": githubErrorCode(oe), "error_description": oe.Description,
			"error_uri": "https://docs.github.com/apps/oauth-apps/maintaining-oauth-apps/troubleshooting-oauth-app-access-token-request-errors",
		}
	}
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		writeJSON(w, r, http.StatusOK, answer)
		return
	}
	form := url.Values{}
	for k, v := range answer {
		form.Set(k, v)
	}
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(form.Encode()))
}

// githubGrant redeems the code; nil means the answer (an error) was
// written to w.
func (e *Emulator) githubGrant(w http.ResponseWriter, r *http.Request) map[string]string {
	form, ok := readPostForm(w, r)
	if !ok || !formClient(w, r, form, e.clients["github"]) {
		return nil
	}
	ac, _, ok := e.redeem(w, r, providers["github"], form)
	if !ok {
		return nil
	}
	t, err := e.issueToken(r, ac, githubTokenTTL)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", "the emulator could not save the token")
		return nil
	}
	return map[string]string{
		"access_token": t.Token, "token_type": "bearer", "scope": strings.Join(strings.Fields(ac.Scope), ","),
	}
}

// githubErrorCode is GitHub's name for an OAuth error the shared checks
// reported.
func githubErrorCode(oe oauthError) string {
	switch {
	case oe.Error == "invalid_client":
		return "incorrect_client_credentials"
	case oe.Error == "invalid_grant" && strings.Contains(oe.Description, "redirect_uri"):
		return "redirect_uri_mismatch"
	case oe.Error == "invalid_grant":
		return "bad_verification_code"
	}
	return oe.Error
}

// githubAPIError writes an error of GitHub's REST API.
func githubAPIError(w http.ResponseWriter, status int, message string) {
	b, _ := json.Marshal(map[string]string{"message": message, "documentation_url": githubDocs})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// githubPerson checks the token of an API call, sent as "Bearer" or as
// GitHub's older "token" scheme, and writes GitHub's 401 itself.
func (e *Emulator) githubPerson(w http.ResponseWriter, r *http.Request) (accessToken, Person, bool) {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if tok == "" || !strings.EqualFold(scheme, "bearer") && !strings.EqualFold(scheme, "token") {
		githubAPIError(w, http.StatusUnauthorized, "Requires authentication")
		return accessToken{}, Person{}, false
	}
	t, err := e.lookupToken(r.Context(), "github", tok)
	if errors.Is(err, errBadToken) {
		githubAPIError(w, http.StatusUnauthorized, "Bad credentials")
		return accessToken{}, Person{}, false
	}
	var p Person
	if err == nil {
		p, err = e.person(r.Context(), "github", t.Sub)
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", "the emulator could not read the token")
		return accessToken{}, Person{}, false
	}
	return t, p, true
}

// githubLogin is the person's GitHub login: the username given, or one
// made from the name.
func githubLogin(p Person) string {
	if p.Username != "" {
		return p.Username
	}
	return usernameFrom(p.Name, p.Sub)
}

// githubPublicEmail is the email /user shows: GitHub lets only a verified
// address be public, so an unverified one is private (null).
func githubPublicEmail(p Person) any {
	if p.Email != "" && p.EmailVerified {
		return p.Email
	}
	return nil
}

// githubUser serves GET /github/user: the id a JSON number, name and
// email null when there are none.
func (e *Emulator) githubUser(w http.ResponseWriter, r *http.Request) {
	_, p, ok := e.githubPerson(w, r)
	if !ok {
		return
	}
	sub := p.Sub
	if f := faultFrom(r.Context()); f.Sub != nil {
		sub = *f.Sub
	}
	var name any
	if p.Name != "" {
		name = p.Name
	}
	created := p.CreatedAt.UTC().Format(time.RFC3339)
	writeJSON(w, r, http.StatusOK, map[string]any{
		"login": githubLogin(p), "id": numericID(sub), "avatar_url": e.avatarURL(p),
		"type": "User", "site_admin": false, "name": name, "company": nil, "blog": "",
		"location": nil, "email": githubPublicEmail(p), "hireable": nil, "bio": nil,
		"public_repos": 0, "followers": 0, "following": 0, "created_at": created, "updated_at": created,
	})
}

// githubEmails serves GET /github/user/emails, which needs the user:email
// (or user) scope: the person's address with its verification, or an
// empty list for a person without one.
func (e *Emulator) githubEmails(w http.ResponseWriter, r *http.Request) {
	t, p, ok := e.githubPerson(w, r)
	if !ok {
		return
	}
	scopes := strings.Fields(t.Scope)
	if !slices.Contains(scopes, "user:email") && !slices.Contains(scopes, "user") {
		githubAPIError(w, http.StatusNotFound, "Not Found")
		return
	}
	list := []map[string]any{}
	if p.Email != "" {
		visibility := "private"
		if githubPublicEmail(p) != nil {
			visibility = "public"
		}
		list = append(list, map[string]any{"email": p.Email, "primary": true, "verified": p.EmailVerified, "visibility": visibility})
	}
	b, _ := json.Marshal(list)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(b)
}

// githubDeleteGrant serves DELETE /github/applications/{client_id}/grant:
// the app, authenticated with Basic, deletes its authorization for the
// owner of the access token in the JSON body; every token of the grant
// stops working. 204 on success, 404 for a token it does not know.
func (e *Emulator) githubDeleteGrant(w http.ResponseWriter, r *http.Request) {
	c := e.clients["github"]
	id, secret, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(id), []byte(c.ID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1 {
		githubAPIError(w, http.StatusUnauthorized, "Requires authentication")
		return
	}
	if r.PathValue("client_id") != c.ID {
		githubAPIError(w, http.StatusNotFound, "Not Found")
		return
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxForm)).Decode(&body); err != nil || body.AccessToken == "" {
		githubAPIError(w, http.StatusUnprocessableEntity, `Invalid request. "access_token" wasn't supplied.`)
		return
	}
	t, err := e.lookupToken(r.Context(), "github", body.AccessToken)
	switch {
	case errors.Is(err, errBadToken), err == nil && t.ClientID != c.ID:
		githubAPIError(w, http.StatusNotFound, "Not Found")
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, "server_error", "the emulator could not read the token")
		return
	}
	if err := e.endGrant(r.Context(), "github", c.ID, t.Sub); err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", "the emulator could not delete the grant")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
