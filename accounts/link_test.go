package accounts_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/linkport/linkport/accounts"
)

// linkMeta is the request a test link comes from.
var linkMeta = accounts.Meta{IP: "198.51.100.4", UserAgent: "link-agent"}

// bob is a second person, unrelated to ada.
var bob = accounts.Profile{
	Provider: "google", Subject: "BOB", Email: "bob@example.com", EmailVerified: true,
	Name: "Bob", AvatarURL: "https://example.com/bob.png",
}

// github is ada's GitHub account.
var github = accounts.Profile{
	Provider: "github", Subject: "gh-1", Email: "ada@example.com", EmailVerified: true,
	Name: "Ada (GitHub)", Nickname: "ada-gh", AvatarURL: "https://example.com/gh.png",
}

// mustLink links p to the user and fails the test on error.
func mustLink(t *testing.T, svc *accounts.Service, userID int64, p accounts.Profile) accounts.Identity {
	t.Helper()
	id, err := svc.Link(t.Context(), userID, p, linkMeta)
	if err != nil {
		t.Fatalf("Link(%d, %s/%s): %v", userID, p.Provider, p.Subject, err)
	}
	return id
}

// mustIdentities returns the user's identities and fails the test on error.
func mustIdentities(t *testing.T, svc *accounts.Service, userID int64) []accounts.Identity {
	t.Helper()
	ids, err := svc.Identities(t.Context(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// mustEvents returns all of the user's events, newest first.
func mustEvents(t *testing.T, svc *accounts.Service, userID int64) []accounts.Event {
	t.Helper()
	events, err := svc.Events(t.Context(), userID, 0)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func TestLinkNewIdentity(t *testing.T) {
	svc, _, clk := newService(t)
	u := mustSignIn(t, svc, ada)
	clk.Advance(time.Minute)
	now := clk.Now()

	got := mustLink(t, svc, u.User.ID, github)

	want := accounts.Identity{
		ID: got.ID, UserID: u.User.ID, Provider: "github", Subject: "gh-1",
		Email: "ada@example.com", EmailVerified: true, Name: "Ada (GitHub)", Nickname: "ada-gh",
		AvatarURL: "https://example.com/gh.png", CreatedAt: now, LastUsedAt: now,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("linked identity (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]accounts.Identity{u.Identity, want}, mustIdentities(t, svc, u.User.ID)); diff != "" {
		t.Errorf("identities (-want +got):\n%s", diff)
	}
	wantEvent := accounts.Event{
		UserID: u.User.ID, Kind: accounts.EventLinked, Provider: "github", IdentityID: got.ID,
		IP: linkMeta.IP, UserAgent: linkMeta.UserAgent, At: now,
	}
	if diff := cmp.Diff(wantEvent, mustEvents(t, svc, u.User.ID)[0], ignoreEventID); diff != "" {
		t.Errorf("newest event (-want +got):\n%s", diff)
	}
	// Linking does not change where the profile comes from.
	if diff := cmp.Diff(u.User, mustUser(t, svc, u.User.ID)); diff != "" {
		t.Errorf("user changed by a link (-want +got):\n%s", diff)
	}
}

// TestC05a_LinkTakenIdentityRefused: linking another account's identity
// changes nothing of either account, says who holds it only through
// TakenError, and leaves a link_refused event on the linking user alone.
func TestC05a_LinkTakenIdentityRefused(t *testing.T) {
	svc, s, _ := newService(t)
	owner := mustSignIn(t, svc, ada)
	linker := mustSignIn(t, svc, bob)
	ownerEvents := mustEvents(t, svc, owner.User.ID)

	renamed := ada
	renamed.Name, renamed.Email = "Mallory", "mallory@example.com"
	got, err := svc.Link(t.Context(), linker.User.ID, renamed, linkMeta)

	if !errors.Is(err, accounts.ErrIdentityTaken) {
		t.Fatalf("Link error = %v, want ErrIdentityTaken", err)
	}
	var taken *accounts.TakenError
	if !errors.As(err, &taken) {
		t.Fatalf("Link error %T does not hold a *TakenError", err)
	}
	want := accounts.TakenError{OtherUserID: owner.User.ID, Identity: owner.Identity}
	if diff := cmp.Diff(want, *taken); diff != "" {
		t.Errorf("TakenError (-want +got):\n%s", diff)
	}
	if got != (accounts.Identity{}) {
		t.Errorf("Link returned identity %+v with the error, want none", got)
	}
	for _, leak := range []string{"Ada", "ada@", fmt.Sprint(owner.User.ID), "Mallory"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error message %q names %q", err, leak)
		}
	}
	if diff := cmp.Diff([]accounts.Identity{owner.Identity}, mustIdentities(t, svc, owner.User.ID)); diff != "" {
		t.Errorf("owner's identities changed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]accounts.Identity{linker.Identity}, mustIdentities(t, svc, linker.User.ID)); diff != "" {
		t.Errorf("linker's identities changed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(ownerEvents, mustEvents(t, svc, owner.User.ID)); diff != "" {
		t.Errorf("owner's timeline changed (-want +got):\n%s", diff)
	}
	if got := rowCounts(t, s); got != "users=2 identities=2 events=3 orphans=0" {
		t.Errorf("rows: %s", got)
	}
}

// TestLinkRefusedEventOnLinkingUserOnly: the refusal is on the linker's
// timeline, and names neither the other account's identity nor the account.
func TestLinkRefusedEventOnLinkingUserOnly(t *testing.T) {
	svc, _, clk := newService(t)
	owner := mustSignIn(t, svc, ada)
	linker := mustSignIn(t, svc, bob)
	clk.Advance(time.Minute)

	if _, err := svc.Link(t.Context(), linker.User.ID, ada, linkMeta); !errors.Is(err, accounts.ErrIdentityTaken) {
		t.Fatalf("Link error = %v, want ErrIdentityTaken", err)
	}
	want := accounts.Event{
		UserID: linker.User.ID, Kind: accounts.EventLinkRefused, Provider: "google",
		IP: linkMeta.IP, UserAgent: linkMeta.UserAgent, At: clk.Now(),
	}
	if diff := cmp.Diff([]accounts.Event{want}, mustEvents(t, svc, linker.User.ID)[:1], ignoreEventID); diff != "" {
		t.Errorf("linker's newest event (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"signed_up"}, kinds(t, svc, owner.User.ID)); diff != "" {
		t.Errorf("owner's event kinds (-want +got):\n%s", diff)
	}
}

// TestC05b_RelinkIsIdempotent: linking an identity the user already holds
// refreshes it and adds nothing.
func TestC05b_RelinkIsIdempotent(t *testing.T) {
	svc, s, clk := newService(t)
	u := mustSignIn(t, svc, ada)
	clk.Advance(time.Hour)

	again := ada
	again.Name, again.AvatarURL = "Ada King", "https://example.com/king.png"
	got, err := svc.Link(t.Context(), u.User.ID, again, linkMeta)

	if !errors.Is(err, accounts.ErrAlreadyLinked) {
		t.Fatalf("Link error = %v, want ErrAlreadyLinked", err)
	}
	want := u.Identity
	want.Name, want.AvatarURL, want.LastUsedAt = "Ada King", "https://example.com/king.png", clk.Now()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("returned identity (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]accounts.Identity{want}, mustIdentities(t, svc, u.User.ID)); diff != "" {
		t.Errorf("identities (-want +got):\n%s", diff)
	}
	// The identity supplies the profile, so the new name shows.
	if got := mustUser(t, svc, u.User.ID); got.DisplayName != "Ada King" || got.AvatarURL != "https://example.com/king.png" {
		t.Errorf("user profile = %q, %q; want it refreshed from its source", got.DisplayName, got.AvatarURL)
	}
	if got := rowCounts(t, s); got != "users=1 identities=1 events=1 orphans=0" {
		t.Errorf("rows: %s, want no second identity and no event", got)
	}
}

// TestC05c_SecondAccountOfSameProvider: the written policy allows a second
// account of one provider (personal and work Google).
func TestC05c_SecondAccountOfSameProvider(t *testing.T) {
	svc, _, _ := newService(t)
	u := mustSignIn(t, svc, ada)
	work := ada
	work.Subject, work.Email = "WORK", "ada@work.example"

	second := mustLink(t, svc, u.User.ID, work)

	ids := mustIdentities(t, svc, u.User.ID)
	if len(ids) != 2 || ids[0].Provider != "google" || ids[1].Provider != "google" || ids[1].ID != second.ID {
		t.Errorf("identities = %+v, want two Google identities", ids)
	}
}

// TestP2_IdentityKeyIsProviderSubject: only (provider, subject) finds an
// identity; the same email or the same subject at another provider is
// someone else, for sign-in and link alike.
func TestP2_IdentityKeyIsProviderSubject(t *testing.T) {
	svc, _, _ := newService(t)
	s1 := mustSignIn(t, svc, accounts.Profile{Provider: "google", Subject: "S1", Email: "e@example.com", EmailVerified: true})

	changed := mustSignIn(t, svc, accounts.Profile{Provider: "google", Subject: "S1", Email: "e2@example.com", EmailVerified: true})
	if changed.User.ID != s1.User.ID || changed.Created {
		t.Errorf("S1 with a new email signed in as user %d (created=%v), want user %d", changed.User.ID, changed.Created, s1.User.ID)
	}
	s2 := mustSignIn(t, svc, accounts.Profile{Provider: "google", Subject: "S2", Email: "e@example.com", EmailVerified: true})
	if s2.User.ID == s1.User.ID || !s2.Created {
		t.Errorf("S2 with S1's old email signed in as user %d (created=%v), want a new user", s2.User.ID, s2.Created)
	}

	for _, p := range []accounts.Profile{
		{Provider: "google", Subject: "S3", Email: "e2@example.com", EmailVerified: true}, // S1's email
		{Provider: "github", Subject: "S1", Email: "e2@example.com", EmailVerified: true}, // S1's subject elsewhere
	} {
		if _, err := svc.Link(t.Context(), s2.User.ID, p, linkMeta); err != nil {
			t.Errorf("Link(%s/%s) by another user: %v; an email or a foreign subject must not make it taken", p.Provider, p.Subject, err)
		}
	}
	if n := len(mustIdentities(t, svc, s1.User.ID)); n != 1 {
		t.Errorf("S1's user has %d identities, want 1", n)
	}
}

func TestLinkRefused(t *testing.T) {
	svc, s, _ := newService(t)
	u := mustSignIn(t, svc, ada)
	for _, tc := range []struct {
		name   string
		userID int64
		p      accounts.Profile
		want   error
	}{
		{"missing user", u.User.ID + 1000, github, accounts.ErrNotFound},
		{"empty subject", u.User.ID, accounts.Profile{Provider: "github"}, accounts.ErrInvalidProfile},
		{"control character in subject", u.User.ID, accounts.Profile{Provider: "github", Subject: "a\nb"}, accounts.ErrInvalidProfile},
	} {
		if _, err := svc.Link(t.Context(), tc.userID, tc.p, linkMeta); !errors.Is(err, tc.want) {
			t.Errorf("%s: error = %v, want %v", tc.name, err, tc.want)
		}
	}
	if got := rowCounts(t, s); got != "users=1 identities=1 events=1 orphans=0" {
		t.Errorf("refused links wrote rows: %s", got)
	}
}

// TestLinkRetriesConflict drives Link's retry with the database's unique
// constraint: the first attempt misses the existing identity, as a racing
// READ COMMITTED reader can, and its insert conflicts.
func TestLinkRetriesConflict(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    accounts.Profile
		want error
	}{
		{"own identity", ada, accounts.ErrAlreadyLinked},
		{"other's identity", bob, accounts.ErrIdentityTaken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			f := &faultyStore{Store: s}
			svc := accounts.NewService(f, newClock().Now)
			u := mustSignIn(t, svc, ada)
			mustSignIn(t, svc, bob)

			f.hideIdentity = 1
			if _, err := svc.Link(t.Context(), u.User.ID, tc.p, linkMeta); !errors.Is(err, tc.want) {
				t.Errorf("Link error = %v, want %v", err, tc.want)
			}
			if got := count(t, s, "SELECT count(*) FROM identities"); got != 2 {
				t.Errorf("identities = %d, want 2", got)
			}
		})
	}
}

// TestE10a_ConcurrentLinkOfSameIdentity: two users finishing a link of the
// same new identity at once end with one owner and one refusal, every round.
func TestE10a_ConcurrentLinkOfSameIdentity(t *testing.T) {
	svc, s, _ := newService(t)
	const rounds = 50
	for round := range rounds {
		u1 := mustSignIn(t, svc, accounts.Profile{Provider: "google", Subject: fmt.Sprint("u1-", round)})
		u2 := mustSignIn(t, svc, accounts.Profile{Provider: "google", Subject: fmt.Sprint("u2-", round)})
		contested := accounts.Profile{Provider: "github", Subject: fmt.Sprint("contested-", round)}
		users := []int64{u1.User.ID, u2.User.ID}
		ids := make([]accounts.Identity, 2)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Go(func() { ids[i], errs[i] = svc.Link(t.Context(), users[i], contested, linkMeta) })
		}
		wg.Wait()

		won, lost := -1, -1
		for i, err := range errs {
			switch {
			case err == nil:
				won = i
			case errors.Is(err, accounts.ErrIdentityTaken):
				lost = i
			default:
				t.Fatalf("round %d: Link by user %d: %v", round, users[i], err)
			}
		}
		if won < 0 || lost < 0 {
			t.Fatalf("round %d: errors %v, want one success and one ErrIdentityTaken", round, errs)
		}
		var taken *accounts.TakenError
		if errors.As(errs[lost], &taken) && taken.OtherUserID != users[won] {
			t.Errorf("round %d: TakenError names user %d, want the winner %d", round, taken.OtherUserID, users[won])
		}
		if ids[won].UserID != users[won] {
			t.Errorf("round %d: winner's identity belongs to user %d", round, ids[won].UserID)
		}
	}
	if got := count(t, s, "SELECT count(*) FROM identities WHERE provider = 'github'"); got != rounds {
		t.Errorf("contested identities = %d, want one per round (%d)", got, rounds)
	}
	if got := count(t, s, "SELECT count(*) FROM events WHERE kind = 'link_refused'"); got != rounds {
		t.Errorf("link_refused events = %d, want one per round (%d)", got, rounds)
	}
}
