package accounts_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/linkport/linkport/accounts"
)

func TestUnlink(t *testing.T) {
	svc, s, clk := newService(t)
	u := mustSignIn(t, svc, ada)
	gh := mustLink(t, svc, u.User.ID, github)
	// Stored tokens must go with the identity (C-06d).
	if _, err := s.DB().ExecContext(t.Context(),
		"UPDATE identities SET access_token = x'01', refresh_token = x'02' WHERE id = ?", gh.ID); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)

	res, err := svc.Unlink(t.Context(), u.User.ID, gh.ID, linkMeta)
	if err != nil {
		t.Fatal(err)
	}

	if diff := cmp.Diff(accounts.UnlinkResult{Removed: gh}, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]accounts.Identity{u.Identity}, mustIdentities(t, svc, u.User.ID)); diff != "" {
		t.Errorf("identities (-want +got):\n%s", diff)
	}
	if got := count(t, s, "SELECT count(*) FROM identities WHERE access_token IS NOT NULL OR refresh_token IS NOT NULL"); got != 0 {
		t.Errorf("%d identities still hold tokens", got)
	}
	want := accounts.Event{
		UserID: u.User.ID, Kind: accounts.EventUnlinked, Provider: "github", IdentityID: gh.ID,
		IP: linkMeta.IP, UserAgent: linkMeta.UserAgent, At: clk.Now(),
	}
	if diff := cmp.Diff([]accounts.Event{want}, mustEvents(t, svc, u.User.ID)[:1], ignoreEventID); diff != "" {
		t.Errorf("newest event (-want +got):\n%s", diff)
	}
	// Not a profile source, so the profile stays.
	if diff := cmp.Diff(u.User, mustUser(t, svc, u.User.ID)); diff != "" {
		t.Errorf("user changed (-want +got):\n%s", diff)
	}
}

// TestC06a_LastIdentityCannotBeRemoved: the only identity stays, and the
// refusal changes nothing.
func TestC06a_LastIdentityCannotBeRemoved(t *testing.T) {
	svc, s, _ := newService(t)
	u := mustSignIn(t, svc, ada)

	_, err := svc.Unlink(t.Context(), u.User.ID, u.Identity.ID, linkMeta)

	if !errors.Is(err, accounts.ErrLastIdentity) {
		t.Fatalf("Unlink error = %v, want ErrLastIdentity", err)
	}
	if diff := cmp.Diff([]accounts.Identity{u.Identity}, mustIdentities(t, svc, u.User.ID)); diff != "" {
		t.Errorf("identities (-want +got):\n%s", diff)
	}
	if got := rowCounts(t, s); got != "users=1 identities=1 events=1 orphans=0" {
		t.Errorf("rows: %s", got)
	}
}

// TestC06b_ConcurrentUnlinksKeepOne: two unlinks of a user's last two
// identities at once leave one, every round: exactly one succeeds and the
// other gets ErrLastIdentity.
func TestC06b_ConcurrentUnlinksKeepOne(t *testing.T) {
	svc, s, _ := newService(t)
	const rounds = 200
	// One transaction builds every round's user, to keep the test fast under
	// -race; the rounds themselves go through the service.
	type round struct {
		userID  int64
		targets [2]int64
	}
	plan := make([]round, rounds)
	err := s.InTx(t.Context(), func(tx accounts.Tx) error {
		for r := range plan {
			u, err := tx.CreateUser(t.Context(), accounts.User{})
			if err != nil {
				return err
			}
			plan[r].userID = u.ID
			for i, provider := range []string{"google", "github"} {
				id, err := tx.CreateIdentity(t.Context(), accounts.Identity{UserID: u.ID, Provider: provider, Subject: fmt.Sprint(r)})
				if err != nil {
					return err
				}
				plan[r].targets[i] = id.ID
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for r, p := range plan {
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Go(func() { _, errs[i] = svc.Unlink(t.Context(), p.userID, p.targets[i], linkMeta) })
		}
		wg.Wait()

		ok, last := 0, 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, accounts.ErrLastIdentity):
				last++
			default:
				t.Fatalf("round %d: Unlink(%d): %v", r, p.targets[i], err)
			}
		}
		if ok != 1 || last != 1 {
			t.Fatalf("round %d: %d successes and %d ErrLastIdentity (%v), want one each", r, ok, last, errs)
		}
	}
	if got := count(t, s, "SELECT count(*) FROM users WHERE id NOT IN (SELECT user_id FROM identities)"); got != 0 {
		t.Errorf("%d users left without an identity", got)
	}
	if got := count(t, s, "SELECT count(*) FROM identities"); got != rounds {
		t.Errorf("identities = %d, want one per user (%d)", got, rounds)
	}
}

// TestC06c_UnlinkOthersIdentityRefused: an identity the user does not hold,
// another's or none at all, is not found, and nothing is deleted.
func TestC06c_UnlinkOthersIdentityRefused(t *testing.T) {
	svc, s, _ := newService(t)
	victim := mustSignIn(t, svc, ada)
	mustLink(t, svc, victim.User.ID, github) // two, so the last-identity rule cannot be what refuses
	attacker := mustSignIn(t, svc, bob)
	mustLink(t, svc, attacker.User.ID, accounts.Profile{Provider: "x", Subject: "bob-x"})
	before := rowCounts(t, s)

	for _, tc := range []struct {
		name       string
		userID     int64
		identityID int64
		want       error
	}{
		{"another user's identity", attacker.User.ID, victim.Identity.ID, accounts.ErrNotOwner},
		{"no such identity", attacker.User.ID, victim.Identity.ID + 1000, accounts.ErrNotOwner},
		{"no such user", attacker.User.ID + 1000, victim.Identity.ID, accounts.ErrNotFound},
	} {
		_, err := svc.Unlink(t.Context(), tc.userID, tc.identityID, linkMeta)
		if !errors.Is(err, tc.want) || !errors.Is(err, accounts.ErrNotFound) {
			t.Errorf("%s: error = %v, want %v, which is also ErrNotFound", tc.name, err, tc.want)
		}
	}
	if got := rowCounts(t, s); got != before {
		t.Errorf("rows after refused unlinks: %s, want %s", got, before)
	}
}

// TestUnlinkFallsBackProfileSource: removing the identity that supplies a
// field hands the field to the oldest remaining identity and says so.
func TestUnlinkFallsBackProfileSource(t *testing.T) {
	svc, _, clk := newService(t)
	u := mustSignIn(t, svc, ada) // supplies both fields
	clk.Advance(time.Minute)
	gh := mustLink(t, svc, u.User.ID, github)
	clk.Advance(time.Minute)
	x := mustLink(t, svc, u.User.ID, accounts.Profile{Provider: "x", Subject: "x-1", Nickname: "ada_x", AvatarURL: "https://example.com/x.png"})
	if err := svc.SetProfileSource(t.Context(), u.User.ID, accounts.FieldAvatar, x.ID, linkMeta); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)

	// The name source goes: GitHub, the oldest left, takes over the name.
	res, err := svc.Unlink(t.Context(), u.User.ID, u.Identity.ID, linkMeta)
	if err != nil {
		t.Fatal(err)
	}
	want := []accounts.ProfileFallback{{Field: accounts.FieldDisplayName, From: u.Identity, To: gh}}
	if diff := cmp.Diff(want, res.Fallbacks); diff != "" {
		t.Errorf("fallbacks (-want +got):\n%s", diff)
	}
	got := mustUser(t, svc, u.User.ID)
	if got.NameIdentityID != gh.ID || got.DisplayName != "Ada (GitHub)" ||
		got.AvatarIdentityID != x.ID || got.AvatarURL != "https://example.com/x.png" || !got.UpdatedAt.Equal(clk.Now()) {
		t.Errorf("user = %+v; want the name from GitHub, the avatar still from X, updated now", got)
	}
	if diff := cmp.Diff([]string{"profile_changed", "unlinked"}, kinds(t, svc, u.User.ID)[:2]); diff != "" {
		t.Errorf("newest event kinds (-want +got):\n%s", diff)
	}

	// The avatar source goes: GitHub, the only one left, takes it over.
	res, err = svc.Unlink(t.Context(), u.User.ID, x.ID, linkMeta)
	if err != nil {
		t.Fatal(err)
	}
	want = []accounts.ProfileFallback{{Field: accounts.FieldAvatar, From: x, To: gh}}
	if diff := cmp.Diff(want, res.Fallbacks); diff != "" {
		t.Errorf("second fallbacks (-want +got):\n%s", diff)
	}
	got = mustUser(t, svc, u.User.ID)
	if got.AvatarIdentityID != gh.ID || got.AvatarURL != "https://example.com/gh.png" {
		t.Errorf("avatar = %d %q, want GitHub's", got.AvatarIdentityID, got.AvatarURL)
	}
}

// TestUnlinkBothSourcesFallBack: one identity that supplied both fields
// reports both, in field order.
func TestUnlinkBothSourcesFallBack(t *testing.T) {
	svc, _, _ := newService(t)
	u := mustSignIn(t, svc, ada)
	gh := mustLink(t, svc, u.User.ID, github)
	res, err := svc.Unlink(t.Context(), u.User.ID, u.Identity.ID, linkMeta)
	if err != nil {
		t.Fatal(err)
	}
	want := []accounts.ProfileFallback{
		{Field: accounts.FieldDisplayName, From: u.Identity, To: gh},
		{Field: accounts.FieldAvatar, From: u.Identity, To: gh},
	}
	if diff := cmp.Diff(want, res.Fallbacks); diff != "" {
		t.Errorf("fallbacks (-want +got):\n%s", diff)
	}
	got := mustUser(t, svc, u.User.ID)
	if got.DisplayName != "Ada (GitHub)" || got.AvatarURL != "https://example.com/gh.png" {
		t.Errorf("profile = %q, %q; want GitHub's", got.DisplayName, got.AvatarURL)
	}
}
