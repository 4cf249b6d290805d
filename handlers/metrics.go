package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/linkport/linkport/accounts"
)

// metrics are the App's Prometheus series, in a registry of its own (not
// the global one: two Apps in one process, as in tests, must not share
// counters). Every label value comes from a closed set — route patterns,
// configured provider names, fixed reasons — never from the request as
// sent, so a client cannot grow the series without bound.
type metrics struct {
	reg      *prometheus.Registry
	signIns  *prometheus.CounterVec
	links    *prometheus.CounterVec
	unlinks  *prometheus.CounterVec
	failures *prometheus.CounterVec
	requests *prometheus.HistogramVec
	store    *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		signIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "linkport_sign_ins_total", Help: "Successful sign-ins, by provider.",
		}, []string{"provider"}),
		links: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "linkport_links_total", Help: "Provider accounts connected to a Linkport account, by provider.",
		}, []string{"provider"}),
		unlinks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "linkport_unlinks_total", Help: "Provider accounts removed from a Linkport account, by provider.",
		}, []string{"provider"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "linkport_auth_failures_total", Help: "Failed or refused sign-ins, links and removals, by event, provider and reason.",
		}, []string{"event", "provider", "reason"}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "linkport_http_request_duration_seconds", Help: "Time to answer a request, by method, route pattern and status class.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route", "status"}),
		store: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "linkport_store_seconds", Help: "Time of session store and session index calls, by operation.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"op"}),
	}
	m.reg.MustRegister(m.signIns, m.links, m.unlinks, m.failures, m.requests, m.store,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// serveMetrics answers GET /metrics in the Prometheus text format.
func (a *App) serveMetrics() gin.HandlerFunc {
	h := promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
	return gin.WrapH(h)
}

// observeRequest records a finished request under its route pattern
// (c.FullPath), never the path as sent: ids and junk paths would make a
// series each.
func (a *App) observeRequest(c *gin.Context, d time.Duration) {
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	method := c.Request.Method
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
	default:
		method = "other"
	}
	class := strconv.Itoa(c.Writer.Status()/100) + "xx"
	a.metrics.requests.WithLabelValues(method, route, class).Observe(d.Seconds())
}

// countEvent counts a security event; audit calls it for every event it
// logs, so the log and the counters cannot disagree.
func (a *App) countEvent(event, outcome, provider string, extra []slog.Attr) {
	if _, ok := a.providers.Get(provider); !ok {
		// The path's provider of a failed callback is whatever was sent.
		provider = "unknown"
	}
	if outcome == outcomeOK {
		switch event {
		case "sign_in":
			a.metrics.signIns.WithLabelValues(provider).Inc()
		case "link":
			a.metrics.links.WithLabelValues(provider).Inc()
		case "unlink":
			a.metrics.unlinks.WithLabelValues(provider).Inc()
		}
		return
	}
	reason := outcome
	for _, at := range extra {
		if at.Key == "reason" {
			// Reasons are fixed phrases of this package ("unknown state",
			// "held by another account"), not text from outside.
			reason = strings.ReplaceAll(at.Value.String(), " ", "_")
		}
	}
	a.metrics.failures.WithLabelValues(event, provider, reason).Inc()
}

// timed runs fn and records how long it took under op.
func timed[T any](h *prometheus.HistogramVec, op string, fn func() (T, error)) (T, error) {
	start := time.Now()
	v, err := fn()
	h.WithLabelValues(op).Observe(time.Since(start).Seconds())
	return v, err
}

// timedStore is an scs.Store that times every call. It passes a context
// on to stores that take one (scs.CtxStore).
type timedStore struct {
	next scs.Store
	h    *prometheus.HistogramVec
}

var (
	_ scs.CtxStore         = timedStore{}
	_ scs.IterableCtxStore = timedStore{}
	_ scs.IterableStore    = timedStore{}
)

func (s timedStore) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

func (s timedStore) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

func (s timedStore) Delete(token string) error { return s.DeleteCtx(context.Background(), token) }

func (s timedStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	if b, ok, pre := prefetchedData(ctx, token); pre {
		return b, ok, nil // read, and timed, by prefetchSession
	}
	type found struct {
		b  []byte
		ok bool
	}
	f, err := timed(s.h, "session_find", func() (found, error) {
		var f found
		var err error
		if cs, ok := s.next.(scs.CtxStore); ok {
			f.b, f.ok, err = cs.FindCtx(ctx, token)
		} else {
			f.b, f.ok, err = s.next.Find(token)
		}
		return f, err
	})
	return f.b, f.ok, err
}

func (s timedStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	_, err := timed(s.h, "session_commit", func() (struct{}, error) {
		if cs, ok := s.next.(scs.CtxStore); ok {
			return struct{}{}, cs.CommitCtx(ctx, token, b, expiry)
		}
		return struct{}{}, s.next.Commit(token, b, expiry)
	})
	return err
}

func (s timedStore) DeleteCtx(ctx context.Context, token string) error {
	_, err := timed(s.h, "session_delete", func() (struct{}, error) {
		if cs, ok := s.next.(scs.CtxStore); ok {
			return struct{}{}, cs.DeleteCtx(ctx, token)
		}
		return struct{}{}, s.next.Delete(token)
	})
	return err
}

func (s timedStore) All() (map[string][]byte, error) { return s.AllCtx(context.Background()) }

func (s timedStore) AllCtx(ctx context.Context) (map[string][]byte, error) {
	return timed(s.h, "session_all", func() (map[string][]byte, error) {
		switch st := s.next.(type) {
		case scs.IterableCtxStore:
			return st.AllCtx(ctx)
		case scs.IterableStore:
			return st.All()
		}
		return nil, errors.New("session store does not support iteration")
	})
}

// timedIndex is a SessionIndex that times every call: one database
// query or transaction each, on every signed-in request.
type timedIndex struct {
	next SessionIndex
	h    *prometheus.HistogramVec
}

func (x timedIndex) Start(ctx context.Context, s accounts.Session) error {
	_, err := timed(x.h, "index_start", func() (struct{}, error) { return struct{}{}, x.next.Start(ctx, s) })
	return err
}

func (x timedIndex) Rotate(ctx context.Context, oldHash, newHash string) error {
	_, err := timed(x.h, "index_rotate", func() (struct{}, error) { return struct{}{}, x.next.Rotate(ctx, oldHash, newHash) })
	return err
}

func (x timedIndex) Seen(ctx context.Context, hash string, at time.Time) error {
	_, err := timed(x.h, "index_seen", func() (struct{}, error) { return struct{}{}, x.next.Seen(ctx, hash, at) })
	return err
}

func (x timedIndex) Get(ctx context.Context, hash string) (accounts.Session, error) {
	if s, err, pre := prefetchedRow(ctx, hash); pre {
		return s, err // read with the session (prefetchSession)
	}
	return timed(x.h, "index_get", func() (accounts.Session, error) { return x.next.Get(ctx, hash) })
}

func (x timedIndex) List(ctx context.Context, userID int64) ([]accounts.Session, error) {
	return timed(x.h, "index_list", func() ([]accounts.Session, error) { return x.next.List(ctx, userID) })
}

func (x timedIndex) Revoke(ctx context.Context, hash string) error {
	_, err := timed(x.h, "index_revoke", func() (struct{}, error) { return struct{}{}, x.next.Revoke(ctx, hash) })
	return err
}

func (x timedIndex) RevokeOthers(ctx context.Context, userID int64, keepHash string) (int, error) {
	return timed(x.h, "index_revoke_others", func() (int, error) { return x.next.RevokeOthers(ctx, userID, keepHash) })
}

func (x timedIndex) RevokeIdentity(ctx context.Context, userID, identityID int64, keepHash string) (int, error) {
	return timed(x.h, "index_revoke_identity", func() (int, error) {
		return x.next.RevokeIdentity(ctx, userID, identityID, keepHash)
	})
}
