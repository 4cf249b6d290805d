package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/handlers"
)

// signInStart is one browser's POST /auth/google on an instance, with the
// CSRF token of its session there; it returns the status and Retry-After.
type signInStart struct {
	t     *testing.T
	c     *http.Client
	base  string
	token string
}

func newSignInStart(t *testing.T, base string) *signInStart {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := noRedirects(jar)
	token := hiddenFields(get(t, c, base+"/login")).Get("csrf_token")
	if token == "" {
		t.Fatalf("%s/login has no csrf_token", base)
	}
	return &signInStart{t: t, c: c, base: base, token: token}
}

func (s *signInStart) post() (int, string) {
	s.t.Helper()
	res := postForm(s.t, s.c, s.base+"/auth/google", url.Values{"csrf_token": {s.token}})
	if res.StatusCode != http.StatusSeeOther && res.StatusCode != http.StatusTooManyRequests {
		s.t.Fatalf("POST %s/auth/google: %d, want 303 or 429", s.base, res.StatusCode)
	}
	return res.StatusCode, res.Header.Get("Retry-After")
}

// refills is how many requests a budget of events per minute gives back
// over d: the most that may be accepted above the burst while a test runs.
func refills(events int, d time.Duration) int {
	return int(d / (time.Minute / time.Duration(events)))
}

// B-09c: two instances sharing Redis, 40 sign-in starts to each within
// the window, alternating, all from one client address: the budget
// (30 a minute) holds for the two together. The first 30 pass, the 31st
// overall is refused, and each instance refuses its share; with budgets
// per instance 60 would pass. The budget lives in one Redis key under
// LINKPORT_REDIS_PREFIX that expires within the window.
func TestB09c_SignInLimitSharedAcrossInstances(t *testing.T) {
	redisAddr := testRedisAddr(t)
	prefix := testRedisPrefix(t, redisAddr)
	var bases []string
	for range 2 {
		addr := freePort(t)
		in := start(t, redisEnv(t, addr, redisAddr, prefix))
		defer in.stop(t)
		waitHealthy(t, "http://"+addr, in)
		bases = append(bases, "http://"+addr)
	}
	browsers := []*signInStart{newSignInStart(t, bases[0]), newSignInStart(t, bases[1])}

	var statuses []int
	refused := [2]int{}
	start := time.Now()
	for i := range 80 {
		status, retry := browsers[i%2].post()
		statuses = append(statuses, status)
		if status == http.StatusTooManyRequests {
			refused[i%2]++
			if s, err := strconv.Atoi(retry); err != nil || s <= 0 {
				t.Errorf("request %d: 429 with Retry-After %q", i+1, retry)
			}
		}
	}
	elapsed := time.Since(start)
	accepted := 80 - refused[0] - refused[1]
	if accepted < 30 || accepted > 30+refills(30, elapsed) {
		t.Errorf("%d of 80 sign-in starts accepted in %v, want 30 (+%d refilled): the limit is on the total", accepted, elapsed, refills(30, elapsed))
	}
	for i, s := range statuses[:30] {
		if s != http.StatusSeeOther {
			t.Errorf("request %d: %d, want the first 30 accepted", i+1, s)
		}
	}
	if elapsed < 2*time.Second && statuses[30] != http.StatusTooManyRequests {
		t.Errorf("request 31 overall: %d, want 429", statuses[30])
	}
	if refused[0] == 0 || refused[1] == 0 {
		t.Errorf("refused by instance: %v; want both to enforce the shared budget", refused)
	}

	c, err := redis.Dial("tcp", redisAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	keys, err := redis.Strings(c.Do("KEYS", prefix+"ratelimit:*"))
	if err != nil || len(keys) != 1 || keys[0] != prefix+"ratelimit:signin:ip:127.0.0.1" {
		t.Fatalf("rate-limit keys %q (%v), want the one sign-in key of 127.0.0.1", keys, err)
	}
	if ttl, err := redis.Int64(c.Do("PTTL", keys[0])); err != nil || ttl <= 0 || ttl > time.Minute.Milliseconds() {
		t.Errorf("PTTL %s = %d (%v), want it to expire within the minute", keys[0], ttl, err)
	}
}

// E-12c: two instances on one PostgreSQL schema and one Redis, as
// behind a load balancer. A signed-in person's account changes share one
// budget per user (10 a minute) whichever instance takes them: the 11th
// change overall is refused, and refusals come from both.
func TestE12c_ChangeLimitSharedAcrossInstances(t *testing.T) {
	redisAddr := testRedisAddr(t)
	prefix := testRedisPrefix(t, redisAddr)
	dbURL := postgresSchemaURL(t)
	var bases []string
	for range 2 {
		addr := freePort(t)
		env := redisEnv(t, addr, redisAddr, prefix)
		for i, kv := range env {
			if strings.HasPrefix(kv, "LINKPORT_DATABASE_URL=") {
				env[i] = "LINKPORT_DATABASE_URL=" + dbURL
			}
		}
		in := start(t, env)
		defer in.stop(t)
		waitHealthy(t, "http://"+addr, in)
		bases = append(bases, "http://"+addr)
	}
	// Cookies ignore the port: the browser's session is the same one on
	// both instances.
	ada := signInAs(t, bases[0], "ada-12c", "Ada Lovelace", "ada12c@example.com")
	token := hiddenFields(get(t, ada, bases[1]+"/accounts")).Get("csrf_token")
	if token == "" {
		t.Fatal("no csrf_token on the accounts page of the second instance: the session is not shared")
	}

	var statuses []int
	refused := [2]int{}
	start := time.Now()
	for i := range 16 {
		// Revoking a session that does not exist: a change that the
		// per-user budget counts and that changes nothing.
		res := postForm(t, ada, bases[i%2]+"/accounts/sessions/no-such-session/revoke", url.Values{"csrf_token": {token}})
		if res.StatusCode >= 500 {
			t.Fatalf("change %d: %d", i+1, res.StatusCode)
		}
		if res.StatusCode == http.StatusTooManyRequests {
			refused[i%2]++
		}
		statuses = append(statuses, res.StatusCode)
	}
	elapsed := time.Since(start)
	accepted := 16 - refused[0] - refused[1]
	if accepted < 10 || accepted > 10+refills(10, elapsed) {
		t.Errorf("%d of 16 changes accepted in %v (%v), want 10 (+%d refilled)", accepted, elapsed, statuses, refills(10, elapsed))
	}
	if elapsed < 6*time.Second && statuses[10] != http.StatusTooManyRequests {
		t.Errorf("change 11 overall: %d, want 429 (%v)", statuses[10], statuses)
	}
	if refused[0] == 0 || refused[1] == 0 {
		t.Errorf("refused by instance: %v; want both to enforce the shared budget", refused)
	}
}

// testClock is a clock that only the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// limitedServer is the real App on SQLite, with the sessions in the
// database and only the rate limits in Redis at redisAddr, on the clock
// now, logging to out.
func limitedServer(t *testing.T, redisAddr, prefix string, now func() time.Time, out io.Writer) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	cfg, err := loadConfig([]string{
		"LINKPORT_BASE_URL=" + base,
		"LINKPORT_DATABASE_URL=" + filepath.Join(t.TempDir(), "linkport.db"),
		"LINKPORT_EMULATOR=on",
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reg, emu, err := buildProviders(ctx, cfg, db.DB())
	if err != nil {
		t.Fatal(err)
	}
	rs := newRedisSessions("redis://"+redisAddr+"/0", prefix)
	t.Cleanup(func() { rs.Close() })
	app, err := handlers.New(handlers.Config{
		BaseURL:      cfg.baseURL,
		Accounts:     accounts.NewService(db.Store, nil),
		Providers:    reg,
		Sessions:     handlers.NewSessionManager(db.SessionStore(), cfg.baseURL, cfg.SessionLifetime),
		SessionIndex: db.SessionIndex(),
		Logger:       slog.New(slog.NewJSONHandler(out, nil)),
		Emulator:     emu.Handler(),
		RateLimits:   handlers.RateLimits{Store: rs.rates()},
		Now:          now,
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := app.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	return base
}

// B-09c, E-12c: while Redis does not answer, the limits fall back to the
// instance's memory: still limited (30 pass, then 429), never an error
// page, and the outage is logged once however many requests meet it.
// When Redis answers again the limits are shared again (logged once):
// with the Redis budget fresh and the memory one spent, 30 more pass.
func TestB09c_RedisDownFallsBackToMemory(t *testing.T) {
	redisAddr := testRedisAddr(t)
	prefix := testRedisPrefix(t, redisAddr)
	proxy := startTCPProxy(t, redisAddr)
	clock := &testClock{now: time.Now()}
	logs := &lockedBuffer{}
	base := limitedServer(t, proxy.addr, prefix, clock.Now, logs)
	b := newSignInStart(t, base)

	// count sends n sign-in starts and returns how many passed before the
	// first 429 and whether one came.
	count := func(n int) (passed int, limited bool) {
		for range n {
			if status, _ := b.post(); status == http.StatusTooManyRequests {
				return passed, true
			}
			passed++
		}
		return passed, false
	}
	const fallBack = `"msg":"rate limits fall back to this instance's memory: the shared store does not answer"`
	const sharedAgain = `"msg":"rate limits shared again: the shared store answers"`

	if passed, limited := count(31); passed != 30 || !limited {
		t.Fatalf("Redis up: %d passed, limited %v; want 30 then 429", passed, limited)
	}

	proxy.down()
	start := time.Now()
	passed, limited := count(40)
	if most := 30 + refills(30, time.Since(start)); passed < 30 || passed > most || !limited {
		t.Errorf("Redis down: %d passed, limited %v; want 30 from the memory budget, then 429", passed, limited)
	}
	clock.Advance(sharedRateRetryForTest) // Redis is asked again, and fails again
	count(5)
	if n := strings.Count(logs.String(), fallBack); n != 1 {
		t.Errorf("%d fall-back log lines for one outage, want 1:\n%s", n, logs.String())
	}

	proxy.up(false)
	if _, err := deleteRedisKeys(redisAddr, prefix); err != nil {
		t.Fatal(err)
	}
	clock.Advance(sharedRateRetryForTest)
	start = time.Now()
	passed, limited = count(40)
	if most := 30 + refills(30, time.Since(start)); passed < 30 || passed > most || !limited {
		t.Errorf("Redis back: %d passed, limited %v; want the fresh shared budget of 30, then 429", passed, limited)
	}
	if n := strings.Count(logs.String(), sharedAgain); n != 1 {
		t.Errorf("%d shared-again log lines, want 1:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), `"status":500`) || strings.Contains(logs.String(), `"status":503`) {
		t.Errorf("a request failed during the outage:\n%s", logs.String())
	}
}

// sharedRateRetryForTest is a little more than the handlers' retry pause
// after a failed shared-store call (sharedRateRetry, 5 s).
const sharedRateRetryForTest = 6 * time.Second
