package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// serveForTest runs serve on a free loopback port and returns its base URL
// and the channel run's result arrives on.
func serveForTest(t *testing.T, ctx context.Context, h http.Handler, o serveOptions) (string, <-chan error) {
	t.Helper()
	base, _ := url.Parse("http://127.0.0.1")
	addr := make(chan string, 1)
	o.listening = func(a string) { addr <- a }
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, config{Addr: "127.0.0.1:0", baseURL: base}, h, slog.New(slog.DiscardHandler), o)
	}()
	select {
	case a := <-addr:
		return "http://" + a, done
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not listen")
	}
	return "", nil
}

// E-14a: on shutdown, readiness turns to 503 at once; a request in flight
// (2 s) completes with 200; once the listener closes new connections are
// refused; serve returns nil.
func TestE14a_GracefulShutdownDrains(t *testing.T) {
	var draining atomic.Bool
	started := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(2 * time.Second)
		_, _ = io.WriteString(w, "done")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, done := serveForTest(t, ctx, mux, serveOptions{drain: func() { draining.Store(true) }, drainDelay: 500 * time.Millisecond})
	// New connection for every request: what a load balancer's probe is.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

	type result struct {
		status int
		body   string
		err    error
	}
	slow := make(chan result, 1)
	go func() {
		res, err := client.Get(base + "/slow")
		if err != nil {
			slow <- result{err: err}
			return
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		slow <- result{res.StatusCode, string(b), err}
	}()
	<-started

	cancel()
	stopAt := time.Now()
	deadline := time.Now().Add(300 * time.Millisecond)
	for {
		res, err := client.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusServiceUnavailable {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz did not answer 503 within 300ms of the shutdown (last: %v)", err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// After the drain delay the listener closes: new connections fail.
	host := base[len("http://"):]
	for {
		c, err := net.DialTimeout("tcp", host, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Since(stopAt) > 1500*time.Millisecond {
			t.Fatal("new connections still accepted 1.5s after the shutdown began")
		}
		time.Sleep(20 * time.Millisecond)
	}

	r := <-slow
	if r.err != nil || r.status != http.StatusOK || r.body != "done" {
		t.Fatalf("request in flight: %d %q %v, want 200 done", r.status, r.body, r.err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not return after the request in flight finished")
	}
}

// E-14c: the server has every timeout set, and a slowloris client, one
// header byte at a time, is cut off after ReadHeaderTimeout.
func TestE14c_SlowHeadersDisconnected(t *testing.T) {
	srv := newServer(http.NotFoundHandler(), slog.New(slog.DiscardHandler), serveOptions{})
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout,
		"WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout,
	} {
		if d <= 0 {
			t.Errorf("%s not set", name)
		}
	}
	if srv.MaxHeaderBytes <= 0 {
		t.Error("MaxHeaderBytes not set")
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const timeout = 300 * time.Millisecond
	base, done := serveForTest(t, ctx, http.NotFoundHandler(), serveOptions{readHeaderTimeout: timeout})
	conn, err := net.Dial("tcp", base[len("http://"):])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	go func() {
		for _, b := range []byte("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 100)) {
			if _, err := conn.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadAll(conn) // until the server closes the connection
	elapsed := time.Since(start)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v", elapsed)
	}
	if elapsed < timeout || elapsed > timeout+time.Second {
		t.Errorf("disconnected after %v, want about %v", elapsed, timeout)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// E-14b: the order of teardown is the HTTP server (drained), then the
// session store's cleanup, then the database. A signed-in person's sign-out
// is in flight when the shutdown begins: its headers are in, and it
// waits for its body (Expect: 100-continue shows the handler is reading
// it) until the listener has closed. Then it goes on, with the session
// store, the session index and the audit log, and answers 303; run
// returns nil, and nothing like "sql: database is closed" or "closed
// pool" is logged. On SQLite, and on PostgreSQL with the sessions in
// Redis (the Redis pool closes with the database, after the drain).
func TestE14b_TeardownAfterDrain(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  func(t *testing.T, addr string) []string
	}{
		{"sqlite", func(t *testing.T, addr string) []string {
			return []string{
				"LINKPORT_ADDR=" + addr, "LINKPORT_BASE_URL=http://" + addr,
				"LINKPORT_DATABASE_URL=" + filepath.Join(t.TempDir(), "linkport.db"),
				"LINKPORT_EMULATOR=on", "LINKPORT_LOG_FORMAT=json",
			}
		}},
		{"postgres and redis", func(t *testing.T, addr string) []string {
			redisAddr := testRedisAddr(t)
			env := redisEnv(t, addr, redisAddr, testRedisPrefix(t, redisAddr))
			dbURL := postgresSchemaURL(t)
			for i, kv := range env {
				if strings.HasPrefix(kv, "LINKPORT_DATABASE_URL=") {
					env[i] = "LINKPORT_DATABASE_URL=" + dbURL
				}
			}
			return env
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := freePort(t)
			base := "http://" + addr
			in := start(t, tc.env(t, addr))
			waitHealthy(t, base, in)
			ada := signInAs(t, base, "ada-14b", "Ada Lovelace", "ada14b@example.com")
			token := hiddenFields(get(t, ada, base+"/accounts")).Get("csrf_token")
			u, _ := url.Parse(base)
			var cookie string
			for _, c := range ada.Jar.Cookies(u) {
				if c.Name == "linkport" {
					cookie = c.Value
				}
			}
			if token == "" || cookie == "" {
				t.Fatal("signed in without a session cookie or CSRF token")
			}

			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
			body := url.Values{"csrf_token": {token}}.Encode()
			fmt.Fprintf(conn, "POST /logout HTTP/1.1\r\nHost: %s\r\nOrigin: %s\r\nCookie: linkport=%s\r\n"+
				"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n"+
				"Expect: 100-continue\r\nConnection: close\r\n\r\n", addr, base, cookie, len(body))
			r := bufio.NewReader(conn)
			line, err := r.ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
				t.Fatalf("want 100 Continue once the handler reads the body, got %q %v", line, err)
			}
			if blank, _ := r.ReadString('\n'); blank != "\r\n" {
				t.Fatalf("100 Continue followed by %q", blank)
			}

			in.cancel() // SIGTERM
			for deadline := time.Now().Add(5 * time.Second); ; {
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					break // the listener is closed: the shutdown is under way
				}
				c.Close()
				if time.Now().After(deadline) {
					t.Fatal("the listener is still open 5 s after the shutdown began")
				}
				time.Sleep(10 * time.Millisecond)
			}

			if _, err := io.WriteString(conn, body); err != nil {
				t.Fatal(err)
			}
			res, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatalf("the sign-out in flight got no answer: %v\n%s", err, in.out.String())
			}
			res.Body.Close()
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?signed_out=1" {
				t.Errorf("sign-out in flight: %d %q, want 303 /login?signed_out=1\n%s", res.StatusCode, res.Header.Get("Location"), in.out.String())
			}
			select {
			case err := <-in.done:
				if err != nil {
					t.Fatalf("run returned %v", err)
				}
			case <-time.After(35 * time.Second):
				t.Fatal("run did not return")
			}
			logs := in.out.String()
			for _, bad := range []string{"database is closed", "closed pool", "pool is closed", `"level":"ERROR"`} {
				if strings.Contains(logs, bad) {
					t.Errorf("logged %q during the drain:\n%s", bad, logs)
				}
			}
			if !strings.Contains(logs, `"msg":"stopped"`) {
				t.Errorf("no graceful stop logged:\n%s", logs)
			}
		})
	}
}
