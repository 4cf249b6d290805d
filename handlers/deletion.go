package handlers

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/views"
	"github.com/linkport/linkport/views/locale"
)

// pendingRestore is a sign-in that came back with an identity of an
// account in its deletion grace period: the offer to restore it. It is
// bound to this session and to that provider account, single-use and
// short-lived, like a pending link.
type pendingRestore struct {
	ID         string           `json:"id"`
	UserID     int64            `json:"user_id"` // the deleted account
	Profile    accounts.Profile `json:"profile"` // the proof: a sign-in with one of its identities
	PurgeAfter int64            `json:"purge_after"`
	Created    int64            `json:"created"`
}

func (p pendingRestore) itemKey() string  { return p.ID }
func (p pendingRestore) createdAt() int64 { return p.Created }

// deletePage answers GET /accounts/delete: what deleting the account
// erases, the grace period, and how to restore it.
func (a *App) deletePage(c *gin.Context) { a.renderDelete(c, http.StatusOK, "") }

func (a *App) renderDelete(c *gin.Context, status int, problem string) {
	ctx := c.Request.Context()
	user := currentUser(c)
	ids, err := a.accounts.Identities(ctx, user.ID)
	if err != nil {
		a.failPage(c, err)
		return
	}
	events, err := a.accounts.Events(ctx, user.ID, 0)
	if err != nil {
		a.failPage(c, err)
		return
	}
	sessions, err := a.index.List(ctx, user.ID)
	if err != nil {
		a.failPage(c, err)
		return
	}
	page := views.DeletePage{
		DisplayName: user.DisplayName, Events: len(events), Sessions: len(sessions),
		Grace: graceText(ctx, a.accounts.DeletionGrace()), Problem: problem,
	}
	for _, id := range ids {
		page.Identities = append(page.Identities, a.identityView(id, 0))
	}
	a.render(c, status, views.Delete(a.layout(c, "delete.title"), page))
}

// deleteAccount answers POST /accounts/delete (after a step-up): the
// account is marked deleted, its stored provider tokens erased, and every
// session of it, this one included, ends now.
func (a *App) deleteAccount(c *gin.Context) {
	ctx := c.Request.Context()
	user := currentUser(c)
	if c.PostForm("confirm") != "yes" {
		a.renderDelete(c, http.StatusUnprocessableEntity, locale.T(ctx, "delete.tick"))
		return
	}
	d, err := a.accounts.Delete(ctx, user.ID, a.meta(c))
	if err != nil {
		a.failPage(c, err)
		return
	}
	// The account is already refused at every session's next request
	// (SessionUser); revoking the index rows ends them now (B-05a).
	if _, err := a.index.RevokeOthers(ctx, user.ID, tokenHash(a.sessions.Token(ctx))); err != nil {
		a.log.ErrorContext(ctx, "revoke sessions of a deleted account", "err", err, "user_id", user.ID)
	}
	if err := a.endSession(ctx); err != nil {
		a.renderProblem(c, problemStoreDown)
		return
	}
	a.log.InfoContext(ctx, "account deleted", "user_id", user.ID, "purge_after", d.PurgeAfter)
	c.Header("Clear-Site-Data", `"cache", "cookies", "storage"`)
	seeOther(c, a.keepPreferences(c, "/deleted?until="+d.PurgeAfter.UTC().Format(time.DateOnly)))
}

// deletedPage answers GET /deleted: the goodbye page after a deletion.
func (a *App) deletedPage(c *gin.Context) {
	page := views.DeletedPage{Grace: graceText(c.Request.Context(), a.accounts.DeletionGrace())}
	// Only a well-formed date is shown, so the page reflects nothing else.
	if t, err := time.Parse(time.DateOnly, c.Query("until")); err == nil {
		page.Until = t
	}
	a.render(c, http.StatusOK, views.Deleted(a.layout(c, "deleted.title"), page))
}

// offerRestore keeps a sign-in with an identity of a deleted account and
// returns the page that offers to restore it.
func (a *App) offerRestore(c *gin.Context, del *accounts.DeletedError, p accounts.Profile) string {
	r := pendingRestore{ID: randomToken(), UserID: del.UserID, Profile: p, PurgeAfter: del.PurgeAfter.Unix(), Created: a.now().Unix()}
	addItem(a, c.Request.Context(), keyRestores, r)
	return "/restore?id=" + r.ID
}

// restoreOffer finds a live restore offer of this session; take removes
// it (single use).
func (a *App) restoreOffer(c *gin.Context, id string, take bool) (pendingRestore, bool) {
	ctx := c.Request.Context()
	r, ok := getItem[pendingRestore](a, ctx, keyRestores, id, take)
	return r, ok && a.live(r)
}

// restorePage answers GET /restore?id=...: "This account is scheduled for
// deletion on ... Restore it?"
func (a *App) restorePage(c *gin.Context) {
	r, ok := a.restoreOffer(c, c.Query("id"), false)
	if !ok {
		a.renderProblem(c, problemRestoreExpired)
		return
	}
	a.render(c, http.StatusOK, views.Restore(a.layout(c, "restore.title"), views.RestorePage{
		ID: r.ID, Account: a.profileView(r.Profile), Until: time.Unix(r.PurgeAfter, 0),
	}))
}

// restoreAccount answers POST /restore: "Restore it" signs the person in
// to the restored account; "Leave it deleted" changes nothing.
func (a *App) restoreAccount(c *gin.Context) {
	ctx := c.Request.Context()
	r, ok := a.restoreOffer(c, c.PostForm("id"), true)
	if !ok {
		a.renderProblem(c, problemRestoreExpired)
		return
	}
	if c.PostForm("action") != "restore" {
		seeOther(c, "/deleted?until="+time.Unix(r.PurgeAfter, 0).UTC().Format(time.DateOnly))
		return
	}
	res, err := a.accounts.Restore(ctx, r.UserID, r.Profile, a.meta(c))
	if errors.Is(err, accounts.ErrProofGone) {
		a.renderProblem(c, problemRestoreExpired)
		return
	}
	if err != nil {
		a.failPage(c, err)
		return
	}
	if err := a.startSession(ctx, res, a.meta(c)); err != nil {
		a.renderProblem(c, problemStoreDown)
		return
	}
	a.flash(ctx, locale.T(ctx, "notice.restored"))
	seeOther(c, "/accounts")
}

var problemRestoreExpired = problem{"restoreexpired", http.StatusBadRequest, "error.restoreexpired.heading", "error.restoreexpired.message", "nav.back_sign_in", "/login", nil}
