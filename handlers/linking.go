package handlers

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/views"
	"github.com/linkport/linkport/views/locale"
)

// beginLink answers POST /accounts/link/{provider}: start linking another
// provider account to the signed-in user. "Not you?" posts here too, with
// choose=1, to get the provider's account chooser.
func (a *App) beginLink(c *gin.Context) {
	a.beginFlow(c, intentLink, a.userID(c.Request.Context()), "/accounts")
}

// linkReturned handles a provider account back from a link flow. Nothing is
// attached yet: a new account goes to the preview, one this user already
// has is refreshed, and one of another user leads to the conflict page. It
// returns where to send the browser.
func (a *App) linkReturned(c *gin.Context, userID int64, p accounts.Profile) (string, *callbackError) {
	ctx := c.Request.Context()
	err := a.accounts.CheckLink(ctx, userID, p, a.meta(c))
	var taken *accounts.TakenError
	switch {
	case err == nil:
		id := a.addPending(c, pendingLink{Kind: pendingKindLink, UserID: userID, Profile: p})
		if p.Tokens != nil {
			now := a.now()
			a.held.put(id, userID, *p.Tokens, now, now.Add(a.cfg.FlowTTL))
		}
		return "/accounts/link/confirm?id=" + id, nil
	case errors.Is(err, accounts.ErrAlreadyLinked):
		a.audit(c, "link", outcomeOK, userID, p.Provider, slog.Bool("already_linked", true))
		a.flash(ctx, locale.Td(ctx, "notice.already_linked", locale.Data{"Provider": a.label(p.Provider)}))
		return "/accounts", nil
	case errors.As(err, &taken):
		a.audit(c, "link", outcomeRefused, userID, p.Provider, slog.String("reason", "held by another account"))
		id := a.addPending(c, pendingLink{Kind: pendingKindConflict, UserID: userID, Profile: p})
		return "/accounts/link/conflict?id=" + id, nil
	default:
		return "", fail(problemFor(err), "check link", err)
	}
}

func (a *App) addPending(c *gin.Context, p pendingLink) string {
	p.ID = randomToken()
	p.Created = a.now().Unix()
	addItem(a, c.Request.Context(), keyPending, p)
	return p.ID
}

// pending finds a live pending link of this kind for the signed-in user;
// take removes it (single use).
func (a *App) pending(c *gin.Context, kind, id string, take bool) (pendingLink, bool) {
	ctx := c.Request.Context()
	p, ok := getItem[pendingLink](a, ctx, keyPending, id, take)
	return p, ok && p.Kind == kind && p.UserID == a.userID(ctx) && a.live(p)
}

// conflict finds a live conflict of the signed-in user, as pending does,
// and asks accounts whether it can still be acted on (OtherHolder: the
// proof must still be held by another live account — LINKING.md P7); Merge
// and SwitchTo check again inside their transactions. On failure it
// renders the page and reports false.
func (a *App) conflict(c *gin.Context, id string, take bool) (pendingLink, bool) {
	p, ok := a.pending(c, pendingKindConflict, id, take)
	if !ok {
		a.renderProblem(c, problemLinkExpired)
		return pendingLink{}, false
	}
	if _, err := a.accounts.OtherHolder(c.Request.Context(), p.UserID, p.Profile); err != nil {
		a.failPage(c, err)
		return pendingLink{}, false
	}
	return p, true
}

// linkConfirmPage answers GET /accounts/link/confirm: the preview of the
// provider account about to be attached.
func (a *App) linkConfirmPage(c *gin.Context) {
	p, ok := a.pending(c, pendingKindLink, c.Query("id"), false)
	if !ok {
		a.renderProblem(c, problemLinkExpired)
		return
	}
	a.render(c, http.StatusOK, views.LinkConfirm(a.layout(c, "link.title"), views.LinkConfirmPage{
		ID: p.ID, Account: a.profileView(p.Profile),
	}))
}

// confirmLink answers POST /accounts/link/confirm: "Link it" or "Cancel".
func (a *App) confirmLink(c *gin.Context) {
	ctx := c.Request.Context()
	p, ok := a.pending(c, pendingKindLink, c.PostForm("id"), true)
	if !ok {
		a.renderProblem(c, problemLinkExpired)
		return
	}
	p.Profile.Tokens = a.held.take(p.ID, p.UserID, a.now())
	named := locale.Data{"Provider": a.label(p.Profile.Provider), "Account": a.profileView(p.Profile).Label()}
	if c.PostForm("action") != "link" {
		a.flash(ctx, locale.T(ctx, "notice.nothing_linked"))
		seeOther(c, "/accounts")
		return
	}
	_, err := a.accounts.Link(ctx, p.UserID, p.Profile, a.meta(c))
	var taken *accounts.TakenError
	switch {
	case err == nil:
		a.audit(c, "link", outcomeOK, p.UserID, p.Profile.Provider)
		a.flash(ctx, locale.Td(ctx, "notice.linked", named))
	case errors.Is(err, accounts.ErrAlreadyLinked):
		a.audit(c, "link", outcomeOK, p.UserID, p.Profile.Provider, slog.Bool("already_linked", true))
		a.flash(ctx, locale.Td(ctx, "notice.already_linked", named))
	case errors.As(err, &taken):
		a.audit(c, "link", outcomeRefused, p.UserID, p.Profile.Provider, slog.String("reason", "held by another account"))
		// Someone else linked it between the preview and now.
		id := a.addPending(c, pendingLink{Kind: pendingKindConflict, UserID: p.UserID, Profile: p.Profile})
		seeOther(c, "/accounts/link/conflict?id="+id)
		return
	default:
		a.failPage(c, err)
		return
	}
	if err := a.renewToken(ctx); err != nil {
		a.renderProblem(c, problemStoreDown)
		return
	}
	seeOther(c, "/accounts")
}

// conflictPage answers GET /accounts/link/conflict: the provider account
// belongs to another Linkport account. Nothing was changed; the person may
// sign in there instead, or merge it into this account.
func (a *App) conflictPage(c *gin.Context) {
	p, ok := a.conflict(c, c.Query("id"), false)
	if !ok {
		return
	}
	a.render(c, http.StatusConflict, views.Conflict(a.layout(c, "conflict.title"), views.ConflictPage{
		ID: p.ID, Account: a.profileView(p.Profile),
	}))
}

// switchAccount answers POST /accounts/link/switch: sign in to the account
// that holds the provider account instead. The person proved control of
// that provider account moments ago, so this is an ordinary sign-in with it.
func (a *App) switchAccount(c *gin.Context) {
	ctx := c.Request.Context()
	p, ok := a.conflict(c, c.PostForm("id"), true)
	if !ok {
		return
	}
	res, err := a.accounts.SwitchTo(ctx, p.Profile, a.meta(c))
	if err != nil {
		a.failPage(c, err)
		return
	}
	if err := a.startSession(ctx, res, a.meta(c)); err != nil {
		a.renderProblem(c, problemStoreDown)
		return
	}
	a.flash(ctx, locale.Td(ctx, "notice.switched", locale.Data{"Provider": a.label(p.Profile.Provider)}))
	seeOther(c, "/accounts")
}

// mergePage answers GET /accounts/merge/preview: what merging the other
// account into this one would move, and which profile survives.
func (a *App) mergePage(c *gin.Context) {
	p, ok := a.conflict(c, c.Query("id"), false)
	if !ok {
		return
	}
	a.renderMerge(c, p, http.StatusOK, "")
}

func (a *App) renderMerge(c *gin.Context, p pendingLink, status int, problem string) {
	pv, err := a.accounts.MergePreview(c.Request.Context(), p.UserID, p.Profile)
	if err != nil {
		a.failPage(c, err)
		return
	}
	page := views.MergePage{ID: p.ID, Account: a.profileView(p.Profile), Events: pv.Events, Problem: problem,
		KeepName: pv.Into.DisplayName, KeepAvatar: pv.Into.AvatarURL}
	for _, id := range pv.Moving {
		page.Moving = append(page.Moving, a.identityView(id, 0))
	}
	for _, id := range pv.Keeping {
		page.Keeping = append(page.Keeping, a.identityView(id, 0))
	}
	a.render(c, status, views.Merge(a.layout(c, "merge.title"), page))
}

// confirmMerge answers POST /accounts/merge/confirm. It needs the explicit
// confirmation box and a conflict found within the flow lifetime: the
// provider sign-in that proved the other account must be fresh.
func (a *App) confirmMerge(c *gin.Context) {
	ctx := c.Request.Context()
	id := c.PostForm("id")
	if c.PostForm("confirm") != "yes" {
		if p, ok := a.conflict(c, id, false); ok {
			a.renderMerge(c, p, http.StatusUnprocessableEntity, locale.T(ctx, "merge.tick"))
		}
		return
	}
	p, ok := a.conflict(c, id, true)
	if !ok {
		return
	}
	// Merge finds the account to merge from the proving identity inside its
	// transaction, so an unlink racing with this request cannot slip by.
	res, err := a.accounts.Merge(ctx, p.UserID, p.Profile, a.meta(c))
	if err != nil {
		a.failPage(c, err)
		return
	}
	// The other account is gone: its sessions find no user at their next
	// request and end there (requireUser).
	if err := a.renewToken(ctx); err != nil {
		a.renderProblem(c, problemStoreDown)
		return
	}
	a.flash(ctx, mergedNotice(ctx, len(res.Moved), res.Events))
	seeOther(c, "/accounts")
}
