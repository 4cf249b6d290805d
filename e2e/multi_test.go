package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/jackc/pgx/v5"
)

// E-12a, E-12b: two real linkport processes on one PostgreSQL schema and
// one Redis, behind a load balancer that alternates between them on every
// request, as one site (the same LINKPORT_BASE_URL, the emulator behind the
// same balancer). A person signs in (begin on one, callback on the other),
// links a Facebook account, removes it and signs out; a CSRF token minted
// by one is accepted by the other, and after the sign-out the old cookie is
// anonymous on both, asked directly.
func TestE12_TwoInstancesBehindALoadBalancer(t *testing.T) {
	dbURL := multiPostgresSchema(t)
	redisAddr, prefix := multiRedis(t)
	lb := startRoundRobin(t)
	env := []string{
		"LINKPORT_BASE_URL=" + lb.base,
		"LINKPORT_EMULATOR_URL=" + lb.emulatorBase + "/_emulator",
		"LINKPORT_DATABASE_URL=" + dbURL,
		"LINKPORT_SESSION_STORE=redis://" + redisAddr + "/0",
		"LINKPORT_REDIS_PREFIX=" + prefix,
	}
	a := startServerWith(t, env...)
	b := startServerWith(t, env...)
	lb.setBackends(a.URL, b.URL)

	jar, _ := cookiejar.New(nil)
	br := &lbBrowser{t: t, lb: lb, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}

	// Sign in. The sign-in page (and its CSRF token) comes from A, the
	// begin goes to B: B accepts A's token (E-12b). The callback lands on
	// A, which finishes the flow B started (E-12a).
	br.via(0)
	csrf := lbHidden(br.page("/login")).Get("csrf_token")
	br.via(1)
	authorize := br.post(lb.base+"/auth/google", url.Values{"csrf_token": {csrf}}, http.StatusSeeOther)
	if !strings.HasPrefix(authorize, lb.emulatorBase+"/_emulator/google/authorize?") {
		t.Fatalf("begin on B: Location %q, want the emulator behind the balancer", authorize)
	}
	callback := br.consent(authorize, "ada-multi", "Ada Lovelace", "ada.multi@example.com", "/auth/google/callback?")
	br.via(0)
	if loc := br.get(callback, http.StatusSeeOther); loc != "/accounts" {
		t.Fatalf("callback on A of a flow begun on B: Location %q, want /accounts", loc)
	}
	accounts := br.page("/accounts")
	if !strings.Contains(accounts, `data-testid="identity" data-provider="google"`) || !strings.Contains(accounts, "ada.multi@example.com") {
		t.Fatal("accounts page after the sign-in lacks the Google account")
	}
	signedIn := br.cookie()
	if n := redisKeys(t, redisAddr, prefix); n == 0 {
		t.Fatal("no session under the test's prefix in Redis: the sessions are not in Redis")
	}

	// Link Facebook: begin on B, callback on A, confirm on B.
	br.via(1)
	authorize = br.post(lb.base+"/accounts/link/facebook", url.Values{"csrf_token": {lbHidden(accounts).Get("csrf_token")}}, http.StatusSeeOther)
	callback = br.consent(authorize, "ada-fb", "Ada L.", "ada.fb@example.com", "/auth/facebook/callback?")
	br.via(0)
	confirm := br.get(callback, http.StatusSeeOther)
	if !strings.HasPrefix(confirm, "/accounts/link/confirm?id=") {
		t.Fatalf("link callback on A: Location %q, want the link preview", confirm)
	}
	form := lbHidden(br.page(confirm))
	form.Set("action", "link")
	br.via(1)
	if loc := br.post(lb.base+"/accounts/link/confirm", form, http.StatusSeeOther); loc != "/accounts" {
		t.Fatalf("link confirm on B: Location %q, want /accounts", loc)
	}
	accounts = br.page("/accounts")
	m := regexp.MustCompile(`data-testid="identity" data-provider="facebook" id="identity-(\d+)"`).FindStringSubmatch(accounts)
	if m == nil {
		t.Fatal("accounts page after the link lacks the Facebook account")
	}
	// The link renewed the session token: the cookie from before it is
	// anonymous on both instances.
	for i, backend := range []string{a.URL, b.URL} {
		if lbSignedIn(t, backend, signedIn) {
			t.Errorf("instance %c: the cookie from before the link still signs in", 'A'+i)
		}
	}

	// Remove Facebook, the confirmation page from A, the removal on B.
	unlink := lb.base + "/accounts/identities/" + m[1] + "/unlink"
	csrf = lbHidden(accounts).Get("csrf_token")
	br.via(0)
	br.postPage(unlink, url.Values{"csrf_token": {csrf}})
	br.via(1)
	if loc := br.post(unlink, url.Values{"csrf_token": {csrf}, "confirm": {"yes"}}, http.StatusSeeOther); loc != "/accounts" {
		t.Fatalf("unlink on B: Location %q, want /accounts", loc)
	}
	accounts = br.page("/accounts")
	if strings.Contains(accounts, `data-testid="identity" data-provider="facebook"`) || !strings.Contains(accounts, `data-testid="identity" data-provider="google"`) {
		t.Fatal("after the removal the accounts page should list Google alone")
	}

	// Sign out on A; the cookie from just before is anonymous on A and on
	// B, asked directly, and through the balancer (E-12b, B-04c).
	old := br.cookie()
	for i, backend := range []string{a.URL, b.URL} {
		if !lbSignedIn(t, backend, old) {
			t.Fatalf("instance %c does not know the session before the sign-out", 'A'+i)
		}
	}
	br.via(0)
	br.post(lb.base+"/logout", url.Values{"csrf_token": {lbHidden(accounts).Get("csrf_token")}}, http.StatusSeeOther)
	for i, backend := range []string{a.URL, b.URL} {
		if lbSignedIn(t, backend, old) {
			t.Errorf("instance %c: the cookie from before the sign-out on A still signs in", 'A'+i)
		}
	}
	for range 2 {
		if loc := br.get(lb.base+"/accounts", http.StatusSeeOther); !strings.HasPrefix(loc, "/login") {
			t.Errorf("after the sign-out /accounts through the balancer: Location %q, want /login", loc)
		}
	}
	if n := lb.served(); n[0] == 0 || n[1] == 0 {
		t.Errorf("the balancer sent %d requests to A and %d to B; want both used", n[0], n[1])
	}
}

// lbSignedIn reports whether the session cookie signs in at backend,
// asked directly, without the balancer.
func lbSignedIn(t *testing.T, backend string, ck *http.Cookie) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, backend+"/accounts", nil)
	req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	switch {
	case res.StatusCode == http.StatusOK:
		return true
	case res.StatusCode == http.StatusSeeOther && strings.HasPrefix(res.Header.Get("Location"), "/login"):
		return false
	}
	t.Fatalf("GET %s/accounts: %d %q, want 200 or 303 to /login", backend, res.StatusCode, res.Header.Get("Location"))
	return false
}

// roundRobin is the load balancer: a reverse proxy that sends each request
// to the next backend in turn, keeping the Host the browser asked for.
type roundRobin struct {
	base         string // http://localhost:port, the portal's base URL
	emulatorBase string // http://127.0.0.1:port, the same proxy under another name

	mu       sync.Mutex
	backends []*url.URL
	next     int
	count    [2]int
}

func startRoundRobin(t *testing.T) *roundRobin {
	t.Helper()
	lb := &roundRobin{}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		lb.mu.Lock()
		i := lb.next
		lb.next = (lb.next + 1) % len(lb.backends)
		lb.count[i]++
		target := lb.backends[i]
		lb.mu.Unlock()
		r.SetURL(target)
		r.Out.Host = r.In.Host
	}}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	lb.base = "http://localhost:" + u.Port()
	lb.emulatorBase = "http://127.0.0.1:" + u.Port()
	return lb
}

// setBackends gives the balancer its backends, by the base URLs the e2e
// helpers return (http://localhost:port); it dials 127.0.0.1, where they
// listen.
func (lb *roundRobin) setBackends(urls ...string) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	for _, s := range urls {
		u, _ := url.Parse(strings.Replace(s, "//localhost:", "//127.0.0.1:", 1))
		lb.backends = append(lb.backends, u)
	}
}

func (lb *roundRobin) turn() int {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.next
}

func (lb *roundRobin) served() [2]int {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.count
}

// lbBrowser is one person's browser (a cookie jar, no JavaScript) in front
// of the balancer. It makes one request at a time, so via can choose which
// instance the next one reaches.
type lbBrowser struct {
	t  *testing.T
	lb *roundRobin
	c  *http.Client
}

// via makes the next request reach backend i (0 is A, 1 is B) by sending
// a health check through the balancer when it is the other's turn.
func (br *lbBrowser) via(i int) {
	br.t.Helper()
	if br.lb.turn() == i {
		return
	}
	res, err := br.c.Get(br.lb.base + "/healthz")
	if err != nil {
		br.t.Fatal(err)
	}
	res.Body.Close()
	if br.lb.turn() != i {
		br.t.Fatal("the balancer did not alternate")
	}
}

func (br *lbBrowser) do(req *http.Request, want int) (*http.Response, string) {
	br.t.Helper()
	res, err := br.c.Do(req)
	if err != nil {
		br.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		br.t.Fatalf("%s %s: %d, want %d\n%s", req.Method, req.URL, res.StatusCode, want, body)
	}
	return res, string(body)
}

// page GETs a page of the portal (a path, or a URL) and wants 200.
func (br *lbBrowser) page(u string) string {
	br.t.Helper()
	if strings.HasPrefix(u, "/") {
		u = br.lb.base + u
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	_, body := br.do(req, http.StatusOK)
	return body
}

// get GETs a URL and returns the Location of the wanted answer.
func (br *lbBrowser) get(u string, want int) string {
	br.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	res, _ := br.do(req, want)
	return res.Header.Get("Location")
}

func (br *lbBrowser) postReq(u string, form url.Values) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	pu, _ := url.Parse(u)
	req.Header.Set("Origin", pu.Scheme+"://"+pu.Host)
	return req
}

// post submits a form as the browser would and returns the Location of
// the wanted answer.
func (br *lbBrowser) post(u string, form url.Values, want int) string {
	br.t.Helper()
	res, _ := br.do(br.postReq(u, form), want)
	return res.Header.Get("Location")
}

// postPage submits a form that answers with a page.
func (br *lbBrowser) postPage(u string, form url.Values) string {
	br.t.Helper()
	_, body := br.do(br.postReq(u, form), http.StatusOK)
	return body
}

// consent answers the emulator's authorize page (on whichever instance)
// as the person with sub, and returns the callback URL it redirects to.
func (br *lbBrowser) consent(authorize, sub, name, email, callbackPath string) string {
	br.t.Helper()
	answer := lbHidden(br.page(authorize))
	answer.Set("sub", sub)
	answer.Set("name", name)
	answer.Set("email", email)
	answer.Set("email_verified", "on")
	callback := br.post(strings.Split(authorize, "?")[0], answer, http.StatusSeeOther)
	if !strings.HasPrefix(callback, br.lb.base+callbackPath) {
		br.t.Fatalf("consent: Location %q, want %s%s...", callback, br.lb.base, callbackPath)
	}
	return callback
}

// cookie is the session cookie the browser holds for the portal.
func (br *lbBrowser) cookie() *http.Cookie {
	br.t.Helper()
	u, _ := url.Parse(br.lb.base)
	for _, ck := range br.c.Jar.Cookies(u) {
		if ck.Name == "linkport" {
			return ck
		}
	}
	br.t.Fatal("no session cookie")
	return nil
}

var (
	lbHiddenInput = regexp.MustCompile(`<input[^>]*type="hidden"[^>]*>`)
	lbAttr        = regexp.MustCompile(`(name|value)="([^"]*)"`)
)

// lbHidden reads the hidden inputs of a page's forms (the first of each
// name).
func lbHidden(body string) url.Values {
	v := url.Values{}
	for _, in := range lbHiddenInput.FindAllString(body, -1) {
		var name, value string
		for _, m := range lbAttr.FindAllStringSubmatch(in, -1) {
			if m[1] == "name" {
				name = m[2]
			} else {
				value = strings.ReplaceAll(m[2], "&amp;", "&")
			}
		}
		if name != "" && v.Get(name) == "" {
			v.Set(name, value)
		}
	}
	return v
}

// needService skips the test when a server it needs is missing, or fails
// it when CI=true.
func needService(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// multiPostgresSchema makes a fresh schema lp_multi_<random> on the
// machine's PostgreSQL (LINKPORT_TEST_POSTGRES_URL to use another),
// dropped when the test ends, and returns a URL with it as search_path.
func multiPostgresSchema(t *testing.T) string {
	t.Helper()
	base := os.Getenv("LINKPORT_TEST_POSTGRES_URL")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	admin := func(q string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, q)
		return err
	}
	b := make([]byte, 8)
	rand.Read(b)
	schema := "lp_multi_" + hex.EncodeToString(b)
	if err := admin("CREATE SCHEMA " + schema); err != nil {
		needService(t, "PostgreSQL is not reachable: "+err.Error()+
			"; start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start")
	}
	t.Cleanup(func() {
		if err := admin("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// redisKeys counts the keys under prefix.
func redisKeys(t *testing.T, addr, prefix string) int {
	t.Helper()
	c, err := redis.Dial("tcp", addr, redis.DialConnectTimeout(2*time.Second), redis.DialReadTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	keys, err := redis.Strings(c.Do("KEYS", prefix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	return len(keys)
}

// multiRedis returns the machine's Redis (LINKPORT_TEST_REDIS_ADDR to use
// another) and a key prefix of the test's own, whose keys are deleted when
// the test ends.
func multiRedis(t *testing.T) (addr, prefix string) {
	t.Helper()
	addr = os.Getenv("LINKPORT_TEST_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	dial := func() (redis.Conn, error) {
		return redis.Dial("tcp", addr, redis.DialConnectTimeout(2*time.Second), redis.DialReadTimeout(2*time.Second))
	}
	c, err := dial()
	if err == nil {
		_, err = c.Do("PING")
		c.Close()
	}
	if err != nil {
		needService(t, "Redis is not reachable at "+addr+": "+err.Error()+
			`; start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`)
	}
	b := make([]byte, 6)
	rand.Read(b)
	prefix = "lp-multi:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		c, err := dial()
		if err != nil {
			t.Errorf("Redis cleanup: %v", err)
			return
		}
		defer c.Close()
		keys, err := redis.Strings(c.Do("KEYS", prefix+"*"))
		for _, k := range keys {
			_, err = c.Do("DEL", k)
		}
		if err != nil {
			t.Errorf("Redis cleanup: %v", err)
		}
	})
	return addr, prefix
}
