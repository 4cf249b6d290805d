// Package providers is Linkport's registry of sign-in providers.
//
// Every provider is a goth.Provider so that HTTP handlers treat them alike,
// but none of goth's package-level state (gothic, goth.UseProviders) is used:
// a Registry is built from configuration and passed to the handlers.
//
// goth's own Google and Twitter providers are not used because they send no
// PKCE or nonce, never verify the ID token, and speak OAuth 1.0a to X
// (SECURITY.md K2–K4). Instead this package carries a generic OpenID Connect
// provider (Google is one configuration of it) built on golang.org/x/oauth2 and
// go-oidc. goth's Facebook provider is used as it is, wrapped so that its
// errors never carry the access token (K5) and its calls are bounded by a
// timeout (K6). X, Kakao, Naver and GitHub share a plain OAuth 2.0 provider
// (oauth2.go) rather than goth's, whose exchange may send a code twice and
// which send no PKCE (see oauth2Provider).
//
// A flow is driven by the handler, which owns the state parameter:
//
//	sess, _ := p.BeginAuth(state)          // state: 32 random bytes made by the handler
//	authURL, _ := sess.GetAuthURL()        // redirect the browser here
//	stored := sess.Marshal()               // kept server-side only: holds the PKCE verifier and nonce
//	// ... callback ...
//	sess2, _ := p.UnmarshalSession(stored)
//	_, err := sess2.Authorize(p, url.Values{"code": {code}})
//	user, err := p.FetchUser(sess2)
//
// Every error returned by BeginAuth, Authorize and FetchUser wraps exactly one
// of ErrTimeout, ErrUnavailable, ErrBadResponse or ErrRejected, and its text
// never contains a token, code, secret or URL query.
package providers
