package providers

import (
	"context"
	"io"
	"net"
	"net/http"
	"time"

	"golang.org/x/oauth2"
)

// defaultTimeout bounds every back-channel call when the configuration gives
// no HTTP client: goth's default is http.DefaultClient, which never times out
// (K6, E-02).
const defaultTimeout = 10 * time.Second

// NewHTTPClient returns a client for back-channel calls to a provider. It has
// the given overall timeout and never follows a redirect (A-15b): a provider
// endpoint that redirects is misconfigured or compromised, and following it
// would send the code, verifier or client secret to wherever it points. If
// base is nil, an *http.Transport with dial, TLS handshake and response header
// timeouts is used so that a stuck connection cannot outlive the timeout.
func NewHTTPClient(timeout time.Duration, base http.RoundTripper) *http.Client {
	if base == nil {
		base = &http.Transport{
			Proxy: http.ProxyFromEnvironment,
			DialContext: (&net.Dialer{
				Timeout:   5 * time.Second,
				KeepAlive: 30 * time.Second,
			}).DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: 1 * time.Second,
			MaxIdleConns:          100,
			ForceAttemptHTTP2:     true,
		}
	}
	return &http.Client{
		Transport:     base,
		Timeout:       timeout,
		CheckRedirect: noRedirect,
	}
}

// noRedirect makes the client return the redirect response itself.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// prepareClient returns a copy of c (or a new default client) that has a
// timeout, refuses redirects and bounds response bodies, whatever the caller
// configured: these properties are security requirements, not preferences.
// wrap, if not nil, adds a transport layer (the Facebook emulator rewrite).
func prepareClient(c *http.Client, wrap func(http.RoundTripper) http.RoundTripper) *http.Client {
	if c == nil {
		c = NewHTTPClient(defaultTimeout, nil)
	}
	cp := *c
	if cp.Timeout <= 0 {
		cp.Timeout = defaultTimeout
	}
	cp.CheckRedirect = noRedirect
	rt := cp.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	if wrap != nil {
		rt = wrap(rt)
	}
	cp.Transport = limitTransport{base: rt}
	return &cp
}

// callContext returns a context bounded by the client's timeout that carries
// the client for x/oauth2 and go-oidc. goth's interface passes no context, so
// each Authorize and FetchUser builds its own.
func callContext(c *http.Client) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	return context.WithValue(ctx, oauth2.HTTPClient, c), cancel
}

// limitTransport fails a response body read past maxBodyBytes, so that code we
// do not own (goth's Facebook provider, go-oidc's discovery and JWKS fetches)
// cannot be made to buffer an unbounded body (E-03b).
type limitTransport struct{ base http.RoundTripper }

func (t limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: maxBodyBytes}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Probe for one more byte so a body of exactly the limit still ends
		// with io.EOF.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, errBodyTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// readBody reads at most maxBodyBytes of a response body and reports a larger
// body as errBodyTooLarge instead of silently truncating it.
func readBody(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxBodyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBodyBytes {
		return nil, errBodyTooLarge
	}
	return b, nil
}
