package providers

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Common is the configuration every provider shares.
type Common struct {
	Name, Label            string
	ClientID, ClientSecret string
	// CallbackURL is the exact redirect_uri registered with the provider, from
	// configuration (never derived from a request: A-08), e.g.
	// https://portal.example/auth/google/callback.
	CallbackURL string
	// HTTPClient makes the back-channel calls; nil means
	// NewHTTPClient(10*time.Second, nil). Whatever is given, a timeout, a
	// no-redirect policy and a body size limit are enforced on a copy.
	HTTPClient *http.Client
	// AllowInsecureHTTP allows http:// provider endpoints. It exists only for
	// the loopback emulator and tests; otherwise an http:// endpoint is
	// refused at construction (A-15a).
	AllowInsecureHTTP bool
}

// namePattern is what a provider name must look like: it appears in URL paths
// (/auth/{name}/callback) and in the identities table.
var namePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// checkName reports whether name can be a provider name.
func checkName(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("providers: invalid provider name %q (want ^[a-z][a-z0-9-]{0,31}$)", name)
	}
	return nil
}

// validate checks the fields shared by all providers. A bad configuration
// stops start-up (DESIGN.md "Configuration"), so every message names the
// setting.
func (c *Common) validate() error {
	if err := checkName(c.Name); err != nil {
		return err
	}
	if c.ClientID == "" {
		return fmt.Errorf("providers: %s: client ID is empty", c.Name)
	}
	if c.ClientSecret == "" {
		return fmt.Errorf("providers: %s: client secret is empty", c.Name)
	}
	if err := checkCallback(c.CallbackURL); err != nil {
		return fmt.Errorf("providers: %s: callback URL: %w", c.Name, err)
	}
	return nil
}

// checkCallback enforces A-08: an absolute https URL without query or
// fragment; http only on a loopback host (RFC 9700 §2.6 allows nothing else).
func checkCallback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return errors.New("not an absolute URL")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != nil {
		return errors.New("must not carry a query, fragment or user info")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return errors.New("http:// is allowed only on a loopback host")
	default:
		return fmt.Errorf("unsupported scheme %q", u.Scheme)
	}
}

// checkEndpoint enforces A-15a for a provider endpoint: an absolute https URL,
// or http when the configuration explicitly allows it (emulator, tests).
func checkEndpoint(raw string, allowHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" || u.User != nil {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && allowHTTP:
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("%q uses http:// (TLS is required; AllowInsecureHTTP is for the local emulator only)", raw)
	default:
		return fmt.Errorf("%q has unsupported scheme %q", raw, u.Scheme)
	}
}

// isLoopback reports whether host is localhost or a loopback IP.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// origin returns scheme://host[:port] of an absolute URL, or "" if raw is not
// one.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
}
