package handlers

import (
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/views"
)

// requireUser lets signed-in people through and sends everyone else to the
// sign-in page, with a way back here.
func (a *App) requireUser(c *gin.Context) {
	if a.userID(c.Request.Context()) != 0 {
		c.Next()
		return
	}
	seeOther(c, "/login?next="+url.QueryEscape(c.Request.URL.RequestURI()))
	c.Abort()
}

// accountsPage answers GET /accounts: the connected accounts.
func (a *App) accountsPage(c *gin.Context) {
	ctx := c.Request.Context()
	uid := a.userID(ctx)
	user, err := a.accounts.User(ctx, uid)
	if err != nil {
		// The account is gone (or the store is down): never show a page
		// for a user we cannot load.
		a.failPage(c, err)
		return
	}
	ids, err := a.accounts.Identities(ctx, uid)
	if err != nil {
		a.failPage(c, err)
		return
	}
	page := views.AccountsPage{DisplayName: user.DisplayName, AvatarURL: user.AvatarURL}
	current := a.sessions.GetInt64(ctx, keyIdentityID)
	for _, id := range ids {
		page.Identities = append(page.Identities, a.identityView(id, current))
	}
	a.render(c, http.StatusOK, views.Accounts(a.layout(c, "Connected accounts"), page))
}

func (a *App) identityView(id accounts.Identity, current int64) views.IdentityView {
	label := id.Provider
	if p, ok := a.providers.Get(id.Provider); ok {
		label = p.Label
	}
	return views.IdentityView{
		ID:            id.ID,
		Provider:      id.Provider,
		ProviderLabel: label,
		Icon:          a.icon(id.Provider),
		Name:          id.Name,
		Nickname:      id.Nickname,
		Email:         id.Email,
		EmailVerified: id.EmailVerified,
		AvatarURL:     id.AvatarURL,
		LinkedAt:      formatTime(id.CreatedAt),
		LinkedAtISO:   id.CreatedAt.UTC().Format(time.RFC3339),
		LastUsedAt:    formatTime(id.LastUsedAt),
		LastUsedISO:   id.LastUsedAt.UTC().Format(time.RFC3339),
		Current:       id.ID == current,
	}
}

func formatTime(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") }

// failPage renders the page for an error from accounts; a user that no
// longer exists ends the session.
func (a *App) failPage(c *gin.Context, err error) {
	p := problemFor(err)
	if p == problemNotFound {
		_ = a.sessions.Destroy(c.Request.Context())
		c.Redirect(http.StatusSeeOther, "/login")
		return
	}
	a.log.ErrorContext(c.Request.Context(), "request failed", "err", err, "request_id", requestID(c))
	a.renderProblem(c, p)
}
