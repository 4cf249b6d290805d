package handlers_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/linkport/linkport/static"
)

var assetURL = regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`)

// The login page's assets are sent gzipped to a client that accepts gzip
// and plain to one that does not, with the same content either way; the
// page itself is never compressed (BREACH: it carries the CSRF token and
// reflects ?next=).
func TestAssetsGzip(t *testing.T) {
	p := newPortal(t)
	h := p.handlerAt(p.srv.URL)
	get := func(path, acceptEncoding string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if acceptEncoding != "" {
			req.Header.Set("Accept-Encoding", acceptEncoding)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", path, rec.Code)
		}
		return rec
	}

	login := get("/login?next=/accounts", "gzip")
	if enc := login.Header().Get("Content-Encoding"); enc != "" {
		t.Errorf("/login Content-Encoding %q, want none", enc)
	}
	seen := 0
	for _, m := range assetURL.FindAllStringSubmatch(login.Body.String(), -1) {
		path := m[1]
		// /static/htmx.min.0123456789ab.js is static/htmx.min.js.
		name := strings.TrimPrefix(path, "/static/")
		dot := strings.LastIndex(name, ".")
		base := name[:dot]
		name = base[:strings.LastIndex(base, ".")] + name[dot:]
		want, err := fs.ReadFile(static.FS, name)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		t.Run(name, func(t *testing.T) {
			for _, ae := range []string{"", "identity", "gzip;q=0", "br"} {
				plain := get(path, ae)
				if enc := plain.Header().Get("Content-Encoding"); enc != "" {
					t.Errorf("Accept-Encoding %q: Content-Encoding %q, want none", ae, enc)
				}
				if !bytes.Equal(plain.Body.Bytes(), want) {
					t.Errorf("Accept-Encoding %q: body differs from %s", ae, name)
				}
			}
			for _, ae := range []string{"gzip", "gzip, deflate, br, zstd", "br;q=1.0, GZIP;q=0.5", "*"} {
				rec := get(path, ae)
				body := rec.Body.Bytes()
				if rec.Header().Get("Content-Encoding") != "gzip" {
					if len(want) < 200 && bytes.Equal(body, want) {
						continue // too small to gain from gzip
					}
					t.Fatalf("Accept-Encoding %q: Content-Encoding %q, want gzip", ae, rec.Header().Get("Content-Encoding"))
				}
				if !strings.Contains(rec.Header().Get("Vary"), "Accept-Encoding") {
					t.Errorf("Accept-Encoding %q: Vary %q, want Accept-Encoding", ae, rec.Header().Values("Vary"))
				}
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatalf("Accept-Encoding %q: %v", ae, err)
				}
				got, err := io.ReadAll(zr)
				if err != nil {
					t.Fatalf("Accept-Encoding %q: %v", ae, err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("Accept-Encoding %q: gunzipped body differs from %s", ae, name)
				}
				if len(body) >= len(want) {
					t.Errorf("Accept-Encoding %q: %d bytes gzipped, %d plain", ae, len(body), len(want))
				}
			}
		})
		seen++
	}
	if seen == 0 {
		t.Fatal("no /static asset on /login")
	}
}
