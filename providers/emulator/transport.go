package emulator

import (
	"net/http"
	"net/http/httptest"
	"strings"
)

// Transport returns a RoundTripper that serves requests for BaseURL
// in-process with Handler, without the network, and passes every other
// request to next (nil means http.DefaultTransport). The portal's
// back-channel calls (token, userinfo, JWKS) reach an emulator mounted in
// the same process this way, even before its listener is up.
func (e *Emulator) Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &transport{e: e, next: next}
}

type transport struct {
	e    *Emulator
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.e.serves(req) {
		return t.next.RoundTrip(req)
	}
	// RoundTrippers must close the body; the handler reads it first.
	if req.Body != nil {
		defer req.Body.Close()
	}
	in := req.Clone(req.Context())
	if in.Body == nil {
		in.Body = http.NoBody
	}
	in.RequestURI = req.URL.RequestURI()
	in.RemoteAddr = "127.0.0.1:0"
	if in.Host == "" {
		in.Host = req.URL.Host
	}
	rec := httptest.NewRecorder()
	t.e.handler.ServeHTTP(rec, in)
	if err := req.Context().Err(); err != nil {
		return nil, err // as a real transport does when the caller gives up
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// serves reports whether a request is for this emulator: same scheme and
// host as BaseURL and a path under BaseURL's path.
func (e *Emulator) serves(req *http.Request) bool {
	u := req.URL
	if u == nil || !strings.EqualFold(u.Scheme, e.base.Scheme) || !strings.EqualFold(u.Host, e.base.Host) {
		return false
	}
	p := strings.TrimSuffix(e.base.Path, "/")
	return p == "" || u.Path == p || strings.HasPrefix(u.Path, p+"/")
}
