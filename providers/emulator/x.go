package emulator

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// xTokenTTL is the lifetime of X OAuth 2.0 access tokens: two hours.
const xTokenTTL = 2 * time.Hour

// xToken serves POST /x/2/oauth2/token.
func (e *Emulator) xToken(w http.ResponseWriter, r *http.Request) {
	form, ok := readPostForm(w, r)
	if !ok || !authenticateClient(w, r, form, e.clients["x"]) {
		return
	}
	ac, _, ok := e.redeem(w, r, providers["x"], form)
	if !ok {
		return
	}
	t, err := e.issueToken(r, ac, xTokenTTL)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", "the emulator could not save the token")
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{
		"token_type":   "bearer",
		"access_token": t.Token,
		"expires_in":   int(xTokenTTL.Seconds()),
		"scope":        ac.Scope,
	})
}

// xUsersMe serves GET /x/2/users/me. As at X, id, name and username always
// come back and other fields only when listed in user.fields;
// confirmed_email also needs the users.email scope.
func (e *Emulator) xUsersMe(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !noRepeats(w, q) {
		return
	}
	tok, _ := bearer(r)
	t, p, ok := e.authorizedPerson(w, r, "x", tok)
	if !ok {
		return
	}
	id := p.Sub
	if f := faultFrom(r.Context()); f.Sub != nil {
		id = *f.Sub
	}
	data := map[string]any{"id": id, "name": p.Name, "username": p.Username}
	for _, f := range strings.Split(q.Get("user.fields"), ",") {
		switch strings.TrimSpace(f) {
		case "profile_image_url":
			data["profile_image_url"] = e.avatarURL(p)
		case "confirmed_email":
			if p.Email != "" && slices.Contains(strings.Fields(t.Scope), "users.email") {
				data["confirmed_email"] = p.Email
			}
		case "created_at":
			data["created_at"] = p.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z")
		case "description":
			data["description"] = ""
		case "verified":
			data["verified"] = false
		case "protected":
			data["protected"] = false
		}
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"data": data})
}
