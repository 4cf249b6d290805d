package handlers

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/linkport/linkport/views"
)

// timelinePageSize is how many events one page of the timeline shows.
const timelinePageSize = 20

// timelinePage answers GET /accounts/activity: the security timeline, newest
// first, a page at a time; ?before={event id} is the page after that event.
// htmx gets the list alone.
func (a *App) timelinePage(c *gin.Context) {
	ctx := c.Request.Context()
	user := currentUser(c)
	var before int64
	if raw := c.Query("before"); raw != "" {
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || id <= 0 {
			a.renderProblem(c, problemBadInput)
			return
		}
		before = id
	}
	// One more than a page tells whether there is an older page.
	events, err := a.accounts.EventsBefore(ctx, user.ID, before, timelinePageSize+1)
	if err != nil {
		a.failPage(c, err)
		return
	}
	var page views.TimelinePage
	if len(events) > timelinePageSize {
		events = events[:timelinePageSize]
		page.OlderURL = "/accounts/activity?before=" + strconv.FormatInt(events[len(events)-1].ID, 10)
	}
	if before != 0 {
		page.NewerURL = "/accounts/activity"
	}
	for _, e := range events {
		page.Events = append(page.Events, views.TimelineRow{
			What: eventText(ctx, e.Kind), Provider: a.label(e.Provider), Device: deviceLabel(ctx, e.UserAgent), IP: e.IP,
			At: e.At,
		})
	}
	if isHTMX(c) {
		page.Swapped = true
		a.render(c, http.StatusOK, views.TimelineList(page))
		return
	}
	a.render(c, http.StatusOK, views.Timeline(a.layout(c, "timeline.title"), page))
}

// exportedEvent is one event in the JSON download. It is built field by
// field from accounts.Event, which holds no token, code or state.
type exportedEvent struct {
	Kind       string `json:"kind"`
	Provider   string `json:"provider,omitempty"`
	IdentityID int64  `json:"identity_id,omitempty"`
	IP         string `json:"ip,omitempty"`
	UserAgent  string `json:"user_agent,omitempty"`
	At         string `json:"at"`
}

// timelineExport answers GET /accounts/activity.json: every event of the
// user, newest first, as a download.
func (a *App) timelineExport(c *gin.Context) {
	ctx := c.Request.Context()
	user := currentUser(c)
	events, err := a.accounts.Events(ctx, user.ID, 0)
	if err != nil {
		a.failPage(c, err)
		return
	}
	out := struct {
		UserID     int64           `json:"user_id"`
		ExportedAt string          `json:"exported_at"`
		Events     []exportedEvent `json:"events"`
	}{UserID: user.ID, ExportedAt: a.now().UTC().Format(time.RFC3339), Events: make([]exportedEvent, 0, len(events))}
	for _, e := range events {
		out.Events = append(out.Events, exportedEvent{
			Kind: e.Kind, Provider: e.Provider, IdentityID: e.IdentityID, IP: e.IP, UserAgent: e.UserAgent,
			At: e.At.UTC().Format(time.RFC3339),
		})
	}
	body, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		a.failPage(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="linkport-activity.json"`)
	c.Data(http.StatusOK, "application/json; charset=utf-8", append(body, '\n'))
}
