package handlers_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/handlers"
	"github.com/linkport/linkport/providers"
	"github.com/linkport/linkport/providers/emulator"
	"github.com/linkport/linkport/store"
)

// clock is a settable time source shared by the portal and the emulator.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		return time.Now()
	}
	return c.now
}

// Advance moves the clock forward (freezing it at real time first).
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		c.now = time.Now()
	}
	c.now = c.now.Add(d)
}

// syncBuffer collects log output from concurrent requests.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// portal is a whole Linkport behind a real router, with the emulator on
// its own server (another origin, as a real provider is).
type portal struct {
	t       *testing.T
	srv     *httptest.Server
	emuSrv  *httptest.Server
	emu     *emulator.Emulator
	db      *store.SQLite
	clock   *clock
	logs    *syncBuffer
	dbPath  string
	options portalOptions
}

type portalOptions struct {
	timeout time.Duration
	dbPath  string
	extra   func(base string) []*providers.Provider
}

func newPortal(t *testing.T) *portal { return newPortalWith(t, portalOptions{}) }

func newPortalWith(t *testing.T, o portalOptions) *portal {
	t.Helper()
	if o.timeout == 0 {
		o.timeout = 2 * time.Second
	}
	if o.dbPath == "" {
		o.dbPath = filepath.Join(t.TempDir(), "linkport.db")
	}
	ctx := context.Background()
	db, err := store.OpenSQLite(ctx, o.dbPath)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	p := &portal{t: t, db: db, clock: &clock{}, logs: &syncBuffer{}, dbPath: o.dbPath, options: o}
	p.srv = httptest.NewUnstartedServer(nil)
	p.emuSrv = httptest.NewUnstartedServer(nil)
	base := "http://" + p.srv.Listener.Addr().String()
	emuBase := "http://" + p.emuSrv.Listener.Addr().String()

	emu, list, err := providers.EmulatedAt(ctx, db.DB(), base, emuBase, o.timeout, p.clock.Now)
	if err != nil {
		t.Fatalf("emulator: %v", err)
	}
	p.emu = emu
	if o.extra != nil {
		list = append(list, o.extra(base)...)
	}
	reg, err := providers.NewRegistry(list...)
	if err != nil {
		t.Fatal(err)
	}
	baseURL, _ := url.Parse(base)
	log := slog.New(slog.NewJSONHandler(p.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	app, err := handlers.New(handlers.Config{
		BaseURL:      baseURL,
		Accounts:     accounts.NewService(db, p.clock.Now),
		Providers:    reg,
		Sessions:     handlers.NewSessionManager(db.SessionStore(), baseURL, time.Hour, 24*time.Hour),
		Logger:       log,
		Ready:        db.Ping,
		ImageOrigins: []string{emuBase},
		Now:          p.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := app.Handler()
	if err != nil {
		t.Fatal(err)
	}
	p.srv.Config.Handler = h
	p.emuSrv.Config.Handler = emu.Handler()
	p.srv.Start()
	p.emuSrv.Start()
	t.Cleanup(p.emuSrv.Close)
	t.Cleanup(p.srv.Close)
	return p
}

// browser is one person's browser: a cookie jar, redirects not followed so
// each step can be checked.
type browser struct {
	t      *testing.T
	p      *portal
	client *http.Client
}

func (p *portal) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: p.t, p: p, client: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is a finished request: status, headers and body.
type response struct {
	*http.Response
	Body string
}

func (b *browser) do(req *http.Request) response {
	b.t.Helper()
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return response{Response: res, Body: string(body)}
}

func (b *browser) get(rawURL string) response {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.abs(rawURL), nil)
	return b.do(req)
}

// post sends a same-origin form, as a browser would from our page.
func (b *browser) post(rawURL string, form url.Values) response {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.abs(rawURL), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.p.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

func (b *browser) abs(rawURL string) string {
	if strings.HasPrefix(rawURL, "/") {
		return b.p.srv.URL + rawURL
	}
	return rawURL
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf loads the login page and returns the session's CSRF token.
func (b *browser) csrf() string {
	b.t.Helper()
	res := b.get("/login")
	m := csrfField.FindStringSubmatch(res.Body)
	if m == nil {
		b.t.Fatalf("no csrf_token on /login (status %d)", res.StatusCode)
	}
	return m[1]
}

// begin starts a sign-in with a provider and returns the provider's
// authorize URL the portal redirected to.
func (b *browser) begin(provider string, extra url.Values) *url.URL {
	b.t.Helper()
	form := url.Values{"csrf_token": {b.csrf()}}
	for k, v := range extra {
		form[k] = v
	}
	res := b.post("/auth/"+provider, form)
	if res.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("POST /auth/%s: status %d, want 303; body %.300s", provider, res.StatusCode, res.Body)
	}
	u, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		b.t.Fatal(err)
	}
	return u
}

// consent approves at the emulator as person and returns the callback URL.
func (b *browser) consent(provider string, authURL *url.URL, person emulator.Person) *url.URL {
	b.t.Helper()
	to, err := b.p.emu.Approve(context.Background(), provider, authURL.Query(), person)
	if err != nil {
		b.t.Fatalf("emulator approve: %v", err)
	}
	u, err := url.Parse(to)
	if err != nil {
		b.t.Fatal(err)
	}
	return u
}

// signIn runs a whole sign-in and returns the callback's response.
func (b *browser) signIn(provider string, person emulator.Person) response {
	b.t.Helper()
	cb := b.consent(provider, b.begin(provider, nil), person)
	return b.get(cb.String())
}

// mustSignIn signs in and checks the person lands on the accounts page.
func (b *browser) mustSignIn(provider string, person emulator.Person) response {
	b.t.Helper()
	res := b.signIn(provider, person)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/accounts" {
		b.t.Fatalf("callback: status %d Location %q, want 303 /accounts; logs:\n%s", res.StatusCode, res.Header.Get("Location"), b.p.logs.String())
	}
	page := b.get("/accounts")
	if page.StatusCode != http.StatusOK {
		b.t.Fatalf("GET /accounts: %d", page.StatusCode)
	}
	return page
}

// sessionCookie returns the portal's session cookie value in this browser.
func (b *browser) sessionCookie() string {
	u, _ := url.Parse(b.p.srv.URL)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == "linkport" {
			return c.Value
		}
	}
	return ""
}

// count returns the number of rows in a table.
func (p *portal) count(table string) int {
	p.t.Helper()
	var n int
	if err := p.db.DB().QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		p.t.Fatal(err)
	}
	return n
}

var identityRE = regexp.MustCompile(`data-testid="identity" data-provider="([^"]+)"`)

// identitiesOn lists the providers of the identities shown on a page.
func identitiesOn(body string) []string {
	var out []string
	for _, m := range identityRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func person(name, email string) emulator.Person {
	return emulator.Person{Name: name, Email: email, EmailVerified: email != ""}
}
