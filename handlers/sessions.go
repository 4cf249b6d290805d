package handlers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/views"
	"github.com/linkport/linkport/views/locale"
)

// SessionIndex keeps one row per signed-in session beside the session
// store. A signed-in session is valid only while its row exists: scs writes
// a request's copy of the session back when the request ends, which can
// bring back a session that a concurrent request ended (SECURITY.md K10),
// but nothing brings back a deleted row. Rows are keyed by the session
// store's key of the token (see tokenHash), never by the token.
type SessionIndex interface {
	// Start adds the row of a newly signed-in session.
	Start(ctx context.Context, s accounts.Session) error
	// Rotate moves a row to a renewed token; a revoked row stays revoked.
	Rotate(ctx context.Context, oldHash, newHash string) error
	// Seen notes a request at at; it never brings back a revoked row.
	Seen(ctx context.Context, hash string, at time.Time) error
	// Get returns a session's row, or accounts.ErrNotFound.
	Get(ctx context.Context, hash string) (accounts.Session, error)
	// List returns the user's live sessions, most recently active first.
	List(ctx context.Context, userID int64) ([]accounts.Session, error)
	// Revoke deletes a session's row and its stored session.
	Revoke(ctx context.Context, hash string) error
	// RevokeOthers revokes every session of the user but keepHash.
	RevokeOthers(ctx context.Context, userID int64, keepHash string) (int, error)
	// RevokeIdentity revokes the user's sessions that identityID started,
	// but keepHash.
	RevokeIdentity(ctx context.Context, userID, identityID int64, keepHash string) (int, error)
}

// tokenHash is the session store's key of a token: with HashTokenInStore
// scs keeps base64url(SHA-256(token)), so an index row and the scs row of a
// session share their key.
func tokenHash(token string) string {
	if token == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// checkIndexed runs on every request, after the session is loaded: a
// signed-in session without its index row, or past the idle timeout or the
// absolute lifetime, is signed out and the request goes on as anonymous.
// It reports false, having answered, when the index cannot be read.
func (a *App) checkIndexed(c *gin.Context, ctx context.Context) (context.Context, bool) {
	err := a.enforceIndex(ctx)
	if errors.Is(err, errNotIndexed) {
		// Revoked, or renewed by a concurrent request of the same browser:
		// serve this request from a fresh, empty session. Nothing is
		// written back and no cookie is sent, so a renewal's new cookie,
		// arriving in the browser before or after this answer, is kept.
		fresh, ferr := a.sessions.Load(c.Request.Context(), "")
		return fresh, ferr == nil
	}
	if err != nil {
		a.log.ErrorContext(ctx, "session index unavailable", "err", err)
		c.Request = c.Request.WithContext(ctx)
		a.renderProblem(c, problemStoreDown)
		return ctx, false
	}
	return ctx, true
}

// errNotIndexed: a signed-in session whose index row is gone.
var errNotIndexed = errors.New("session not in the index")

func (a *App) enforceIndex(ctx context.Context) error {
	if a.userID(ctx) == 0 {
		return nil
	}
	hash := tokenHash(a.sessions.Token(ctx))
	s, err := a.index.Get(ctx, hash)
	switch {
	case errors.Is(err, accounts.ErrNotFound):
		return errNotIndexed
	case err != nil:
		return err
	}
	now := a.now()
	// The absolute lifetime counts from the sign-in recorded here: scs
	// restarts its own deadline at every RenewToken (link, unlink, merge).
	if s.UserID != a.userID(ctx) || !now.Before(s.CreatedAt.Add(a.sessions.Lifetime)) || now.Sub(s.LastSeenAt) > a.cfg.IdleTimeout {
		return a.endSession(ctx)
	}
	if now.Sub(s.LastSeenAt) >= a.seenStep() {
		return a.index.Seen(ctx, hash, now)
	}
	return nil
}

// seenStep is how stale a session's last-seen time may get before a
// request writes it: a minute, or half the idle timeout when that is
// shorter, so that a session used at least that often never times out.
func (a *App) seenStep() time.Duration {
	return max(time.Second, min(lastSeenEvery*time.Second, a.cfg.IdleTimeout/2))
}

// indexSession records the session that startSession just signed in;
// oldToken is the token it had before RenewToken, whose row (if it was
// signed in already) goes.
func (a *App) indexSession(ctx context.Context, oldToken string, res accounts.SignInResult, m accounts.Meta) error {
	if oldToken != "" {
		if err := a.index.Revoke(ctx, tokenHash(oldToken)); err != nil {
			return err
		}
	}
	now := a.now()
	return a.index.Start(ctx, accounts.Session{
		TokenHash:  tokenHash(a.sessions.Token(ctx)),
		PublicID:   publicID(),
		UserID:     res.User.ID,
		IdentityID: res.Identity.ID,
		UserAgent:  capString(m.UserAgent, 512),
		IP:         capString(m.IP, 64),
		CreatedAt:  now,
		LastSeenAt: now,
	})
}

// renewToken is RenewToken for a signed-in session (after a link, an
// unlink, a merge): the index row moves to the new token.
func (a *App) renewToken(ctx context.Context) error {
	old := tokenHash(a.sessions.Token(ctx))
	if err := a.sessions.RenewToken(ctx); err != nil {
		return err
	}
	return a.index.Rotate(ctx, old, tokenHash(a.sessions.Token(ctx)))
}

// endSession signs this session out for good: the index row first (the
// revocation that a late write-back cannot undo), then the stored session.
func (a *App) endSession(ctx context.Context) error {
	if tok := a.sessions.Token(ctx); tok != "" {
		if err := a.index.Revoke(ctx, tokenHash(tok)); err != nil {
			return err
		}
	}
	return a.sessions.Destroy(ctx)
}

// sessionsPage answers GET /accounts/sessions: where the user is signed in.
func (a *App) sessionsPage(c *gin.Context) {
	sec, err := a.sessionsSection(c, a.popFlash(c.Request.Context()), false)
	if err != nil {
		a.failPage(c, err)
		return
	}
	a.render(c, http.StatusOK, views.Sessions(a.layout(c, "sessions.title"), views.SessionsPage{Section: sec}))
}

// revokeSession answers POST /accounts/sessions/{id}/revoke: sign out one
// session, found by its public id among the user's own. Signing out this
// very session is a sign-out.
func (a *App) revokeSession(c *gin.Context) {
	ctx := c.Request.Context()
	user := currentUser(c)
	list, err := a.index.List(ctx, user.ID)
	if err != nil {
		a.failPage(c, err)
		return
	}
	current := tokenHash(a.sessions.Token(ctx))
	for _, s := range list {
		if s.PublicID != c.Param("id") {
			continue
		}
		if s.TokenHash == current {
			a.logout(c)
			return
		}
		if err := a.index.Revoke(ctx, s.TokenHash); err != nil {
			a.failPage(c, err)
			return
		}
		a.sessionsChanged(c, 1, locale.Td(ctx, "notice.session_signed_out", locale.Data{"Device": deviceLabel(ctx, s.UserAgent)}))
		return
	}
	a.renderProblem(c, problemNotFound)
}

// revokeOtherSessions answers POST /accounts/sessions/revoke-others.
func (a *App) revokeOtherSessions(c *gin.Context) {
	ctx := c.Request.Context()
	n, err := a.index.RevokeOthers(ctx, currentUser(c).ID, tokenHash(a.sessions.Token(ctx)))
	if err != nil {
		a.failPage(c, err)
		return
	}
	notice := locale.T(ctx, "notice.no_other_sessions")
	if n > 0 {
		notice = locale.Tn(ctx, "notice.other_sessions_signed_out", n, nil)
	}
	a.sessionsChanged(c, n, notice)
}

// sessionsChanged ends a sign-out of n sessions: the timeline records it;
// htmx gets the updated list, a plain form the notice on the next page.
func (a *App) sessionsChanged(c *gin.Context, n int, notice string) {
	ctx := c.Request.Context()
	if n > 0 {
		if err := a.accounts.SessionsRevoked(ctx, currentUser(c).ID, a.meta(c)); err != nil {
			a.failPage(c, err)
			return
		}
	}
	if !isHTMX(c) {
		a.flash(ctx, notice)
		c.Redirect(http.StatusSeeOther, "/accounts/sessions")
		return
	}
	sec, err := a.sessionsSection(c, notice, false)
	if err != nil {
		a.failPage(c, err)
		return
	}
	a.render(c, http.StatusOK, views.SessionList(sec, a.csrfToken(c)))
}

// sessionsSection lists the user's sessions for the page, this one marked.
func (a *App) sessionsSection(c *gin.Context, notice string, isError bool) (views.SessionsSection, error) {
	ctx := c.Request.Context()
	user := currentUser(c)
	list, err := a.index.List(ctx, user.ID)
	if err != nil {
		return views.SessionsSection{}, err
	}
	ids, err := a.accounts.Identities(ctx, user.ID)
	if err != nil {
		return views.SessionsSection{}, err
	}
	byID := map[int64]accounts.Identity{}
	for _, id := range ids {
		byID[id.ID] = id
	}
	current := tokenHash(a.sessions.Token(ctx))
	now := a.now()
	sec := views.SessionsSection{Notice: notice, NoticeIsError: isError}
	for _, s := range list {
		// Past its time but not yet visited: it ends at its next request.
		if !now.Before(s.CreatedAt.Add(a.sessions.Lifetime)) || now.Sub(s.LastSeenAt) > a.cfg.IdleTimeout {
			continue
		}
		v := views.SessionView{
			ID: s.PublicID, IP: s.IP, Current: s.TokenHash == current,
			Started: s.CreatedAt, LastActive: s.LastSeenAt,
		}
		v.Device, v.Browser = deviceWords(ctx, s.UserAgent)
		if id, ok := byID[s.IdentityID]; ok {
			v.ViaLabel, v.ViaIcon, v.ViaAccount = a.label(id.Provider), a.icon(id.Provider), a.identityView(id, 0).Label()
		} else {
			v.ViaLabel = locale.T(ctx, "session.via_removed")
		}
		if v.Current {
			sec.Sessions = append([]views.SessionView{v}, sec.Sessions...)
		} else {
			sec.Sessions = append(sec.Sessions, v)
		}
	}
	return sec, nil
}

// publicID is a random id for a session's row on pages and in forms.
func publicID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// capString cuts s to at most n bytes; the index shows, it does not keep
// whatever a client sends.
func capString(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
