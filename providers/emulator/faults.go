package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Fault makes an endpoint misbehave, for tests. The zero Fault changes
// nothing. Status, Body and Delay work on every endpoint; the other fields
// only where noted.
type Fault struct {
	// Status makes the endpoint answer with this status and a JSON error
	// instead of its normal answer (with Body: that body instead).
	Status int
	// Delay is a pause before answering; it ends early when the request's
	// context is cancelled, so timeout tests do not leak goroutines.
	Delay time.Duration
	// Body is a raw body sent instead of the normal answer, with Status or
	// 200: truncated JSON, an HTML page, `{"access_token":1}`...
	Body string
	// BodySize, if > 0, pads the normal JSON answer to this many bytes,
	// for huge-response tests.
	BodySize int

	// IDTokenClaims (Google token endpoint) sets these ID token claims; a
	// nil value deletes the claim: {"nonce":"x"}, {"iss":"https://evil.example"},
	// {"aud":"other"}, {"sub":nil}, {"iat":nil}.
	IDTokenClaims map[string]any
	// IDTokenAlgNone (Google token endpoint) sends an unsigned ID token
	// with alg "none".
	IDTokenAlgNone bool
	// IDTokenWrongKey (Google token endpoint) signs the ID token with a key
	// that is not in the JWKS, under the published kid, so the signature
	// fails to verify.
	IDTokenWrongKey bool
	// IDTokenNoKid (Google token endpoint) signs with the real key but
	// leaves kid out of the header.
	IDTokenNoKid bool

	// Sub replaces the subject in the userinfo (Google), me (Facebook) or
	// users/me (X) answer; pointing at "" sends an empty subject.
	Sub *string

	// RedirectParams (authorize endpoint) sets parameters on the redirect
	// back to the client, e.g. {"iss": {"https://evil.example"}} for mix-up
	// tests; an empty value removes the parameter (Google's iss is sent by
	// default, as the real Google does).
	RedirectParams url.Values
}

// canonicalEndpoint lets tests say "userinfo" or "me" for any provider's
// user endpoint, since the providers name it differently.
func canonicalEndpoint(provider, endpoint string) string {
	switch {
	case provider == "google" && endpoint == "me":
		return "userinfo"
	case provider != "google" && endpoint == "userinfo":
		return "me"
	}
	return endpoint
}

func faultKey(provider, endpoint string) string {
	return provider + "/" + canonicalEndpoint(provider, endpoint)
}

// SetFault makes an endpoint of a provider misbehave until ClearFaults.
// Endpoints are "authorize", "token", "userinfo", "jwks", "discovery", "me"
// and "revoke"; "userinfo" and "me" name the same endpoint.
func (e *Emulator) SetFault(provider, endpoint string, f Fault) {
	f.IDTokenClaims = maps.Clone(f.IDTokenClaims)
	f.RedirectParams = cloneValues(f.RedirectParams)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults[faultKey(provider, endpoint)] = f
}

// ClearFaults makes every endpoint behave again.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.faults)
}

// Hits reports how many requests an endpoint received since New or
// ResetHits, faulted ones included, so tests can assert that the portal did
// (or did not) call it.
func (e *Emulator) Hits(provider, endpoint string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hits[faultKey(provider, endpoint)]
}

// ResetHits sets every hit counter to zero.
func (e *Emulator) ResetHits() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.hits)
}

// hit counts a request and returns the endpoint's fault.
func (e *Emulator) hit(provider, endpoint string) Fault {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := faultKey(provider, endpoint)
	e.hits[k]++
	return e.faults[k]
}

// fault returns the endpoint's fault without counting a hit, for Approve.
func (e *Emulator) fault(provider, endpoint string) Fault {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.faults[faultKey(provider, endpoint)]
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// applyFault applies the faults that replace the whole answer. It reports
// whether the answer has been written (or the client has gone away).
func applyFault(w http.ResponseWriter, r *http.Request, f Fault) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return true // nobody is listening any more
		}
	}
	switch {
	case f.Body != "":
		status := f.Status
		if status == 0 {
			status = http.StatusOK
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(f.Body))
		return true
	case f.Status != 0:
		writeError(w, f.Status, "emulated_fault", "fault injected by the test: status "+http.StatusText(f.Status))
		return true
	}
	return false
}

type faultCtxKey struct{}

func withFault(ctx context.Context, f Fault) context.Context {
	return context.WithValue(ctx, faultCtxKey{}, f)
}

func faultFrom(ctx context.Context) Fault {
	f, _ := ctx.Value(faultCtxKey{}).(Fault)
	return f
}

// writeJSON writes a JSON answer, padded to the BodySize of the request's
// fault when the answer is a success. Token answers must not be cached
// (RFC 6749 §5.1); the header is harmless elsewhere.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", "cannot encode answer")
		return
	}
	if f := faultFrom(r.Context()); f.BodySize > 0 && status < 300 {
		b = pad(b, f.BodySize)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// pad grows a JSON object to size bytes with a "padding" member, keeping it
// valid JSON so only the size limit of the client can stop it.
func pad(b []byte, size int) []byte {
	if !bytes.HasPrefix(b, []byte("{")) || !bytes.HasSuffix(b, []byte("}")) {
		return b
	}
	member := `"padding":""`
	if len(b) > 2 {
		member = "," + member
	}
	n := size - len(b) - len(member)
	if n < 0 {
		return b
	}
	out := make([]byte, 0, size)
	out = append(out, b[:len(b)-1]...)
	out = append(out, member[:len(member)-1]...)
	out = append(out, strings.Repeat("x", n)...)
	out = append(out, `"}`...)
	return out
}

// oauthError is the error answer of RFC 6749 §5.2.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// writeError writes an OAuth-style JSON error.
func writeError(w http.ResponseWriter, status int, code, description string) {
	b, _ := json.Marshal(oauthError{Error: code, Description: description})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
