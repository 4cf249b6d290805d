package providers

import (
	"context"
	"encoding/json"
	"maps"
	"mime"
	"net/http"
	"strconv"

	"github.com/markbates/goth"
)

// FetchUser returns the user of an authorized session: the verified ID token
// claims, merged with the userinfo response when the provider has a userinfo
// endpoint. The userinfo sub must equal the ID token's.
func (p *oidcProvider) FetchUser(gs goth.Session) (_ goth.User, err error) {
	const op = "userinfo"
	defer recoverAs(p.name, op, &err)
	s, ok := gs.(*oidcSession)
	if !ok || s.token == nil || s.claims == nil {
		return goth.User{}, newError(p.name, op, ErrRejected, "session is not authorized")
	}
	claims := maps.Clone(s.claims)
	d, err := p.discover() // cached: Authorize succeeded
	if err != nil {
		return goth.User{}, err
	}
	if d.userinfoURL != "" {
		ctx, cancel := callContext(p.client)
		defer cancel()
		info, err := p.userinfo(ctx, d.userinfoURL, s.token.AccessToken)
		if err != nil {
			return goth.User{}, err
		}
		if claimString(info, "sub") != claimString(claims, "sub") {
			return goth.User{}, newError(p.name, op, ErrRejected, "userinfo sub differs from the ID token sub")
		}
		mergeUserinfo(claims, info)
	}
	return goth.User{
		RawData:      claims,
		Provider:     p.name,
		UserID:       claimString(claims, "sub"),
		Email:        claimString(claims, "email"),
		Name:         claimString(claims, "name"),
		FirstName:    claimString(claims, "given_name"),
		LastName:     claimString(claims, "family_name"),
		NickName:     claimString(claims, "preferred_username"),
		AvatarURL:    claimString(claims, "picture"),
		AccessToken:  s.token.AccessToken,
		RefreshToken: s.token.RefreshToken,
		ExpiresAt:    s.token.Expiry,
		IDToken:      s.rawIDToken,
	}, nil
}

// mergeUserinfo adds userinfo claims the ID token lacks. The signed ID token
// wins on conflicts, and a userinfo email_verified is only taken when it
// speaks about the same address as the ID token, so one source's "verified"
// can never vouch for the other source's address.
func mergeUserinfo(claims, info map[string]any) {
	idEmail, idHasEmail := claims["email"]
	for k, v := range info {
		if _, exists := claims[k]; exists {
			continue
		}
		if k == "email_verified" && idHasEmail && info["email"] != idEmail {
			continue
		}
		claims[k] = v
	}
}

// userinfo calls the userinfo endpoint with the access token in the
// Authorization header (never the query: RFC 9700 §4.3.2).
func (p *oidcProvider) userinfo(ctx context.Context, endpoint, accessToken string) (map[string]any, error) {
	const op = "userinfo"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return nil, newError(p.name, op, ErrUnavailable, "bad userinfo endpoint")
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, wrapError(p.name, op, err, accessToken)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, newError(p.name, op, statusKind(resp.StatusCode), "status "+strconv.Itoa(resp.StatusCode))
	}
	body, err := readBody(resp.Body)
	if err != nil {
		return nil, wrapError(p.name, op, err, accessToken)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return nil, newError(p.name, op, ErrBadResponse, "userinfo is not application/json")
	}
	var info map[string]any
	if err := json.Unmarshal(body, &info); err != nil || info == nil {
		return nil, newError(p.name, op, ErrBadResponse, "userinfo is not a JSON object")
	}
	if !validSubject(claimString(info, "sub")) {
		return nil, newError(p.name, op, ErrRejected, "userinfo sub missing or invalid")
	}
	return info, nil
}
