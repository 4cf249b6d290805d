package providers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/markbates/goth"
)

// KakaoConfig configures the Kakao provider. The URLs default to Kakao's;
// the emulator and tests point them elsewhere.
type KakaoConfig struct {
	Common
	AuthURL, TokenURL, UserURL, UnlinkURL string
}

// kakaoScopes are the consent items the portal asks for: the nickname and
// picture it shows and the email address. Kakao makes the email an
// optional item the person may decline.
var kakaoScopes = []string{"profile_nickname", "profile_image", "account_email"}

// NewKakao returns the Kakao provider: OAuth 2.0 authorization code with
// PKCE S256 (Kakao Login documents code_challenge), the client secret in the
// token request's form, and the person from /v2/user/me. Its email counts
// as verified only when Kakao says it is both verified and valid (see
// kakaoEmailVerified). Removing the account unlinks the app at Kakao.
func NewKakao(cfg KakaoConfig) (*Provider, error) {
	if cfg.Name == "" {
		cfg.Name = "kakao"
	}
	if cfg.Label == "" {
		cfg.Label = "Kakao"
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	err := resolveEndpoints(cfg.Common, []endpointSetting{
		{&cfg.AuthURL, "auth URL", "https://kauth.kakao.com/oauth/authorize"},
		{&cfg.TokenURL, "token URL", "https://kauth.kakao.com/oauth/token"},
		{&cfg.UserURL, "user URL", "https://kapi.kakao.com/v2/user/me"},
		{&cfg.UnlinkURL, "unlink URL", "https://kapi.kakao.com/v1/user/unlink"},
	})
	if err != nil {
		return nil, err
	}
	op := newOAuth2Provider(cfg.Common, cfg.AuthURL, cfg.TokenURL, kakaoScopes)
	op.pkce = true
	// secure_resource=true makes Kakao answer with https image URLs; its
	// default is http, which the portal's pages would not load.
	userURL := withQuery(cfg.UserURL, "secure_resource", "true")
	op.profile = func(ctx context.Context, accessToken string) (goth.User, error) {
		body, err := op.apiGet(ctx, "user", userURL, accessToken, nil)
		if err != nil {
			return goth.User{}, err
		}
		u, err := kakaoUserFromJSON(body)
		if err != nil {
			return goth.User{}, newError(op.name, "user", ErrBadResponse, err.Error())
		}
		return u, nil
	}
	op.revokeGrant = func(ctx context.Context, token string) error {
		return kakaoUnlink(ctx, op, cfg.UnlinkURL, token)
	}
	authOrigin := origin(cfg.AuthURL)
	return &Provider{
		Provider:           op,
		Label:              cfg.Label,
		trustEmailVerified: true,
		verifyEmail:        kakaoEmailVerified,
		formActionOrigins:  func() []string { return []string{authOrigin} },
		chooser:            [2]string{"prompt", "select_account"},
		reauth:             [2]string{"prompt", "login"},
	}, nil
}

// kakaoUser is the part of a /v2/user/me answer the portal reads. The
// types are strict: a typed-wrong field fails the whole answer rather than
// reading as its zero value.
type kakaoUser struct {
	ID           int64 `json:"id"`
	KakaoAccount *struct {
		Email           string `json:"email"`
		IsEmailValid    bool   `json:"is_email_valid"`
		IsEmailVerified bool   `json:"is_email_verified"`
		Profile         *struct {
			Nickname        string `json:"nickname"`
			ProfileImageURL string `json:"profile_image_url"`
			IsDefaultImage  bool   `json:"is_default_image"`
		} `json:"profile"`
	} `json:"kakao_account"`
}

// kakaoUserFromJSON maps a /v2/user/me answer to a goth.User. Kakao's
// member number is a JSON number; RawData keeps the whole answer, from
// which kakaoEmailVerified reads kakao_account's flags.
func kakaoUserFromJSON(body []byte) (goth.User, error) {
	var k kakaoUser
	if err := json.Unmarshal(body, &k); err != nil {
		return goth.User{}, errors.New("user/me is not the expected JSON")
	}
	if k.ID <= 0 {
		return goth.User{}, errors.New("user/me id is missing or not a positive number")
	}
	var raw map[string]any
	_ = json.Unmarshal(body, &raw) // same bytes decoded above
	u := goth.User{RawData: raw, UserID: strconv.FormatInt(k.ID, 10)}
	if a := k.KakaoAccount; a != nil {
		u.Email = a.Email
		if pr := a.Profile; pr != nil {
			// A Kakao nickname is the name the person chose to show; it is
			// not a handle, so it is the name, not NickName ("@...").
			u.Name = pr.Nickname
			if !pr.IsDefaultImage {
				u.AvatarURL = pr.ProfileImageURL
			}
		}
	}
	return u, nil
}

// kakaoUnlink disconnects the app from the person's Kakao account, which
// ends every token of the grant. Kakao accepts only an access token there,
// so a refresh token (what the portal keeps when it has one) is first
// traded for one.
func kakaoUnlink(ctx context.Context, p *oauth2Provider, endpoint, token string) error {
	const op = "revoke"
	access := token
	if a, ok := p.refreshed(ctx, token); ok {
		access = a
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, nil)
	if err != nil {
		return newError(p.name, op, ErrUnavailable, "bad unlink endpoint")
	}
	req.Header.Set("Authorization", "Bearer "+access)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
	resp, err := p.client.Do(req)
	if err != nil {
		return wrapError(p.name, op, err, token, access)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return newError(p.name, op, statusKind(resp.StatusCode), fmt.Sprintf("status %d", resp.StatusCode))
	}
	return nil
}

// withQuery returns raw with one more query parameter.
func withQuery(raw, key, value string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}
