package providers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
)

// revoker is a provider with a token revocation endpoint (RFC 7009).
type revoker interface {
	revoke(ctx context.Context, token string) error
}

// Revoke asks the provider to revoke token, an access or refresh token it
// issued to this client (RFC 7009; revoking a refresh token also ends its
// access tokens at Google and X). Kakao, Naver and GitHub end the whole
// grant instead (unlink, token deletion, app authorization deletion). The
// call is bounded by the provider's HTTP client timeout and by ctx. A
// provider without a revocation endpoint (Facebook) returns
// errors.ErrUnsupported. Errors never quote the token.
func (p *Provider) Revoke(ctx context.Context, token string) error {
	r, ok := p.Provider.(revoker)
	if !ok || token == "" {
		return fmt.Errorf("providers: %s: revoke: %w", p.Name(), errors.ErrUnsupported)
	}
	return r.revoke(ctx, token)
}

// revokeAt posts token to a revocation endpoint with the client's
// credentials, in the Authorization header (basic) or the form.
func revokeAt(ctx context.Context, c *http.Client, name, endpoint, token, clientID, secret string, basic bool) error {
	const op = "revoke"
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	form := url.Values{"token": {token}}
	if !basic {
		form.Set("client_id", clientID)
		form.Set("client_secret", secret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return newError(name, op, ErrUnavailable, "bad revocation endpoint")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if basic {
		// RFC 6749 §2.3.1: form-encode, then Basic.
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	}
	resp, err := c.Do(req)
	if err != nil {
		return wrapError(name, op, err, token, secret)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return newError(name, op, statusKind(resp.StatusCode), fmt.Sprintf("status %d", resp.StatusCode))
	}
	return nil
}

// revoke revokes at the revocation_endpoint discovery announced (Google's),
// authenticating as at the token endpoint.
func (p *oidcProvider) revoke(ctx context.Context, token string) error {
	d, err := p.discover()
	if err != nil {
		return err
	}
	if d.revocationURL == "" {
		return fmt.Errorf("providers: %s: revoke: %w", p.name, errors.ErrUnsupported)
	}
	basic := d.oauth.Endpoint.AuthStyle != oauth2.AuthStyleInParams
	return revokeAt(ctx, p.client, p.name, d.revocationURL, token, p.cfg.ClientID, p.cfg.ClientSecret, basic)
}
