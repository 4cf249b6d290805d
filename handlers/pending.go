package handlers

import (
	"context"
	"encoding/json"
	"time"

	"github.com/linkport/linkport/accounts"
)

// maxPending bounds the flows (and, separately, the pending links) one
// session may hold, so a script cannot grow a session without end
// (SECURITY.md A-18): past it, the oldest is dropped.
const maxPending = 5

// pendingFlow is what the server remembers while the person is at the
// provider. It never leaves the server: the browser only carries State.
type pendingFlow struct {
	State    string `json:"state"`
	Provider string `json:"provider"`
	Intent   string `json:"intent"`            // intentLogin or intentLink
	UserID   int64  `json:"user_id,omitempty"` // who started a link
	ReturnTo string `json:"return_to"`
	Session  string `json:"session"` // the provider's marshalled goth.Session (PKCE verifier, nonce)
	Created  int64  `json:"created"` // unix seconds
}

func (f pendingFlow) itemKey() string  { return f.State }
func (f pendingFlow) createdAt() int64 { return f.Created }

// pendingLink is a provider account that came back from a link flow and
// waits for the person: "Link it" (kind link) or, when another account
// holds it, "sign in there" or "merge" (kind conflict). It is bound to the
// user who started it and to the provider account, single-use and short
// lived (LINKING.md P7, section 3 item 12).
type pendingLink struct {
	ID      string           `json:"id"`
	Kind    string           `json:"kind"`
	UserID  int64            `json:"user_id"`
	Profile accounts.Profile `json:"profile"` // for a conflict, the proof of the other account
	Created int64            `json:"created"`
}

func (p pendingLink) itemKey() string  { return p.ID }
func (p pendingLink) createdAt() int64 { return p.Created }

const (
	pendingKindLink     = "link"
	pendingKindConflict = "conflict"
)

// sessionItem is an entry of a bounded, expiring list kept in the session.
type sessionItem interface {
	itemKey() string
	createdAt() int64
}

func loadItems[T sessionItem](a *App, ctx context.Context, key string) []T {
	raw := a.sessions.GetString(ctx, key)
	if raw == "" {
		return nil
	}
	var items []T
	if err := json.Unmarshal([]byte(raw), &items); err != nil {
		return nil
	}
	return items
}

func saveItems[T sessionItem](a *App, ctx context.Context, key string, items []T) {
	if len(items) == 0 {
		a.sessions.Remove(ctx, key)
		return
	}
	b, _ := json.Marshal(items)
	a.sessions.Put(ctx, key, string(b))
}

// live reports whether an item is younger than the flow lifetime.
func (a *App) live(it sessionItem) bool {
	return a.now().Sub(time.Unix(it.createdAt(), 0)) <= a.cfg.FlowTTL
}

// addItem stores item, dropping expired entries and the oldest past
// maxPending.
func addItem[T sessionItem](a *App, ctx context.Context, key string, item T) {
	var keep []T
	for _, old := range loadItems[T](a, ctx, key) {
		if a.live(old) {
			keep = append(keep, old)
		}
	}
	keep = append(keep, item)
	if len(keep) > maxPending {
		keep = keep[len(keep)-maxPending:]
	}
	saveItems(a, ctx, key, keep)
}

// findItem returns the entry with this key without removing it.
func findItem[T sessionItem](a *App, ctx context.Context, key, id string) (T, bool) {
	for _, it := range loadItems[T](a, ctx, key) {
		if id != "" && constantTimeEqual(it.itemKey(), id) {
			return it, true
		}
	}
	var zero T
	return zero, false
}

// takeItem removes the entry with this key and returns it: each is good
// for one use only, whatever that use's outcome.
func takeItem[T sessionItem](a *App, ctx context.Context, key, id string) (T, bool) {
	items := loadItems[T](a, ctx, key)
	for i, it := range items {
		if id != "" && constantTimeEqual(it.itemKey(), id) {
			saveItems(a, ctx, key, append(items[:i:i], items[i+1:]...))
			return it, true
		}
	}
	var zero T
	return zero, false
}

// getItem finds the entry with this key; with take it also removes it.
func getItem[T sessionItem](a *App, ctx context.Context, key, id string, take bool) (T, bool) {
	if take {
		return takeItem[T](a, ctx, key, id)
	}
	return findItem[T](a, ctx, key, id)
}

func (a *App) addFlow(ctx context.Context, f pendingFlow) { addItem(a, ctx, keyFlows, f) }

func (a *App) takeFlow(ctx context.Context, state string) (pendingFlow, bool) {
	return takeItem[pendingFlow](a, ctx, keyFlows, state)
}
