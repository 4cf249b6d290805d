package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
)

// startRedis is how the Redis tests ask for the machine's Redis.
const startRedis = `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`

// testRedisAddr returns the address of the machine's Redis
// (LINKPORT_TEST_REDIS_ADDR to use another). Skipped when it does not
// answer; fails when CI=true.
func testRedisAddr(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("LINKPORT_TEST_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c, err := redis.Dial("tcp", addr, redis.DialConnectTimeout(2*time.Second), redis.DialReadTimeout(2*time.Second))
	if err == nil {
		_, err = c.Do("PING")
		c.Close()
	}
	if err != nil {
		msg := "Redis is not reachable at " + addr + ": " + err.Error() + "; start it with: " + startRedis
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return addr
}

// testRedisPrefix is a key prefix of the test's own; its keys are deleted
// when the test ends.
func testRedisPrefix(t *testing.T, addr string) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "lp-test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		if n, err := deleteRedisKeys(addr, prefix); err != nil {
			t.Errorf("delete the test's Redis keys: %v (%d deleted)", err, n)
		}
	})
	return prefix
}

// deleteRedisKeys deletes every key under prefix, as a Redis restarted
// without its data would have lost them, and returns how many.
func deleteRedisKeys(addr, prefix string) (int, error) {
	c, err := redis.Dial("tcp", addr, redis.DialConnectTimeout(2*time.Second), redis.DialReadTimeout(2*time.Second))
	if err != nil {
		return 0, err
	}
	defer c.Close()
	n, cursor := 0, "0"
	for {
		vals, err := redis.Values(c.Do("SCAN", cursor, "MATCH", prefix+"*", "COUNT", 1000))
		if err != nil {
			return n, err
		}
		keys, _ := redis.Strings(vals[1], nil)
		for _, k := range keys {
			if _, err := c.Do("DEL", k); err != nil {
				return n, err
			}
			n++
		}
		if cursor, _ = redis.String(vals[0], nil); cursor == "0" {
			return n, nil
		}
	}
}

// tcpProxy stands between the program and Redis, so a test can take
// "Redis" away and give it back on the same address.
type tcpProxy struct {
	t      *testing.T
	addr   string
	target string

	mu        sync.Mutex
	ln        net.Listener
	conns     map[net.Conn]bool
	blackhole bool // accept connections but never answer
}

func startTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{t: t, target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() { p.down() })
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns[c] = true
			hole := p.blackhole
			p.mu.Unlock()
			if hole {
				continue // held open, never answered, closed by down
			}
			go p.pipe(c)
		}
	}()
}

func (p *tcpProxy) pipe(c net.Conn) {
	up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[up] = true
	p.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); up.Close() }()
	_, _ = io.Copy(c, up)
	c.Close()
}

// down closes the listener, so connections are refused, and every
// connection open through it.
func (p *tcpProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// up listens again on the same address, forwarding (hole false) or
// accepting connections and never answering (hole true).
func (p *tcpProxy) up(hole bool) {
	p.t.Helper()
	p.down()
	p.mu.Lock()
	p.blackhole = hole
	p.mu.Unlock()
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// redisEnv is the program's settings on SQLite with the sessions in Redis
// at redisAddr under prefix.
func redisEnv(t *testing.T, addr, redisAddr, prefix string) []string {
	return []string{
		"LINKPORT_ADDR=" + addr,
		"LINKPORT_BASE_URL=http://" + addr,
		"LINKPORT_DATABASE_URL=" + filepath.Join(t.TempDir(), "linkport.db"),
		"LINKPORT_SESSION_STORE=redis://" + redisAddr + "/0",
		"LINKPORT_REDIS_PREFIX=" + prefix,
		"LINKPORT_EMULATOR=on",
		"LINKPORT_LOG_FORMAT=json",
	}
}

func noRedirects(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func postForm(t *testing.T, c *http.Client, target string, form url.Values) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	u, _ := url.Parse(target)
	req.Header.Set("Origin", u.Scheme+"://"+u.Host)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

// signInAs signs a new browser in with the emulated Google as a new
// person with that sub, and returns the browser.
func signInAs(t *testing.T, base, sub, name, email string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := noRedirects(jar)
	signInWith(t, c, base, sub, name, email)
	return c
}

// signInWith signs browser c in; with name "" as the person the emulator
// already has under sub.
func signInWith(t *testing.T, c *http.Client, base, sub, name, email string) {
	t.Helper()
	body := get(t, c, base+"/login")
	res := postForm(t, c, base+"/auth/google", url.Values{"csrf_token": {hiddenFields(body).Get("csrf_token")}})
	authorize := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.Contains(authorize, "/_emulator/google/authorize?") {
		t.Fatalf("begin: %d %q", res.StatusCode, authorize)
	}
	answer := hiddenFields(get(t, c, authorize))
	if name == "" {
		answer.Set("person", sub) // someone the emulator knows already
	} else {
		answer.Set("sub", sub)
		answer.Set("name", name)
		answer.Set("email", email)
		answer.Set("email_verified", "on")
	}
	res = postForm(t, c, strings.Split(authorize, "?")[0], answer)
	callback := res.Header.Get("Location")
	if !strings.HasPrefix(callback, base+"/auth/google/callback?") {
		t.Fatalf("consent: %d %q", res.StatusCode, callback)
	}
	res, err := c.Get(callback)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/accounts" {
		t.Fatalf("callback: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
}

// timedGet is a GET that reports its status and how long it took.
func timedGet(t *testing.T, c *http.Client, u string) (int, http.Header, time.Duration) {
	t.Helper()
	start := time.Now()
	res, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, res.Header, time.Since(start)
}

// The longest a request may wait on Redis: a slot, a connection, a read.
const redisBound = redisWait + redisDialTimeout + redisIOTimeout

// E-08a: Redis stops (connections refused) or hangs (a black hole that
// accepts and never answers) → a signed-in page answers 503 with
// Retry-After, /readyz 503 and /healthz 200, each within the pool's
// bounds, also for more requests at once than the pool has connections;
// when Redis is back the same cookie works again and /readyz is 200.
func TestE08a_RedisUnreachable(t *testing.T) {
	redisAddr := testRedisAddr(t)
	prefix := testRedisPrefix(t, redisAddr)
	proxy := startTCPProxy(t, redisAddr)
	addr := freePort(t)
	base := "http://" + addr
	in := start(t, redisEnv(t, addr, proxy.addr, prefix))
	defer in.stop(t)
	waitHealthy(t, base, in)

	ada := signInAs(t, base, "ada", "Ada Lovelace", "ada@example.com")
	if page := get(t, ada, base+"/accounts"); !strings.Contains(page, "ada@example.com") {
		t.Fatal("accounts page lacks Ada's address")
	}
	if n, _ := countRedisKeys(t, redisAddr, prefix); n == 0 {
		t.Fatal("no session under the test's prefix in Redis: the session is not in Redis")
	}
	anon := noRedirects(nil)

	recovered := func(t *testing.T) {
		t.Helper()
		deadline := time.Now().Add(redisBound)
		for {
			s1, _, _ := timedGet(t, ada, base+"/accounts")
			s2, _, _ := timedGet(t, anon, base+"/readyz")
			if s1 == http.StatusOK && s2 == http.StatusOK {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("after Redis came back: /accounts %d, /readyz %d; want 200 and 200 (same cookie)\n%s", s1, s2, in.out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	down := func(t *testing.T, within time.Duration) {
		t.Helper()
		status, h, took := timedGet(t, ada, base+"/accounts")
		if status != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
			t.Errorf("/accounts: %d (Retry-After %q), want 503 with Retry-After", status, h.Get("Retry-After"))
		}
		if took > within {
			t.Errorf("/accounts took %s, want at most %s", took, within)
		}
		status, _, took = timedGet(t, anon, base+"/readyz")
		if status != http.StatusServiceUnavailable || took > within {
			t.Errorf("/readyz: %d in %s, want 503 within %s", status, took, within)
		}
		if status, _, _ := timedGet(t, anon, base+"/healthz"); status != http.StatusOK {
			t.Errorf("/healthz: %d, want 200", status)
		}
	}

	t.Run("refused", func(t *testing.T) {
		proxy.down()
		down(t, time.Second)
		proxy.up(false)
		recovered(t)
	})
	t.Run("black hole", func(t *testing.T) {
		proxy.up(true)
		down(t, redisIOTimeout+time.Second)
		// More requests at once than the pool has connections: those
		// without a slot wait at most redisWait, then go on with theirs.
		const n = redisMaxConns + 16
		var wg sync.WaitGroup
		type result struct {
			status int
			took   time.Duration
			err    error
		}
		results := make(chan result, n)
		for range n {
			wg.Go(func() {
				start := time.Now()
				res, err := ada.Get(base + "/accounts")
				if err != nil {
					results <- result{err: err}
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				results <- result{status: res.StatusCode, took: time.Since(start)}
			})
		}
		wg.Wait()
		close(results)
		for r := range results {
			if r.err != nil || r.status != http.StatusServiceUnavailable || r.took > redisBound+time.Second {
				t.Errorf("parallel /accounts: %d in %s (%v), want 503 within %s", r.status, r.took, r.err, redisBound+time.Second)
			}
		}
		proxy.up(false)
		recovered(t)
	})
	if strings.Contains(in.out.String(), `"status":500`) {
		t.Errorf("a 500 was logged:\n%s", in.out.String())
	}
}

// countRedisKeys counts the keys under prefix without deleting them.
func countRedisKeys(t *testing.T, addr, prefix string) (int, error) {
	t.Helper()
	c, err := redis.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	keys, err := redis.Strings(c.Do("KEYS", prefix+"*"))
	return len(keys), err
}

// E-08b: Redis restarted without its data (the test's keys deleted) →
// both people are anonymous, neither is ever shown the other's account,
// no request fails, and signing in again works and shows one's own.
func TestE08b_RedisDataLost(t *testing.T) {
	redisAddr := testRedisAddr(t)
	prefix := testRedisPrefix(t, redisAddr)
	addr := freePort(t)
	base := "http://" + addr
	in := start(t, redisEnv(t, addr, redisAddr, prefix))
	defer in.stop(t)
	waitHealthy(t, base, in)

	ada := signInAs(t, base, "ada", "Ada Lovelace", "ada@example.com")
	grace := signInAs(t, base, "grace", "Grace Hopper", "grace@example.com")
	if !strings.Contains(get(t, ada, base+"/accounts"), "ada@example.com") || !strings.Contains(get(t, grace, base+"/accounts"), "grace@example.com") {
		t.Fatal("before the loss: each accounts page should show its own person")
	}

	n, err := deleteRedisKeys(redisAddr, prefix)
	if err != nil || n == 0 {
		t.Fatalf("delete the sessions: %d deleted, %v", n, err)
	}
	for round := range 3 {
		for _, b := range []struct {
			who, other string
			c          *http.Client
		}{{"ada", "grace@example.com", ada}, {"grace", "ada@example.com", grace}} {
			status, h, _ := timedGet(t, b.c, base+"/accounts")
			if status != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/login") {
				t.Errorf("round %d, %s: /accounts %d %q, want 303 to /login (anonymous)", round, b.who, status, h.Get("Location"))
			}
			res, err := b.c.Get(base + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode >= 500 {
				t.Errorf("round %d, %s: / answered %d", round, b.who, res.StatusCode)
			}
			if strings.Contains(string(body), b.other) {
				t.Errorf("round %d, %s: / shows the other person's account", round, b.who)
			}
		}
	}
	// Signing in again, in the same browsers, gives each their own.
	signInWith(t, grace, base, "grace", "", "")
	signInWith(t, ada, base, "ada", "", "")
	if page := get(t, ada, base+"/accounts"); !strings.Contains(page, "ada@example.com") || strings.Contains(page, "grace@example.com") {
		t.Error("Ada, signed in again, does not see her own account alone")
	}
	if page := get(t, grace, base+"/accounts"); !strings.Contains(page, "grace@example.com") || strings.Contains(page, "ada@example.com") {
		t.Error("Grace, signed in again, does not see her own account alone")
	}
	if strings.Contains(in.out.String(), `"status":500`) {
		t.Errorf("a 500 was logged:\n%s", in.out.String())
	}
}

// LINKPORT_SESSION_STORE takes redis:// and rediss:// URLs; a bad one is
// refused with a line that never quotes the URL, which may hold a password.
func TestRedisSessionStoreSetting(t *testing.T) {
	for _, ok := range []string{
		"redis://127.0.0.1:6379",
		"redis://127.0.0.1:6379/0",
		"redis://:pw@redis.internal:6379/3",
		"redis://user:pw@redis.internal",
		"rediss://redis.example.com:6380/1",
	} {
		cfg, err := loadConfig([]string{"LINKPORT_SESSION_STORE=" + ok}, "")
		if err != nil || cfg.redisURL != ok {
			t.Errorf("%s: %v, redisURL %q", ok, err, cfg.redisURL)
		}
	}
	for _, bad := range []string{
		"redis://:hunter2-secret@",
		"redis://:hunter2-secret@host:99999",
		"redis://:hunter2-secret@host:6379/db1",
		"redis://:hunter2-secret@host:6379/0?pool=9",
		"redis://:hunter2-secret@host:6379/-1",
		"redis:hunter2-secret",
		"redis://:hunter2-secret@ho st:6379",
	} {
		_, err := loadConfig([]string{"LINKPORT_SESSION_STORE=" + bad}, "")
		var ce *configError
		if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), "LINKPORT_SESSION_STORE: ") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: %v; want a LINKPORT_SESSION_STORE error without the password", bad, err)
		}
	}
	if cfg, err := loadConfig(nil, ""); err != nil || cfg.redisURL != "" || cfg.RedisPrefix != "linkport:session:" {
		t.Errorf("default: %v, redisURL %q, prefix %q", err, cfg.redisURL, cfg.RedisPrefix)
	}
}
