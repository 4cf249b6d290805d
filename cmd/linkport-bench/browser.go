package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
)

// cookieName is the session cookie of a server on http://127.0.0.1.
const cookieName = "linkport"

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// newTransport is the connection pool shared by many browsers: keep-alive,
// no transparent gzip (so bytes are counted as sent).
func newTransport(conns int) *http.Transport {
	return &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
}

// clientIPs hands out client addresses in 127.1.0.0/16 upward, each
// sign-in its own, so that the per-IP sign-in budget applies as it would
// to many people behind a proxy. 127.0.0.1 is the trusted proxy itself.
var clientIPs atomic.Uint32

func nextClientIP() string {
	n := clientIPs.Add(1)
	return fmt.Sprintf("127.%d.%d.%d", 1+(n>>16)%254, (n>>8)&0xff, n&0xff)
}

// browser is one person's browser: its own cookie jar, redirects not
// followed so that every step is checked, and a client address.
type browser struct {
	base   string
	client *http.Client
	ip     string
}

func newBrowser(base string, tr http.RoundTripper) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{base: base, ip: nextClientIP(), client: &http.Client{
		Transport:     tr,
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// page is an answer: status, Location and body.
type page struct {
	status   int
	location string
	body     string
}

// do sends a request; a form makes it a same-origin POST, as from our page.
func (b *browser) do(ctx context.Context, method, rawURL string, form url.Values) (page, error) {
	if strings.HasPrefix(rawURL, "/") {
		rawURL = b.base + rawURL
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return page{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.base)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	req.Header.Set("X-Forwarded-For", b.ip)
	res, err := b.client.Do(req)
	if err != nil {
		return page{}, fmt.Errorf("%s %s: %w", method, req.URL.Path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return page{}, fmt.Errorf("%s %s: %w", method, req.URL.Path, err)
	}
	return page{status: res.StatusCode, location: res.Header.Get("Location"), body: string(data)}, nil
}

// expect sends a request and checks the status (and, for a redirect, that
// Location starts with wantPrefix).
func (b *browser) expect(ctx context.Context, method, rawURL string, form url.Values, status int, wantPrefix string) (page, error) {
	p, err := b.do(ctx, method, rawURL, form)
	if err != nil {
		return p, err
	}
	path := rawURL
	if u, err := url.Parse(rawURL); err == nil {
		path = u.Path
	}
	if p.status != status || !strings.HasPrefix(p.location, wantPrefix) {
		return p, fmt.Errorf("%s %s: %d %q, want %d %s…", method, path, p.status, p.location, status, wantPrefix)
	}
	return p, nil
}

// csrf returns the CSRF token of a page.
func csrf(p page) (string, error) {
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		return "", fmt.Errorf("no csrf_token on the page (status %d)", p.status)
	}
	return m[1], nil
}

// person is someone at an emulated provider. A browser creates them on
// first consent (new), and picks them from the list after.
type person struct {
	provider string
	sub      string
	name     string
	email    string
	created  bool
}

// consent submits the emulator's consent form for the authorize URL the
// portal redirected to, and returns the portal callback it sends back to.
func (b *browser) consent(ctx context.Context, authorize string, who *person) (string, error) {
	u, err := url.Parse(authorize)
	if err != nil || !strings.HasPrefix(authorize, b.base+"/_emulator/") {
		return "", fmt.Errorf("the portal redirected to %q, not to its emulator", authorize)
	}
	form := u.Query() // the consent form's hidden fields carry the request
	if who.created {
		form.Set("person", who.sub)
	} else {
		form.Set("sub", who.sub)
		form.Set("name", who.name)
		form.Set("email", who.email)
		form.Set("email_verified", "on")
	}
	u.RawQuery = ""
	p, err := b.expect(ctx, http.MethodPost, u.String(), form, http.StatusSeeOther, b.base+"/auth/"+who.provider+"/callback?")
	if err != nil {
		return "", err
	}
	who.created = true
	return p.location, nil
}

// signIn is one complete sign-in: the login page (CSRF), begin, consent at
// the emulator, the callback (token, ID token, userinfo, write, session),
// and the accounts page it lands on, which must answer 200.
func (b *browser) signIn(ctx context.Context, who *person) error {
	login, err := b.expect(ctx, http.MethodGet, "/login", nil, http.StatusOK, "")
	if err != nil {
		return err
	}
	token, err := csrf(login)
	if err != nil {
		return fmt.Errorf("GET /login: %w", err)
	}
	begin, err := b.expect(ctx, http.MethodPost, "/auth/"+who.provider, url.Values{"csrf_token": {token}}, http.StatusSeeOther, b.base+"/_emulator/")
	if err != nil {
		return err
	}
	callback, err := b.consent(ctx, begin.location, who)
	if err != nil {
		return err
	}
	if _, err := b.expect(ctx, http.MethodGet, callback, nil, http.StatusSeeOther, "/accounts"); err != nil {
		return err
	}
	_, err = b.expect(ctx, http.MethodGet, "/accounts", nil, http.StatusOK, "")
	return err
}

// link connects another provider account through the preview: Connect,
// consent, the callback to the preview, then "Link it".
func (b *browser) link(ctx context.Context, who *person) error {
	accounts, err := b.expect(ctx, http.MethodGet, "/accounts", nil, http.StatusOK, "")
	if err != nil {
		return err
	}
	token, err := csrf(accounts)
	if err != nil {
		return fmt.Errorf("GET /accounts: %w", err)
	}
	begin, err := b.expect(ctx, http.MethodPost, "/accounts/link/"+who.provider, url.Values{"csrf_token": {token}}, http.StatusSeeOther, b.base+"/_emulator/")
	if err != nil {
		return err
	}
	callback, err := b.consent(ctx, begin.location, who)
	if err != nil {
		return err
	}
	preview, err := b.expect(ctx, http.MethodGet, callback, nil, http.StatusSeeOther, "/accounts/link/confirm?id=")
	if err != nil {
		return err
	}
	u, _ := url.Parse(preview.location)
	// The preview's form carries the session's token, which the callback
	// may have renewed with the session.
	confirm, err := b.expect(ctx, http.MethodGet, preview.location, nil, http.StatusOK, "")
	if err != nil {
		return err
	}
	if token, err = csrf(confirm); err != nil {
		return fmt.Errorf("GET /accounts/link/confirm: %w", err)
	}
	form := url.Values{"csrf_token": {token}, "id": {u.Query().Get("id")}, "action": {"link"}}
	_, err = b.expect(ctx, http.MethodPost, "/accounts/link/confirm", form, http.StatusSeeOther, "/accounts")
	return err
}

// sessionCookie returns the browser's session cookie, as a Cookie header.
func (b *browser) sessionCookie() string {
	u, _ := url.Parse(b.base)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == cookieName {
			return c.Name + "=" + c.Value
		}
	}
	return ""
}
