package handlers

import (
	"bytes"
	"net/http"

	"github.com/a-h/templ"
	"github.com/gin-gonic/gin"

	"github.com/linkport/linkport/views"
)

// layout builds what the shared layout needs for this request.
func (a *App) layout(c *gin.Context, title string) views.Layout {
	return a.layoutWithToken(c, title, a.csrfToken(c))
}

func (a *App) layoutWithToken(c *gin.Context, title, csrf string) views.Layout {
	return views.Layout{
		Title:     title,
		CSRFToken: csrf,
		Assets:    a.assets.urls,
		SignedIn:  hasSession(c) && a.userID(c.Request.Context()) != 0,
	}
}

// render writes a component with a status. It renders into a buffer first,
// so a failing component yields the error page, not half a page.
//
// Pages are deliberately sent uncompressed, unlike the static files
// (serveAsset). Compressing them would open BREACH: every page carries the
// session's CSRF token, which is the same on every response (not masked
// per response), and pages reflect request input (/login?next= into a
// hidden field, notices, error pages), so an attacker who can make a
// victim's browser send chosen requests and watch the response sizes could
// recover the token a byte at a time. The pages are small (/login is about
// 2.6 KB); htmx and the CSS, which are most of the login page's weight, are
// gzipped. Compressing pages would first need a per-response masked token.
func (a *App) render(c *gin.Context, status int, comp templ.Component) {
	var buf bytes.Buffer
	if err := comp.Render(c.Request.Context(), &buf); err != nil {
		a.log.ErrorContext(c.Request.Context(), "render failed", "err", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString("<!DOCTYPE html><title>Error</title><p>Something went wrong on our side.</p>")
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// isHTMX reports whether htmx sent the request, so a fragment is enough.
func isHTMX(c *gin.Context) bool { return c.GetHeader("HX-Request") == "true" }

// seeOther redirects after a POST (or a callback) with 303, never 307: a
// 307 would make the browser re-send the form body to the target (K7).
// htmx gets HX-Redirect instead, since it would follow a 303 itself and
// swap the target page into a fragment.
func seeOther(c *gin.Context, to string) {
	if isHTMX(c) {
		c.Header("HX-Redirect", to)
		c.Status(http.StatusNoContent)
		return
	}
	c.Redirect(http.StatusSeeOther, to)
}
