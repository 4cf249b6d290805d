package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// facebookTokenTTL is the lifetime Facebook gives user access tokens
// obtained by the code flow: about 60 days.
const facebookTokenTTL = 60 * 24 * time.Hour

// facebookParams reads Facebook's parameters, which it takes from the query
// (GET) or from the query and a form body (POST).
func facebookParams(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	v := r.URL.Query()
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request", "the form could not be read")
			return nil, false
		}
		v = r.Form
	}
	return v, noRepeats(w, v)
}

// facebookToken serves GET|POST /facebook/oauth/access_token.
func (e *Emulator) facebookToken(w http.ResponseWriter, r *http.Request) {
	v, ok := facebookParams(w, r)
	if !ok || !authenticateClient(w, r, v, e.clients["facebook"]) {
		return
	}
	ac, _, ok := e.redeem(w, r, providers["facebook"], v)
	if !ok {
		return
	}
	t, err := e.issueToken(r, ac, facebookTokenTTL)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", "the emulator could not save the token")
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{
		"access_token": t.Token,
		"token_type":   "bearer",
		"expires_in":   int(facebookTokenTTL.Seconds()),
	})
}

// facebookMe serves GET /facebook/me. Like the Graph API it returns the
// requested fields only (id and name when none are asked for), omits
// email without the email permission or when the account has none, and
// checks appsecret_proof when one is sent.
func (e *Emulator) facebookMe(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !noRepeats(w, q) {
		return
	}
	tok := q.Get("access_token")
	if h, ok := bearer(r); ok {
		if tok != "" {
			writeError(w, http.StatusBadRequest, "invalid_request", "send the access token once, in the query or the Authorization header")
			return
		}
		tok = h
	}
	t, p, ok := e.authorizedPerson(w, r, "facebook", tok)
	if !ok {
		return
	}
	if proof := q.Get("appsecret_proof"); proof != "" {
		mac := hmac.New(sha256.New, []byte(e.clients["facebook"].Secret))
		mac.Write([]byte(tok))
		want := hex.EncodeToString(mac.Sum(nil))
		if !hmac.Equal([]byte(want), []byte(strings.ToLower(proof))) {
			writeError(w, http.StatusBadRequest, "invalid_request", "invalid appsecret_proof provided in the API argument")
			return
		}
	}
	fields := []string{"id", "name"}
	if f := q.Get("fields"); f != "" {
		fields = graphFields(f)
	}
	first, last := splitName(p.Name)
	id := p.Sub
	if f := faultFrom(r.Context()); f.Sub != nil {
		id = *f.Sub
	}
	out := map[string]any{"id": id} // the Graph API always returns id
	for _, f := range fields {
		switch f {
		case "name":
			out["name"] = p.Name
		case "first_name":
			out["first_name"] = first
		case "last_name":
			out["last_name"] = last
		case "short_name":
			out["short_name"] = first
		case "email":
			if p.Email != "" && slices.Contains(graphFields(t.Scope), "email") {
				out["email"] = p.Email
			}
		case "picture":
			out["picture"] = map[string]any{"data": map[string]any{
				"height": 50, "width": 50, "is_silhouette": false, "url": e.avatarURL(p),
			}}
		}
		// Other real fields (link, about, location...) need permissions
		// the emulator does not model; the Graph API omits them then.
	}
	writeJSON(w, r, http.StatusOK, out)
}

// graphFields splits "email,picture.type(large),name" or a scope list into
// bare names.
func graphFields(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if i := strings.IndexAny(f, ".{("); i >= 0 {
			f = f[:i]
		}
		out = append(out, f)
	}
	return out
}
