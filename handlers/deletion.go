package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/views"
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
		Grace: graceText(a.accounts.DeletionGrace()), Problem: problem,
	}
	for _, id := range ids {
		page.Identities = append(page.Identities, a.identityView(id, 0))
	}
	a.render(c, status, views.Delete(a.layout(c, "Delete your account"), page))
}

// deleteAccount answers POST /accounts/delete (after a step-up): the
// account is marked deleted, its stored provider tokens erased, and every
// session of it, this one included, ends now.
func (a *App) deleteAccount(c *gin.Context) {
	ctx := c.Request.Context()
	user := currentUser(c)
	if c.PostForm("confirm") != "yes" {
		a.renderDelete(c, http.StatusUnprocessableEntity, "Tick the box to confirm that you want to delete your account.")
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
	seeOther(c, "/deleted?until="+d.PurgeAfter.UTC().Format(time.DateOnly))
}

// deletedPage answers GET /deleted: the goodbye page after a deletion.
func (a *App) deletedPage(c *gin.Context) {
	page := views.DeletedPage{Grace: graceText(a.accounts.DeletionGrace())}
	// Only a well-formed date is shown, so the page reflects nothing else.
	if t, err := time.Parse(time.DateOnly, c.Query("until")); err == nil {
		page.Until = t.Format("2 January 2006")
	}
	a.render(c, http.StatusOK, views.Deleted(a.layout(c, "Account deleted"), page))
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
	a.render(c, http.StatusOK, views.Restore(a.layout(c, "Restore your account?"), views.RestorePage{
		ID: r.ID, Account: a.profileView(r.Profile), Until: formatTime(time.Unix(r.PurgeAfter, 0)),
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
	a.flash(ctx, "Welcome back: your Linkport account is restored and will not be deleted.")
	seeOther(c, "/accounts")
}

var problemRestoreExpired = problem{"restoreexpired", http.StatusBadRequest, "This offer has expired",
	"It was already answered, or it is more than 10 minutes old, or the account can no longer be restored. Sign in again to see what is possible.", "Back to sign-in", "/login"}

// graceText says a grace period in words: "7 days", "36 hours".
func graceText(d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", d/time.Hour)
	}
	return d.String()
}
