package providers

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var testCommon = Common{ClientID: "id", ClientSecret: "secret", CallbackURL: "https://portal.example/auth/p/callback"}

func withName(c Common, name string) Common { c.Name = name; return c }

func TestNewHTTPClient(t *testing.T) {
	redirected := false
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { redirected = true }))
	defer target.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		http.Redirect(w, r, target.URL, http.StatusFound)
	}))
	defer srv.Close()

	c := NewHTTPClient(200*time.Millisecond, nil)
	if c.Timeout != 200*time.Millisecond {
		t.Errorf("Timeout = %v", c.Timeout)
	}
	if tr, ok := c.Transport.(*http.Transport); !ok || tr.TLSHandshakeTimeout == 0 || tr.ResponseHeaderTimeout == 0 {
		t.Errorf("default transport lacks timeouts: %#v", c.Transport)
	}
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || redirected {
		t.Errorf("status %d, redirected %v; want the 302 itself and no request to the target", resp.StatusCode, redirected)
	}
	start := time.Now()
	if _, err := c.Get(srv.URL + "/slow"); err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("slow GET: err %v after %v; want a timeout near 200ms", err, time.Since(start))
	}
}

func TestPrepareClientEnforcesPolicy(t *testing.T) {
	c := prepareClient(&http.Client{}, nil) // a caller's client without timeout or redirect policy
	if c.Timeout != defaultTimeout || c.CheckRedirect == nil {
		t.Errorf("timeout %v, CheckRedirect set %v", c.Timeout, c.CheckRedirect != nil)
	}
}

func TestConstructorsRefuseInsecureConfig(t *testing.T) {
	httpCallback := testCommon
	httpCallback.CallbackURL = "http://portal.example/auth/p/callback"
	queryCallback := testCommon
	queryCallback.CallbackURL = "https://portal.example/cb?x=1"
	loopback := testCommon
	loopback.CallbackURL = "http://localhost:8080/auth/p/callback"
	insecureOK := testCommon
	insecureOK.AllowInsecureHTTP = true

	tests := []struct {
		name    string
		build   func() (*Provider, error)
		wantErr bool
	}{
		{"oidc https", func() (*Provider, error) {
			return NewOIDC(OIDCConfig{Common: withName(testCommon, "corp"), Issuer: "https://id.example"})
		}, false},
		{"oidc http issuer", func() (*Provider, error) {
			return NewOIDC(OIDCConfig{Common: withName(testCommon, "corp"), Issuer: "http://id.example"})
		}, true},
		{"oidc http issuer allowed", func() (*Provider, error) {
			return NewOIDC(OIDCConfig{Common: withName(insecureOK, "corp"), Issuer: "http://127.0.0.1:9/google"})
		}, false},
		{"oidc without openid scope", func() (*Provider, error) {
			return NewOIDC(OIDCConfig{Common: withName(testCommon, "corp"), Issuer: "https://id.example", Scopes: []string{"email"}})
		}, true},
		{"oidc reserved auth param", func() (*Provider, error) {
			return NewOIDC(OIDCConfig{Common: withName(testCommon, "corp"), Issuer: "https://id.example", AuthParams: map[string]string{"code_challenge_method": "plain"}})
		}, true},
		{"google http callback", func() (*Provider, error) { return NewOIDC(Google(httpCallback)) }, true},
		{"google callback with query", func() (*Provider, error) { return NewOIDC(Google(queryCallback)) }, true},
		{"google loopback http callback", func() (*Provider, error) { return NewOIDC(Google(loopback)) }, false},
		{"google bad name", func() (*Provider, error) { return NewOIDC(Google(withName(testCommon, "Google!"))) }, true},
		{"x defaults", func() (*Provider, error) { return NewX(XConfig{Common: testCommon}) }, false},
		{"x http token URL", func() (*Provider, error) {
			return NewX(XConfig{Common: testCommon, TokenURL: "http://api.x.example/2/oauth2/token"})
		}, true},
		{"x no client secret", func() (*Provider, error) {
			c := testCommon
			c.ClientSecret = ""
			return NewX(XConfig{Common: c})
		}, true},
		{"facebook http emulator", func() (*Provider, error) {
			return NewFacebook(FacebookConfig{Common: testCommon, EmulatorBase: "http://localhost:8080/_emulator/facebook"})
		}, true},
		{"facebook http emulator allowed", func() (*Provider, error) {
			return NewFacebook(FacebookConfig{Common: insecureOK, EmulatorBase: "http://localhost:8080/_emulator/facebook"})
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.build()
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestRegistry(t *testing.T) {
	google, err := NewOIDC(Google(testCommon))
	if err != nil {
		t.Fatal(err)
	}
	x, _ := NewX(XConfig{Common: testCommon})
	fb, _ := NewFacebook(FacebookConfig{Common: testCommon})
	corp, _ := NewOIDC(OIDCConfig{Common: withName(testCommon, "corp"), Issuer: "https://login.corp.example:8443/realms/a"})

	r, err := NewRegistry(google, x, fb, corp)
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	var names, labels []string
	for _, p := range r.All() {
		names = append(names, p.Name())
		labels = append(labels, p.Label)
	}
	if diff := cmp.Diff([]string{"google", "x", "facebook", "corp"}, names); diff != "" {
		t.Errorf("All() order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Google", "X (Twitter)", "Facebook", "corp"}, labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if p, ok := r.Get("x"); !ok || p != x {
		t.Errorf("Get(x) = %v, %v", p, ok)
	}
	if _, ok := r.Get("twitter"); ok {
		t.Error("Get(twitter) found a provider")
	}
	want := []string{"https://accounts.google.com", "https://login.corp.example:8443", "https://www.facebook.com", "https://x.com"}
	if diff := cmp.Diff(want, r.FormActionOrigins()); diff != "" {
		t.Errorf("FormActionOrigins (-want +got):\n%s", diff)
	}

	google2, _ := NewOIDC(Google(testCommon))
	if _, err := NewRegistry(google, x, google2); err == nil || !strings.Contains(err.Error(), "duplicate") {
		t.Errorf("duplicate names: err = %v", err)
	}
	if _, err := NewRegistry(google, nil); err == nil {
		t.Error("nil provider accepted")
	}
}
