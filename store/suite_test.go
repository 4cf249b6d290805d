package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/linkport/linkport/accounts"
)

// testStore runs the tests every accounts.Store implementation must pass.
// open returns a fresh, empty, migrated store that lives until the test ends.
func testStore(t *testing.T, open func(t *testing.T) accounts.Store) {
	t.Run("UserNotFound", func(t *testing.T) { testUserNotFound(t, open(t)) })
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, open(t)) })
	t.Run("Ordering", func(t *testing.T) { testOrdering(t, open(t)) })
	t.Run("DuplicateSubjectConflicts", func(t *testing.T) { testDuplicateSubject(t, open(t)) })
	t.Run("ConstraintsEnforced", func(t *testing.T) { testConstraints(t, open(t)) })
	t.Run("UpdateIdentity", func(t *testing.T) { testUpdateIdentity(t, open(t)) })
	t.Run("RollbackOnError", func(t *testing.T) { testRollbackOnError(t, open(t)) })
	t.Run("RollbackOnPanic", func(t *testing.T) { testRollbackOnPanic(t, open(t)) })
	testLinkingStore(t, open)
}

// at is a fixed instant plus d, in UTC as stores return times.
func at(d time.Duration) time.Time {
	return time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC).Add(d)
}

// mustTx runs fn in a transaction and fails the test on error.
func mustTx(t *testing.T, s accounts.Store, fn func(tx accounts.Tx) error) {
	t.Helper()
	if err := s.InTx(t.Context(), fn); err != nil {
		t.Fatalf("InTx: %v", err)
	}
}

// createUser makes a user with one identity (provider, subject) and returns both.
func createUser(t *testing.T, s accounts.Store, provider, subject string, created time.Time) (accounts.User, accounts.Identity) {
	t.Helper()
	var (
		u  accounts.User
		id accounts.Identity
	)
	mustTx(t, s, func(tx accounts.Tx) error {
		var err error
		u, err = tx.CreateUser(t.Context(), accounts.User{DisplayName: subject, CreatedAt: created, UpdatedAt: created})
		if err != nil {
			return err
		}
		id, err = tx.CreateIdentity(t.Context(), accounts.Identity{
			UserID: u.ID, Provider: provider, Subject: subject, CreatedAt: created, LastUsedAt: created,
		})
		return err
	})
	return u, id
}

func testUserNotFound(t *testing.T, s accounts.Store) {
	ctx := t.Context()
	if _, err := s.User(ctx, 12345); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("User(12345) error = %v, want ErrNotFound", err)
	}
	ids, err := s.Identities(ctx, 12345)
	if err != nil || len(ids) != 0 {
		t.Errorf("Identities(12345) = %v, %v; want none, nil", ids, err)
	}
	err = s.InTx(ctx, func(tx accounts.Tx) error {
		if _, err := tx.IdentityBySubject(ctx, "google", "nobody"); !errors.Is(err, accounts.ErrNotFound) {
			t.Errorf("IdentityBySubject(nobody) error = %v, want ErrNotFound", err)
		}
		if _, err := tx.User(ctx, 12345); !errors.Is(err, accounts.ErrNotFound) {
			t.Errorf("tx.User(12345) error = %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testRoundTrip(t *testing.T, s accounts.Store) {
	ctx := t.Context()
	wantUser := accounts.User{
		DisplayName: "Ada", AvatarURL: "https://example.com/a.png", PrimaryEmail: "ada@example.com",
		CreatedAt: at(0), UpdatedAt: at(time.Second),
	}
	wantID := accounts.Identity{
		Provider: "google", Subject: "1001", Email: "ada@example.com", EmailVerified: true,
		Name: "Ada L", Nickname: "ada", AvatarURL: "https://example.com/g.png",
		CreatedAt: at(0), LastUsedAt: at(time.Minute),
	}
	wantEvent := accounts.Event{Kind: accounts.EventSignedUp, Provider: "google", IP: "192.0.2.1", UserAgent: "test/1", At: at(0)}
	var gotTxUser accounts.User
	mustTx(t, s, func(tx accounts.Tx) error {
		u, err := tx.CreateUser(ctx, wantUser)
		if err != nil {
			return err
		}
		wantUser.ID = u.ID
		if diff := cmp.Diff(wantUser, u); diff != "" {
			t.Errorf("CreateUser returned (-want +got):\n%s", diff)
		}
		wantID.UserID = u.ID
		id, err := tx.CreateIdentity(ctx, wantID)
		if err != nil {
			return err
		}
		wantID.ID = id.ID
		if id.ID == 0 {
			t.Error("CreateIdentity returned ID 0")
		}
		if gotTxUser, err = tx.User(ctx, u.ID); err != nil {
			return err
		}
		got, err := tx.IdentityBySubject(ctx, "google", "1001")
		if err != nil {
			return err
		}
		if diff := cmp.Diff(wantID, got); diff != "" {
			t.Errorf("IdentityBySubject (-want +got):\n%s", diff)
		}
		wantEvent.UserID, wantEvent.IdentityID = u.ID, id.ID
		return tx.AddEvent(ctx, wantEvent)
	})
	if diff := cmp.Diff(wantUser, gotTxUser); diff != "" {
		t.Errorf("tx.User (-want +got):\n%s", diff)
	}
	gotUser, err := s.User(ctx, wantUser.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantUser, gotUser); diff != "" {
		t.Errorf("User (-want +got):\n%s", diff)
	}
	ids, err := s.Identities(ctx, wantUser.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]accounts.Identity{wantID}, ids); diff != "" {
		t.Errorf("Identities (-want +got):\n%s", diff)
	}
	events, err := s.Events(ctx, wantUser.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) == 1 {
		wantEvent.ID = events[0].ID
	}
	if diff := cmp.Diff([]accounts.Event{wantEvent}, events); diff != "" {
		t.Errorf("Events (-want +got):\n%s", diff)
	}

	// A user without an email and an event without an identity keep their zero values.
	var bare accounts.User
	mustTx(t, s, func(tx accounts.Tx) error {
		var err error
		if bare, err = tx.CreateUser(ctx, accounts.User{CreatedAt: at(0), UpdatedAt: at(0)}); err != nil {
			return err
		}
		return tx.AddEvent(ctx, accounts.Event{UserID: bare.ID, Kind: "session_revoked", At: at(0)})
	})
	got, err := s.User(ctx, bare.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(bare, got); diff != "" {
		t.Errorf("bare user (-want +got):\n%s", diff)
	}
	events, err = s.Events(ctx, bare.ID, 0)
	if err != nil || len(events) != 1 || events[0].IdentityID != 0 || events[0].Provider != "" {
		t.Errorf("bare user's events = %+v, %v; want one with no identity", events, err)
	}
}

func testOrdering(t *testing.T, s accounts.Store) {
	ctx := t.Context()
	u, first := createUser(t, s, "google", "b", at(time.Hour))
	var ids []accounts.Identity
	mustTx(t, s, func(tx accounts.Tx) error {
		// Created later in the transaction, but earlier by the clock.
		earlier, err := tx.CreateIdentity(ctx, accounts.Identity{UserID: u.ID, Provider: "x", Subject: "a", CreatedAt: at(0), LastUsedAt: at(0)})
		if err != nil {
			return err
		}
		tie, err := tx.CreateIdentity(ctx, accounts.Identity{UserID: u.ID, Provider: "x", Subject: "c", CreatedAt: at(time.Hour), LastUsedAt: at(0)})
		if err != nil {
			return err
		}
		ids = []accounts.Identity{earlier, first, tie}
		for i, k := range []string{"e1", "e2", "e3"} {
			if err := tx.AddEvent(ctx, accounts.Event{UserID: u.ID, Kind: k, At: at(time.Duration(i) * time.Minute)}); err != nil {
				return err
			}
		}
		return nil
	})
	got, err := s.Identities(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids, got); diff != "" {
		t.Errorf("Identities not ordered by CreatedAt, ID (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		limit int
		want  []string
	}{
		{0, []string{"e3", "e2", "e1"}},
		{2, []string{"e3", "e2"}},
	} {
		events, err := s.Events(ctx, u.ID, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, e := range events {
			kinds = append(kinds, e.Kind)
		}
		if diff := cmp.Diff(tc.want, kinds); diff != "" {
			t.Errorf("Events(limit %d) kinds (-want +got):\n%s", tc.limit, diff)
		}
	}
}

// testDuplicateSubject is C-01d: (provider, subject) is unique and a second
// one is reported as accounts.ErrConflict; the same subject at another
// provider is a different identity.
func testDuplicateSubject(t *testing.T, s accounts.Store) {
	ctx := t.Context()
	u1, _ := createUser(t, s, "facebook", "12345", at(0))
	createUser(t, s, "x", "12345", at(0))
	err := s.InTx(ctx, func(tx accounts.Tx) error {
		u2, err := tx.CreateUser(ctx, accounts.User{CreatedAt: at(0), UpdatedAt: at(0)})
		if err != nil {
			return err
		}
		_, err = tx.CreateIdentity(ctx, accounts.Identity{UserID: u2.ID, Provider: "facebook", Subject: "12345", CreatedAt: at(0), LastUsedAt: at(0)})
		return err
	})
	if !errors.Is(err, accounts.ErrConflict) {
		t.Fatalf("duplicate (facebook, 12345): error = %v, want ErrConflict", err)
	}
	ids, err := s.Identities(ctx, u1.ID)
	if err != nil || len(ids) != 1 {
		t.Errorf("first owner's identities = %v, %v; want exactly one", ids, err)
	}
}

// testConstraints is E-04b: the schema itself refuses an identity without a
// provider, subject or existing user.
func testConstraints(t *testing.T, s accounts.Store) {
	ctx := t.Context()
	u, _ := createUser(t, s, "google", "owner", at(0))
	for _, tc := range []struct {
		name string
		id   accounts.Identity
	}{
		{"empty subject", accounts.Identity{UserID: u.ID, Provider: "google", Subject: ""}},
		{"empty provider", accounts.Identity{UserID: u.ID, Provider: "", Subject: "1"}},
		{"no such user", accounts.Identity{UserID: u.ID + 1000, Provider: "google", Subject: "2"}},
		{"no user", accounts.Identity{Provider: "google", Subject: "3"}},
	} {
		err := s.InTx(ctx, func(tx accounts.Tx) error {
			_, err := tx.CreateIdentity(ctx, tc.id)
			return err
		})
		if err == nil {
			t.Errorf("%s: CreateIdentity succeeded, want a constraint error", tc.name)
		} else if errors.Is(err, accounts.ErrConflict) {
			t.Errorf("%s: error = %v, must not be ErrConflict", tc.name, err)
		}
	}
	if ids, err := s.Identities(ctx, u.ID); err != nil || len(ids) != 1 {
		t.Errorf("identities after refused inserts = %v, %v; want exactly one", ids, err)
	}
	err := s.InTx(ctx, func(tx accounts.Tx) error {
		return tx.AddEvent(ctx, accounts.Event{UserID: u.ID + 1000, Kind: accounts.EventSignedIn})
	})
	if err == nil {
		t.Error("AddEvent for a missing user succeeded, want a foreign key error")
	}
}

func testUpdateIdentity(t *testing.T, s accounts.Store) {
	ctx := t.Context()
	u, id := createUser(t, s, "google", "1", at(0))
	want := id
	want.Email, want.EmailVerified = "new@example.com", true
	want.Name, want.Nickname, want.AvatarURL = "New", "nick", "https://example.com/n.png"
	want.LastUsedAt = at(time.Hour)
	mustTx(t, s, func(tx accounts.Tx) error {
		changed := want
		changed.Provider, changed.Subject, changed.UserID, changed.CreatedAt = "evil", "other", 999, at(-time.Hour) // not updatable
		return tx.UpdateIdentity(ctx, changed)
	})
	got, err := s.Identities(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]accounts.Identity{want}, got); diff != "" {
		t.Errorf("after UpdateIdentity (-want +got):\n%s", diff)
	}
	err = s.InTx(ctx, func(tx accounts.Tx) error {
		return tx.UpdateIdentity(ctx, accounts.Identity{ID: id.ID + 1000, LastUsedAt: at(0)})
	})
	if !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("UpdateIdentity(missing) error = %v, want ErrNotFound", err)
	}
}

func testRollbackOnError(t *testing.T, s accounts.Store) {
	ctx := t.Context()
	errBoom := errors.New("boom")
	var uid int64
	err := s.InTx(ctx, func(tx accounts.Tx) error {
		u, err := tx.CreateUser(ctx, accounts.User{DisplayName: "ghost", CreatedAt: at(0), UpdatedAt: at(0)})
		if err != nil {
			return err
		}
		uid = u.ID
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InTx error = %v, want %v", err, errBoom)
	}
	if _, err := s.User(ctx, uid); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("user %d after rollback: error = %v, want ErrNotFound", uid, err)
	}
}

func testRollbackOnPanic(t *testing.T, s accounts.Store) {
	ctx := t.Context()
	var uid int64
	recovered := func() (r any) {
		defer func() { r = recover() }()
		s.InTx(ctx, func(tx accounts.Tx) error {
			u, err := tx.CreateUser(ctx, accounts.User{DisplayName: "ghost", CreatedAt: at(0), UpdatedAt: at(0)})
			if err != nil {
				t.Error(err)
			}
			uid = u.ID
			panic("boom")
		})
		return nil
	}()
	if recovered != "boom" {
		t.Fatalf("recovered %v, want the panic to pass through InTx", recovered)
	}
	if _, err := s.User(ctx, uid); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("user %d after panic: error = %v, want ErrNotFound", uid, err)
	}
	// The connection went back to the pool in a usable state.
	createUser(t, s, "google", "after-panic", at(0))
}
