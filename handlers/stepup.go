package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/markbates/goth"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/providers"
	"github.com/linkport/linkport/views"
	"github.com/linkport/linkport/views/locale"
)

// intentReauth is a flow that confirms who the signed-in person is before
// a sensitive change (SECURITY.md B-08): it must come back with one of the
// user's own identities and never signs anyone in.
const intentReauth = "reauth"

// fieldStepUp is the form field of the Continue button: the id of the
// pending action it carries on with.
const fieldStepUp = "step_up"

// maxActionForm bounds, encoded, the form a pending action keeps.
const maxActionForm = 4096

// pendingAction is a sensitive request that arrived with a sign-in older
// than Config.StepUpAge. It waits in the session, bound to the user,
// single-use and short-lived, while the person confirms who they are; the
// Continue button then performs exactly it. It keeps the form without the
// CSRF token: the request that carries it on brings the current one.
type pendingAction struct {
	ID      string     `json:"id"`
	UserID  int64      `json:"user_id"`
	Method  string     `json:"method"`
	Path    string     `json:"path"`
	Form    url.Values `json:"form,omitempty"`
	Created int64      `json:"created"`
}

func (p pendingAction) itemKey() string  { return p.ID }
func (p pendingAction) createdAt() int64 { return p.Created }

// recentAuth reports whether the person proved who they are within
// Config.StepUpAge.
func (a *App) recentAuth(ctx context.Context) bool {
	at := a.sessions.GetInt64(ctx, keyAuthAt)
	return at != 0 && a.now().Sub(time.Unix(at, 0)) <= a.cfg.StepUpAge
}

// requireRecentAuth guards a sensitive route (B-08). With a recent sign-in
// the request goes on. Otherwise nothing is done: the request is kept as a
// pending action and the person is sent to confirm who they are. The
// Continue button after that posts the action's id to the same route, and
// the kept form replaces whatever the request carries, so exactly the
// action that was asked for is carried on, and only once.
func (a *App) requireRecentAuth(c *gin.Context) {
	ctx := c.Request.Context()
	if id := c.PostForm(fieldStepUp); id != "" {
		act, ok := a.action(c, id, true)
		if !ok || act.Method != c.Request.Method || act.Path != c.Request.URL.Path || !replaceForm(c, act.Form) {
			a.renderProblem(c, problemLinkExpired)
			c.Abort()
			return
		}
	}
	if a.recentAuth(ctx) {
		c.Next()
		return
	}
	form := url.Values{}
	for k, v := range c.Request.PostForm {
		if k != "csrf_token" && k != fieldStepUp {
			form[k] = v
		}
	}
	if len(form.Encode()) > maxActionForm {
		a.renderProblem(c, problemBadInput)
		c.Abort()
		return
	}
	act := pendingAction{
		ID: randomToken(), UserID: a.userID(ctx), Method: c.Request.Method,
		Path: c.Request.URL.Path, Form: form, Created: a.now().Unix(),
	}
	addItem(a, ctx, keyActions, act)
	a.log.InfoContext(ctx, "step-up required", "path", act.Path, "user_id", act.UserID)
	seeOther(c, "/accounts/step-up?id="+act.ID)
	c.Abort()
}

// replaceForm makes form the request's form. Gin keeps the parsed form as
// the very map of Request.PostForm (Context.initFormCache), so the map is
// changed in place and c.PostForm reads the kept values; TestB08b fails if
// that stops being so.
func replaceForm(c *gin.Context, form url.Values) bool {
	_ = c.PostForm(fieldStepUp) // parses the form if nothing did yet
	pf := c.Request.PostForm
	if pf == nil {
		return false
	}
	clear(pf)
	for k, v := range form {
		pf[k] = slices.Clone(v)
	}
	return true
}

// action finds a live pending action of the signed-in user; take removes
// it (single use).
func (a *App) action(c *gin.Context, id string, take bool) (pendingAction, bool) {
	ctx := c.Request.Context()
	act, ok := getItem[pendingAction](a, ctx, keyActions, id, take)
	return act, ok && act.UserID != 0 && act.UserID == a.userID(ctx) && a.live(act)
}

// stepUpPage answers GET /accounts/step-up?id=...: "Confirm it's you",
// with one button per provider of the user's connected accounts.
func (a *App) stepUpPage(c *gin.Context) {
	ctx := c.Request.Context()
	act, ok := a.action(c, c.Query("id"), false)
	if !ok {
		a.renderProblem(c, problemLinkExpired)
		return
	}
	if a.recentAuth(ctx) {
		c.Redirect(http.StatusSeeOther, "/accounts/step-up/continue?id="+act.ID)
		return
	}
	names, err := a.ownProviders(c)
	if err != nil {
		a.failPage(c, err)
		return
	}
	page := views.StepUpPage{ID: act.ID, Action: a.describeAction(c, act), Minutes: int(a.cfg.StepUpAge / time.Minute)}
	for _, name := range names {
		p, _ := a.providers.Get(name)
		page.Providers = append(page.Providers, views.ProviderButton{Name: name, Label: p.Label, Icon: a.icon(name),
			Unavailable: a.health.unavailable(name)})
	}
	a.render(c, http.StatusOK, views.StepUp(a.layout(c, "stepup.title"), page))
}

// ownProviders lists, once each and in order, the configured providers of
// the signed-in user's connected accounts.
func (a *App) ownProviders(c *gin.Context) ([]string, error) {
	ids, err := a.accounts.Identities(c.Request.Context(), currentUser(c).ID)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, id := range ids {
		if _, ok := a.providers.Get(id.Provider); ok && !slices.Contains(names, id.Provider) {
			names = append(names, id.Provider)
		}
	}
	return names, nil
}

// beginStepUp answers POST /accounts/step-up/{provider}: sign in again at
// a provider of one of the user's connected accounts, asking it for a
// fresh sign-in.
func (a *App) beginStepUp(c *gin.Context) {
	act, ok := a.action(c, c.PostForm("id"), false)
	if !ok {
		a.renderProblem(c, problemLinkExpired)
		return
	}
	names, err := a.ownProviders(c)
	if err != nil {
		a.failPage(c, err)
		return
	}
	if !slices.Contains(names, c.Param("provider")) {
		a.renderProblem(c, problemBadInput)
		return
	}
	a.beginFlow(c, intentReauth, currentUser(c).ID, "/accounts/step-up/continue?id="+act.ID)
}

// Step-up failures, shown after the callback.
var (
	problemNotYours = problem{"notyours", http.StatusForbidden, "error.notyours.heading", "error.notyours.message", "nav.back_accounts", "/accounts", nil}
	problemNotFresh = problem{"notfresh", http.StatusForbidden, "error.notfresh.heading", "error.notfresh.message", "nav.back_accounts", "/accounts", nil}
)

// reauthReturned finishes a step-up: the provider account must be one of
// the user's (B-08c) and, where the provider says when the person signed
// in, that must be after the step-up began (B-08d). Then the sign-in is
// recent again, on a new session token (B-02b).
func (a *App) reauthReturned(c *gin.Context, flow pendingFlow, p *providers.Provider, u goth.User, profile accounts.Profile) (string, *callbackError) {
	ctx := c.Request.Context()
	if !p.SignedInSince(u, time.Unix(flow.Created, 0)) {
		return "", fail(problemNotFresh, "re-authentication older than its request", nil)
	}
	if _, err := a.accounts.StepUp(ctx, flow.UserID, profile, a.meta(c)); err != nil {
		if errors.Is(err, accounts.ErrNotYourIdentity) {
			return "", fail(problemNotYours, "re-authentication with another account", nil)
		}
		return "", fail(problemFor(err), "step up", err)
	}
	if err := a.renewToken(ctx); err != nil {
		return "", fail(problemStoreDown, "renew session", err)
	}
	a.sessions.Put(ctx, keyAuthAt, a.now().Unix())
	a.log.InfoContext(ctx, "stepped up", "provider", p.Name(), "user_id", flow.UserID)
	return flow.ReturnTo, nil
}

// stepUpContinuePage answers GET /accounts/step-up/continue?id=...: the
// one button that carries on with the pending action.
func (a *App) stepUpContinuePage(c *gin.Context) {
	act, ok := a.action(c, c.Query("id"), false)
	if !ok {
		a.renderProblem(c, problemLinkExpired)
		return
	}
	if !a.recentAuth(c.Request.Context()) {
		c.Redirect(http.StatusSeeOther, "/accounts/step-up?id="+act.ID)
		return
	}
	a.render(c, http.StatusOK, views.StepUpContinue(a.layout(c, "stepup.done_title"), views.StepUpContinuePage{
		ID: act.ID, Path: act.Path, Action: a.describeAction(c, act),
	}))
}

var unlinkPath = regexp.MustCompile(`^/accounts/identities/([0-9]+)/unlink$`)

// describeAction says in words, in the person's language, what a pending
// action will do.
func (a *App) describeAction(c *gin.Context, act pendingAction) string {
	ctx := c.Request.Context()
	switch {
	case act.Path == "/accounts/link/confirm" && act.Form.Get("action") == "link":
		return locale.T(ctx, "action.link_confirm")
	case act.Path == "/accounts/link/confirm":
		return locale.T(ctx, "action.link_cancel")
	case strings.HasPrefix(act.Path, "/accounts/link/"):
		return locale.Td(ctx, "action.link_provider", locale.Data{"Provider": a.label(strings.TrimPrefix(act.Path, "/accounts/link/"))})
	case act.Path == "/accounts/merge/confirm":
		return locale.T(ctx, "action.merge")
	case act.Path == "/accounts/profile":
		return locale.T(ctx, "action.profile")
	case act.Path == "/accounts/delete":
		return locale.T(ctx, "action.delete")
	case act.Path == "/accounts/sessions/revoke-others":
		return locale.T(ctx, "action.revoke_others")
	}
	if m := unlinkPath.FindStringSubmatch(act.Path); m != nil {
		idn, _ := strconv.ParseInt(m[1], 10, 64)
		ids, _ := a.accounts.Identities(ctx, currentUser(c).ID)
		for _, id := range ids {
			if id.ID == idn {
				return locale.Td(ctx, "action.unlink", a.accountData(id))
			}
		}
		return locale.T(ctx, "action.unlink_unknown")
	}
	return locale.T(ctx, "action.continue")
}
