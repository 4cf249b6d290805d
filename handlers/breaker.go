package handlers

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/linkport/linkport/providers"
)

// The provider breaker's settings (SECURITY.md E-01c).
const (
	// breakerThreshold outage failures in a row mark a provider
	// "temporarily unavailable".
	breakerThreshold = 5
	// breakerWindow: failures further apart than this do not add up, so
	// a rarely used provider is not marked for five timeouts in a week.
	breakerWindow = 2 * time.Minute
	// breakerCoolDown is how long the mark stays after the last failure;
	// then the provider is half-open: unmarked, and one more failure marks
	// it again at once.
	breakerCoolDown = 30 * time.Second
)

// providerHealth is a circuit breaker per provider that only advises: a
// provider whose token or profile endpoints keep failing or timing out
// (providers.ErrUnavailable, providers.ErrTimeout) is shown as
// "temporarily unavailable" on the sign-in and "connect another account"
// buttons, so people pick another one, while the others are unaffected.
// Nothing is refused: the button still works, because the one person who
// tries again is also the trial that shows the provider is back.
//
// Only what the provider itself answered counts. A callback's ?error= is
// written by whoever sends the browser back, and a rejected code
// (invalid_grant) proves the provider is up, so neither moves the breaker:
// an attacker cannot mark a provider down for everyone.
//
// Time comes from the App's clock, so tests move it instead of sleeping.
// gobreaker (sony/gobreaker/v2) was the library considered: it reads
// time.Now itself, and in the open state it refuses calls, where this one
// must let them through and watch their outcome.
type providerHealth struct {
	now  func() time.Time
	log  *slog.Logger
	trip *prometheus.CounterVec

	mu     sync.Mutex
	byName map[string]*breaker
}

// breaker is one provider's record. openUntil is zero while closed; the
// provider is open (marked) before it and half-open from it on.
type breaker struct {
	failures  int // outage failures in a row, each within breakerWindow of the last
	lastFail  time.Time
	openUntil time.Time
}

// newProviderHealth makes the breakers of the configured providers and
// registers their metrics: a gauge per provider, 1 while it is marked,
// and a counter of how often each was marked.
func newProviderHealth(names []string, now func() time.Time, log *slog.Logger, reg prometheus.Registerer) *providerHealth {
	h := &providerHealth{
		now: now,
		log: log,
		trip: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "linkport_provider_marked_unavailable_total",
			Help: "Times a provider was marked temporarily unavailable after repeated outage failures, by provider.",
		}, []string{"provider"}),
		byName: make(map[string]*breaker, len(names)),
	}
	reg.MustRegister(h.trip)
	for _, name := range names {
		h.byName[name] = &breaker{}
		// A gauge function, not a gauge: the mark ends with time, without
		// an event that could set a gauge back to 0.
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "linkport_provider_unavailable",
			Help:        "1 while a provider is marked temporarily unavailable (its recent sign-ins failed or timed out at the provider), else 0.",
			ConstLabels: prometheus.Labels{"provider": name},
		}, func() float64 {
			if h.unavailable(name) {
				return 1
			}
			return 0
		}))
	}
	return h
}

// unavailable reports whether the provider is marked now.
func (h *providerHealth) unavailable(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, ok := h.byName[name]
	return ok && h.now().Before(b.openUntil)
}

// observe records what the provider answered when a callback exchanged a
// code: nil is a success, providers.ErrUnavailable or ErrTimeout an
// outage failure, anything else (a rejected or malformed answer) neither.
// A sign-in start records only its outage failures: it reaches the
// provider only for discovery, so its success says nothing.
func (h *providerHealth) observe(name string, err error) {
	outage := errors.Is(err, providers.ErrUnavailable) || errors.Is(err, providers.ErrTimeout)
	if err != nil && !outage {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	b, ok := h.byName[name]
	if !ok {
		return
	}
	now := h.now()
	if err == nil {
		if !b.openUntil.IsZero() {
			h.log.Info("provider answering again; no longer marked unavailable", "provider", name)
		}
		*b = breaker{}
		return
	}
	switch {
	case !b.openUntil.IsZero():
		// Open or half-open: still failing, so marked for a new cool-down.
		wasOpen := now.Before(b.openUntil)
		b.openUntil = now.Add(breakerCoolDown)
		if !wasOpen {
			h.marked(name, "the trial after the cool-down failed")
		}
		return
	case now.Sub(b.lastFail) > breakerWindow:
		b.failures = 0
	}
	b.failures++
	b.lastFail = now
	if b.failures >= breakerThreshold {
		b.openUntil = now.Add(breakerCoolDown)
		h.marked(name, "repeated outage failures")
	}
}

// marked logs and counts a provider newly marked; h.mu is held.
func (h *providerHealth) marked(name, why string) {
	h.trip.WithLabelValues(name).Inc()
	h.log.Warn("provider marked temporarily unavailable", "provider", name, "why", why,
		"cool_down_s", int(breakerCoolDown.Seconds()))
}
