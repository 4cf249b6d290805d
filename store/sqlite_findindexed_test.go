package store_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/store"
)

// FindIndexed reads a session, its index row and the row's user in one
// statement, with the answers of Find, Get and SessionUser; the user is
// handed to SessionUser once, and not after a transaction began.
func TestSQLiteFindIndexed(t *testing.T) {
	ctx := t.Context()
	s, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "linkport.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	sessions, index := s.SessionStore(), s.SessionIndex()
	if !sessions.Indexes(index) {
		t.Error("the store does not recognise its own index")
	}
	other, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "other.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	if sessions.Indexes(other.SessionIndex()) || sessions.Indexes(nil) {
		t.Error("the store claims another database's index")
	}

	u, first := createUser(t, s, "google", "one", at(0))
	mustTx(t, s, func(tx accounts.Tx) error {
		_, err := tx.CreateIdentity(ctx, accounts.Identity{UserID: u.ID, Provider: "x", Subject: "two", CreatedAt: at(time.Minute), LastUsedAt: at(time.Minute)})
		return err
	})
	expiry := time.Now().Add(time.Hour)
	for hash, data := range map[string]string{"signed-in": "data-1", "anonymous": "data-2"} {
		if err := sessions.Commit(hash, []byte(data), expiry); err != nil {
			t.Fatal(err)
		}
	}
	if err := sessions.Commit("expired", []byte("old"), time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	row := accounts.Session{TokenHash: "signed-in", PublicID: "p1", UserID: u.ID, IdentityID: first.ID,
		UserAgent: "ua", IP: "127.0.0.1", CreatedAt: at(0), LastSeenAt: at(time.Second)}
	if err := index.Start(ctx, row); err != nil {
		t.Fatal(err)
	}

	for _, hash := range []string{"missing", "expired"} {
		_, b, found, _, indexed, err := sessions.FindIndexed(ctx, hash)
		if err != nil || found || indexed || b != nil {
			t.Errorf("FindIndexed(%s) = %q, %v, %v, %v; want nothing", hash, b, found, indexed, err)
		}
	}
	_, b, found, _, indexed, err := sessions.FindIndexed(ctx, "anonymous")
	if err != nil || !found || indexed || string(b) != "data-2" {
		t.Errorf("FindIndexed(anonymous) = %q, %v, %v, %v; want its data, no index row", b, found, indexed, err)
	}

	rctx, b, found, got, indexed, err := sessions.FindIndexed(ctx, "signed-in")
	if err != nil || !found || !indexed || string(b) != "data-1" {
		t.Fatalf("FindIndexed(signed-in) = %q, %v, %v, %v", b, found, indexed, err)
	}
	want, err := index.Get(ctx, "signed-in")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("index row (-Get +FindIndexed):\n%s", diff)
	}
	wu, wd, wids, err := s.SessionUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	// A change the prefetched answer cannot know of, outside any
	// transaction, shows which answer a call got.
	if _, err := s.DB().ExecContext(ctx, "UPDATE users SET display_name = 'changed' WHERE id = ?", u.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.SessionUser(rctx, u.ID+1); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("SessionUser(another user) = %v, want ErrNotFound from the database", err)
	}
	gu, gd, gids, err := s.SessionUser(rctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wu, gu); diff != "" {
		t.Errorf("user (-SessionUser +prefetched):\n%s", diff)
	}
	if diff := cmp.Diff(wids, gids); diff != "" {
		t.Errorf("identities (-SessionUser +prefetched):\n%s", diff)
	}
	if diff := cmp.Diff(wd, gd); diff != "" {
		t.Errorf("deletion (-SessionUser +prefetched):\n%s", diff)
	}
	if again, _, _, err := s.SessionUser(rctx, u.ID); err != nil || again.DisplayName != "changed" {
		t.Errorf("second SessionUser = %q, %v; want the database's answer", again.DisplayName, err)
	}

	// A transaction makes the prefetched answer unusable.
	rctx, _, _, _, _, err = sessions.FindIndexed(ctx, "signed-in")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, "UPDATE users SET display_name = 'after' WHERE id = ?", u.ID); err != nil {
		t.Fatal(err)
	}
	mustTx(t, s, func(accounts.Tx) error { return nil })
	if err := s.InTx(rctx, func(accounts.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if got, _, _, err := s.SessionUser(rctx, u.ID); err != nil || got.DisplayName != "after" {
		t.Errorf("SessionUser after a transaction = %q, %v; want the database's answer", got.DisplayName, err)
	}

	// The row's user gone (its index rows go with it): not signed in, and
	// SessionUser's answer is ErrNotFound.
	if _, err := s.DB().ExecContext(ctx, "DELETE FROM identities WHERE user_id = ?", u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, "DELETE FROM users WHERE id = ?", u.ID); err != nil {
		t.Fatal(err)
	}
	rctx, _, found, _, indexed, err = sessions.FindIndexed(ctx, "signed-in")
	if err != nil || !found {
		t.Fatalf("FindIndexed after the user went: %v, %v", found, err)
	}
	if _, _, _, err := s.SessionUser(rctx, u.ID); indexed && !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("SessionUser of a removed user = %v, want ErrNotFound", err)
	}
}
