package providers

import (
	"encoding/json"
	"math"
	"net/url"
	"time"

	"github.com/markbates/goth"
)

// WithReauthentication returns authURL asking the provider to make the
// person sign in again rather than reuse their session there, for a
// step-up before a sensitive change (SECURITY.md B-08): prompt=login and
// max_age=0 for OpenID Connect (OIDC Core §3.1.2.1), prompt=login for
// Kakao, auth_type=reauthenticate for Facebook and Naver. X and GitHub have
// no such parameter and get authURL unchanged.
func (p *Provider) WithReauthentication(authURL string) string {
	var set [][2]string
	switch {
	case p.issuer != "":
		set = [][2]string{{"prompt", "login"}, {"max_age", "0"}}
	case p.reauth[0] != "":
		set = [][2]string{p.reauth}
	case p.chooser == [2]string{"auth_type", "reauthenticate"}:
		set = [][2]string{p.chooser}
	default:
		return authURL
	}
	u, err := url.Parse(authURL)
	if err != nil {
		return authURL
	}
	q := u.Query()
	for _, kv := range set {
		q.Set(kv[0], kv[1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// SignedInSince reports whether the sign-in that produced u happened at or
// after start. An OpenID Connect provider must say so with the ID token's
// auth_time claim (OIDC Core §3.1.3.7 step 13: required once max_age was
// sent); a missing or earlier auth_time fails (B-08d). Providers without
// ID tokens (Facebook, X, Kakao, Naver, GitHub) state no sign-in time, so
// nothing can be checked and the answer is true.
func (p *Provider) SignedInSince(u goth.User, start time.Time) bool {
	if p.issuer == "" {
		return true
	}
	var at float64
	switch v := u.RawData["auth_time"].(type) {
	case float64:
		at = v
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return false
		}
		at = f
	case int64:
		at = float64(v)
	default:
		return false
	}
	if math.IsNaN(at) || math.IsInf(at, 0) {
		return false
	}
	return int64(at) >= start.Unix()
}
