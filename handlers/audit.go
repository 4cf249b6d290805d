package handlers

import (
	"log/slog"
	"strings"

	"github.com/gin-gonic/gin"
)

// Outcomes of a security event in the log.
const (
	outcomeOK      = "ok"
	outcomeFailed  = "failed"
	outcomeRefused = "refused"
)

// audit writes the one structured log line of a security event (SECURITY.md
// B-13a): what, outcome, user, provider, client IP, request id and the UTC
// time, plus extra attributes; and counts it in the metrics. Values from providers (names, reasons) go in
// as attributes, never into the message, so the JSON handler escapes them
// and no one can forge a line (B-13b). Never pass a token, code or state.
func (a *App) audit(c *gin.Context, event, outcome string, userID int64, provider string, extra ...slog.Attr) {
	attrs := []slog.Attr{
		slog.String("event", event),
		slog.String("outcome", outcome),
		slog.Int64("user_id", userID),
		slog.String("provider", provider),
		slog.String("ip", c.ClientIP()),
	}
	attrs = append(attrs, extra...)
	attrs = append(attrs, slog.String("request_id", requestID(c)), slog.Time("at", a.now().UTC()))
	level := slog.LevelInfo
	if outcome != outcomeOK {
		level = slog.LevelWarn
	}
	a.log.LogAttrs(c.Request.Context(), level, auditMessage(event, outcome), attrs...)
	a.countEvent(event, outcome, provider, extra)
}

// auditMessage is the fixed message of an event's log line.
func auditMessage(event, outcome string) string {
	msg := map[string]string{"sign_in": "signed in", "link": "linked", "unlink": "unlinked", "logout": "signed out"}[event]
	if msg == "" {
		msg = event
	}
	switch outcome {
	case outcomeFailed:
		return strings.ReplaceAll(event, "_", "-") + " failed"
	case outcomeRefused:
		return strings.ReplaceAll(event, "_", "-") + " refused"
	}
	return msg
}
