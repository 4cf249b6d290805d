package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"
	"github.com/markbates/goth"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/providers"
)

// Intents of a flow: the callback must find the one the flow was started
// with (C-03e).
const (
	intentLogin = "login"
	intentLink  = "link"
)

// beginAuth answers POST /auth/{provider}: start a sign-in.
func (a *App) beginAuth(c *gin.Context) {
	next := safeReturnPath(c.PostForm("next"))
	if next == "/" {
		next = "/accounts"
	}
	a.beginFlow(c, intentLogin, 0, next)
}

// beginFlow sends the browser to the provider. The state is made here
// (never taken from the request — K1) and the flow, with the provider's
// PKCE verifier and nonce, stays in the server-side session, bound to the
// provider, the intent and, for a link, the user.
func (a *App) beginFlow(c *gin.Context, intent string, userID int64, returnTo string) {
	p, ok := a.providers.Get(c.Param("provider"))
	if !ok {
		a.renderProblem(c, problemUnknownProvider)
		return
	}
	state := randomToken()
	sess, err := p.BeginAuth(state)
	if err != nil {
		a.health.observe(p.Name(), err) // only failures: a start that worked may not have reached the provider
		a.log.WarnContext(c.Request.Context(), "begin sign-in failed", "provider", p.Name(), "err", err)
		a.renderProblem(c, problemFor(err))
		return
	}
	authURL, err := sess.GetAuthURL()
	if err != nil {
		a.renderProblem(c, problemFor(err))
		return
	}
	if c.PostForm("choose") == "1" {
		authURL = p.WithAccountChooser(authURL)
	}
	if intent == intentReauth {
		authURL = p.WithReauthentication(authURL)
	}
	a.addFlow(c.Request.Context(), pendingFlow{
		State:    state,
		Provider: p.Name(),
		Intent:   intent,
		UserID:   userID,
		ReturnTo: returnTo,
		Session:  sess.Marshal(),
		Created:  a.now().Unix(),
	})
	c.Header("Referrer-Policy", "no-referrer")
	c.Redirect(http.StatusSeeOther, authURL)
}

// callbackError is a callback failure: the problem to show, and what to
// log (never the code, state or tokens).
type callbackError struct {
	problem problem
	reason  string
	err     error
}

func (e *callbackError) Error() string { return e.reason }

func fail(p problem, reason string, err error) *callbackError {
	return &callbackError{problem: p, reason: reason, err: err}
}

// oauthCallback answers GET /auth/{provider}/callback. It never renders a
// page: success and failure both answer 303 to a clean URL, so the code and
// state leave the address bar and never reach a Referer.
func (a *App) oauthCallback(c *gin.Context) {
	ctx := c.Request.Context()
	c.Header("Referrer-Policy", "no-referrer")
	to, cerr := a.finishCallback(c)
	if cerr != nil {
		a.audit(c, "sign_in", outcomeFailed, a.userID(ctx), c.Param("provider"),
			slog.String("reason", cerr.reason), slog.String("err", errString(cerr.err)))
		// ref carries this request's id, so the page's reference matches
		// the log line above.
		c.Redirect(http.StatusSeeOther, "/auth/error?reason="+cerr.problem.code+"&ref="+requestID(c))
		return
	}
	c.Redirect(http.StatusSeeOther, to)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// finishCallback checks the callback against the pending flow, exchanges
// the code and signs the person in. It returns where to send them.
func (a *App) finishCallback(c *gin.Context) (string, *callbackError) {
	ctx := c.Request.Context()
	name := c.Param("provider")
	p, ok := a.providers.Get(name)
	if !ok {
		return "", fail(problemInvalidState, "unknown provider", nil)
	}
	q := c.Request.URL.Query()
	state, ok := single(q, "state")
	if !ok {
		return "", fail(problemInvalidState, "missing or repeated state", nil)
	}
	flow, ok := a.takeFlow(ctx, state)
	if !ok {
		return "", fail(problemInvalidState, "unknown state", nil)
	}
	// The flow is consumed from here on, whatever happens next.
	if flow.Provider != p.Name() {
		return "", fail(problemInvalidState, "provider mismatch", nil)
	}
	// A link flow finishes only in the session of the user who started it
	// (C-03d); a login flow never links (C-03e).
	switch {
	case flow.Intent == intentLogin:
	case flow.Intent == intentLink && flow.UserID != 0 && flow.UserID == a.userID(ctx):
	case flow.Intent == intentReauth && flow.UserID != 0 && flow.UserID == a.userID(ctx):
	default:
		return "", fail(problemInvalidState, "intent or user mismatch", nil)
	}
	if !a.live(flow) {
		return "", fail(problemExpired, "flow expired", nil)
	}
	// Mix-up defence (RFC 9207, A-07): an "iss" must name this provider
	// exactly, on success and on error; a provider without an issuer
	// accepts none. Google sends iss without advertising it (K14); our
	// policy: checked when present, not required when absent.
	if iss, has := q["iss"]; has && (len(iss) != 1 || !p.AcceptsIssuer(iss[0])) {
		return "", fail(problemInvalidState, "issuer mismatch", nil)
	}
	if _, has := q["error"]; has {
		if q.Get("error") == "access_denied" {
			return "", fail(problemDenied, "consent denied", nil)
		}
		return "", fail(problemUnavailable, "provider returned an error", nil)
	}
	code, ok := single(q, "code")
	if !ok || len(code) > 2048 {
		return "", fail(problemInvalidState, "missing or repeated code", nil)
	}
	user, err := a.exchange(ctx, p, flow.Session, code)
	// Only here did the provider itself answer: the ?error= above is
	// whatever the browser was sent back with (E-01c).
	a.health.observe(p.Name(), err)
	if err != nil {
		return "", fail(problemFor(err), "provider exchange failed", err)
	}
	profile := accounts.Profile{
		Provider:      p.Name(),
		Subject:       user.UserID,
		Email:         user.Email,
		EmailVerified: p.EmailVerified(user),
		Name:          displayName(user),
		Nickname:      user.NickName,
		AvatarURL:     user.AvatarURL,
		Tokens:        tokensOf(user),
	}
	if flow.Intent == intentLink {
		return a.linkReturned(c, flow.UserID, profile)
	}
	if flow.Intent == intentReauth {
		return a.reauthReturned(c, flow, p, user, profile)
	}
	res, err := a.accounts.SignIn(ctx, profile, a.meta(c))
	if deleted := (*accounts.DeletedError)(nil); errors.As(err, &deleted) {
		return a.offerRestore(c, deleted, profile), nil
	}
	if err != nil {
		return "", fail(problemFor(err), "sign-in failed", err)
	}
	if err := a.startSession(ctx, res, a.meta(c)); err != nil {
		return "", fail(problemStoreDown, "renew session", err)
	}
	a.audit(c, "sign_in", outcomeOK, res.User.ID, p.Name(),
		slog.Bool("new_user", res.Created), slog.Int64("identity_id", res.Identity.ID), slog.String("display_name", profile.Name))
	return flow.ReturnTo, nil
}

// startSession makes this session the signed-in session of res.User. A new
// privilege level gets a new session token (B-02): the old token stops
// working, and so does its CSRF token.
func (a *App) startSession(ctx context.Context, res accounts.SignInResult, m accounts.Meta) error {
	old := a.sessions.Token(ctx)
	if err := a.sessions.RenewToken(ctx); err != nil {
		return err
	}
	a.sessions.Put(ctx, keyUserID, res.User.ID)
	a.sessions.Put(ctx, keyIdentityID, res.Identity.ID)
	a.sessions.Put(ctx, keyAuthAt, a.now().Unix())
	a.sessions.Put(ctx, keyCSRF, randomToken())
	a.sessions.Remove(ctx, keyPending)
	return a.indexSession(ctx, old, res, m)
}

// meta is where a change comes from, for the timeline.
func (a *App) meta(c *gin.Context) accounts.Meta {
	return accounts.Meta{IP: c.ClientIP(), UserAgent: c.Request.UserAgent()}
}

// exchange trades the code (and only the code: the PKCE verifier and nonce
// come from the stored session) for the person's profile. The ID token is
// dropped here; the access and refresh tokens too, unless the store keeps
// them (Config.KeepTokens), encrypted.
func (a *App) exchange(ctx context.Context, p *providers.Provider, stored, code string) (u goth.User, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: provider code panicked", providers.ErrBadResponse)
		}
	}()
	sess, err := p.UnmarshalSession(stored)
	if err != nil {
		return goth.User{}, fmt.Errorf("restore provider session: %w", err)
	}
	if _, err := sess.Authorize(p, url.Values{"code": {code}}); err != nil {
		return goth.User{}, err
	}
	u, err = p.FetchUser(sess)
	if err != nil {
		return goth.User{}, err
	}
	if u.UserID == "" {
		return goth.User{}, fmt.Errorf("%w: no subject", providers.ErrBadResponse)
	}
	if !a.cfg.KeepTokens {
		u.AccessToken, u.RefreshToken = "", ""
	}
	u.IDToken, u.AccessTokenSecret = "", ""
	_ = ctx
	return u, nil
}

// tokensOf is the tokens exchange kept in u; nil when it kept none.
func tokensOf(u goth.User) *accounts.Tokens {
	if u.AccessToken == "" && u.RefreshToken == "" {
		return nil
	}
	return &accounts.Tokens{AccessToken: u.AccessToken, RefreshToken: u.RefreshToken, Expiry: u.ExpiresAt}
}

func displayName(u goth.User) string {
	switch {
	case u.Name != "":
		return u.Name
	case u.FirstName != "" || u.LastName != "":
		return u.FirstName + " " + u.LastName
	case u.NickName != "":
		return u.NickName
	}
	return ""
}

// single returns the one value of a query parameter; absent, empty or
// repeated parameters are refused (parameter pollution, A-02g).
func single(q url.Values, key string) (string, bool) {
	v := q[key]
	if len(v) != 1 || v[0] == "" {
		return "", false
	}
	return v[0], true
}

// logout answers POST /logout: the session is destroyed on the server and
// the browser told to forget what it holds.
func (a *App) logout(c *gin.Context) {
	ctx := c.Request.Context()
	uid := a.userID(ctx)
	if err := a.endSession(ctx); err != nil {
		a.renderProblem(c, problemStoreDown)
		return
	}
	a.audit(c, "logout", outcomeOK, uid, "")
	c.Header("Clear-Site-Data", `"cache", "cookies", "storage"`)
	c.Redirect(http.StatusSeeOther, a.keepPreferences(c, "/login?signed_out=1"))
}
