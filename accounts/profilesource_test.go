package accounts_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/linkport/linkport/accounts"
)

// TestSetProfileSource: each field follows the identity chosen for it, the
// other field stays, and a choice that changes nothing writes nothing.
func TestSetProfileSource(t *testing.T) {
	svc, _, clk := newService(t)
	u := mustSignIn(t, svc, ada)
	gh := mustLink(t, svc, u.User.ID, github)
	x := mustLink(t, svc, u.User.ID, accounts.Profile{Provider: "x", Subject: "x-1", Nickname: "ada_x"})

	want := u.User
	for _, tc := range []struct {
		field    accounts.ProfileField
		id       accounts.Identity
		apply    func(u *accounts.User)
		newEvent bool
	}{
		{accounts.FieldDisplayName, gh, func(u *accounts.User) { u.NameIdentityID, u.DisplayName = gh.ID, "Ada (GitHub)" }, true},
		{accounts.FieldAvatar, gh, func(u *accounts.User) { u.AvatarIdentityID, u.AvatarURL = gh.ID, "https://example.com/gh.png" }, true},
		{accounts.FieldAvatar, gh, func(u *accounts.User) {}, false}, // already the source
		// X gives no name: the nickname is the display name; no avatar
		// means none.
		{accounts.FieldDisplayName, x, func(u *accounts.User) { u.NameIdentityID, u.DisplayName = x.ID, "ada_x" }, true},
		{accounts.FieldAvatar, x, func(u *accounts.User) { u.AvatarIdentityID, u.AvatarURL = x.ID, "" }, true},
	} {
		clk.Advance(time.Minute)
		before := mustEvents(t, svc, u.User.ID)
		if err := svc.SetProfileSource(t.Context(), u.User.ID, tc.field, tc.id.ID, linkMeta); err != nil {
			t.Fatalf("SetProfileSource(%s, %s): %v", tc.field, tc.id.Provider, err)
		}
		tc.apply(&want)
		if tc.newEvent {
			want.UpdatedAt = clk.Now()
		}
		if diff := cmp.Diff(want, mustUser(t, svc, u.User.ID)); diff != "" {
			t.Errorf("%s from %s: user (-want +got):\n%s", tc.field, tc.id.Provider, diff)
		}
		after := mustEvents(t, svc, u.User.ID)
		if !tc.newEvent {
			if len(after) != len(before) {
				t.Errorf("%s from %s again: %d new events, want none", tc.field, tc.id.Provider, len(after)-len(before))
			}
			continue
		}
		wantEvent := accounts.Event{
			UserID: u.User.ID, Kind: accounts.EventProfileChanged, Provider: tc.id.Provider, IdentityID: tc.id.ID,
			IP: linkMeta.IP, UserAgent: linkMeta.UserAgent, At: clk.Now(),
		}
		if diff := cmp.Diff(wantEvent, after[0], ignoreEventID); diff != "" {
			t.Errorf("%s from %s: event (-want +got):\n%s", tc.field, tc.id.Provider, diff)
		}
	}
}

// TestSetProfileSourceRefused: only the user's own identity and a known
// field are accepted; a refusal changes nothing.
func TestSetProfileSourceRefused(t *testing.T) {
	svc, s, _ := newService(t)
	u := mustSignIn(t, svc, ada)
	other := mustSignIn(t, svc, bob)
	before := rowCounts(t, s)
	for _, tc := range []struct {
		name       string
		field      accounts.ProfileField
		identityID int64
		want       error
	}{
		{"another user's identity", accounts.FieldDisplayName, other.Identity.ID, accounts.ErrNotOwner},
		{"no such identity", accounts.FieldAvatar, other.Identity.ID + 1000, accounts.ErrNotOwner},
		{"unknown field", "email", u.Identity.ID, accounts.ErrInvalidField},
		{"empty field", "", u.Identity.ID, accounts.ErrInvalidField},
	} {
		err := svc.SetProfileSource(t.Context(), u.User.ID, tc.field, tc.identityID, linkMeta)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: error = %v, want %v", tc.name, err, tc.want)
		}
	}
	if diff := cmp.Diff(u.User, mustUser(t, svc, u.User.ID)); diff != "" {
		t.Errorf("user changed (-want +got):\n%s", diff)
	}
	if got := rowCounts(t, s); got != before {
		t.Errorf("rows: %s, want %s", got, before)
	}
}

// TestSetProfileSourceFollowsProvider: a sign-in or re-link with the source
// identity refreshes the field from the provider; one with another identity
// does not.
func TestSetProfileSourceFollowsProvider(t *testing.T) {
	svc, _, clk := newService(t)
	u := mustSignIn(t, svc, ada)
	gh := mustLink(t, svc, u.User.ID, github)
	if err := svc.SetProfileSource(t.Context(), u.User.ID, accounts.FieldDisplayName, gh.ID, linkMeta); err != nil {
		t.Fatal(err)
	}

	clk.Advance(time.Minute)
	renamedGoogle := ada
	renamedGoogle.Name, renamedGoogle.AvatarURL = "Ada at Google", "https://example.com/google2.png"
	mustSignIn(t, svc, renamedGoogle)
	got := mustUser(t, svc, u.User.ID)
	if got.DisplayName != "Ada (GitHub)" || got.AvatarURL != "https://example.com/google2.png" {
		t.Errorf("after Google sign-in: %q, %q; want GitHub's name kept and Google's new avatar", got.DisplayName, got.AvatarURL)
	}

	clk.Advance(time.Minute)
	renamedGH := github
	renamedGH.Name = "Ada at GitHub"
	res := mustSignIn(t, svc, renamedGH)
	if res.User.DisplayName != "Ada at GitHub" || !res.User.UpdatedAt.Equal(clk.Now()) {
		t.Errorf("after GitHub sign-in: result user %q updated %v; want the new GitHub name, now", res.User.DisplayName, res.User.UpdatedAt)
	}

	clk.Advance(time.Minute)
	renamedGH.Name = "Ada, relinked"
	if _, err := svc.Link(t.Context(), u.User.ID, renamedGH, linkMeta); !errors.Is(err, accounts.ErrAlreadyLinked) {
		t.Fatalf("re-link error = %v, want ErrAlreadyLinked", err)
	}
	if got := mustUser(t, svc, u.User.ID); got.DisplayName != "Ada, relinked" {
		t.Errorf("after re-link: display name %q, want the re-linked name", got.DisplayName)
	}
}
