package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/store"
)

// commitSession stores an scs session under key, as scs does with
// HashTokenInStore (the key is the token's hash).
func commitSession(t *testing.T, s testDB, key string) {
	t.Helper()
	if err := s.Sessions.Commit(key, []byte("data"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
}

func scsRows(t *testing.T, s testDB, key string) int {
	t.Helper()
	var n int
	if err := s.DB.QueryRow("SELECT count(*) FROM sessions WHERE token = $1", key).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// startSession indexes a session of user started with identityID and
// commits its scs row.
func startSession(t *testing.T, s testDB, hash string, userID, identityID int64, created time.Time) accounts.Session {
	t.Helper()
	sess := accounts.Session{
		TokenHash: hash, PublicID: "pub-" + hash, UserID: userID, IdentityID: identityID,
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0", IP: "192.0.2.7",
		CreatedAt: created, LastSeenAt: created,
	}
	if err := s.Index.Start(t.Context(), sess); err != nil {
		t.Fatalf("Start(%s): %v", hash, err)
	}
	commitSession(t, s, hash)
	return sess
}

func hashesOf(list []accounts.Session) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.TokenHash)
	}
	return out
}

// The session index: a row per signed-in session, moved on renewal,
// touched when seen, and revoked with its scs row.
func TestSessionIndex(t *testing.T) { forEachEngine(t, testSessionIndex) }

func testSessionIndex(t *testing.T, open func(...store.Option) testDB) {
	ctx := t.Context()
	s := open()
	x := s.Index
	ann, annGoogle := createUser(t, s, "google", "ann", at(0))
	bob, _ := createUser(t, s, "google", "bob", at(0))

	a1 := startSession(t, s, "a1", ann.ID, annGoogle.ID, at(time.Second))
	startSession(t, s, "a2", ann.ID, annGoogle.ID, at(2*time.Second))
	startSession(t, s, "a3", ann.ID, 0, at(3*time.Second))
	startSession(t, s, "b1", bob.ID, 0, at(time.Second))

	got, err := x.Get(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a1, got); diff != "" {
		t.Errorf("Get(a1) (-want +got):\n%s", diff)
	}
	if _, err := x.Get(ctx, "nope"); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("Get(unknown) = %v, want ErrNotFound", err)
	}
	if err := x.Start(ctx, a1); !errors.Is(err, accounts.ErrConflict) {
		t.Errorf("Start of an existing hash = %v, want ErrConflict", err)
	}

	// Seen moves last_seen_at forward only.
	if err := x.Seen(ctx, "a1", at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := x.Seen(ctx, "a1", at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := x.Get(ctx, "a1"); !got.LastSeenAt.Equal(at(time.Hour)) {
		t.Errorf("last seen = %v, want %v", got.LastSeenAt, at(time.Hour))
	}

	// List: the user's own, most recently active first.
	list, err := x.List(ctx, ann.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a1", "a3", "a2"}, hashesOf(list)); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}

	// Rotate keeps the row, created_at included, under the new hash; a
	// revoked row stays revoked.
	commitSession(t, s, "a1b")
	if err := x.Rotate(ctx, "a1", "a1b"); err != nil {
		t.Fatal(err)
	}
	if got, err := x.Get(ctx, "a1b"); err != nil || !got.CreatedAt.Equal(at(time.Second)) || got.PublicID != "pub-a1" {
		t.Errorf("after Rotate: %+v, %v; want a1's row under a1b", got, err)
	}
	if _, err := x.Get(ctx, "a1"); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("old hash after Rotate: %v, want ErrNotFound", err)
	}
	if err := x.Rotate(ctx, "gone", "new"); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Get(ctx, "new"); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("Rotate of a missing row created one: %v", err)
	}

	// RevokeIdentity: sessions that identity started, except the kept one.
	n, err := x.RevokeIdentity(ctx, ann.ID, annGoogle.ID, "a1b")
	if err != nil || n != 1 {
		t.Errorf("RevokeIdentity = %d, %v; want 1 (a2)", n, err)
	}
	if scsRows(t, s, "a2") != 0 {
		t.Error("a2's scs row survived RevokeIdentity")
	}
	// RevokeOthers: every other session of the user, never another user's.
	n, err = x.RevokeOthers(ctx, ann.ID, "a1b")
	if err != nil || n != 1 {
		t.Errorf("RevokeOthers = %d, %v; want 1 (a3)", n, err)
	}
	list, _ = x.List(ctx, ann.ID)
	if diff := cmp.Diff([]string{"a1b"}, hashesOf(list)); diff != "" {
		t.Errorf("List after revocations (-want +got):\n%s", diff)
	}
	if _, err := x.Get(ctx, "b1"); err != nil {
		t.Errorf("bob's session: %v", err)
	}
	if err := x.Revoke(ctx, "a1b"); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Get(ctx, "a1b"); !errors.Is(err, accounts.ErrNotFound) || scsRows(t, s, "a1b") != 0 {
		t.Errorf("after Revoke: index %v, scs rows %d; want both gone", err, scsRows(t, s, "a1b"))
	}

	// A late scs write-back of a revoked session does not list it.
	commitSession(t, s, "a1b")
	if list, _ := x.List(ctx, ann.ID); len(list) != 0 {
		t.Errorf("List after a late write-back: %v, want none", hashesOf(list))
	}
	// Deleting the user deletes its rows.
	if _, err := s.DB.Exec("DELETE FROM users WHERE id = $1", bob.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Get(ctx, "b1"); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("bob's row after his deletion: %v", err)
	}
}

// List shows only sessions whose scs row exists, and Start drops a user's
// rows whose scs session has been gone for a while.
func TestSessionIndexOrphans(t *testing.T) { forEachEngine(t, testSessionIndexOrphans) }

func testSessionIndexOrphans(t *testing.T, open func(...store.Option) testDB) {
	ctx := t.Context()
	s := open()
	x := s.Index
	u, _ := createUser(t, s, "google", "ann", at(0))
	if err := x.Start(ctx, accounts.Session{TokenHash: "old", PublicID: "p-old", UserID: u.ID, CreatedAt: at(0), LastSeenAt: at(0)}); err != nil {
		t.Fatal(err)
	}
	if err := x.Start(ctx, accounts.Session{TokenHash: "young", PublicID: "p-young", UserID: u.ID, CreatedAt: at(time.Hour), LastSeenAt: at(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if list, _ := x.List(ctx, u.ID); len(list) != 0 {
		t.Errorf("List without scs rows: %v, want none", hashesOf(list))
	}
	startSession(t, s, "new", u.ID, 0, at(time.Hour+30*time.Second))
	if _, err := x.Get(ctx, "old"); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("an hour-old orphan survived Start: %v", err)
	}
	if _, err := x.Get(ctx, "young"); err != nil {
		t.Errorf("a 30-second-old row (a sign-in in progress) was dropped: %v", err)
	}
}
