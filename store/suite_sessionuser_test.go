package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/store"
)

// Both engines read a session's user, deletion mark and identities in one
// statement (accounts.SessionUserStore), with the same answers as the
// separate reads.
func TestSessionUserOneQuery(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open func(opts ...store.Option) testDB) {
		db := open()
		st, ok := db.Store.(accounts.SessionUserStore)
		if !ok {
			t.Fatalf("%T does not implement accounts.SessionUserStore", db.Store)
		}
		ctx := t.Context()
		if _, _, _, err := st.SessionUser(ctx, 4242); !errors.Is(err, accounts.ErrNotFound) {
			t.Errorf("SessionUser(missing) error = %v, want ErrNotFound", err)
		}
		u, first := createUser(t, db, "google", "one", at(0))
		var second accounts.Identity
		mustTx(t, db, func(tx accounts.Tx) error {
			var err error
			second, err = tx.CreateIdentity(ctx, accounts.Identity{UserID: u.ID, Provider: "x", Subject: "two",
				Email: "two@example.com", Name: "Two", CreatedAt: at(time.Minute), LastUsedAt: at(2 * time.Minute)})
			return err
		})
		gotU, gotD, gotIDs, err := st.SessionUser(ctx, u.ID)
		if err != nil {
			t.Fatalf("SessionUser: %v", err)
		}
		wantU, err := db.User(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantIDs, err := db.Identities(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantD, err := db.DeletionOf(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantU, gotU); diff != "" {
			t.Errorf("user (-separate +one query):\n%s", diff)
		}
		if diff := cmp.Diff(wantIDs, gotIDs); diff != "" {
			t.Errorf("identities (-separate +one query):\n%s", diff)
		}
		if len(gotIDs) != 2 || gotIDs[0].ID != first.ID || gotIDs[1].ID != second.ID {
			t.Errorf("identities = %+v, want %d then %d", gotIDs, first.ID, second.ID)
		}
		if diff := cmp.Diff(wantD, gotD); diff != "" {
			t.Errorf("deletion (-separate +one query):\n%s", diff)
		}
	})
}
