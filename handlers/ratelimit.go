package handlers

import (
	"context"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/linkport/linkport/views/locale"
)

// Rate is a request budget: at most Burst requests at once, refilled at
// Events per Per. The zero Rate takes the route's default.
type Rate struct {
	Events int
	Per    time.Duration
	// Off turns the limit off (tests, benchmarks).
	Off bool
}

// RateLimits are the request budgets of the routes that attackers drive
// (SECURITY.md B-09, LINKING.md P11). Keys are the client IP as Gin sees it,
// which honours X-Forwarded-For only from Config.TrustedProxies (K13,
// A-16), or the signed-in user's id.
//
// Buckets live in Store when one is set (Redis, when the sessions are
// there too), so that several instances behind a load balancer enforce
// one budget together (B-09c, E-12c); else, and while Store fails, in this
// process's memory.
type RateLimits struct {
	// SignIn limits POST /auth/{provider} per client IP; default 30/min.
	SignIn Rate
	// Callback limits GET /auth/{provider}/callback per client IP;
	// default 60/min.
	Callback Rate
	// Change limits link, unlink, merge, profile and session changes per
	// user; default 10/min.
	Change Rate
	// Store, when set, keeps the budgets for every instance; nil keeps
	// them in memory.
	Store RateStore
}

// RateStore keeps request budgets where every instance sees them.
type RateStore interface {
	// Take takes one request from the budget of key, which holds r.Events
	// requests and refills one every r.Per/r.Events, and returns zero; or,
	// when the budget is empty, takes nothing and returns how long until
	// it holds one. Keys are short printable ASCII.
	Take(ctx context.Context, key string, r Rate) (time.Duration, error)
}

// withDefaults fills zero budgets.
func (r RateLimits) withDefaults() RateLimits {
	def := func(x *Rate, events int) {
		if x.Events <= 0 || x.Per <= 0 {
			x.Events, x.Per = events, time.Minute
		}
	}
	def(&r.SignIn, 30)
	def(&r.Callback, 60)
	def(&r.Change, 10)
	return r
}

// maxLimiterKeys bounds each limiter's memory (about 150 bytes a key).
const maxLimiterKeys = 100_000

// limiter is a set of token buckets by key. A bucket untouched for a whole
// refill period is full again, so it is deleted: it would allow exactly
// what a new one allows.
type limiter struct {
	name   string // for the log
	id     string // for the shared store's keys
	rate   Rate
	limit  rate.Limit
	shared *sharedRates // nil: memory only

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(name, id string, r Rate, shared *sharedRates) *limiter {
	return &limiter{
		name:    name,
		id:      id,
		rate:    r,
		limit:   rate.Every(r.Per / time.Duration(r.Events)),
		shared:  shared,
		buckets: map[string]*bucket{},
	}
}

// wait takes a token for key at now and returns zero, or, when the bucket
// is empty, how long until it holds one (and takes nothing). The shared
// store decides when it answers; the memory buckets otherwise.
func (l *limiter) wait(ctx context.Context, key string, now time.Time) time.Duration {
	if l.rate.Off {
		return 0
	}
	if l.shared != nil {
		if d, ok := l.shared.take(ctx, l.id+":"+key, l.rate, now); ok {
			return d
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= l.rate.Per {
		l.sweep(now)
	}
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxLimiterKeys {
			l.sweep(now)
		}
		for k := range l.buckets {
			if len(l.buckets) < maxLimiterKeys {
				break
			}
			// Still full: someone is spraying keys. Dropping an arbitrary
			// bucket resets one key's budget; refusing new keys instead
			// would lock everyone out.
			delete(l.buckets, k)
		}
		b = &bucket{lim: rate.NewLimiter(l.limit, l.rate.Events)}
		l.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
}

// sweep deletes the buckets idle for a whole refill period.
func (l *limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.seen) >= l.rate.Per {
			delete(l.buckets, k)
		}
	}
	l.lastSweep = now
}

// limiters are the App's limiters, one per budget.
type limiters struct {
	signIn, callback, change *limiter
}

func newLimiters(r RateLimits, log *slog.Logger) limiters {
	r = r.withDefaults()
	var shared *sharedRates
	if r.Store != nil {
		shared = &sharedRates{store: r.Store, log: log}
	}
	return limiters{
		signIn:   newLimiter("sign-in", "signin", r.SignIn, shared),
		callback: newLimiter("callback", "callback", r.Callback, shared),
		change:   newLimiter("account change", "change", r.Change, shared),
	}
}

// How the limiters use a shared store: each call gets sharedRateTimeout,
// and after a failure the memory buckets serve for sharedRateRetry before
// the store is asked again, so an outage costs one slow request in a
// while, not every request.
const (
	sharedRateTimeout = time.Second
	sharedRateRetry   = 5 * time.Second
)

// sharedRates is the shared store of an App's limiters and its outage
// state. While the store fails, requests are limited by each instance's
// memory buckets: never unlimited, never an error page. An outage is
// logged once when it begins and once when it ends.
type sharedRates struct {
	store RateStore
	log   *slog.Logger

	mu      sync.Mutex
	down    bool
	retryAt time.Time
}

// take asks the store; ok is false when the caller must use its memory.
func (s *sharedRates) take(ctx context.Context, key string, r Rate, now time.Time) (wait time.Duration, ok bool) {
	s.mu.Lock()
	skip := s.down && now.Before(s.retryAt)
	s.mu.Unlock()
	if skip {
		return 0, false
	}
	ctx, cancel := context.WithTimeout(ctx, sharedRateTimeout)
	defer cancel()
	wait, err := s.store.Take(ctx, key, r)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if !s.down {
			// The error names at most the store's address, never its
			// password or a key.
			s.log.WarnContext(ctx, "rate limits fall back to this instance's memory: the shared store does not answer",
				"err", err, "retry_s", int(sharedRateRetry.Seconds()))
		}
		s.down, s.retryAt = true, now.Add(sharedRateRetry)
		return 0, false
	}
	if s.down {
		s.down = false
		s.log.InfoContext(ctx, "rate limits shared again: the shared store answers")
	}
	return wait, true
}

// limitByIP limits a route per client IP.
func (a *App) limitByIP(l *limiter) gin.HandlerFunc {
	return func(c *gin.Context) {
		if a.limited(c, l, "ip:"+ipKey(c.ClientIP())) {
			return
		}
		c.Next()
	}
}

// limitByUser limits a route of the signed-in user per user id; it runs
// after requireUser. Sessions of one user share the budget.
func (a *App) limitByUser(l *limiter) gin.HandlerFunc {
	return func(c *gin.Context) {
		if a.limited(c, l, "user:"+strconv.FormatInt(currentUser(c).ID, 10)) {
			return
		}
		c.Next()
	}
}

// problemRateLimited is the page of a refused request; limited fills in
// the wait.
var problemRateLimited = problem{"ratelimited", http.StatusTooManyRequests, "error.ratelimited.heading",
	"error.ratelimited.message", "nav.home", "/", nil}

// limited answers 429 with Retry-After and reports true when key has no
// budget left.
func (a *App) limited(c *gin.Context, l *limiter, key string) bool {
	d := l.wait(c.Request.Context(), key, a.now())
	if d <= 0 {
		return false
	}
	secs := int(math.Ceil(d.Seconds()))
	a.log.WarnContext(c.Request.Context(), "rate limited",
		"limit", l.name, "ip", c.ClientIP(), "user_id", a.userID(c.Request.Context()),
		"retry_after_s", secs)
	c.Header("Retry-After", strconv.Itoa(secs))
	// A limited callback still has the code and state in its URL.
	c.Header("Referrer-Policy", "no-referrer")
	p := problemRateLimited
	p.data = locale.Data{"Wait": waitText(c.Request.Context(), secs)}
	a.renderProblem(c, p)
	c.Abort()
	return true
}

// ipKey is the bucket of a client IP: the address itself, or for IPv6 its
// /64, which one subscriber usually holds whole.
func ipKey(s string) string {
	ip := net.ParseIP(s)
	if ip == nil {
		return s
	}
	if ip.To4() != nil {
		return ip.To4().String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}
