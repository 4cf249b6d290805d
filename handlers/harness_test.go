package handlers_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
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

	"github.com/alexedwards/scs/v2"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/handlers"
	"github.com/linkport/linkport/providers"
	"github.com/linkport/linkport/providers/emulator"
	"github.com/linkport/linkport/seal"
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
	t        testing.TB
	srv      *httptest.Server
	emuSrv   *httptest.Server
	emu      *emulator.Emulator
	db       *store.SQLite
	clock    *clock
	logs     *syncBuffer
	dbPath   string
	options  portalOptions
	reg      *providers.Registry
	accounts *accounts.Service
	app      *handlers.App
	// back records the providers' back-channel calls when
	// portalOptions.record is set; nil otherwise.
	back *backChannel
}

type portalOptions struct {
	timeout time.Duration
	dbPath  string
	extra   func(base string) []*providers.Provider
	// record routes the emulated providers' back-channel calls through a
	// backChannel that records them (and can tamper with them).
	record bool
	// lifetime and idle are the sessions' absolute lifetime (default 24h)
	// and idle timeout (default: the handlers' 2h).
	lifetime, idle time.Duration
	// tokenKeys makes the store keep provider tokens, sealed (nil: the
	// default, tokens are dropped).
	tokenKeys *seal.Keyring
	// rateLimited turns the rate limits on, with limits (zero: the
	// handlers' defaults); other tests run without, as they make many
	// requests from one address. trustedProxies are the CIDRs whose
	// X-Forwarded-For is believed.
	rateLimited    bool
	limits         handlers.RateLimits
	trustedProxies []string
	// wrapStore, wrapSessions and wrapIndex put a test double around the
	// accounts store, the scs store and the session index (outage tests);
	// ready replaces db.Ping as Config.Ready.
	wrapStore    func(accounts.Store) accounts.Store
	wrapSessions func(scs.Store) scs.Store
	wrapIndex    func(handlers.SessionIndex) handlers.SessionIndex
	ready        func(context.Context) error
	// requestTimeout is Config.RequestTimeout (zero: the handlers' 25 s).
	requestTimeout time.Duration
}

func newPortal(t testing.TB) *portal { return newPortalWith(t, portalOptions{}) }

func newPortalWith(t testing.TB, o portalOptions) *portal {
	t.Helper()
	if o.timeout == 0 {
		o.timeout = 2 * time.Second
	}
	if o.lifetime == 0 {
		o.lifetime = 24 * time.Hour
	}
	if o.dbPath == "" {
		o.dbPath = filepath.Join(t.TempDir(), "linkport.db")
	}
	if !o.rateLimited {
		off := handlers.Rate{Off: true}
		o.limits = handlers.RateLimits{SignIn: off, Callback: off, Change: off}
	}
	ctx := context.Background()
	db, err := store.OpenSQLite(ctx, o.dbPath, store.WithTokenKeys(o.tokenKeys))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	p := &portal{t: t, db: db, clock: &clock{}, logs: &syncBuffer{}, dbPath: o.dbPath, options: o}
	p.srv = httptest.NewUnstartedServer(nil)
	p.emuSrv = httptest.NewUnstartedServer(nil)
	base := "http://" + p.srv.Listener.Addr().String()
	emuBase := "http://" + p.emuSrv.Listener.Addr().String()

	var emu *emulator.Emulator
	var list []*providers.Provider
	if o.record {
		p.back = &backChannel{}
		emu, list, err = emulatedRecorded(ctx, db, base, emuBase, o.timeout, p.clock.Now, p.back)
	} else {
		emu, list, err = providers.EmulatedAt(ctx, db.DB(), base, emuBase, o.timeout, p.clock.Now)
	}
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
	p.reg = reg
	var st accounts.Store = db
	if o.wrapStore != nil {
		st = o.wrapStore(db)
	}
	var sessStore scs.Store = db.SessionStore()
	if o.wrapSessions != nil {
		sessStore = o.wrapSessions(sessStore)
	}
	var index handlers.SessionIndex = db.SessionIndex()
	if o.wrapIndex != nil {
		index = o.wrapIndex(index)
	}
	ready := db.Ping
	if o.ready != nil {
		ready = o.ready
	}
	p.accounts = accounts.NewService(st, p.clock.Now)
	baseURL, _ := url.Parse(base)
	log := slog.New(slog.NewJSONHandler(p.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	app, err := handlers.New(handlers.Config{
		BaseURL:        baseURL,
		Accounts:       p.accounts,
		Providers:      reg,
		Sessions:       handlers.NewSessionManager(sessStore, baseURL, o.lifetime),
		SessionIndex:   index,
		IdleTimeout:    o.idle,
		KeepTokens:     db.KeepsTokens(),
		RateLimits:     o.limits,
		TrustedProxies: o.trustedProxies,
		Logger:         log,
		Ready:          ready,
		ImageOrigins:   []string{emuBase},
		Now:            p.clock.Now,
		RequestTimeout: o.requestTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	p.app = app
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
	t      testing.TB
	p      *portal
	client *http.Client
	// history holds every response this browser received, in order, so
	// tests can search all of them for something that must never appear.
	history []response
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
	r := response{Response: res, Body: string(body)}
	b.history = append(b.history, r)
	return r
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

// backChannel is an http.RoundTripper between the providers and the
// emulator that records every back-channel call (token, userinfo, JWKS...)
// with its form body and the answer, so tests can see what the portal sent
// (PKCE verifier, redirect_uri) and what it was given (tokens). A hook may
// change a call's form before it is sent, or answer it instead of the
// emulator.
type backChannel struct {
	next  http.RoundTripper
	mu    sync.Mutex
	calls []backCall
	hook  func(*backCall) *http.Response
}

// backCall is one recorded back-channel call.
type backCall struct {
	Method string
	URL    *url.URL
	Header http.Header
	Form   url.Values // the form body of a form-encoded request, after the hook
	Status int
	Body   string // the answer's body
}

// setHook installs (or, with nil, removes) the hook.
func (bc *backChannel) setHook(h func(*backCall) *http.Response) {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	bc.hook = h
}

// RoundTrip implements http.RoundTripper.
func (bc *backChannel) RoundTrip(req *http.Request) (*http.Response, error) {
	c := backCall{Method: req.Method, URL: req.URL, Header: req.Header.Clone()}
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
	}
	isForm := strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded")
	if isForm {
		c.Form, _ = url.ParseQuery(string(body))
	}
	bc.mu.Lock()
	hook := bc.hook
	bc.mu.Unlock()
	var resp *http.Response
	if hook != nil {
		resp = hook(&c)
	}
	if resp == nil {
		if isForm {
			body = []byte(c.Form.Encode())
		}
		out := req.Clone(req.Context())
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
		out.GetBody = nil
		var err error
		if resp, err = bc.next.RoundTrip(out); err != nil {
			bc.record(c)
			return nil, err
		}
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(rb))
	c.Status, c.Body = resp.StatusCode, string(rb)
	bc.record(c)
	return resp, nil
}

func (bc *backChannel) record(c backCall) {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	bc.calls = append(bc.calls, c)
}

// tokenCalls returns the recorded calls to a provider's token endpoint
// (/google/token, /facebook/oauth/access_token, /x/2/oauth2/token).
func (bc *backChannel) tokenCalls(provider string) []backCall {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	var out []backCall
	for _, c := range bc.calls {
		path := c.URL.Path
		if strings.HasPrefix(path, "/"+provider+"/") && (strings.HasSuffix(path, "/token") || strings.HasSuffix(path, "/access_token")) {
			out = append(out, c)
		}
	}
	return out
}

// isTokenCall reports whether a call goes to a token endpoint.
func isTokenCall(c *backCall) bool {
	return strings.HasSuffix(c.URL.Path, "/token") || strings.HasSuffix(c.URL.Path, "/access_token")
}

// emulatedRecorded is providers.EmulatedAt with the back channel going
// through bc: the same clients, emulator and provider configurations.
func emulatedRecorded(ctx context.Context, db *store.SQLite, base, emuBase string, timeout time.Duration, now func() time.Time, bc *backChannel) (*emulator.Emulator, []*providers.Provider, error) {
	clients := map[string]emulator.Client{}
	for _, name := range []string{"google", "facebook", "x"} {
		clients[name] = emulator.Client{
			ID:          "linkport-emulator-" + name,
			Secret:      "secret-" + name + "-" + strings.Repeat("s", 20),
			RedirectURI: base + "/auth/" + name + "/callback",
		}
	}
	emu, err := emulator.New(ctx, emulator.Config{DB: db.DB(), BaseURL: emuBase, Clients: clients, Now: now})
	if err != nil {
		return nil, nil, err
	}
	bc.next = emu.Transport(nil)
	client := providers.NewHTTPClient(timeout, bc)
	common := func(name string) providers.Common {
		c := clients[name]
		return providers.Common{
			Name: name, ClientID: c.ID, ClientSecret: c.Secret, CallbackURL: c.RedirectURI,
			HTTPClient: client, AllowInsecureHTTP: true,
		}
	}
	g := providers.Google(common("google"))
	g.Issuer = emu.Issuer()
	google, err := providers.NewOIDC(g)
	if err != nil {
		return nil, nil, err
	}
	facebook, err := providers.NewFacebook(providers.FacebookConfig{Common: common("facebook"), EmulatorBase: emuBase + "/facebook"})
	if err != nil {
		return nil, nil, err
	}
	x, err := providers.NewX(providers.XConfig{
		Common:    common("x"),
		AuthURL:   emuBase + "/x/i/oauth2/authorize",
		TokenURL:  emuBase + "/x/2/oauth2/token",
		UserURL:   emuBase + "/x/2/users/me",
		RevokeURL: emuBase + "/x/2/oauth2/revoke",
	})
	if err != nil {
		return nil, nil, err
	}
	return emu, []*providers.Provider{google, facebook, x}, nil
}

// handlerAt builds another Linkport on the same database and providers
// whose public base URL is base (e.g. https://portal.example), for tests
// of what depends on the scheme: cookie name and flags, HSTS. It is driven
// with httptest.NewRecorder.
func (p *portal) handlerAt(base string) http.Handler {
	p.t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		p.t.Fatal(err)
	}
	app, err := handlers.New(handlers.Config{
		BaseURL:   u,
		Accounts:  p.accounts,
		Providers: p.reg,
		Sessions:  handlers.NewSessionManager(p.db.SessionStore(), u, 24*time.Hour),
		Now:       p.clock.Now,
		// The same index as the portal's: both serve one database.
		SessionIndex: p.db.SessionIndex(),
	})
	if err != nil {
		p.t.Fatal(err)
	}
	h, err := app.Handler()
	if err != nil {
		p.t.Fatal(err)
	}
	return h
}

// storeKey is the sessions-table key of a session token: scs with
// HashTokenInStore keeps base64url(SHA-256(token)), never the token.
func storeKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// sessionRows counts the sessions-table rows whose key is exactly key.
func (p *portal) sessionRows(key string) int {
	p.t.Helper()
	var n int
	if err := p.db.DB().QueryRow("SELECT count(*) FROM sessions WHERE token = ?", key).Scan(&n); err != nil {
		p.t.Fatal(err)
	}
	return n
}

// sessionValues decodes the stored session of a token, as scs would.
func (p *portal) sessionValues(token string) (map[string]any, bool) {
	p.t.Helper()
	var data []byte
	err := p.db.DB().QueryRow("SELECT data FROM sessions WHERE token = ?", storeKey(token)).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false
	}
	if err != nil {
		p.t.Fatal(err)
	}
	_, values, err := scs.GobCodec{}.Decode(data)
	if err != nil {
		p.t.Fatalf("decode session: %v", err)
	}
	return values, true
}

// storedFlow is the part of a pending flow the tests look at.
type storedFlow struct {
	State    string `json:"state"`
	Provider string `json:"provider"`
	Session  string `json:"session"`
}

// storedFlows returns the pending flows kept in a token's session.
func (p *portal) storedFlows(token string) []storedFlow {
	p.t.Helper()
	values, ok := p.sessionValues(token)
	if !ok {
		return nil
	}
	raw, _ := values["flows"].(string)
	if raw == "" {
		return nil
	}
	var fs []storedFlow
	if err := json.Unmarshal([]byte(raw), &fs); err != nil {
		p.t.Fatalf("decode flows: %v", err)
	}
	return fs
}

// setSession puts a session cookie into this browser, as an attacker who
// plants or replays a token would.
func (b *browser) setSession(token string) {
	u, _ := url.Parse(b.p.srv.URL)
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: "linkport", Value: token, Path: "/"}})
}

// newRequest builds a request to the portal with the given headers.
func (b *browser) newRequest(method, rawURL, body string, header map[string]string) *http.Request {
	b.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, b.abs(rawURL), r)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return req
}

// signedIn reports whether the browser's session is signed in: /accounts
// answers 200 rather than sending it to the sign-in page.
func (b *browser) signedIn() bool {
	b.t.Helper()
	res := b.get("/accounts")
	switch {
	case res.StatusCode == http.StatusOK:
		return true
	case res.StatusCode == http.StatusSeeOther && strings.HasPrefix(res.Header.Get("Location"), "/login"):
		return false
	}
	b.t.Fatalf("GET /accounts: unexpected %d %q", res.StatusCode, res.Header.Get("Location"))
	return false
}

// wantCallbackFailure checks that a callback answered 303 to the error page
// for reason, and that the error page answers status with a way back.
func wantCallbackFailure(t *testing.T, b *browser, res response, reason string, status int) {
	t.Helper()
	want := "/auth/error?reason=" + reason
	if res.StatusCode != http.StatusSeeOther || errorRedirect(t, res) != want {
		t.Fatalf("callback: %d %q, want 303 %q; logs:\n%s", res.StatusCode, res.Header.Get("Location"), want, b.p.logs.String())
	}
	page := b.get(res.Header.Get("Location"))
	if ref := res.Header.Get("X-Request-Id"); !strings.Contains(page.Body, ref) {
		t.Errorf("error page does not show the failed callback's reference %s", ref)
	}
	if page.StatusCode != status || !strings.Contains(page.Body, `data-testid="error-action"`) {
		t.Errorf("GET %s: status %d, want %d with a way back", want, page.StatusCode, status)
	}
}

// callbackWith returns the callback URL with its query changed by set
// (a nil value slice deletes the parameter).
func callbackWith(cb *url.URL, set url.Values) *url.URL {
	u := *cb
	q := u.Query()
	for k, v := range set {
		if v == nil {
			q.Del(k)
		} else {
			q[k] = v
		}
	}
	u.RawQuery = q.Encode()
	return &u
}

// errorRedirect returns where a failed callback sent the browser, without
// the ref parameter, after checking ref is the callback's own request id
// (so the error page's reference matches the log line).
func errorRedirect(t testing.TB, res response) string {
	t.Helper()
	u, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatalf("bad Location %q", res.Header.Get("Location"))
	}
	q := u.Query()
	if ref := q.Get("ref"); ref == "" || ref != res.Header.Get("X-Request-Id") {
		t.Errorf("error redirect ref %q, want the callback's request id %q", ref, res.Header.Get("X-Request-Id"))
	}
	q.Del("ref")
	return u.Path + "?" + q.Encode()
}

// userID returns the user the browser's session is signed in as, or 0.
func (b *browser) userID() int64 {
	b.t.Helper()
	values, ok := b.p.sessionValues(b.sessionCookie())
	if !ok {
		return 0
	}
	id, _ := values["user_id"].(int64)
	return id
}

// accountsPage loads /accounts and fails the test unless it answers 200.
func (b *browser) accountsPage() response {
	b.t.Helper()
	res := b.get("/accounts")
	if res.StatusCode != http.StatusOK {
		b.t.Fatalf("GET /accounts: %d %q, want 200", res.StatusCode, res.Header.Get("Location"))
	}
	return res
}

// beginLink posts "Connect <provider>" with the CSRF token of /accounts and
// returns the provider's authorize URL the portal redirected to.
func (b *browser) beginLink(provider string, extra url.Values) *url.URL {
	b.t.Helper()
	form := formWithCSRF(b.accountsPage().Body)
	for k, v := range extra {
		form[k] = v
	}
	res := b.post("/accounts/link/"+provider, form)
	if res.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("POST /accounts/link/%s: status %d, want 303; body %.300s", provider, res.StatusCode, res.Body)
	}
	u, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		b.t.Fatal(err)
	}
	return u
}

// link runs a link flow up to the callback: Connect, consent at the
// emulator as person, and the callback's response (a redirect to the
// preview, the conflict page, /accounts or the error page).
func (b *browser) link(provider string, person emulator.Person) response {
	b.t.Helper()
	return b.get(b.consent(provider, b.beginLink(provider, nil), person).String())
}

// pendingID checks that res redirects to path?id=... and returns the id.
func pendingID(t testing.TB, res response, path string) string {
	t.Helper()
	u, err := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusSeeOther || err != nil || u.Path != path || u.Query().Get("id") == "" {
		t.Fatalf("status %d Location %q, want 303 %s?id=...", res.StatusCode, res.Header.Get("Location"), path)
	}
	return u.Query().Get("id")
}

// linkPreview links up to the preview and returns the pending link id.
func (b *browser) linkPreview(provider string, person emulator.Person) string {
	b.t.Helper()
	return pendingID(b.t, b.link(provider, person), "/accounts/link/confirm")
}

// answerLink posts the preview's form: action "link" or "cancel".
func (b *browser) answerLink(id, action string) response {
	b.t.Helper()
	form := formWithCSRF(b.accountsPage().Body)
	form["id"], form["action"] = []string{id}, []string{action}
	return b.post("/accounts/link/confirm", form)
}

// mustLink links person's provider account and presses "Link it"; it
// returns the /accounts page that follows.
func (b *browser) mustLink(provider string, person emulator.Person) response {
	b.t.Helper()
	res := b.answerLink(b.linkPreview(provider, person), "link")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/accounts" {
		b.t.Fatalf("Link it: %d %q, want 303 /accounts", res.StatusCode, res.Header.Get("Location"))
	}
	return b.accountsPage()
}

// postHTMX sends what htmx sends: the form, HX-Request and the CSRF token
// in X-CSRF-Token.
func (b *browser) postHTMX(path, token string, form url.Values) response {
	b.t.Helper()
	req := b.newRequest(http.MethodPost, path, form.Encode(), map[string]string{
		"Content-Type":   "application/x-www-form-urlencoded",
		"Origin":         b.p.srv.URL,
		"Sec-Fetch-Site": "same-origin",
		"HX-Request":     "true",
		"X-CSRF-Token":   token,
	})
	return b.do(req)
}

// unlink posts "Remove" for an identity: confirm adds confirm=yes, htmx
// sends it as htmx does.
func (b *browser) unlink(identityID int64, confirm, htmx bool) response {
	b.t.Helper()
	token := formWithCSRF(b.accountsPage().Body)["csrf_token"][0]
	return b.unlinkWith(token, identityID, confirm, htmx)
}

// unlinkWith is unlink with a CSRF token the caller already has.
func (b *browser) unlinkWith(token string, identityID int64, confirm, htmx bool) response {
	b.t.Helper()
	path := fmt.Sprintf("/accounts/identities/%d/unlink", identityID)
	form := url.Values{}
	if confirm {
		form.Set("confirm", "yes")
	}
	if htmx {
		return b.postHTMX(path, token, form)
	}
	form.Set("csrf_token", token)
	return b.post(path, form)
}

// identity is a row of the identities table.
type identity struct {
	ID       int64
	UserID   int64
	Provider string
	Subject  string
}

// identitiesOf returns a user's identities, oldest first.
func (p *portal) identitiesOf(userID int64) []identity {
	p.t.Helper()
	rows, err := p.db.DB().Query("SELECT id, user_id, provider, subject FROM identities WHERE user_id = ? ORDER BY id", userID)
	if err != nil {
		p.t.Fatal(err)
	}
	defer rows.Close()
	var out []identity
	for rows.Next() {
		var id identity
		if err := rows.Scan(&id.ID, &id.UserID, &id.Provider, &id.Subject); err != nil {
			p.t.Fatal(err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		p.t.Fatal(err)
	}
	return out
}

// eventKinds returns the kinds of a user's timeline events, oldest first.
func (p *portal) eventKinds(userID int64) []string {
	p.t.Helper()
	rows, err := p.db.DB().Query("SELECT kind FROM events WHERE user_id = ? ORDER BY id", userID)
	if err != nil {
		p.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			p.t.Fatal(err)
		}
		out = append(out, k)
	}
	return out
}

// countKind counts the kind among kinds.
func countKind(kinds []string, kind string) int {
	n := 0
	for _, k := range kinds {
		if k == kind {
			n++
		}
	}
	return n
}

var (
	noticeRE  = regexp.MustCompile(`(?s)data-testid="notice">(.*?)</p>`)
	displayRE = regexp.MustCompile(`data-testid="display-name">([^<]*)<`)
)

// notice returns the text of the page's notice, or "".
func notice(body string) string {
	m := noticeRE.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}

// displayName returns the "Signed in as" name of the accounts page.
func displayName(body string) string {
	m := displayRE.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// providersOf lists the providers of identities, in order.
func providersOf(ids []identity) []string {
	var out []string
	for _, id := range ids {
		out = append(out, id.Provider)
	}
	return out
}

// identityID returns the id of the user's identity at provider with
// subject, failing the test when there is none.
func (p *portal) identityID(userID int64, provider, subject string) int64 {
	p.t.Helper()
	for _, id := range p.identitiesOf(userID) {
		if id.Provider == provider && id.Subject == subject {
			return id.ID
		}
	}
	p.t.Fatalf("user %d has no %s identity %s", userID, provider, subject)
	return 0
}

// primaryEmail returns a user's primary email, "" when NULL.
func (p *portal) primaryEmail(userID int64) string {
	p.t.Helper()
	var e *string
	if err := p.db.DB().QueryRow("SELECT primary_email FROM users WHERE id = ?", userID).Scan(&e); err != nil {
		p.t.Fatal(err)
	}
	if e == nil {
		return ""
	}
	return *e
}
