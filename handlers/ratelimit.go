package handlers

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"
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
// Buckets live in this process's memory: with several instances behind a
// load balancer each enforces its own budget, so the effective limit is
// the budget times the number of instances until a shared store (Redis)
// arrives with the scale-out work.
type RateLimits struct {
	// SignIn limits POST /auth/{provider} per client IP; default 30/min.
	SignIn Rate
	// Callback limits GET /auth/{provider}/callback per client IP;
	// default 60/min.
	Callback Rate
	// Change limits link, unlink, merge, profile and session changes per
	// user; default 10/min.
	Change Rate
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
	name  string
	rate  Rate
	limit rate.Limit

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(name string, r Rate) *limiter {
	return &limiter{
		name:    name,
		rate:    r,
		limit:   rate.Every(r.Per / time.Duration(r.Events)),
		buckets: map[string]*bucket{},
	}
}

// wait takes a token for key at now and returns zero, or, when the bucket
// is empty, how long until it holds one (and takes nothing).
func (l *limiter) wait(key string, now time.Time) time.Duration {
	if l.rate.Off {
		return 0
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

func newLimiters(r RateLimits) limiters {
	r = r.withDefaults()
	return limiters{
		signIn:   newLimiter("sign-in", r.SignIn),
		callback: newLimiter("callback", r.Callback),
		change:   newLimiter("account change", r.Change),
	}
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
var problemRateLimited = problem{"ratelimited", http.StatusTooManyRequests, "Too many attempts",
	"", "Back to Linkport", "/"}

// limited answers 429 with Retry-After and reports true when key has no
// budget left.
func (a *App) limited(c *gin.Context, l *limiter, key string) bool {
	d := l.wait(key, a.now())
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
	p.message = "You tried this too often in a short time, so we paused it. Nothing was changed. Please wait " +
		waitText(secs) + " and try again."
	a.renderProblem(c, p)
	c.Abort()
	return true
}

func waitText(secs int) string {
	if secs <= 1 {
		return "a second"
	}
	if secs < 120 {
		return strconv.Itoa(secs) + " seconds"
	}
	return strconv.Itoa((secs+59)/60) + " minutes"
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
