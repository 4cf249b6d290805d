package handlers

import (
	"context"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/linkport/linkport/accounts"
)

// maxHeldTokens bounds the tokens held for links waiting for confirmation.
const maxHeldTokens = 10_000

// heldTokens keeps the provider tokens of a link flow while the person looks
// at the preview: the pending link waits in the session, where tokens must
// never go, so its tokens wait here, in this process's memory, under
// the pending link's id, for at most the flow lifetime. A confirmation that
// reaches another instance (or comes after a restart) links without tokens;
// the identity gets them at its next sign-in.
type heldTokens struct {
	mu    sync.Mutex
	items map[string]heldToken
}

type heldToken struct {
	userID  int64
	tokens  accounts.Tokens
	expires time.Time
}

// put holds t for the pending link id of userID until expires.
func (h *heldTokens) put(id string, userID int64, t accounts.Tokens, now, expires time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.items == nil {
		h.items = map[string]heldToken{}
	}
	for k, v := range h.items {
		if now.After(v.expires) {
			delete(h.items, k)
		}
	}
	if len(h.items) >= maxHeldTokens {
		return // the link still works, without tokens
	}
	h.items[id] = heldToken{userID: userID, tokens: t, expires: expires}
}

// take removes and returns the tokens held for the pending link id of
// userID; nil when there are none (or they expired).
func (h *heldTokens) take(id string, userID int64, now time.Time) *accounts.Tokens {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.items[id]
	delete(h.items, id)
	if !ok || v.userID != userID || now.After(v.expires) {
		return nil
	}
	return &v.tokens
}

// revokeTokens asks the provider to revoke the tokens of an identity just
// removed: the refresh token when there is one (it ends the access tokens
// made from it), otherwise the access token. Best effort, after the change
// is committed: a failure is logged and the removal stands.
func (a *App) revokeTokens(ctx context.Context, c *gin.Context, provider string, t accounts.Tokens) {
	tok := t.RefreshToken
	if tok == "" {
		tok = t.AccessToken
	}
	p, ok := a.providers.Get(provider)
	if tok == "" || !ok {
		return
	}
	// Not cancelled by the browser leaving; bounded by the provider
	// client's timeout inside Revoke.
	if err := p.Revoke(context.WithoutCancel(ctx), tok); err != nil {
		a.log.WarnContext(ctx, "token revocation failed", "provider", provider, "err", err)
	}
}
