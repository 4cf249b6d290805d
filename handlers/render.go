package handlers

import (
	"bytes"
	"html"
	"net/http"
	"strconv"

	"github.com/a-h/templ"
	"github.com/gin-gonic/gin"

	"github.com/linkport/linkport/views"
	"github.com/linkport/linkport/views/locale"
)

// layout builds what the shared layout needs for this request; titleKey
// is the catalog key of the page's title.
func (a *App) layout(c *gin.Context, titleKey string) views.Layout {
	return a.layoutWithToken(c, titleKey, a.csrfToken(c))
}

func (a *App) layoutWithToken(c *gin.Context, titleKey, csrf string) views.Layout {
	return views.Layout{
		Title:     locale.T(c.Request.Context(), titleKey),
		CSRFToken: csrf,
		Assets:    a.assets.urls,
		SignedIn:  hasSession(c) && a.userID(c.Request.Context()) != 0,
		Next:      returnHere(c),
		Theme:     theme(c),
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
//
// The buffer comes from a pool (a page is rendered on every request, and
// growing a fresh buffer to the page's size was most of the bytes a
// request allocated), and the page goes out with its Content-Length, in
// one piece rather than chunked.
func (a *App) render(c *gin.Context, status int, comp templ.Component) {
	buf := a.pageBuffer()
	defer a.putPageBuffer(buf)
	if err := comp.Render(c.Request.Context(), buf); err != nil {
		a.log.ErrorContext(c.Request.Context(), "render failed", "err", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString("<!DOCTYPE html><title>Error</title><p>" + html.EscapeString(locale.T(c.Request.Context(), "error.internal.heading")) + "</p>")
	}
	c.Header("Content-Length", strconv.Itoa(buf.Len()))
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// pageBuffer takes a buffer to render a page into from App.pages. A
// response is written before its buffer goes back, so a buffer never
// holds one person's page while another's is rendered into it.
func (a *App) pageBuffer() *bytes.Buffer {
	if b, ok := a.pages.Get().(*bytes.Buffer); ok {
		return b
	}
	return new(bytes.Buffer)
}

// maxPooledPage is the largest buffer kept for reuse: a rare huge page
// (a long timeline export) should not stay in memory.
const maxPooledPage = 256 << 10

func (a *App) putPageBuffer(b *bytes.Buffer) {
	if b.Cap() > maxPooledPage {
		return
	}
	b.Reset()
	a.pages.Put(b)
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
