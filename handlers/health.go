package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/gin-gonic/gin"
)

// healthz answers GET /healthz: the process is alive. It checks no
// dependency, so an outage of the database makes no orchestrator restart
// a process that would recover on its own (E-07a).
func (a *App) healthz(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.String(http.StatusOK, "ok\n")
}

// readyz answers GET /readyz: the database and the session store answer,
// and the process is not shutting down.
func (a *App) readyz(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	if a.draining.Load() {
		c.String(http.StatusServiceUnavailable, "draining\n")
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	err := a.cfg.Ready(ctx)
	if err == nil {
		err = a.sessionStoreReady(ctx)
	}
	if err != nil {
		a.log.WarnContext(ctx, "not ready", "err", err)
		c.String(http.StatusServiceUnavailable, "unavailable\n")
		return
	}
	c.String(http.StatusOK, "ready\n")
}

// errStoreTimeout: the session store did not answer the readiness probe in
// time.
var errStoreTimeout = errors.New("session store: no answer")

// sessionStoreReady looks up a token no session has: a store that answers
// "not found" is up. Stores without a context (all of scs's today) cannot
// be cancelled, so the lookup runs aside and the probe stops waiting at
// ctx's deadline.
func (a *App) sessionStoreReady(ctx context.Context) error {
	store, ok := a.sessions.Store.(scs.CtxStore)
	if !ok {
		return nil
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := store.FindCtx(ctx, "linkport-readiness-probe")
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("session store: %w", err)
		}
		return nil
	case <-ctx.Done():
		return errStoreTimeout
	}
}
