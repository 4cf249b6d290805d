package providers

import (
	"bytes"
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

// GitHubConfig configures the GitHub provider. The URLs default to
// GitHub's; the emulator and tests point them elsewhere. RevokeURL is the
// "delete an app authorization" endpoint,
// https://api.github.com/applications/{client_id}/grant by default.
type GitHubConfig struct {
	Common
	AuthURL, TokenURL, UserURL, EmailsURL, RevokeURL string
}

// githubScopes read the profile and the email addresses with their
// verification, nothing else.
var githubScopes = []string{"read:user", "user:email"}

// githubAPIHeader is sent with every GitHub API call: GitHub refuses a
// request without a User-Agent and versions its REST API by header.
var githubAPIHeader = http.Header{
	"Accept":               {"application/vnd.github+json"},
	"X-Github-Api-Version": {"2022-11-28"},
	"User-Agent":           {"Linkport"},
}

// NewGitHub returns the GitHub provider: OAuth 2.0 authorization code with
// PKCE S256 (GitHub takes it since July 2025), the client credentials in
// the token request's form, and the person from /user plus /user/emails.
// Its email counts as verified only when /user/emails lists that address
// as verified (see githubEmailVerified); an account with no verified
// address signs in without one. Removing the account deletes the app's
// authorization at GitHub.
func NewGitHub(cfg GitHubConfig) (*Provider, error) {
	if cfg.Name == "" {
		cfg.Name = "github"
	}
	if cfg.Label == "" {
		cfg.Label = "GitHub"
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	err := resolveEndpoints(cfg.Common, []endpointSetting{
		{&cfg.AuthURL, "auth URL", "https://github.com/login/oauth/authorize"},
		{&cfg.TokenURL, "token URL", "https://github.com/login/oauth/access_token"},
		{&cfg.UserURL, "user URL", "https://api.github.com/user"},
		{&cfg.EmailsURL, "emails URL", "https://api.github.com/user/emails"},
		{&cfg.RevokeURL, "revoke URL", "https://api.github.com/applications/" + url.PathEscape(cfg.ClientID) + "/grant"},
	})
	if err != nil {
		return nil, err
	}
	op := newOAuth2Provider(cfg.Common, cfg.AuthURL, cfg.TokenURL, githubScopes)
	op.pkce = true
	op.profile = func(ctx context.Context, accessToken string) (goth.User, error) {
		body, err := op.apiGet(ctx, "user", cfg.UserURL, accessToken, githubAPIHeader)
		if err != nil {
			return goth.User{}, err
		}
		u, err := githubUserFromJSON(body)
		if err != nil {
			return goth.User{}, newError(op.name, "user", ErrBadResponse, err.Error())
		}
		// The addresses are a second call; when it fails the person still
		// signs in, with no address counted as verified.
		var emails []githubEmail
		if body, err := op.apiGet(ctx, "emails", cfg.EmailsURL, accessToken, githubAPIHeader); err == nil {
			emails, _ = githubEmailsFromJSON(body)
		}
		githubChooseEmail(&u, emails)
		return u, nil
	}
	op.revokeGrant = func(ctx context.Context, token string) error {
		return githubDeleteGrant(ctx, op, cfg.RevokeURL, token)
	}
	authOrigin := origin(cfg.AuthURL)
	return &Provider{
		Provider:           op,
		Label:              cfg.Label,
		trustEmailVerified: true,
		verifyEmail:        githubEmailVerified,
		formActionOrigins:  func() []string { return []string{authOrigin} },
		// GitHub shows its account picker on prompt=select_account. It has
		// no way to ask for the password again, so no re-authentication.
		chooser: [2]string{"prompt", "select_account"},
	}, nil
}

// githubUserFromJSON maps a /user answer to a goth.User. The id is a JSON
// number; name and email may be null. The email here is the one the person
// made public, if any; githubChooseEmail decides which address to use.
func githubUserFromJSON(body []byte) (goth.User, error) {
	var g struct {
		ID        int64   `json:"id"`
		Login     string  `json:"login"`
		Name      *string `json:"name"`
		Email     *string `json:"email"`
		AvatarURL string  `json:"avatar_url"`
	}
	if err := json.Unmarshal(body, &g); err != nil {
		return goth.User{}, errors.New("user is not the expected JSON")
	}
	if g.ID <= 0 {
		return goth.User{}, errors.New("user id is missing or not a positive number")
	}
	var raw map[string]any
	_ = json.Unmarshal(body, &raw) // same bytes decoded above
	u := goth.User{RawData: raw, UserID: strconv.FormatInt(g.ID, 10), NickName: g.Login, AvatarURL: g.AvatarURL}
	if g.Name != nil {
		u.Name = *g.Name
	}
	if g.Email != nil {
		u.Email = *g.Email
	}
	return u, nil
}

// githubEmail is one entry of /user/emails.
type githubEmail struct {
	Email    string `json:"email"`
	Primary  bool   `json:"primary"`
	Verified bool   `json:"verified"`
}

// githubEmailsFromJSON reads a /user/emails answer.
func githubEmailsFromJSON(body []byte) ([]githubEmail, error) {
	var list []githubEmail
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, errors.New("user/emails is not the expected JSON")
	}
	return list, nil
}

// githubEmailsKey is where RawData keeps the addresses GitHub reported
// verified; /user has no member of that name, and it is always
// overwritten, so /user cannot vouch for itself.
const githubEmailsKey = "linkport_verified_emails"

// githubChooseEmail sets u's email: the primary address when GitHub has
// verified it, otherwise the public profile address (verified only if
// /user/emails says so), otherwise none. It records the verified addresses
// for githubEmailVerified.
func githubChooseEmail(u *goth.User, emails []githubEmail) {
	verified := []any{}
	for _, e := range emails {
		if e.Verified && e.Email != "" {
			verified = append(verified, e.Email)
			if e.Primary {
				u.Email = e.Email
			}
		}
	}
	if u.RawData == nil {
		u.RawData = map[string]any{}
	}
	u.RawData[githubEmailsKey] = verified
}

// githubDeleteGrant deletes the app's authorization for the person (DELETE
// /applications/{client_id}/grant), which revokes all of its tokens. The
// app authenticates with Basic; the token travels in the JSON body.
func githubDeleteGrant(ctx context.Context, p *oauth2Provider, endpoint, token string) error {
	const op = "revoke"
	body, _ := json.Marshal(map[string]string{"access_token": token})
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, endpoint, bytes.NewReader(body))
	if err != nil {
		return newError(p.name, op, ErrUnavailable, "bad revoke endpoint")
	}
	for k, v := range githubAPIHeader {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(p.oauth.ClientID, p.oauth.ClientSecret)
	resp, err := p.client.Do(req)
	if err != nil {
		return wrapError(p.name, op, err, token, p.oauth.ClientSecret)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		return newError(p.name, op, statusKind(resp.StatusCode), fmt.Sprintf("status %d", resp.StatusCode))
	}
	return nil
}
