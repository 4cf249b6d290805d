package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/linkport/linkport/accounts"
)

// testLinkingStore runs the Tx methods that linking, unlinking and merging
// need; testStore calls it.
func testLinkingStore(t *testing.T, open func(t *testing.T) accounts.Store) {
	t.Run("LockUser", func(t *testing.T) { testLockUser(t, open(t)) })
	t.Run("IdentityByID", func(t *testing.T) { testIdentityByID(t, open(t)) })
	t.Run("IdentitiesOfSeesTx", func(t *testing.T) { testIdentitiesOf(t, open(t)) })
	t.Run("DeleteIdentity", func(t *testing.T) { testDeleteIdentity(t, open(t)) })
	t.Run("UpdateUser", func(t *testing.T) { testUpdateUser(t, open(t)) })
	t.Run("MoveAndDeleteUser", func(t *testing.T) { testMoveAndDeleteUser(t, open(t)) })
}

// inTx runs fn in a transaction and returns its error.
func inTx(t *testing.T, s accounts.Store, fn func(tx accounts.Tx) error) error {
	t.Helper()
	return s.InTx(t.Context(), fn)
}

func testLockUser(t *testing.T, s accounts.Store) {
	ctx := t.Context()
	u, _ := createUser(t, s, "google", "1", at(0))
	if err := inTx(t, s, func(tx accounts.Tx) error { return tx.LockUser(ctx, u.ID) }); err != nil {
		t.Errorf("LockUser(existing) = %v", err)
	}
	err := inTx(t, s, func(tx accounts.Tx) error { return tx.LockUser(ctx, u.ID+1000) })
	if !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("LockUser(missing) = %v, want ErrNotFound", err)
	}
}

func testIdentityByID(t *testing.T, s accounts.Store) {
	ctx := t.Context()
	_, want := createUser(t, s, "google", "1", at(0))
	mustTx(t, s, func(tx accounts.Tx) error {
		got, err := tx.IdentityByID(ctx, want.ID)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("IdentityByID (-want +got):\n%s", diff)
		}
		if _, err := tx.IdentityByID(ctx, want.ID+1000); !errors.Is(err, accounts.ErrNotFound) {
			t.Errorf("IdentityByID(missing) error = %v, want ErrNotFound", err)
		}
		return nil
	})
}

// testIdentitiesOf checks that IdentitiesOf reads inside the transaction:
// Unlink counts what it is about to change.
func testIdentitiesOf(t *testing.T, s accounts.Store) {
	ctx := t.Context()
	u, first := createUser(t, s, "google", "b", at(time.Hour))
	mustTx(t, s, func(tx accounts.Tx) error {
		earlier, err := tx.CreateIdentity(ctx, accounts.Identity{UserID: u.ID, Provider: "google", Subject: "a", CreatedAt: at(0), LastUsedAt: at(0)})
		if err != nil {
			return err
		}
		got, err := tx.IdentitiesOf(ctx, u.ID)
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]accounts.Identity{earlier, first}, got); diff != "" {
			t.Errorf("IdentitiesOf in the tx (-want +got):\n%s", diff)
		}
		none, err := tx.IdentitiesOf(ctx, u.ID+1000)
		if err != nil || len(none) != 0 {
			t.Errorf("IdentitiesOf(missing) = %v, %v; want none", none, err)
		}
		return nil
	})
}

func testDeleteIdentity(t *testing.T, s accounts.Store) {
	ctx := t.Context()
	u, first := createUser(t, s, "google", "1", at(0))
	var second accounts.Identity
	mustTx(t, s, func(tx accounts.Tx) error {
		var err error
		if second, err = tx.CreateIdentity(ctx, accounts.Identity{UserID: u.ID, Provider: "x", Subject: "2", CreatedAt: at(time.Second), LastUsedAt: at(0)}); err != nil {
			return err
		}
		u.NameIdentityID, u.AvatarIdentityID = first.ID, second.ID
		return tx.UpdateUser(ctx, u)
	})
	mustTx(t, s, func(tx accounts.Tx) error { return tx.DeleteIdentity(ctx, first.ID) })

	ids, err := s.Identities(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]accounts.Identity{second}, ids); diff != "" {
		t.Errorf("identities after DeleteIdentity (-want +got):\n%s", diff)
	}
	got, err := s.User(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.NameIdentityID != 0 || got.AvatarIdentityID != second.ID {
		t.Errorf("sources after deleting the name source = %d, %d; want 0, %d",
			got.NameIdentityID, got.AvatarIdentityID, second.ID)
	}
	err = inTx(t, s, func(tx accounts.Tx) error { return tx.DeleteIdentity(ctx, first.ID) })
	if !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("DeleteIdentity(gone) error = %v, want ErrNotFound", err)
	}
}

func testUpdateUser(t *testing.T, s accounts.Store) {
	ctx := t.Context()
	u, id := createUser(t, s, "google", "1", at(0))
	want := u
	want.DisplayName, want.AvatarURL, want.PrimaryEmail = "New", "https://example.com/n.png", "n@example.com"
	want.NameIdentityID, want.AvatarIdentityID = id.ID, id.ID
	want.UpdatedAt = at(time.Hour)
	mustTx(t, s, func(tx accounts.Tx) error {
		changed := want
		changed.CreatedAt = at(-time.Hour) // not updatable
		return tx.UpdateUser(ctx, changed)
	})
	got, err := s.User(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after UpdateUser (-want +got):\n%s", diff)
	}

	// Zero values clear the optional columns.
	cleared := want
	cleared.PrimaryEmail, cleared.NameIdentityID, cleared.AvatarIdentityID = "", 0, 0
	mustTx(t, s, func(tx accounts.Tx) error { return tx.UpdateUser(ctx, cleared) })
	if got, err = s.User(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cleared, got); diff != "" {
		t.Errorf("after clearing (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		name string
		u    accounts.User
	}{
		{"missing name source", accounts.User{ID: u.ID, NameIdentityID: id.ID + 1000}},
		{"missing avatar source", accounts.User{ID: u.ID, AvatarIdentityID: id.ID + 1000}},
	} {
		err := inTx(t, s, func(tx accounts.Tx) error { return tx.UpdateUser(ctx, tc.u) })
		if err == nil {
			t.Errorf("%s: UpdateUser succeeded, want a foreign key error", tc.name)
		}
	}
	err = inTx(t, s, func(tx accounts.Tx) error { return tx.UpdateUser(ctx, accounts.User{ID: u.ID + 1000}) })
	if !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("UpdateUser(missing) error = %v, want ErrNotFound", err)
	}
}

// testMoveAndDeleteUser is the storage half of a merge: identities and
// events change owner and nothing else, and the emptied user can go.
func testMoveAndDeleteUser(t *testing.T, s accounts.Store) {
	ctx := t.Context()
	into, keep := createUser(t, s, "google", "into", at(0))
	from, moving := createUser(t, s, "google", "from", at(time.Second))
	other, _ := createUser(t, s, "x", "bystander", at(0))
	mustTx(t, s, func(tx accounts.Tx) error {
		for i, u := range []int64{from.ID, from.ID, other.ID} {
			if err := tx.AddEvent(ctx, accounts.Event{UserID: u, Kind: "k", IdentityID: moving.ID, At: at(time.Duration(i) * time.Minute)}); err != nil {
				return err
			}
		}
		return nil
	})
	before, err := s.Events(ctx, from.ID, 0)
	if err != nil {
		t.Fatal(err)
	}

	var nIDs, nEvents int64
	mustTx(t, s, func(tx accounts.Tx) error {
		var err error
		if nIDs, err = tx.MoveIdentities(ctx, from.ID, into.ID); err != nil {
			return err
		}
		if nEvents, err = tx.MoveEvents(ctx, from.ID, into.ID); err != nil {
			return err
		}
		return tx.DeleteUser(ctx, from.ID)
	})
	if nIDs != 1 || nEvents != 2 {
		t.Errorf("moved %d identities and %d events, want 1 and 2", nIDs, nEvents)
	}
	moving.UserID = into.ID
	ids, err := s.Identities(ctx, into.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]accounts.Identity{keep, moving}, ids); diff != "" {
		t.Errorf("identities of the surviving user (-want +got):\n%s", diff)
	}
	for i := range before {
		before[i].UserID = into.ID
	}
	after, err := s.Events(ctx, into.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("moved events changed (-want +got):\n%s", diff)
	}
	if _, err := s.User(ctx, from.ID); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("User(deleted) error = %v, want ErrNotFound", err)
	}
	if events, err := s.Events(ctx, other.ID, 0); err != nil || len(events) != 1 {
		t.Errorf("bystander's events = %v, %v; want its one event untouched", events, err)
	}

	// A user deleted with identities and events left takes them along.
	gone, _ := createUser(t, s, "google", "gone", at(0))
	mustTx(t, s, func(tx accounts.Tx) error {
		if err := tx.AddEvent(ctx, accounts.Event{UserID: gone.ID, Kind: "k", At: at(0)}); err != nil {
			return err
		}
		return tx.DeleteUser(ctx, gone.ID)
	})
	mustTx(t, s, func(tx accounts.Tx) error {
		if _, err := tx.IdentityBySubject(ctx, "google", "gone"); !errors.Is(err, accounts.ErrNotFound) {
			t.Errorf("identity of a deleted user: error = %v, want ErrNotFound", err)
		}
		return nil
	})
	if events, err := s.Events(ctx, gone.ID, 0); err != nil || len(events) != 0 {
		t.Errorf("events of a deleted user = %v, %v; want none", events, err)
	}
	err = inTx(t, s, func(tx accounts.Tx) error { return tx.DeleteUser(ctx, gone.ID) })
	if !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("DeleteUser(gone) error = %v, want ErrNotFound", err)
	}
}
