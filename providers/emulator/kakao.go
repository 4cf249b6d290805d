package emulator

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// Kakao's token lifetimes: access tokens about six hours, refresh tokens
// about two months (the token answer says 21599 and 5183999 seconds).
const (
	kakaoTokenTTL   = 6*time.Hour - time.Second
	kakaoRefreshTTL = 60*24*time.Hour - time.Second
)

// kakaoRoutes adds Kakao's endpoints, kauth.kakao.com's and
// kapi.kakao.com's paths under /kakao.
func (e *Emulator) kakaoRoutes(mux *http.ServeMux) {
	ep := e.route(mux)
	ep("GET /kakao/oauth/authorize", "kakao", "authorize", e.authorizePage("kakao"))
	ep("POST /kakao/oauth/authorize", "kakao", "authorize", e.consentSubmit("kakao"))
	ep("POST /kakao/oauth/token", "kakao", "token", e.kakaoToken)
	ep("GET /kakao/v2/user/me", "kakao", "me", e.kakaoMe)
	ep("POST /kakao/v2/user/me", "kakao", "me", e.kakaoMe)
	ep("POST /kakao/v1/user/unlink", "kakao", "revoke", e.kakaoUnlink)
}

// kakaoToken serves POST /kakao/oauth/token: the authorization_code and
// refresh_token grants, the client credentials in the form.
func (e *Emulator) kakaoToken(w http.ResponseWriter, r *http.Request) {
	form, ok := readPostForm(w, r)
	if !ok || !formClient(w, r, form, e.clients["kakao"]) {
		return
	}
	if form.Get("grant_type") == "refresh_token" {
		t, ok := e.refreshGrant(w, r, "kakao", form, kakaoTokenTTL)
		if ok {
			writeJSON(w, r, http.StatusOK, map[string]any{
				"token_type": "bearer", "access_token": t.Token, "expires_in": int(kakaoTokenTTL.Seconds()),
			})
		}
		return
	}
	ac, _, ok := e.redeem(w, r, providers["kakao"], form)
	if !ok {
		return
	}
	t, rt, ok := e.issueTokens(w, r, ac, kakaoTokenTTL, kakaoRefreshTTL)
	if !ok {
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{
		"token_type":               "bearer",
		"access_token":             t.Token,
		"expires_in":               int(kakaoTokenTTL.Seconds()),
		"refresh_token":            rt.Token,
		"refresh_token_expires_in": int(kakaoRefreshTTL.Seconds()),
		"scope":                    ac.Scope,
	})
}

// kakaoMe serves GET|POST /kakao/v2/user/me. As at Kakao, the member
// number is a JSON number and kakao_account holds only what the granted
// consent items release: the nickname (profile_nickname), the pictures
// (profile_image) and the email with its is_email_valid and
// is_email_verified flags (account_email); an item not consented to shows
// as *_needs_agreement.
func (e *Emulator) kakaoMe(w http.ResponseWriter, r *http.Request) {
	tok, _ := bearer(r)
	t, p, ok := e.authorizedPerson(w, r, "kakao", tok)
	if !ok {
		return
	}
	sub := p.Sub
	if f := faultFrom(r.Context()); f.Sub != nil {
		sub = *f.Sub
	}
	scopes := strings.Fields(t.Scope)
	account := map[string]any{}
	profile := map[string]any{}
	properties := map[string]any{}
	account["profile_nickname_needs_agreement"] = !slices.Contains(scopes, "profile_nickname")
	if slices.Contains(scopes, "profile_nickname") {
		profile["nickname"] = p.Name
		profile["is_default_nickname"] = false
		properties["nickname"] = p.Name
	}
	account["profile_image_needs_agreement"] = !slices.Contains(scopes, "profile_image")
	if slices.Contains(scopes, "profile_image") {
		pic := e.avatarURL(p)
		profile["profile_image_url"] = pic
		profile["thumbnail_image_url"] = pic
		profile["is_default_image"] = false
		properties["profile_image"] = pic
		properties["thumbnail_image"] = pic
	}
	if len(profile) > 0 {
		account["profile"] = profile
	}
	account["has_email"] = p.Email != ""
	if p.Email != "" {
		consented := slices.Contains(scopes, "account_email")
		account["email_needs_agreement"] = !consented
		if consented {
			account["is_email_valid"] = true
			account["is_email_verified"] = p.EmailVerified
			account["email"] = p.Email
		}
	}
	out := map[string]any{
		"id":            numericID(sub),
		"connected_at":  p.CreatedAt.UTC().Format(time.RFC3339),
		"kakao_account": account,
	}
	if len(properties) > 0 {
		out["properties"] = properties
	}
	writeJSON(w, r, http.StatusOK, out)
}

// kakaoUnlink serves POST /kakao/v1/user/unlink: the app is disconnected
// from the account and every token of the grant stops working. It answers
// the member number.
func (e *Emulator) kakaoUnlink(w http.ResponseWriter, r *http.Request) {
	tok, _ := bearer(r)
	t, p, ok := e.authorizedPerson(w, r, "kakao", tok)
	if !ok {
		return
	}
	if err := e.endGrant(r.Context(), "kakao", t.ClientID, t.Sub); err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", "the emulator could not unlink")
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"id": numericID(p.Sub)})
}
