package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/views"
	"github.com/linkport/linkport/views/locale"
)

const (
	ctxUser       = "user"
	ctxIdentities = "identities" // []accounts.Identity, as requireUser read them
)

// requireUser lets signed-in people through and sends everyone else to the
// sign-in page, with a way back here. The user is loaded on every request:
// a session whose account is gone (merged away), or whose sign-in account
// was removed, ends here (C-06d).
func (a *App) requireUser(c *gin.Context) {
	ctx := c.Request.Context()
	if uid := a.userID(ctx); uid != 0 {
		u, ids, err := a.accounts.SessionUserIdentities(ctx, uid, a.sessions.GetInt64(ctx, keyIdentityID))
		if err == nil {
			c.Set(ctxUser, u)
			c.Set(ctxIdentities, ids)
			c.Next()
			return
		}
		switch {
		case errors.Is(err, accounts.ErrSignInRemoved):
			// Refused, but not ended here: the unlink that removed the
			// account already revoked the other sessions it started, and
			// this may be a concurrent request of the very session that
			// removed it, whose renewal must not be undone.
		case errors.Is(err, accounts.ErrNotFound), errors.Is(err, accounts.ErrAccountDeleted):
			_ = a.endSession(ctx)
		default:
			a.failPage(c, err)
			c.Abort()
			return
		}
	}
	seeOther(c, "/login?next="+url.QueryEscape(c.Request.URL.RequestURI()))
	c.Abort()
}

func currentUser(c *gin.Context) accounts.User {
	u, _ := c.Get(ctxUser)
	user, _ := u.(accounts.User)
	return user
}

// accountsPage answers GET /accounts: the connected accounts, as
// requireUser read them for this request (nothing has changed them since).
func (a *App) accountsPage(c *gin.Context) {
	ids, _ := c.Get(ctxIdentities)
	idents, _ := ids.([]accounts.Identity)
	sec := a.connectedSectionOf(c, a.popFlash(c.Request.Context()), false, idents)
	user := currentUser(c)
	page := views.AccountsPage{DisplayName: user.DisplayName, AvatarURL: user.AvatarURL, Connected: sec}
	for _, p := range a.providers.All() {
		page.Providers = append(page.Providers, views.ProviderButton{Name: p.Name(), Label: p.Label, Icon: a.icon(p.Name()),
			Unavailable: a.health.unavailable(p.Name())})
	}
	activity, err := a.activity(c)
	if err != nil {
		a.failPage(c, err)
		return
	}
	page.Activity = activity
	a.render(c, http.StatusOK, views.Accounts(a.layout(c, "accounts.title"), page))
}

// connectedSection builds the part of the page that htmx swaps after a
// change: the notice, the list, the profile choices, and the header. It
// reads the user and the identities afresh: a change has just been made,
// and may have moved the display name or picture to another account.
func (a *App) connectedSection(c *gin.Context, notice string, isError bool) (views.ConnectedSection, error) {
	ctx := c.Request.Context()
	u, err := a.accounts.User(ctx, currentUser(c).ID)
	if err != nil {
		return views.ConnectedSection{}, err
	}
	c.Set(ctxUser, u)
	ids, err := a.accounts.Identities(ctx, u.ID)
	if err != nil {
		return views.ConnectedSection{}, err
	}
	return a.connectedSectionOf(c, notice, isError, ids), nil
}

// connectedSectionOf is connectedSection with the user's identities ids.
func (a *App) connectedSectionOf(c *gin.Context, notice string, isError bool, ids []accounts.Identity) views.ConnectedSection {
	ctx := c.Request.Context()
	user := currentUser(c)
	sec := views.ConnectedSection{Notice: notice, NoticeIsError: isError,
		NameSource: user.NameIdentityID, AvatarSource: user.AvatarIdentityID,
		DisplayName: user.DisplayName, AvatarURL: user.AvatarURL}
	current := a.sessions.GetInt64(ctx, keyIdentityID)
	for _, id := range ids {
		sec.Identities = append(sec.Identities, a.identityView(id, current))
	}
	return sec
}

func (a *App) identityView(id accounts.Identity, current int64) views.IdentityView {
	return views.IdentityView{
		ID:            id.ID,
		Provider:      id.Provider,
		ProviderLabel: a.label(id.Provider),
		Icon:          a.icon(id.Provider),
		Name:          id.Name,
		Nickname:      id.Nickname,
		Email:         id.Email,
		EmailVerified: id.EmailVerified,
		AvatarURL:     id.AvatarURL,
		LinkedAt:      id.CreatedAt,
		LastUsedAt:    id.LastUsedAt,
		Current:       id.ID == current,
	}
}

// profileView shows a provider account that is not (yet) connected.
func (a *App) profileView(p accounts.Profile) views.IdentityView {
	return views.IdentityView{
		Provider: p.Provider, ProviderLabel: a.label(p.Provider), Icon: a.icon(p.Provider),
		Name: p.Name, Nickname: p.Nickname, Email: p.Email, EmailVerified: p.EmailVerified, AvatarURL: p.AvatarURL,
	}
}

// label is a provider's human name; a provider no longer configured keeps
// its URL name.
func (a *App) label(provider string) string {
	if p, ok := a.providers.Get(provider); ok {
		return p.Label
	}
	return provider
}

// unlinkIdentity answers POST /accounts/identities/{id}/unlink. Without
// confirm=yes it shows a confirmation page naming the account (so the plain
// form is safe with JavaScript off); htmx sends confirm=yes after its own
// dialog and gets the updated section back.
func (a *App) unlinkIdentity(c *gin.Context) {
	ctx := c.Request.Context()
	user := currentUser(c)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		a.renderProblem(c, problemNotFound)
		return
	}
	if c.PostForm("confirm") != "yes" {
		ids, err := a.accounts.Identities(ctx, user.ID)
		if err != nil {
			a.failPage(c, err)
			return
		}
		for _, idn := range ids {
			if idn.ID == id {
				a.render(c, http.StatusOK, views.UnlinkConfirm(a.layout(c, "unlink.title"), a.identityView(idn, 0), len(ids) == 1))
				return
			}
		}
		a.renderProblem(c, problemNotFound)
		return
	}
	res, err := a.accounts.Unlink(ctx, user.ID, id, a.meta(c))
	switch {
	case errors.Is(err, accounts.ErrLastIdentity):
		a.audit(c, "unlink", outcomeRefused, user.ID, "", slog.Int64("identity_id", id), slog.String("reason", "last identity"))
		a.changeFailed(c, problemLastIdentity)
		return
	case err != nil:
		a.audit(c, "unlink", outcomeFailed, user.ID, "", slog.Int64("identity_id", id), slog.String("err", err.Error()))
		a.failPage(c, err)
		return
	}
	a.audit(c, "unlink", outcomeOK, user.ID, res.Removed.Provider, slog.Int64("identity_id", res.Removed.ID))
	// The row and its tokens are gone; now ask the provider to forget the
	// grant too (A-13d), best effort.
	a.revokeTokens(ctx, c, res.Removed.Provider, res.Tokens)
	// The session doing the removal goes on; every other session that
	// signed in with the removed account is revoked now, and would end at
	// its next request anyway (C-06d, B-05b).
	// The token is renewed first: a concurrent request of this browser
	// that still holds the old token and sees the removal ends the old
	// token only, never the renewed one (it finds the index row moved).
	if a.sessions.GetInt64(ctx, keyIdentityID) == res.Removed.ID {
		a.sessions.Put(ctx, keyIdentityID, int64(0))
	}
	if err := a.renewToken(ctx); err != nil {
		a.renderProblem(c, problemStoreDown)
		return
	}
	revoked, err := a.index.RevokeIdentity(ctx, user.ID, res.Removed.ID, tokenHash(a.sessions.Token(ctx)))
	if err != nil {
		a.failPage(c, err)
		return
	}
	notice := []string{locale.Td(ctx, "notice.removed", a.accountData(res.Removed))}
	if revoked > 0 {
		notice = append(notice, locale.Tn(ctx, "notice.removed_sessions", revoked, nil))
	}
	for _, f := range res.Fallbacks {
		key := "notice.name_from"
		if f.Field == accounts.FieldAvatar {
			key = "notice.avatar_from"
		}
		notice = append(notice, locale.Td(ctx, key, a.accountData(f.To)))
	}
	a.changed(c, strings.Join(notice, " "))
}

// setProfileSources answers POST /accounts/profile: which connected account
// supplies the display name and which the avatar.
func (a *App) setProfileSources(c *gin.Context) {
	ctx := c.Request.Context()
	user := currentUser(c)
	changed := false
	for _, f := range []struct {
		field   accounts.ProfileField
		current int64
	}{{accounts.FieldDisplayName, user.NameIdentityID}, {accounts.FieldAvatar, user.AvatarIdentityID}} {
		raw := c.PostForm(string(f.field))
		if raw == "" {
			continue
		}
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			a.renderProblem(c, problemNotFound)
			return
		}
		if id == f.current {
			continue
		}
		if err := a.accounts.SetProfileSource(ctx, user.ID, f.field, id, a.meta(c)); err != nil {
			a.failPage(c, err)
			return
		}
		changed = true
	}
	if !changed {
		a.changed(c, locale.T(ctx, "notice.nothing_to_change"))
		return
	}
	// Reload: the section shows the new sources.
	u, err := a.accounts.User(ctx, user.ID)
	if err != nil {
		a.failPage(c, err)
		return
	}
	c.Set(ctxUser, u)
	a.changed(c, locale.Td(ctx, "notice.profile_saved", locale.Data{"Name": u.DisplayName}))
}

// changed ends a successful change: htmx gets the updated section; a plain
// form gets the notice on the next page.
func (a *App) changed(c *gin.Context, notice string) {
	if isHTMX(c) {
		a.renderSection(c, http.StatusOK, notice, false)
		return
	}
	a.flash(c.Request.Context(), notice)
	c.Redirect(http.StatusSeeOther, "/accounts")
}

// changeFailed refuses a change: htmx gets the section with the reason;
// a plain form gets the error page.
func (a *App) changeFailed(c *gin.Context, p problem) {
	if isHTMX(c) {
		a.renderSection(c, p.status, p.text(c.Request.Context()), true)
		return
	}
	a.renderProblem(c, p)
}

func (a *App) renderSection(c *gin.Context, status int, notice string, isError bool) {
	sec, err := a.connectedSection(c, notice, isError)
	if err != nil {
		a.failPage(c, err)
		return
	}
	events, err := a.activity(c)
	if err != nil {
		a.failPage(c, err)
		return
	}
	a.render(c, status, views.ConnectedUpdate(sec, a.csrfToken(c), events))
}

// activity is the user's newest security events, for the page.
func (a *App) activity(c *gin.Context) ([]views.EventView, error) {
	events, err := a.accounts.Events(c.Request.Context(), currentUser(c).ID, 10)
	if err != nil {
		return nil, err
	}
	out := make([]views.EventView, 0, len(events))
	for _, e := range events {
		out = append(out, views.EventView{
			What: eventText(c.Request.Context(), e.Kind), Provider: a.label(e.Provider), IP: e.IP, At: e.At,
		})
	}
	return out, nil
}

// accountData names a connected account for a message: its provider
// and who it is.
func (a *App) accountData(id accounts.Identity) locale.Data {
	return locale.Data{"Provider": a.label(id.Provider), "Account": a.identityView(id, 0).Label()}
}

// mergedNotice says what a merge moved, in the person's language.
func mergedNotice(ctx context.Context, identities, events int) string {
	return locale.Td(ctx, "notice.merged", locale.Data{
		"Accounts": locale.Tn(ctx, "count.connected_accounts", identities, nil),
		"Events":   locale.Tn(ctx, "count.timeline_events", events, nil),
	})
}

// failPage renders the page for an error from accounts or providers.
func (a *App) failPage(c *gin.Context, err error) {
	p := problemFor(err)
	if p.status >= 500 {
		a.log.ErrorContext(c.Request.Context(), "request failed", "err", err)
	}
	a.renderProblem(c, p)
}
