package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// Handler builds the router. Every state-changing request passes two
// checks: http.CrossOriginProtection refuses cross-site browser requests,
// and requireCSRF wants the session's token.
func (a *App) Handler() (http.Handler, error) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// Gin trusts every proxy by default (K13): trust none unless configured.
	if err := r.SetTrustedProxies(a.cfg.TrustedProxies); err != nil {
		return nil, err
	}
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.Use(requestIDs, a.accessLog, a.recoverPanics, a.securityHeaders, a.localize, a.deadline)

	r.GET("/healthz", a.healthz)
	r.GET("/readyz", a.readyz)
	// No session and no CSRF: scrapers carry no cookie. Operators keep it
	// off the public side of their proxy (.env.example).
	r.GET("/metrics", a.serveMetrics())
	r.GET("/static/*file", a.serveAsset)
	r.GET("/favicon.ico", a.favicon)

	s := r.Group("/", a.loadSession, a.requireCSRF)
	s.GET("/", a.home)
	s.GET("/login", a.loginPage)
	s.POST("/auth/:provider", a.limitByIP(a.limits.signIn), a.beginAuth)
	s.GET("/auth/:provider/callback", a.limitByIP(a.limits.callback), a.oauthCallback)
	s.GET("/auth/error", a.authError)
	u := s.Group("/accounts", a.requireUser)
	// Changes to an account share one budget per user (B-09d).
	change := a.limitByUser(a.limits.change)
	u.GET("", a.accountsPage)
	u.POST("/link/:provider", change, a.requireRecentAuth, a.beginLink)
	u.GET("/link/confirm", a.linkConfirmPage)
	u.POST("/link/confirm", change, a.requireRecentAuth, a.confirmLink)
	u.GET("/link/conflict", a.conflictPage)
	u.POST("/link/switch", change, a.switchAccount)
	u.GET("/merge/preview", a.mergePage)
	u.POST("/merge/confirm", change, a.requireRecentAuth, a.confirmMerge)
	u.POST("/identities/:id/unlink", change, a.requireRecentAuth, a.unlinkIdentity)
	u.POST("/profile", change, a.requireRecentAuth, a.setProfileSources)
	u.GET("/activity", a.timelinePage)
	u.GET("/activity.json", a.timelineExport)
	u.GET("/sessions", a.sessionsPage)
	u.POST("/sessions/:id/revoke", change, a.revokeSession)
	u.POST("/sessions/revoke-others", change, a.requireRecentAuth, a.revokeOtherSessions)
	u.GET("/step-up", a.stepUpPage)
	u.POST("/step-up/:provider", a.beginStepUp)
	u.GET("/step-up/continue", a.stepUpContinuePage)
	u.GET("/delete", a.deletePage)
	u.POST("/delete", change, a.requireRecentAuth, a.deleteAccount)
	s.GET("/deleted", a.deletedPage)
	s.GET("/restore", a.restorePage)
	s.POST("/restore", a.restoreAccount)
	s.POST("/logout", a.logout)
	s.POST("/preferences", a.savePreferences)

	r.NoRoute(a.loadSession, a.notFound)
	r.NoMethod(a.loadSession, a.methodNotAllowed)

	cop := http.NewCrossOriginProtection()
	// The refusal answers before the router, so before the session and the
	// localize middleware: it reads the language itself, and stays plain
	// text (no session, no CSRF token minted for a forged request).
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lang := ""
		if ck, err := r.Cookie(cookieLang); err == nil {
			lang = ck.Value
		}
		l := a.locale.Locale(a.locale.Negotiate(lang, r.Header.Get("Accept-Language")), nil)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Language", l.Lang())
		w.Header().Set("Vary", "Accept-Language")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(l.T("error.cross_site") + "\n"))
	}))
	if a.cfg.Emulator == nil {
		return cop.Handler(r), nil
	}
	// The emulator stands in for other sites: it answers outside the
	// portal's router, so the portal's headers (its CSP above all) do not
	// apply to the emulator's pages; it sets its own.
	mux := http.NewServeMux()
	mux.Handle("/_emulator/", cop.Handler(a.cfg.Emulator))
	mux.Handle("/", cop.Handler(r))
	return mux, nil
}

// notFound renders the 404 page.
func (a *App) notFound(c *gin.Context) { a.renderProblem(c, problemNotFound) }

// methodNotAllowed answers, for example, a GET to a POST-only route (B-07c).
func (a *App) methodNotAllowed(c *gin.Context) { a.renderProblem(c, problemMethod) }
