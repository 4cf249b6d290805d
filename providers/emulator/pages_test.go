package emulator

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

func getPage(t *testing.T, f *fixture, u string) (*http.Response, string) {
	t.Helper()
	resp, err := f.client().Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestConsentPage(t *testing.T) {
	f := newFixture(t)
	if _, err := f.e.AddPerson(context.Background(), Person{Provider: "google", Sub: "111", Name: "Existing <Person>", Email: "e@example.com"}); err != nil {
		t.Fatal(err)
	}
	q := googleQuery(oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier()))
	resp, page := getPage(t, f, f.srv.URL+"/google/authorize?"+q.Encode())
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("consent page: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		"Local provider emulator — not the real Google.", "For development and tests only.",
		`<link rel="stylesheet" href="` + f.srv.URL + `/emulator.css">`,
		`name="person" value="111" data-testid="emulator-person"`,
		"Existing &lt;Person&gt;",
		`id="emulator-name" name="name"`, `id="emulator-email" name="email"`,
		`name="email_verified" type="checkbox" value="on"`, `id="emulator-sub" name="sub"`,
		`<label for="emulator-name">`, `data-testid="emulator-continue"`,
		`name="deny" value="1" data-testid="emulator-cancel"`,
		`<input type="hidden" name="nonce" value="n-0S6_WzA2Mj">`,
		`<input type="hidden" name="state" value="st-google">`,
		`<code>profile</code>`, `action="` + f.srv.URL + `/google/authorize"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	for _, banned := range []string{"<script", "<style", "style=", "onclick"} {
		if strings.Contains(page, banned) {
			t.Errorf("consent page contains %q, which the portal's CSP forbids", banned)
		}
	}
	css, _ := getPage(t, f, f.srv.URL+"/emulator.css")
	if css.StatusCode != 200 || css.Header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Errorf("emulator.css: %d %s", css.StatusCode, css.Header.Get("Content-Type"))
	}

	// Choosing the existing person signs in as them.
	form := q
	form.Set("person", "111")
	post, err := f.client().PostForm(f.srv.URL+"/google/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	loc, _ := url.Parse(post.Header.Get("Location"))
	if post.StatusCode != http.StatusSeeOther || loc.Query().Get("code") == "" || loc.Query().Get("state") != "st-google" {
		t.Errorf("choose person: %d %s", post.StatusCode, loc)
	}
}

func TestConsentPageOtherProviders(t *testing.T) {
	f := newFixture(t)
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	for _, tt := range []struct {
		path  string
		query url.Values
		want  []string
	}{
		{"/facebook/dialog/oauth", url.Values{"client_id": {"facebook-client"}, "redirect_uri": {testClients["facebook"].RedirectURI},
			"response_type": {"code"}, "scope": {"email,public_profile"}, "state": {"s"}},
			[]string{"not the real Facebook.", "<code>email</code>", "<code>public_profile</code>", "Facebook never tells"}},
		{"/x/i/oauth2/authorize", url.Values{"client_id": {"x-client"}, "redirect_uri": {testClients["x"].RedirectURI},
			"response_type": {"code"}, "scope": {"users.read tweet.read"}, "state": {"s"},
			"code_challenge": {challenge}, "code_challenge_method": {"S256"}},
			[]string{"not the real X.", `name="username"`, `<input type="hidden" name="code_challenge" value="` + challenge + `">`}},
	} {
		resp, page := getPage(t, f, f.srv.URL+tt.path+"?"+tt.query.Encode())
		if resp.StatusCode != 200 {
			t.Errorf("%s: status %d", tt.path, resp.StatusCode)
		}
		for _, w := range tt.want {
			if !strings.Contains(page, w) {
				t.Errorf("%s: page lacks %q", tt.path, w)
			}
		}
	}
}

func TestAuthorizeRefusals(t *testing.T) {
	f := newFixture(t)
	valid := googleQuery(oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier()))
	with := func(k, v string) url.Values {
		q := url.Values{}
		for k, vs := range valid {
			q[k] = append([]string(nil), vs...)
		}
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		return q
	}
	repeated := with("state", "a")
	repeated.Add("state", "b")
	tests := []struct {
		name      string
		method    string
		form      url.Values
		wantError string // "" for an error page without redirect
	}{
		{"unknown client", "GET", with("client_id", "evil"), ""},
		{"missing client", "GET", with("client_id", ""), ""},
		{"redirect_uri mismatch", "GET", with("redirect_uri", "http://evil.example/cb"), ""},
		{"redirect_uri prefix", "GET", with("redirect_uri", testClients["google"].RedirectURI+"/x"), ""},
		{"tampered hidden redirect_uri", "POST", with("redirect_uri", "http://evil.example/cb"), ""},
		{"response_type token", "GET", with("response_type", "token"), "unsupported_response_type"},
		{"plain PKCE", "GET", with("code_challenge_method", "plain"), "invalid_request"},
		{"bad challenge", "GET", with("code_challenge", "short"), "invalid_request"},
		{"repeated state", "GET", repeated, "invalid_request"},
		{"deny", "POST", with("deny", "1"), "access_denied"},
		{"invalid new email", "POST", with("email", "not an email"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resp *http.Response
			var err error
			if tt.method == "GET" {
				resp, err = f.client().Get(f.srv.URL + "/google/authorize?" + tt.form.Encode())
			} else {
				resp, err = f.client().PostForm(f.srv.URL+"/google/authorize", tt.form)
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			loc := resp.Header.Get("Location")
			if tt.wantError == "" {
				if resp.StatusCode != http.StatusBadRequest || loc != "" || !strings.Contains(string(body), "emulator-error") {
					t.Errorf("got %d Location %q, want a 400 error page and no redirect", resp.StatusCode, loc)
				}
				return
			}
			u, _ := url.Parse(loc)
			if !strings.HasPrefix(loc, testClients["google"].RedirectURI+"?") || u.Query().Get("error") != tt.wantError || u.Query().Has("code") {
				t.Errorf("got %d Location %q, want a redirect with error=%s", resp.StatusCode, loc, tt.wantError)
			}
		})
	}
	if people, _ := f.e.People(context.Background(), "google"); len(people) != 0 {
		t.Errorf("refused requests created people: %+v", people)
	}
}

// The portal mounts the emulator under /_emulator, stripped or not.
func TestHandlerUnderPrefix(t *testing.T) {
	f := newFixtureOn(t, openDB(t), "/_emulator")
	resp, _ := getPage(t, f, f.srv.URL+"/_emulator/google/.well-known/openid-configuration")
	if resp.StatusCode != 200 {
		t.Errorf("full path: status %d", resp.StatusCode)
	}
	mux := http.NewServeMux()
	mux.Handle("/_emulator/", http.StripPrefix("/_emulator", f.e.Handler()))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/_emulator/google/jwks", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"kty":"RSA"`) {
		t.Errorf("stripped path: %d %s", rec.Code, rec.Body)
	}
}

// A provider without a client is absent.
func TestProviderWithoutClient(t *testing.T) {
	db := openDB(t)
	e, err := New(context.Background(), Config{DB: db, BaseURL: "http://emu.test", Clients: map[string]Client{"google": testClients["google"]}})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	e.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/facebook/dialog/oauth?client_id=x", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("facebook without client: %d, want 404", rec.Code)
	}
}
