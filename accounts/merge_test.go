package accounts_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/linkport/linkport/accounts"
)

// TestMerge: the preview says what moves, and the merge moves every
// identity and event, deletes the other account and keeps this one's
// profile.
func TestMerge(t *testing.T) {
	svc, s, clk := newService(t)
	into := mustSignIn(t, svc, ada)
	clk.Advance(time.Minute)
	from := mustSignIn(t, svc, bob)
	clk.Advance(time.Minute)
	fromX := mustLink(t, svc, from.User.ID, accounts.Profile{Provider: "x", Subject: "bob-x"})
	clk.Advance(time.Minute)
	mustSignIn(t, svc, bob)
	fromEvents := mustEvents(t, svc, from.User.ID) // signed_in, linked, signed_up
	intoUser := mustUser(t, svc, into.User.ID)
	fromUser := mustUser(t, svc, from.User.ID)
	fromIDs := mustIdentities(t, svc, from.User.ID)
	clk.Advance(time.Minute)

	// bob's own Google account is the proof of the other account.
	preview, err := svc.MergePreview(t.Context(), into.User.ID, bob)
	if err != nil {
		t.Fatal(err)
	}
	wantPreview := accounts.MergePreview{
		Into: intoUser, From: fromUser, Moving: fromIDs, Events: len(fromEvents),
		Keeping: []accounts.Identity{into.Identity},
	}
	if diff := cmp.Diff(wantPreview, preview); diff != "" {
		t.Errorf("preview (-want +got):\n%s", diff)
	}
	if got := rowCounts(t, s); got != "users=2 identities=3 events=4 orphans=0" {
		t.Errorf("preview wrote rows: %s", got)
	}

	res, err := svc.Merge(t.Context(), into.User.ID, bob, linkMeta)
	if err != nil {
		t.Fatal(err)
	}

	moved := append([]accounts.Identity(nil), fromIDs...)
	for i := range moved {
		moved[i].UserID = into.User.ID
	}
	if diff := cmp.Diff(accounts.MergeResult{Moved: moved, Events: 3}, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(append([]accounts.Identity{into.Identity}, moved...), mustIdentities(t, svc, into.User.ID)); diff != "" {
		t.Errorf("surviving user's identities (-want +got):\n%s", diff)
	}
	if _, err := svc.User(t.Context(), from.User.ID); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("merged user: error = %v, want ErrNotFound", err)
	}
	if diff := cmp.Diff(intoUser, mustUser(t, svc, into.User.ID)); diff != "" {
		t.Errorf("surviving user's profile changed (-want +got):\n%s", diff)
	}

	// Every moved event kept its id, kind and time; a merged event per
	// moved identity came on top.
	now := clk.Now()
	var want []accounts.Event
	for _, id := range moved {
		want = append(want, accounts.Event{
			UserID: into.User.ID, Kind: accounts.EventMerged, Provider: id.Provider, IdentityID: id.ID,
			IP: linkMeta.IP, UserAgent: linkMeta.UserAgent, At: now,
		})
	}
	want = []accounts.Event{want[1], want[0]} // newest first: same time, higher id first
	for _, e := range fromEvents {
		e.UserID = into.User.ID
		want = append(want, e)
	}
	got := mustEvents(t, svc, into.User.ID)
	if len(got) != len(want)+1 {
		t.Fatalf("surviving user has %d events, want %d", len(got), len(want)+1)
	}
	if diff := cmp.Diff(want[:2], got[:2], ignoreEventID); diff != "" {
		t.Errorf("merged events (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want[2:], got[2:len(got)-1]); diff != "" {
		t.Errorf("moved events (-want +got):\n%s", diff)
	}
	if got[len(got)-1].Kind != accounts.EventSignedUp {
		t.Errorf("oldest event = %+v, want the surviving user's own sign-up", got[len(got)-1])
	}
	if got := rowCounts(t, s); got != "users=1 identities=3 events=6 orphans=0" {
		t.Errorf("rows: %s", got)
	}

	// The moved identity now signs in to the surviving account.
	again := mustSignIn(t, svc, accounts.Profile{Provider: "x", Subject: "bob-x"})
	if again.User.ID != into.User.ID || again.Identity.ID != fromX.ID {
		t.Errorf("moved identity signed in as user %d identity %d, want user %d identity %d",
			again.User.ID, again.Identity.ID, into.User.ID, fromX.ID)
	}
}

// TestMergeAfterTakenLink is the conflict flow: a refused link names the
// other account, a merge of it brings the identity over, and linking it
// again is then a no-op.
func TestMergeAfterTakenLink(t *testing.T) {
	svc, _, _ := newService(t)
	me := mustSignIn(t, svc, bob)
	mustSignIn(t, svc, ada)

	_, err := svc.Link(t.Context(), me.User.ID, ada, linkMeta)
	var taken *accounts.TakenError
	if !errors.As(err, &taken) {
		t.Fatalf("Link error = %v, want a *TakenError", err)
	}
	if _, err := svc.Merge(t.Context(), me.User.ID, ada, linkMeta); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Link(t.Context(), me.User.ID, ada, linkMeta); !errors.Is(err, accounts.ErrAlreadyLinked) {
		t.Errorf("Link after the merge: error = %v, want ErrAlreadyLinked", err)
	}
	if n := len(mustIdentities(t, svc, me.User.ID)); n != 2 {
		t.Errorf("identities after the merge = %d, want 2", n)
	}
}

// TestMergeRefused: a merge into itself, with a proof that no account
// holds, or into a missing account changes nothing; the preview refuses the
// same.
func TestMergeRefused(t *testing.T) {
	svc, s, _ := newService(t)
	u := mustSignIn(t, svc, ada)
	other := mustSignIn(t, svc, bob)
	before := rowCounts(t, s)
	for _, tc := range []struct {
		name  string
		into  int64
		proof accounts.Profile
		want  error
	}{
		{"self", u.User.ID, ada, accounts.ErrSameAccount},
		{"proof held by nobody", u.User.ID, accounts.Profile{Provider: "google", Subject: "nobody"}, accounts.ErrProofGone},
		{"missing into", other.User.ID + 1000, ada, accounts.ErrNotFound},
	} {
		if _, err := svc.MergePreview(t.Context(), tc.into, tc.proof); !errors.Is(err, tc.want) {
			t.Errorf("%s: MergePreview error = %v, want %v", tc.name, err, tc.want)
		}
		if _, err := svc.Merge(t.Context(), tc.into, tc.proof, linkMeta); !errors.Is(err, tc.want) {
			t.Errorf("%s: Merge error = %v, want %v", tc.name, err, tc.want)
		}
	}
	if got := rowCounts(t, s); got != before {
		t.Errorf("rows after refused merges: %s, want %s", got, before)
	}
}

// TestMergeProofRemoved: once the other account removed the identity that
// proved it, the merge is refused and nothing moves (LINKING.md P7); so is
// switching to that account, which must not create a new one.
func TestMergeProofRemoved(t *testing.T) {
	svc, s, _ := newService(t)
	me := mustSignIn(t, svc, bob)
	other := mustSignIn(t, svc, ada)
	mustLink(t, svc, other.User.ID, accounts.Profile{Provider: "x", Subject: "ada-x"})
	if _, err := svc.Unlink(t.Context(), other.User.ID, other.Identity.ID, linkMeta); err != nil {
		t.Fatal(err)
	}
	before := rowCounts(t, s)
	if _, err := svc.Merge(t.Context(), me.User.ID, ada, linkMeta); !errors.Is(err, accounts.ErrProofGone) {
		t.Errorf("Merge with a removed proof: %v, want ErrProofGone", err)
	}
	if _, err := svc.SwitchTo(t.Context(), ada, linkMeta); !errors.Is(err, accounts.ErrProofGone) {
		t.Errorf("SwitchTo a removed identity: %v, want ErrProofGone", err)
	}
	if got := rowCounts(t, s); got != before {
		t.Errorf("rows after refused merge and switch: %s, want %s", got, before)
	}
	if res, err := svc.SwitchTo(t.Context(), accounts.Profile{Provider: "x", Subject: "ada-x"}, linkMeta); err != nil || res.User.ID != other.User.ID {
		t.Errorf("SwitchTo a held identity: user %d, %v; want %d", res.User.ID, err, other.User.ID)
	}
}

// An account scheduled for deletion is neither merged nor previewed: the
// rule sits in OtherHolder and Merge applies it inside its transaction.
func TestMergeRefusesDeletedHolder(t *testing.T) {
	svc, s, _ := newService(t)
	me := mustSignIn(t, svc, bob)
	other := mustSignIn(t, svc, ada)
	if _, err := svc.Delete(t.Context(), other.User.ID, linkMeta); err != nil {
		t.Fatal(err)
	}
	before := rowCounts(t, s)
	if _, err := svc.OtherHolder(t.Context(), me.User.ID, ada); !errors.Is(err, accounts.ErrAccountDeleted) {
		t.Errorf("OtherHolder of a deleted account: %v, want ErrAccountDeleted", err)
	}
	if _, err := svc.MergePreview(t.Context(), me.User.ID, ada); !errors.Is(err, accounts.ErrAccountDeleted) {
		t.Errorf("MergePreview of a deleted account: %v, want ErrAccountDeleted", err)
	}
	if _, err := svc.Merge(t.Context(), me.User.ID, ada, linkMeta); !errors.Is(err, accounts.ErrAccountDeleted) {
		t.Errorf("Merge of a deleted account: %v, want ErrAccountDeleted", err)
	}
	if got := rowCounts(t, s); got != before {
		t.Errorf("rows after refused merge: %s, want %s", got, before)
	}
}
