package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/store"
)

// Deletion marks round-trip, clear, and find the accounts due for purge;
// EraseTokens forgets only the user's tokens.
func TestDeletionStore(t *testing.T) { forEachEngine(t, testDeletionStore) }

func testDeletionStore(t *testing.T, open func(...store.Option) testDB) {
	ctx := t.Context()
	s := open(store.WithTokenKeys(keyring(t, tokenKey(t))))
	ann, annID := createUser(t, s, "google", "ann", at(0))
	bob, bobID := createUser(t, s, "google", "bob", at(0))
	cat, _ := createUser(t, s, "google", "cat", at(0))
	tok := accounts.Tokens{AccessToken: "a", RefreshToken: "r", Expiry: at(time.Hour)}
	mustTx(t, s, func(tx accounts.Tx) error {
		if err := tx.SaveTokens(ctx, annID.ID, tok); err != nil {
			return err
		}
		return tx.SaveTokens(ctx, bobID.ID, tok)
	})

	if d, err := s.DeletionOf(ctx, ann.ID); err != nil || !d.RequestedAt.IsZero() || !d.PurgeAfter.IsZero() {
		t.Errorf("DeletionOf(live) = %+v, %v; want zero", d, err)
	}
	if _, err := s.DeletionOf(ctx, cat.ID+1000); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("DeletionOf(missing) = %v, want ErrNotFound", err)
	}
	annMark := accounts.Deletion{RequestedAt: at(0), PurgeAfter: at(time.Hour)}
	bobMark := accounts.Deletion{RequestedAt: at(0), PurgeAfter: at(30 * time.Minute)}
	mustTx(t, s, func(tx accounts.Tx) error {
		if err := tx.SetDeletion(ctx, ann.ID, annMark); err != nil {
			return err
		}
		if err := tx.SetDeletion(ctx, bob.ID, bobMark); err != nil {
			return err
		}
		if err := tx.SetDeletion(ctx, cat.ID, accounts.Deletion{RequestedAt: at(0), PurgeAfter: at(2 * time.Hour)}); err != nil {
			return err
		}
		if err := tx.SetDeletion(ctx, cat.ID, accounts.Deletion{}); err != nil { // restored
			return err
		}
		return tx.EraseTokens(ctx, ann.ID)
	})
	if d, err := s.DeletionOf(ctx, ann.ID); err != nil || cmp.Diff(annMark, d) != "" {
		t.Errorf("DeletionOf(ann) = %+v, %v; want %+v", d, err, annMark)
	}
	err := s.InTx(ctx, func(tx accounts.Tx) error {
		return tx.SetDeletion(ctx, cat.ID+1000, annMark)
	})
	if !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("SetDeletion(missing) = %v, want ErrNotFound", err)
	}
	mustTx(t, s, func(tx accounts.Tx) error {
		for _, tc := range []struct {
			now  time.Time
			want []int64
		}{
			{at(10 * time.Minute), nil},
			{at(30 * time.Minute), []int64{bob.ID}},
			{at(3 * time.Hour), []int64{bob.ID, ann.ID}},
		} {
			got, err := tx.DueForPurge(ctx, tc.now)
			if err != nil {
				return err
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("DueForPurge(%v) (-want +got):\n%s", tc.now, diff)
			}
		}
		if got, err := tx.Tokens(ctx, annID.ID); err != nil || !got.IsZero() {
			t.Errorf("ann's tokens after EraseTokens = %+v, %v; want none", got, err)
		}
		if got, err := tx.Tokens(ctx, bobID.ID); err != nil || got.AccessToken != "a" {
			t.Errorf("bob's tokens = %+v, %v; want kept", got, err)
		}
		return nil
	})
}
