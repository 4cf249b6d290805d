package emulator

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// testClients are the registered clients every test emulator has.
var testClients = map[string]Client{
	"google":   {ID: "google-client", Secret: "google-secret", RedirectURI: "http://portal.test/auth/google/callback"},
	"facebook": {ID: "facebook-client", Secret: "facebook-secret", RedirectURI: "http://portal.test/auth/facebook/callback"},
	"x":        {ID: "x-client", Secret: "x-secret", RedirectURI: "http://portal.test/auth/x/callback"},
	"kakao":    {ID: "kakao-client", Secret: "kakao-secret", RedirectURI: "http://portal.test/auth/kakao/callback"},
	"naver":    {ID: "naver-client", Secret: "naver-secret", RedirectURI: "http://portal.test/auth/naver/callback"},
	"github":   {ID: "github-client", Secret: "github-secret", RedirectURI: "http://portal.test/auth/github/callback"},
}

// openDB opens a SQLite file in a temporary directory, as the portal does.
func openDB(t *testing.T) *sql.DB {
	t.Helper()
	dsn := "file:" + filepath.Join(t.TempDir(), "emulator.db") + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// fixture is an emulator served by an httptest server at BaseURL.
type fixture struct {
	e     *Emulator
	srv   *httptest.Server
	db    *sql.DB
	clock *clock // the emulator's clock; tests may move it
}

// clock is a settable time source shared with the server goroutines.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newFixture serves a new emulator on a fresh database at the root of an
// httptest server.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureOn(t, openDB(t), "")
}

// newFixtureOn serves an emulator on db, with BaseURL's path set to prefix.
func newFixtureOn(t *testing.T, db *sql.DB, prefix string) *fixture {
	t.Helper()
	// The listener exists before Start, so BaseURL is known before New and
	// the handler is in place before the first request.
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	f := &fixture{srv: srv, db: db, clock: &clock{t: time.Now()}}
	e, err := New(context.Background(), Config{
		DB: db, BaseURL: base + prefix, Clients: testClients,
		Now: f.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.e = e
	srv.Config.Handler = e.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return f
}

// client is an HTTP client that does not follow redirects, so tests see
// where the emulator sends the browser.
func (f *fixture) client() *http.Client {
	return &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
}

// approve gets a callback URL for a new person through Approve and
// returns the callback's query.
func (f *fixture) approve(t *testing.T, provider string, q url.Values, p Person) url.Values {
	t.Helper()
	to, err := f.e.Approve(context.Background(), provider, q, p)
	if err != nil {
		t.Fatalf("Approve: %v", err)
	}
	u, err := url.Parse(to)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(to, testClients[provider].RedirectURI+"?") {
		t.Fatalf("Approve redirected to %q, want the registered redirect URI", to)
	}
	return u.Query()
}

// googleQuery is a valid Google authorization request with PKCE.
func googleQuery(challenge string) url.Values {
	return url.Values{
		"client_id": {"google-client"}, "redirect_uri": {testClients["google"].RedirectURI},
		"response_type": {"code"}, "scope": {"openid email profile"}, "state": {"st-google"},
		"nonce": {"n-0S6_WzA2Mj"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
}
