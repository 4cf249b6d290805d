package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// load is one closed-loop attack: requests per second and latencies.
type load struct {
	rps      float64
	p50, p99 time.Duration
	requests uint64
	non200   uint64
	cores    float64       // CPU the server used, in cores, while measured
	perReq   time.Duration // server CPU per request: less noisy than rates on a shared machine
	ownCores float64       // CPU the load generator (this process) used, in cores
}

// pages is figure (a).
type pages struct {
	healthz, accounts load
	identities        int
}

func (p pages) ratio() float64 {
	if p.healthz.rps == 0 {
		return 0
	}
	return p.accounts.rps / p.healthz.rps
}

// measurePages signs a person in with Google, links Facebook and X, then
// loads /healthz and that person's /accounts with vegeta, each with a
// warm-up first.
func measurePages(ctx context.Context, srv *server, o options) (pages, error) {
	var out pages
	base := srv.base
	tr := newTransport(4)
	defer tr.CloseIdleConnections()
	b := newBrowser(base, tr)
	run := fmt.Sprint(time.Now().UnixNano())
	if err := b.signIn(ctx, &person{provider: "google", sub: "bench-a-" + run, name: "Bench Page", email: "page-" + run + "@example.com"}); err != nil {
		return out, fmt.Errorf("sign in: %w", err)
	}
	for _, prov := range []string{"facebook", "x"} {
		if err := b.link(ctx, &person{provider: prov, sub: "bench-a-" + prov + run, name: "Bench " + prov, email: prov + "-" + run + "@example.com"}); err != nil {
			return out, fmt.Errorf("link %s: %w", prov, err)
		}
	}
	acc, err := b.expect(ctx, http.MethodGet, "/accounts", nil, http.StatusOK, "")
	if err != nil {
		return out, err
	}
	if out.identities = strings.Count(acc.body, `data-testid="identity"`); out.identities != 3 {
		return out, fmt.Errorf("/accounts shows %d connected accounts, want 3", out.identities)
	}
	cookie := http.Header{"Cookie": {b.sessionCookie()}}
	if out.healthz, err = attack(ctx, srv, "/healthz", nil, o); err != nil {
		return out, err
	}
	if out.accounts, err = attack(ctx, srv, "/accounts", cookie, o); err != nil {
		return out, err
	}
	return out, nil
}

// attack runs o.concurrency vegeta workers as fast as the server answers
// (no pacing: a closed loop, each worker waits for its answer), first for
// the warm-up, then for the measurement. Anything but 200 is an error.
func attack(ctx context.Context, srv *server, path string, header http.Header, o options) (load, error) {
	target := srv.base + path
	hit := func(d time.Duration, profile bool) (load, error) {
		n := uint64(o.concurrency)
		atk := vegeta.NewAttacker(
			vegeta.Workers(n), vegeta.MaxWorkers(n),
			vegeta.Connections(o.concurrency), vegeta.MaxConnections(o.concurrency),
			vegeta.KeepAlive(true), vegeta.Redirects(vegeta.NoFollow),
			vegeta.MaxBody(0), vegeta.Timeout(30*time.Second),
		)
		stop := context.AfterFunc(ctx, func() { atk.Stop() })
		defer stop()
		tr := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodGet, URL: target, Header: header})
		var m vegeta.Metrics
		wait := func() error { return nil }
		if profile {
			wait = srv.startProfile(ctx, strings.TrimPrefix(path, "/"), d)
		}
		cpu0, own0, t0 := srv.cpu(), ownCPU(), time.Now()
		for res := range atk.Attack(tr, vegeta.Rate{}, d, target) {
			m.Add(res)
		}
		m.Close()
		if err := wait(); err != nil {
			return load{}, err
		}
		used := srv.cpu() - cpu0
		l := load{rps: m.Throughput, p50: m.Latencies.P50, p99: m.Latencies.P99, requests: m.Requests,
			cores: used.Seconds() / time.Since(t0).Seconds(), ownCores: (ownCPU() - own0).Seconds() / time.Since(t0).Seconds()}
		if m.Requests > 0 {
			l.perReq = used / time.Duration(m.Requests)
		}
		for code, count := range m.StatusCodes {
			if code != "200" {
				l.non200 += uint64(count)
			}
		}
		if l.non200 > 0 {
			return l, fmt.Errorf("GET %s: %d of %d answers were not 200: %v %v", target, l.non200, l.requests, m.StatusCodes, m.Errors)
		}
		return l, ctx.Err()
	}
	if o.warmup > 0 {
		if _, err := hit(o.warmup, false); err != nil {
			return load{}, err
		}
	}
	return hit(o.duration, true)
}

// signIns is figure (b).
type signIns struct {
	count    int // completed in the measured window
	perSec   float64
	errors   int // over warm-up and measurement
	firstErr string
	p50, p99 time.Duration
	cores    float64       // CPU the server used, in cores, while measured
	perOne   time.Duration // server CPU per completed sign-in
	ownCores float64       // CPU the load generator (this process) used, in cores
}

func (s signIns) ok() bool { return s.errors == 0 }

// measureSignIns runs o.signInWorkers browsers, each signing one person
// (its own) in again and again, each time as a new browser (an empty
// cookie jar) from a new client address. A sign-in counts when it ends on
// /accounts with 200 within the measured window.
func measureSignIns(ctx context.Context, srv *server, o options) (signIns, error) {
	base := srv.base
	tr := newTransport(2 * o.signInWorkers)
	defer tr.CloseIdleConnections()
	start := time.Now()
	from, until := start.Add(o.warmup), start.Add(o.warmup+o.duration)
	var (
		mu        sync.Mutex
		out       signIns
		latencies []time.Duration
		wg        sync.WaitGroup
	)
	run := fmt.Sprint(start.UnixNano())
	for w := range o.signInWorkers {
		who := &person{provider: "google", sub: fmt.Sprintf("bench-b-%s-%d", run, w), name: fmt.Sprintf("Bench %d", w), email: fmt.Sprintf("signin-%d-%s@example.com", w, run)}
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(until) {
				t0 := time.Now()
				err := newBrowser(base, tr).signIn(ctx, who)
				t1 := time.Now()
				mu.Lock()
				switch {
				case err != nil:
					out.errors++
					if out.firstErr == "" {
						out.firstErr = err.Error()
					}
				case !t1.Before(from) && !t1.After(until):
					out.count++
					latencies = append(latencies, t1.Sub(t0))
				}
				mu.Unlock()
			}
		})
	}
	select {
	case <-time.After(time.Until(from)):
	case <-ctx.Done():
	}
	cpuFrom, ownFrom := srv.cpu(), ownCPU()
	wait := srv.startProfile(ctx, "signin", o.duration)
	wg.Wait()
	if err := wait(); err != nil {
		return out, err
	}
	// The last sign-ins end after the window: their CPU counts too, over
	// the time they took.
	used := srv.cpu() - cpuFrom
	out.cores = used.Seconds() / time.Since(from).Seconds()
	out.ownCores = (ownCPU() - ownFrom).Seconds() / time.Since(from).Seconds()
	if out.count > 0 {
		// The window's share of the sign-ins that ran past it.
		out.perOne = time.Duration(float64(used) * o.duration.Seconds() / time.Since(from).Seconds() / float64(out.count))
	}
	out.perSec = float64(out.count) / o.duration.Seconds()
	out.p50, out.p99 = quantile(latencies, 0.50), quantile(latencies, 0.99)
	return out, ctx.Err()
}

// ownCPU is the CPU time this process has used, user and system.
func ownCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[int(q*float64(len(ds)-1))]
}

// memory is figure (c).
type memory struct {
	sessions      int
	before, after int64 // VmRSS, bytes
	elapsed       time.Duration
	sampled       int // sessions read back
	persisted     int // of those, the ones the server had kept
}

// measureMemory reads the server's resident memory, makes n sessions with
// n GET /login without a cookie (each starts an anonymous session holding
// a CSRF token, which the server stores and sets a cookie for), and reads
// it again. It then reads back a sample of the sessions: a session the
// server kept shows the same CSRF token to its cookie.
func measureMemory(ctx context.Context, srv *server, n int) (memory, error) {
	out := memory{sessions: n}
	var err error
	if out.before, err = srv.rss(); err != nil {
		return out, err
	}
	const workers = 32
	tr := newTransport(workers)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	every := max(n/100, 1)
	type kept struct{ cookie, csrf string }
	var (
		next     atomic.Int64
		mu       sync.Mutex
		sample   []kept
		firstErr error
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				cookie, token, err := anonymousSession(ctx, client, srv.base)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil && i%int64(every) == 0 {
					sample = append(sample, kept{cookie, token})
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	out.elapsed = time.Since(start)
	if firstErr != nil {
		return out, firstErr
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	if out.after, err = srv.rss(); err != nil {
		return out, err
	}
	for _, k := range sample {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.base+"/login", nil)
		req.Header.Set("Cookie", k.cookie)
		p, _, err := get(client, req)
		if err != nil {
			return out, err
		}
		out.sampled++
		if tok, err := csrf(p); err == nil && tok == k.csrf {
			out.persisted++
		}
	}
	return out, nil
}

// anonymousSession loads /login without a cookie and returns the session
// cookie it set and the page's CSRF token.
func anonymousSession(ctx context.Context, client *http.Client, base string) (cookie, token string, err error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/login", nil)
	p, h, err := get(client, req)
	if err != nil {
		return "", "", err
	}
	if p.status != http.StatusOK {
		return "", "", fmt.Errorf("GET /login: %d", p.status)
	}
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == cookieName && c.Value != "" {
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" {
		return "", "", errors.New("GET /login without a cookie set no session cookie: the server keeps no session for it")
	}
	token, err = csrf(p)
	return cookie, token, err
}

func get(client *http.Client, req *http.Request) (page, http.Header, error) {
	res, err := client.Do(req)
	if err != nil {
		return page{}, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return page{status: res.StatusCode, location: res.Header.Get("Location"), body: string(body)}, res.Header, err
}
