package providers

// Reliability cases of SECURITY.md group E that belong to the providers:
// what reaches the portal from a provider that answers with the wrong
// content, too much of it (E-03c), without its keys (E-05) or with a clock
// that is a little off (E-16). The end-to-end cases through the portal are
// in handlers/reliability_*_test.go.

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/markbates/goth"
)

// gzipBomb is a gzip body that inflates to prefix, then size bytes of
// filler, then suffix: a multistream gzip of one small member per MiB, so
// the test builds a 100 MiB bomb of about 100 KiB without compressing
// 100 MiB. Go's gzip reader reads every member (multistream is the
// default), as a client's transport does.
func gzipBomb(t testing.TB, prefix string, size int, filler byte, suffix string) []byte {
	t.Helper()
	member := func(b []byte) []byte {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if _, err := zw.Write(b); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	const mib = 1 << 20
	chunk := member(bytes.Repeat([]byte{filler}, mib))
	out := member([]byte(prefix))
	for range size / mib {
		out = append(out, chunk...)
	}
	return append(out, member([]byte(suffix))...)
}

// E-03c: a userinfo answer that is not application/json is refused, even
// when its body is valid JSON for the right subject; the media type's
// parameters do not matter.
func TestE03c_UserinfoWrongContentType(t *testing.T) {
	body := `{"sub":"` + fakeSubject + `","email":"ada@example.com"}`
	for _, tc := range []struct {
		contentType string
		want        error // nil: accepted
	}{
		{"text/html; charset=utf-8", ErrBadResponse},
		{"text/plain", ErrBadResponse},
		{"application/jwt", ErrBadResponse},
		{"", ErrBadResponse},
		{"application/json; charset=utf-8", nil},
	} {
		t.Run(tc.contentType, func(t *testing.T) {
			op := newFakeOP(t)
			op.set(func(op *fakeOP) {
				op.userinfoHandler = func(w http.ResponseWriter, _ *http.Request) {
					w.Header()["Content-Type"] = []string{tc.contentType}
					io.WriteString(w, body)
				}
			})
			p := op.provider(t, 2*time.Second)
			_, err := finish(p, op.begin(t, p), "c")
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Content-Type %q refused: %v", tc.contentType, err)
				}
				return
			}
			assertKind(t, err, tc.want)
		})
	}
}

// E-03c: a gzip bomb on userinfo (Content-Encoding: gzip, about 100 KiB
// that inflate to 100 MiB of otherwise valid JSON) is refused as too
// large. The size limit (limitTransport) sits above the transport's
// transparent decompression, so it counts inflated bytes: the compressed
// body is far under 1 MiB, so only the inflated size can trip it. Memory
// stays bounded by the 1 MiB limit.
func TestE03c_UserinfoGzipBomb(t *testing.T) {
	bomb := gzipBomb(t, `{"sub":"`+fakeSubject+`","pad":"`, 100<<20, 'x', `"}`)
	if len(bomb) >= maxBodyBytes {
		t.Fatalf("bomb is %d bytes compressed; it must be under the limit to prove the limit counts inflated bytes", len(bomb))
	}
	var acceptGzip atomic.Bool
	op := newFakeOP(t)
	op.set(func(op *fakeOP) {
		op.userinfoHandler = func(w http.ResponseWriter, r *http.Request) {
			acceptGzip.Store(strings.Contains(r.Header.Get("Accept-Encoding"), "gzip"))
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(bomb)
		}
	})
	p := op.provider(t, 5*time.Second)
	stored := op.begin(t, p)

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := finish(p, stored, "c")
	runtime.ReadMemStats(&after)

	assertKind(t, err, ErrBadResponse)
	if !strings.Contains(err.Error(), "over 1 MiB") {
		t.Errorf("error %q, want the body size limit", err)
	}
	if !acceptGzip.Load() {
		t.Error("the client did not ask for gzip, so the transport did not inflate: the test proves nothing")
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Errorf("the refused sign-in allocated %d MiB; the 1 MiB limit should bound it far below the bomb's 100 MiB", alloc>>20)
	}
}

// E-03c: the same bound holds for any body read through a provider client
// (goth's Facebook code reads with io.ReadAll, go-oidc's JWKS fetch too):
// the reader fails after 1 MiB of inflated data.
func TestE03c_ClientBoundsInflatedBody(t *testing.T) {
	bomb := gzipBomb(t, "", 100<<20, 0, "")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(bomb)
	}))
	defer srv.Close()
	c := prepareClient(NewHTTPClient(5*time.Second, srv.Client().Transport), nil)
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if !resp.Uncompressed {
		t.Fatal("the transport did not inflate the body")
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != errBodyTooLarge || n > maxBodyBytes {
		t.Errorf("read %d bytes, err %v; want at most %d bytes and errBodyTooLarge", n, err, maxBodyBytes)
	}
}

// settableNow makes p's clock real time plus an offset the test moves. It
// must be called before the provider's first use (discovery keeps it).
func settableNow(p *Provider) *atomic.Int64 {
	var off atomic.Int64
	p.Provider.(*oidcProvider).now = func() time.Time { return time.Now().Add(time.Duration(off.Load())) }
	return &off
}

// E-05a: with the JWKS endpoint down, an ID token signed with a key the
// provider already fetched still verifies, without calling the JWKS.
func TestE05a_CachedKeyWhileJWKSDown(t *testing.T) {
	op := newFakeOP(t)
	p := op.provider(t, 2*time.Second)
	if _, err := finish(p, op.begin(t, p), "warm-up"); err != nil {
		t.Fatalf("first sign-in: %v", err)
	}
	warm := op.jwksHits.Load()
	op.set(func(op *fakeOP) {
		op.jwksHandler = func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) }
	})
	for i := range 3 {
		if _, err := finish(p, op.begin(t, p), "c"); err != nil {
			t.Fatalf("sign-in %d with the JWKS down and the key cached: %v", i, err)
		}
	}
	if got := op.jwksHits.Load(); got != warm {
		t.Errorf("JWKS hits %d -> %d: a cached key needs no fetch", warm, got)
	}
}

// E-05b: with the JWKS endpoint down, an ID token whose kid is not cached
// fails closed (ErrUnavailable, nobody signed in), and the JWKS is asked
// at most once per keysRetry however many sign-ins come (go-oidc by itself
// would fetch on each). Once the endpoint is back and the window over, the
// next sign-in fetches; a kid the JWKS does not have is still refused.
func TestE05b_UnknownKidFailsClosedWithBoundedRefetch(t *testing.T) {
	op := newFakeOP(t)
	p := op.provider(t, 2*time.Second)
	off := settableNow(p)
	if _, err := finish(p, op.begin(t, p), "warm-up"); err != nil {
		t.Fatalf("first sign-in: %v", err)
	}
	down := func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) }
	op.set(func(op *fakeOP) { op.jwksHandler = down; op.kid = "k2" })
	before := op.jwksHits.Load()
	const attempts = 10
	for i := range attempts {
		_, err := finish(p, op.begin(t, p), "c")
		assertKind(t, err, ErrUnavailable)
		if i == 0 && op.jwksHits.Load() != before+1 {
			t.Fatalf("the first unknown kid did not fetch the JWKS (hits %d -> %d)", before, op.jwksHits.Load())
		}
	}
	if got := op.jwksHits.Load() - before; got != 1 {
		t.Errorf("%d sign-ins with an unknown kid fetched the JWKS %d times within %v, want 1", attempts, got, keysRetry)
	}

	// Still down after the window: one more fetch, then held back again.
	off.Store(int64(keysRetry + time.Second))
	for range 3 {
		_, err := finish(p, op.begin(t, p), "c")
		assertKind(t, err, ErrUnavailable)
	}
	if got := op.jwksHits.Load() - before; got != 2 {
		t.Errorf("JWKS fetched %d times after one window, want 2", got)
	}

	// Back up, window over: fetched at once; k2 is not published, so the
	// token is refused; k1 verifies, and a success lifts the gate.
	op.set(func(op *fakeOP) { op.jwksHandler = nil })
	off.Store(int64(2 * (keysRetry + time.Second)))
	_, err := finish(p, op.begin(t, p), "c")
	assertKind(t, err, ErrRejected)
	op.set(func(op *fakeOP) { op.kid = "" })
	if _, err := finish(p, op.begin(t, p), "c"); err != nil {
		t.Fatalf("sign-in with the published key after recovery: %v", err)
	}
	op.set(func(op *fakeOP) { op.kid = "k3" })
	_, err = finish(p, op.begin(t, p), "c")
	assertKind(t, err, ErrRejected)
	if got := op.jwksHits.Load() - before; got != 4 {
		t.Errorf("JWKS fetched %d times in all, want 4 (a fetch that succeeded holds nothing back)", got)
	}
}

// E-16a: the ID token's time claims get a leeway of clockSkew (2 min) for
// clocks that are a little off: iat 90 s in the future, exp 30 s in the
// past and nbf 90 s in the future are accepted; 5 minutes off is refused,
// as is a token without exp.
func TestE16a_ClockSkewLeeway(t *testing.T) {
	if clockSkew != 2*time.Minute {
		t.Fatalf("clockSkew = %v; this test and SECURITY.md E-16a assume 2 min", clockSkew)
	}
	for _, tc := range []struct {
		name   string
		mutate func(c map[string]any, now time.Time)
		ok     bool
	}{
		{"iat 90s ahead", func(c map[string]any, now time.Time) { c["iat"] = now.Add(90 * time.Second).Unix() }, true},
		{"exp 30s ago", func(c map[string]any, now time.Time) {
			c["iat"] = now.Add(-time.Hour).Unix()
			c["exp"] = now.Add(-30 * time.Second).Unix()
		}, true},
		{"nbf 90s ahead", func(c map[string]any, now time.Time) { c["nbf"] = now.Add(90 * time.Second).Unix() }, true},
		{"iat 5min ahead", func(c map[string]any, now time.Time) { c["iat"] = now.Add(5 * time.Minute).Unix() }, false},
		{"exp 5min ago", func(c map[string]any, now time.Time) {
			c["iat"] = now.Add(-time.Hour).Unix()
			c["exp"] = now.Add(-5 * time.Minute).Unix()
		}, false},
		{"nbf 5min ahead", func(c map[string]any, now time.Time) { c["nbf"] = now.Add(5 * time.Minute).Unix() }, false},
		{"no exp", func(c map[string]any, _ time.Time) { delete(c, "exp") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := newFakeOP(t)
			op.set(func(op *fakeOP) { op.mutateClaims = func(c map[string]any) { tc.mutate(c, time.Now()) } })
			p := op.provider(t, 2*time.Second)
			u, err := finish(p, op.begin(t, p), "c")
			if tc.ok {
				if err != nil {
					t.Fatalf("refused within the leeway: %v", err)
				}
				if u.(goth.User).UserID != fakeSubject {
					t.Errorf("user %q", u.(goth.User).UserID)
				}
				return
			}
			assertKind(t, err, ErrRejected)
			if op.userinfoHits.Load() != 0 {
				t.Error("userinfo called after a refused ID token")
			}
		})
	}
}
