package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// healthz answers GET /healthz: the process is alive.
func (a *App) healthz(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.String(http.StatusOK, "ok\n")
}

// readyz answers GET /readyz: the database and session store answer.
func (a *App) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := a.cfg.Ready(ctx); err != nil {
		a.log.WarnContext(ctx, "not ready", "err", err, "request_id", requestID(c))
		c.String(http.StatusServiceUnavailable, "unavailable\n")
		return
	}
	c.String(http.StatusOK, "ready\n")
}
