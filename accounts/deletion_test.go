package accounts_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/linkport/linkport/accounts"
)

var adaFB = accounts.Profile{Provider: "facebook", Subject: "F-ada", Name: "Ada FB"}

// Delete marks the account, erases its stored provider tokens at once and
// writes an event; the account then signs no one in and its sessions end.
func TestDeleteMarksAndErasesTokens(t *testing.T) {
	svc, s, c := newService(t)
	svc.SetDeletionGrace(48 * time.Hour)
	res := mustSignIn(t, svc, ada)
	if _, err := svc.Link(t.Context(), res.User.ID, adaFB, accounts.Meta{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec("UPDATE identities SET access_token = x'01', refresh_token = x'02', token_expiry = 1"); err != nil {
		t.Fatal(err)
	}
	d, err := svc.Delete(t.Context(), res.User.ID, accounts.Meta{IP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	now := c.Now().UTC().Round(0)
	if want := (accounts.Deletion{RequestedAt: now, PurgeAfter: now.Add(48 * time.Hour)}); !d.RequestedAt.Equal(want.RequestedAt) || !d.PurgeAfter.Equal(want.PurgeAfter) {
		t.Errorf("Delete = %+v, want %+v", d, want)
	}
	if n := count(t, s, "SELECT count(*) FROM identities WHERE access_token IS NOT NULL OR refresh_token IS NOT NULL OR token_expiry IS NOT NULL"); n != 0 {
		t.Errorf("%d identities still hold tokens after Delete", n)
	}
	if got, err := svc.DeletionOf(t.Context(), res.User.ID); err != nil || !got.Pending() || !got.PurgeAfter.Equal(d.PurgeAfter) {
		t.Errorf("DeletionOf = %+v, %v; want the mark", got, err)
	}
	if k := kinds(t, svc, res.User.ID); len(k) == 0 || k[0] != accounts.EventDeletionRequested {
		t.Errorf("newest event %v, want %s first", k, accounts.EventDeletionRequested)
	}
	if _, err := svc.SessionUser(t.Context(), res.User.ID, res.Identity.ID); !errors.Is(err, accounts.ErrAccountDeleted) {
		t.Errorf("SessionUser of a deleted account: %v, want ErrAccountDeleted", err)
	}
	if _, err := svc.Delete(t.Context(), res.User.ID, accounts.Meta{}); !errors.Is(err, accounts.ErrAccountDeleted) {
		t.Errorf("second Delete: %v, want ErrAccountDeleted", err)
	}
	if _, err := svc.Delete(t.Context(), res.User.ID+100, accounts.Meta{}); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("Delete of a missing user: %v, want ErrNotFound", err)
	}
}

// During the grace period every identity of the account gets a
// DeletedError from SignIn (and SwitchTo), and nothing is written.
func TestSignInDuringGrace(t *testing.T) {
	svc, s, c := newService(t)
	res := mustSignIn(t, svc, ada)
	if _, err := svc.Link(t.Context(), res.User.ID, adaFB, accounts.Meta{}); err != nil {
		t.Fatal(err)
	}
	d, err := svc.Delete(t.Context(), res.User.ID, accounts.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(accounts.DefaultDeletionGrace - time.Minute)
	before := rowCounts(t, s)
	for _, p := range []accounts.Profile{ada, adaFB} {
		_, err := svc.SignIn(t.Context(), p, accounts.Meta{})
		var del *accounts.DeletedError
		if !errors.As(err, &del) || del.UserID != res.User.ID || !del.PurgeAfter.Equal(d.PurgeAfter) {
			t.Errorf("SignIn(%s): %v, want DeletedError{%d, %v}", p.Provider, err, res.User.ID, d.PurgeAfter)
		}
		if _, err := svc.SwitchTo(t.Context(), p, accounts.Meta{}); !errors.Is(err, accounts.ErrAccountDeleted) {
			t.Errorf("SwitchTo(%s): %v, want ErrAccountDeleted", p.Provider, err)
		}
	}
	if after := rowCounts(t, s); after != before {
		t.Errorf("rows changed by refused sign-ins: %s -> %s", before, after)
	}
}

// Restore clears the mark and signs in; a profile that is not the
// account's, or a restore after the grace period, is ErrProofGone.
func TestRestore(t *testing.T) {
	svc, _, c := newService(t)
	res := mustSignIn(t, svc, ada)
	other := mustSignIn(t, svc, accounts.Profile{Provider: "google", Subject: "B"})
	if _, err := svc.Delete(t.Context(), res.User.ID, accounts.Meta{}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Restore(t.Context(), res.User.ID, accounts.Profile{Provider: "google", Subject: "B"}, accounts.Meta{}); !errors.Is(err, accounts.ErrProofGone) {
		t.Errorf("Restore with another account's identity: %v, want ErrProofGone", err)
	}
	if d, _ := svc.DeletionOf(t.Context(), other.User.ID); d.Pending() {
		t.Error("the other account was marked")
	}
	c.Advance(time.Hour)
	got, err := svc.Restore(t.Context(), res.User.ID, ada, accounts.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if got.User.ID != res.User.ID || got.Identity.ID != res.Identity.ID {
		t.Errorf("Restore signed in user %d identity %d, want %d %d", got.User.ID, got.Identity.ID, res.User.ID, res.Identity.ID)
	}
	if d, _ := svc.DeletionOf(t.Context(), res.User.ID); d.Pending() {
		t.Error("still marked after Restore")
	}
	if diff := cmp.Diff([]string{accounts.EventSignedIn, accounts.EventRestored, accounts.EventDeletionRequested, accounts.EventSignedUp}, kinds(t, svc, res.User.ID)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if again := mustSignIn(t, svc, ada); again.User.ID != res.User.ID {
		t.Errorf("sign-in after restore: user %d, want %d", again.User.ID, res.User.ID)
	}

	// Past the grace period there is nothing to restore.
	if _, err := svc.Delete(t.Context(), res.User.ID, accounts.Meta{}); err != nil {
		t.Fatal(err)
	}
	c.Advance(accounts.DefaultDeletionGrace)
	if _, err := svc.Restore(t.Context(), res.User.ID, ada, accounts.Meta{}); !errors.Is(err, accounts.ErrProofGone) {
		t.Errorf("Restore after the grace period: %v, want ErrProofGone", err)
	}
}

// PurgeDeleted erases exactly the accounts past their grace period, with
// identities and events; the identity then signs up as a new user.
func TestPurgeDeleted(t *testing.T) {
	svc, s, c := newService(t)
	svc.SetDeletionGrace(24 * time.Hour)
	gone := mustSignIn(t, svc, ada)
	later := mustSignIn(t, svc, accounts.Profile{Provider: "google", Subject: "L"})
	kept := mustSignIn(t, svc, accounts.Profile{Provider: "google", Subject: "K"})
	if _, err := svc.Delete(t.Context(), gone.User.ID, accounts.Meta{}); err != nil {
		t.Fatal(err)
	}
	c.Advance(12 * time.Hour)
	if _, err := svc.Delete(t.Context(), later.User.ID, accounts.Meta{}); err != nil {
		t.Fatal(err)
	}
	if n, err := svc.PurgeDeleted(t.Context(), c.Now().Add(11*time.Hour)); err != nil || n != 0 {
		t.Fatalf("PurgeDeleted before any grace ended = %d, %v; want 0", n, err)
	}
	c.Advance(12 * time.Hour)
	n, err := svc.PurgeDeleted(t.Context(), c.Now())
	if err != nil || n != 1 {
		t.Fatalf("PurgeDeleted = %d, %v; want 1", n, err)
	}
	if _, err := svc.User(t.Context(), gone.User.ID); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("purged user: %v, want ErrNotFound", err)
	}
	for _, id := range []int64{later.User.ID, kept.User.ID} {
		mustUser(t, svc, id)
	}
	if n := count(t, s, "SELECT count(*) FROM events WHERE user_id = "+itoa(gone.User.ID)); n != 0 {
		t.Errorf("%d events of the purged user left", n)
	}
	again := mustSignIn(t, svc, ada)
	if !again.Created || again.User.ID == gone.User.ID {
		t.Errorf("sign-in after purge: %+v, want a new user", again)
	}
}

// A sign-in past the grace period that the purge has not reached yet
// purges the account itself and signs up anew; SwitchTo then finds no
// account.
func TestSignInAfterGracePurges(t *testing.T) {
	svc, _, c := newService(t)
	res := mustSignIn(t, svc, ada)
	if _, err := svc.Delete(t.Context(), res.User.ID, accounts.Meta{}); err != nil {
		t.Fatal(err)
	}
	c.Advance(accounts.DefaultDeletionGrace)
	if _, err := svc.SwitchTo(t.Context(), ada, accounts.Meta{}); !errors.Is(err, accounts.ErrProofGone) {
		t.Errorf("SwitchTo after grace: %v, want ErrProofGone", err)
	}
	again := mustSignIn(t, svc, ada)
	if !again.Created || again.User.ID == res.User.ID {
		t.Errorf("sign-in after grace: user %d created %v, want a new user", again.User.ID, again.Created)
	}
}

// StepUp accepts only an identity of the user, and writes its event.
func TestStepUp(t *testing.T) {
	svc, s, _ := newService(t)
	res := mustSignIn(t, svc, ada)
	other := mustSignIn(t, svc, accounts.Profile{Provider: "google", Subject: "B"})
	before := rowCounts(t, s)
	for _, p := range []accounts.Profile{{Provider: "google", Subject: "B"}, {Provider: "google", Subject: "new"}} {
		if _, err := svc.StepUp(t.Context(), res.User.ID, p, accounts.Meta{}); !errors.Is(err, accounts.ErrNotYourIdentity) {
			t.Errorf("StepUp with %s: %v, want ErrNotYourIdentity", p.Subject, err)
		}
	}
	if after := rowCounts(t, s); after != before {
		t.Errorf("refused step-ups changed rows: %s -> %s", before, after)
	}
	id, err := svc.StepUp(t.Context(), res.User.ID, ada, accounts.Meta{})
	if err != nil || id.ID != res.Identity.ID {
		t.Fatalf("StepUp = %+v, %v", id, err)
	}
	if k := kinds(t, svc, res.User.ID); k[0] != accounts.EventSteppedUp {
		t.Errorf("events %v, want %s first", k, accounts.EventSteppedUp)
	}
	_ = other
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
