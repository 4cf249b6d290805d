package emulator

import (
	"net/http"
	"regexp"
	"strings"
)

// provider describes what differs between the emulated providers' front
// channels; the back channels are separate handlers because their shapes
// differ too much to share.
type provider struct {
	name          string // "google", "facebook", "x"
	title         string // shown on the consent page
	authorizePath string // relative to BaseURL
	requirePKCE   bool   // X refuses a request without a code challenge
	sendsIss      bool   // Google adds the RFC 9207 iss parameter to its redirects
	subDigits     int    // length of generated subjects, as at the real provider
	scopeSep      string // Facebook separates scopes with commas, the others with spaces
	// noScope: Naver takes no scope parameter; what it releases is set on
	// the application's page at Naver Developers.
	noScope bool
	// numericSub: Kakao and GitHub ids are JSON numbers, so a subject
	// must be digits.
	numericSub bool
}

// providers is read-only after package initialisation.
var providers = map[string]provider{
	"google":   {name: "google", title: "Google", authorizePath: "/google/authorize", sendsIss: true, subDigits: 21, scopeSep: " "},
	"facebook": {name: "facebook", title: "Facebook", authorizePath: "/facebook/dialog/oauth", subDigits: 16, scopeSep: ","},
	"x":        {name: "x", title: "X", authorizePath: "/x/i/oauth2/authorize", requirePKCE: true, subDigits: 19, scopeSep: " "},
	"kakao":    {name: "kakao", title: "Kakao", authorizePath: "/kakao/oauth/authorize", subDigits: 10, scopeSep: " ", numericSub: true},
	"naver":    {name: "naver", title: "Naver", authorizePath: "/naver/oauth2.0/authorize", subDigits: 8, scopeSep: " ", noScope: true},
	"github":   {name: "github", title: "GitHub", authorizePath: "/github/login/oauth/authorize", subDigits: 9, scopeSep: " ", numericSub: true},
}

// graphVersion matches the optional version segment of Facebook URLs
// ("/v21.0/me"), so a portal that pins a Graph API version works too.
var graphVersion = regexp.MustCompile(`^v[0-9]{1,3}\.[0-9]{1,3}$`)

// routes builds the handler. Every endpoint goes through e.endpoint so that
// hits are counted and faults applied uniformly.
func (e *Emulator) routes() http.Handler {
	mux := http.NewServeMux()
	ep := func(pattern, prov, name string, h http.HandlerFunc) {
		mux.Handle(pattern, e.endpoint(prov, name, h))
	}

	ep("GET /google/.well-known/openid-configuration", "google", "discovery", e.googleDiscovery)
	ep("GET /google/jwks", "google", "jwks", e.googleJWKS)
	ep("GET /google/authorize", "google", "authorize", e.authorizePage("google"))
	ep("POST /google/authorize", "google", "authorize", e.authorizeSubmit("google"))
	ep("POST /google/token", "google", "token", e.googleToken)
	ep("GET /google/userinfo", "google", "userinfo", e.googleUserinfo)
	ep("POST /google/userinfo", "google", "userinfo", e.googleUserinfo)
	ep("POST /google/revoke", "google", "revoke", e.revoke("google"))

	for _, prefix := range []string{"/facebook", "/facebook/{version}"} {
		ep("GET "+prefix+"/dialog/oauth", "facebook", "authorize", e.authorizePage("facebook"))
		ep("POST "+prefix+"/dialog/oauth", "facebook", "authorize", e.authorizeSubmit("facebook"))
		ep("GET "+prefix+"/oauth/access_token", "facebook", "token", e.facebookToken)
		ep("POST "+prefix+"/oauth/access_token", "facebook", "token", e.facebookToken)
		ep("GET "+prefix+"/me", "facebook", "me", e.facebookMe)
	}

	ep("GET /x/i/oauth2/authorize", "x", "authorize", e.authorizePage("x"))
	ep("POST /x/i/oauth2/authorize", "x", "authorize", e.authorizeSubmit("x"))
	ep("POST /x/2/oauth2/token", "x", "token", e.xToken)
	ep("GET /x/2/users/me", "x", "me", e.xUsersMe)
	ep("POST /x/2/oauth2/revoke", "x", "revoke", e.revoke("x"))

	e.kakaoRoutes(mux)
	e.naverRoutes(mux)
	e.githubRoutes(mux)

	mux.HandleFunc("GET /avatar/{provider}/{file}", e.avatar)
	mux.HandleFunc("GET /emulator.css", e.stylesheet)

	basePath := strings.TrimSuffix(e.base.Path, "/")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Route on the suffix after BaseURL's path when the prefix is still
		// there; otherwise the mounting mux already stripped it.
		if basePath != "" && strings.HasPrefix(r.URL.Path, basePath+"/") {
			http.StripPrefix(basePath, mux).ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// endpoint wraps a provider endpoint: a provider without a client is absent
// (404); otherwise the hit is counted, then any fault is applied before (or,
// for faults that shape the answer, during) the normal handling.
func (e *Emulator) endpoint(prov, name string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := e.clients[prov]; !ok {
			writeError(w, http.StatusNotFound, "not_found", "the emulated "+prov+" provider has no registered client")
			return
		}
		if v := r.PathValue("version"); v != "" && !graphVersion.MatchString(v) {
			writeError(w, http.StatusNotFound, "not_found", "unknown Graph API version")
			return
		}
		f := e.hit(prov, name)
		if done := applyFault(w, r, f); done {
			return
		}
		h(w, r.WithContext(withFault(r.Context(), f)))
	})
}
