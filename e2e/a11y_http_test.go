package e2e

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Sign-ins through the provider emulator with a plain HTTP client, for
// the accessibility sweep: many sign-ins from another device make a
// timeline longer than a page, and failed ones mark a provider
// temporarily unavailable, faster than a browser would.

var (
	csrfInput     = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	formAction    = regexp.MustCompile(`<form method="post" action="([^"]+)">`)
	hiddenInput   = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	emulatorEntry = regexp.MustCompile(`<button type="submit" name="person" value="([^"]+)" data-testid="emulator-person">([^<]*)</button>`)
)

// signInOverHTTP signs acc, whom the provider emulator already knows, in
// n times with a plain HTTP client, as another device would: a session of
// its own, and a sign-in on the account's timeline each time.
func signInOverHTTP(t *testing.T, base string, acc account, n int) {
	t.Helper()
	c := newHTTPClient(t)
	for range n {
		status, path := signInThroughEmulator(t, c, base, acc.provider, func(form string) url.Values {
			for _, m := range emulatorEntry.FindAllStringSubmatch(form, -1) {
				if strings.HasPrefix(html.UnescapeString(m[2]), acc.name) {
					return url.Values{"person": {html.UnescapeString(m[1])}}
				}
			}
			t.Fatalf("the emulator's consent page does not list %s", acc.name)
			return nil
		})
		if status != http.StatusOK || path != "/accounts" {
			t.Fatalf("a sign-in over HTTP ended with %d at %s, want 200 at /accounts", status, path)
		}
	}
}

// markUnavailable fails five sign-ins with provider on a server whose
// providers never answer in time (LINKPORT_PROVIDER_TIMEOUT=1ns), so that
// its sign-in page marks the provider "temporarily unavailable".
func markUnavailable(t *testing.T, base, provider string) {
	t.Helper()
	c := newHTTPClient(t)
	for i := range 5 {
		status, path := signInThroughEmulator(t, c, base, provider, func(string) url.Values {
			return url.Values{"name": {fmt.Sprintf("Outage %d", i)}}
		})
		if status != http.StatusGatewayTimeout || path != "/auth/error" {
			t.Fatalf("a sign-in with a provider that never answers ended with %d at %s, want 504 at /auth/error", status, path)
		}
	}
}

func newHTTPClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

// signInThroughEmulator is a browser's sign-in, minus the browser: the
// sign-in page's form for provider, the emulator's consent page, answered
// with answer's fields (given the page's first form, the people it
// already knows), and its redirect back to the callback. It returns the
// status and path of the page the redirects end on.
func signInThroughEmulator(t *testing.T, c *http.Client, base, provider string, answer func(form string) url.Values) (int, string) {
	t.Helper()
	read := func(res *http.Response, err error) (string, *http.Response) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(body), res
	}
	login, _ := read(c.Get(base + "/login"))
	token := csrfInput.FindStringSubmatch(login)
	if token == nil {
		t.Fatal("no CSRF token on the sign-in page")
	}
	consent, res := read(c.PostForm(base+"/auth/"+provider, url.Values{"csrf_token": {html.UnescapeString(token[1])}}))
	action := formAction.FindStringSubmatch(consent)
	if res.StatusCode != http.StatusOK || action == nil {
		t.Fatalf("no consent form at %s (%d)", res.Request.URL, res.StatusCode)
	}
	form, _, _ := strings.Cut(consent[strings.Index(consent, action[0]):], "</form>")
	fields := answer(form)
	for _, m := range hiddenInput.FindAllStringSubmatch(form, -1) {
		fields.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	_, res = read(c.PostForm(html.UnescapeString(action[1]), fields))
	return res.StatusCode, res.Request.URL.Path
}
