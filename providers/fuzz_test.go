package providers

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// FuzzXUserInfo checks that mapping any /2/users/me body never panics (K3)
// and that an accepted user always has a usable id (D-04e).
func FuzzXUserInfo(f *testing.F) {
	for _, seed := range []string{
		`{"data":{}}`,
		`{"data":null}`,
		`{"data":{"id":"1","name":"Ada","username":"ada"}}`,
		`{"data":{"id":""}}`,
		`{"data":{"id":1}}`,
		`{"data":{"id":"` + strings.Repeat("9", 256) + `"}}`,
		`{"data":{"id":"1","name":null,"confirmed_email":["a"]}}`,
		`[]`, `null`, ``, `{`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		u, err := xUserFromJSON(body)
		if err != nil {
			return
		}
		if !validSubject(u.UserID) {
			t.Errorf("accepted id %q", u.UserID)
		}
	})
}

// FuzzTokenResponse exchanges a code against a token endpoint that answers
// with the fuzzed status, content type and body: the result is a token or an
// error wrapping one sentinel, never a panic (K4, D-04d).
func FuzzTokenResponse(f *testing.F) {
	f.Add(200, "application/json", []byte(`{"access_token":"a","token_type":"Bearer","id_token":123}`))
	f.Add(200, "application/json", []byte(`{"access_token":1}`))
	f.Add(200, "text/html", []byte(`<html>`))
	f.Add(200, "application/x-www-form-urlencoded", []byte(`access_token=a&id_token=b`))
	f.Add(400, "application/json", []byte(`{"error":"invalid_grant"}`))
	f.Add(503, "", []byte(``))
	f.Add(302, "", []byte(``))

	var (
		mu          sync.Mutex // the handler runs on the server's goroutine
		status      int
		contentType string
		body        []byte
	)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		st, ct, b := status, contentType, body
		mu.Unlock()
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(st)
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	p, err := NewX(XConfig{
		Common: Common{
			ClientID: "c", ClientSecret: "s", CallbackURL: "https://portal.example/auth/x/callback",
			HTTPClient: NewHTTPClient(2*time.Second, srv.Client().Transport),
		},
		AuthURL: srv.URL + "/authorize", TokenURL: srv.URL + "/token", UserURL: srv.URL + "/me",
	})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, st int, ct string, b []byte) {
		if st < 200 || st > 599 || strings.ContainsAny(ct, "\r\n\x00") {
			t.Skip()
		}
		mu.Lock()
		status, contentType, body = st, ct, b // each fuzz worker runs one input at a time
		mu.Unlock()
		sess, err := p.BeginAuth("s")
		if err != nil {
			t.Fatal(err)
		}
		_, err = sess.Authorize(p, url.Values{"code": {"the-code"}})
		if err == nil {
			return
		}
		n := 0
		for _, s := range sentinels {
			if errors.Is(err, s) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("error %v wraps %d sentinels", err, n)
		}
		if strings.Contains(err.Error(), "the-code") {
			t.Errorf("error quotes the code: %v", err)
		}
	})
}
