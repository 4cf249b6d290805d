package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/views/locale"
)

// The preference cookies. lang and theme are set by the switchers and
// read only here, so they are HttpOnly; tz is also set by static/prefs.js
// from the browser's own time zone, so script must be able to write it.
// None is a secret: they only choose how pages read and look.
const (
	cookieLang  = "lang"
	cookieTZ    = "tz"
	cookieTheme = "theme"
	// prefsMaxAge keeps a choice for a year.
	prefsMaxAge = 365 * 24 * 60 * 60
)

// localize puts the request's Locale in its context, for the views and
// the handlers' notices: the language of the lang cookie, else the best
// match of Accept-Language, else English; the time zone of the tz cookie,
// else none (times in UTC, saying so). A GET with ?lang=en|ko uses and
// remembers that language, and one with ?theme= that colour scheme:
// sign-out's Clear-Site-Data wipes the cookies, and the redirect after it
// carries the choices over (keepPreferences).
func (a *App) localize(c *gin.Context) {
	lang := ""
	if q := c.Query(cookieLang); c.Request.Method == http.MethodGet && a.locale.Supported(q) {
		lang = q
		if q != cookieValue(c, cookieLang) {
			a.setPreference(c, cookieLang, q, true)
		}
	}
	if q := themeQuery(c); q != "" && q != savedTheme(c) {
		a.setTheme(c, q)
	}
	if lang == "" {
		lang = a.locale.Negotiate(cookieValue(c, cookieLang), c.GetHeader("Accept-Language"))
	}
	var zone *time.Location
	if name := cookieValue(c, cookieTZ); name != "" {
		zone, _ = a.locale.Zone(name)
	}
	c.Request = c.Request.WithContext(locale.With(c.Request.Context(), a.locale.Locale(lang, zone)))
	if !strings.HasPrefix(c.Request.URL.Path, "/static/") {
		c.Writer.Header().Add("Vary", "Accept-Language")
	}
	c.Next()
}

// cookieValue is the value of a request cookie, "" when absent. A tz
// written by script may come percent-encoded.
func cookieValue(c *gin.Context, name string) string {
	ck, err := c.Request.Cookie(name)
	if err != nil {
		return ""
	}
	if v, err := url.QueryUnescape(ck.Value); err == nil {
		return v
	}
	return ""
}

// setPreference remembers a preference for a year.
func (a *App) setPreference(c *gin.Context, name, value string, httpOnly bool) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: prefsMaxAge,
		HttpOnly: httpOnly, Secure: a.secure, SameSite: http.SameSiteLaxMode,
	})
}

// The choices of the theme switcher. themeSystem follows the browser's
// prefers-color-scheme; it is the default, so choosing it forgets the
// cookie.
const (
	themeLight  = "light"
	themeDark   = "dark"
	themeSystem = "system"
)

// validTheme reports whether v is one of the theme switcher's choices.
func validTheme(v string) bool {
	return v == themeLight || v == themeDark || v == themeSystem
}

// setTheme remembers a theme choice; the system's is the default, so it
// clears the cookie rather than storing it.
func (a *App) setTheme(c *gin.Context, theme string) {
	if theme != themeSystem {
		a.setPreference(c, cookieTheme, theme, true)
		return
	}
	http.SetCookie(c.Writer, &http.Cookie{
		Name: cookieTheme, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode,
	})
}

// theme is the colour scheme the person chose for this request's pages:
// "light" or "dark", or "" to follow the system. The layout writes it
// into <html data-theme>, so the page is drawn in it from the first
// paint, with JavaScript off too. A GET's ?theme= wins over the cookie
// it replaces (see localize).
func theme(c *gin.Context) string {
	v := themeQuery(c)
	if v == "" {
		v = savedTheme(c)
	}
	if v == themeSystem {
		return ""
	}
	return v
}

// savedTheme is the theme the cookie holds: light, dark, or system when
// there is none (or one this version does not know).
func savedTheme(c *gin.Context) string {
	if v := cookieValue(c, cookieTheme); v == themeLight || v == themeDark {
		return v
	}
	return themeSystem
}

// themeQuery is a GET's valid ?theme=, else "".
func themeQuery(c *gin.Context) string {
	if q := c.Query(cookieTheme); c.Request.Method == http.MethodGet && validTheme(q) {
		return q
	}
	return ""
}

// savePreferences answers POST /preferences, the language and theme
// switchers of every page: it remembers the language or theme chosen and
// the time zone that prefs.js put in the form, and goes back to the page.
// A value it does not know is ignored, never an error: the person gets
// the page back as it was.
func (a *App) savePreferences(c *gin.Context) {
	if lang := c.PostForm(cookieLang); a.locale.Supported(lang) {
		a.setPreference(c, cookieLang, lang, true)
	}
	if t := c.PostForm(cookieTheme); validTheme(t) {
		a.setTheme(c, t)
	}
	if tz := c.PostForm(cookieTZ); tz != "" {
		if _, ok := a.locale.Zone(tz); ok {
			a.setPreference(c, cookieTZ, tz, false)
		}
	}
	c.Redirect(http.StatusSeeOther, safeReturnPath(c.PostForm("next")))
}

// returnHere is where the switchers of this page return: the page
// itself when a GET rendered it (without a ?lang= or ?theme=, which would
// undo the choice), else the start page.
func returnHere(c *gin.Context) string {
	if c.Request.Method != http.MethodGet || isHTMX(c) {
		return "/"
	}
	u := *c.Request.URL
	if q := u.Query(); q.Has(cookieLang) || q.Has(cookieTheme) {
		q.Del(cookieLang)
		q.Del(cookieTheme)
		u.RawQuery = q.Encode()
	}
	here := u.RequestURI()
	if safeReturnPath(here) != here {
		return "/"
	}
	return here
}

// keepPreferences adds the language and theme the person chose to a
// local path that a response with Clear-Site-Data "cookies" redirects
// to, so the next page remembers them (see localize): the page after
// signing out is not suddenly in another language or colour scheme.
func (a *App) keepPreferences(c *gin.Context, path string) string {
	if lang := cookieValue(c, cookieLang); a.locale.Supported(lang) {
		path = withParam(path, cookieLang, lang)
	}
	if t := theme(c); t != "" {
		path = withParam(path, cookieTheme, t)
	}
	return path
}

// withParam adds name=value, both plain words, to a local path's query.
func withParam(path, name, value string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + name + "=" + value
}

// eventText says in the person's language what a timeline event means.
func eventText(ctx context.Context, kind string) string {
	key := ""
	switch kind {
	case accounts.EventSignedUp:
		key = "event.signed_up"
	case accounts.EventSignedIn:
		key = "event.signed_in"
	case accounts.EventLinked:
		key = "event.linked"
	case accounts.EventUnlinked:
		key = "event.unlinked"
	case accounts.EventMerged:
		key = "event.merged"
	case accounts.EventLinkRefused:
		key = "event.link_refused"
	case accounts.EventProfileChanged:
		key = "event.profile_changed"
	case accounts.EventSessionRevoked:
		key = "event.session_revoked"
	case accounts.EventSteppedUp:
		key = "event.stepped_up"
	case accounts.EventDeletionRequested:
		key = "event.deletion_requested"
	case accounts.EventRestored:
		key = "event.restored"
	default:
		return kind
	}
	return locale.T(ctx, key)
}

// deviceWords names a session's device and browser from its User-Agent
// in the person's language ("Windows computer", "Firefox").
func deviceWords(ctx context.Context, ua string) (dev, browser string) {
	d, b := device(ua)
	return locale.T(ctx, d), locale.T(ctx, b)
}

// deviceLabel is a short "Firefox on Linux computer" for a stored user
// agent, in the person's language; "" for none. The export keeps the
// whole string.
func deviceLabel(ctx context.Context, ua string) string {
	if ua == "" {
		return ""
	}
	dev, browser := deviceWords(ctx, ua)
	return locale.Td(ctx, "session.device", locale.Data{"Browser": browser, "Device": dev})
}

// graceText says a grace period in words: "7 days", "36 hours", "90
// minutes".
func graceText(ctx context.Context, d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return locale.Tn(ctx, "duration.days", int(d/(24*time.Hour)), nil)
	case d >= 2*time.Hour:
		return locale.Tn(ctx, "duration.hours", int(d/time.Hour), nil)
	}
	return locale.Tn(ctx, "duration.minutes", int((d+time.Minute-1)/time.Minute), nil)
}

// waitText says how long to wait before trying again: "a second", "30
// seconds", "2 minutes".
func waitText(ctx context.Context, secs int) string {
	if secs < 120 {
		return locale.Tn(ctx, "wait.seconds", max(secs, 1), nil)
	}
	return locale.Tn(ctx, "wait.minutes", (secs+59)/60, nil)
}
