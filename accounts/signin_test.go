package accounts_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/store"
)

// clock is an injectable time source that moves only when told to.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock {
	return &clock{now: time.Date(2025, 3, 1, 12, 0, 0, 987654321, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// openStore opens a fresh SQLite database in t.TempDir.
func openStore(t *testing.T) *store.SQLite {
	t.Helper()
	s, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "linkport.db"))
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newService returns a service on a fresh SQLite store with a test clock.
func newService(t *testing.T) (*accounts.Service, *store.SQLite, *clock) {
	t.Helper()
	s := openStore(t)
	c := newClock()
	return accounts.NewService(s, c.Now), s, c
}

// count returns the result of a SELECT count(*) query.
func count(t *testing.T, s *store.SQLite, query string) int {
	t.Helper()
	var n int
	if err := s.DB().QueryRowContext(t.Context(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// rowCounts reports the rows of each table, and users without an identity.
func rowCounts(t *testing.T, s *store.SQLite) string {
	t.Helper()
	return fmt.Sprintf("users=%d identities=%d events=%d orphans=%d",
		count(t, s, "SELECT count(*) FROM users"),
		count(t, s, "SELECT count(*) FROM identities"),
		count(t, s, "SELECT count(*) FROM events"),
		count(t, s, "SELECT count(*) FROM users WHERE id NOT IN (SELECT user_id FROM identities)"))
}

// mustSignIn signs p in and fails the test on error.
func mustSignIn(t *testing.T, svc *accounts.Service, p accounts.Profile) accounts.SignInResult {
	t.Helper()
	res, err := svc.SignIn(t.Context(), p, accounts.Meta{IP: "192.0.2.7", UserAgent: "test-agent"})
	if err != nil {
		t.Fatalf("SignIn(%s/%s): %v", p.Provider, p.Subject, err)
	}
	return res
}

// mustUser reads the user id and fails the test on error.
func mustUser(t *testing.T, svc *accounts.Service, id int64) accounts.User {
	t.Helper()
	u, err := svc.User(t.Context(), id)
	if err != nil {
		t.Fatalf("User(%d): %v", id, err)
	}
	return u
}

// kinds lists the kinds of the user's events, newest first.
func kinds(t *testing.T, svc *accounts.Service, userID int64) []string {
	t.Helper()
	events, err := svc.Events(t.Context(), userID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		out = append(out, e.Kind)
	}
	return out
}

var ada = accounts.Profile{
	Provider: "google", Subject: "A", Email: "ada@example.com", EmailVerified: true,
	Name: "Ada Lovelace", Nickname: "ada", AvatarURL: "https://example.com/ada.png",
}

func TestSignUp(t *testing.T) {
	svc, _, clk := newService(t)
	ctx := t.Context()
	now := clk.Now()

	res := mustSignIn(t, svc, ada)

	if !res.Created {
		t.Error("Created = false for a first sign-in")
	}
	wantUser := accounts.User{
		ID: res.User.ID, DisplayName: "Ada Lovelace", AvatarURL: "https://example.com/ada.png",
		PrimaryEmail: "ada@example.com", CreatedAt: now, UpdatedAt: now,
		// The first identity supplies the display name and the avatar.
		NameIdentityID: res.Identity.ID, AvatarIdentityID: res.Identity.ID,
	}
	if diff := cmp.Diff(wantUser, res.User); diff != "" {
		t.Errorf("result user (-want +got):\n%s", diff)
	}
	wantID := accounts.Identity{
		ID: res.Identity.ID, UserID: res.User.ID, Provider: "google", Subject: "A",
		Email: "ada@example.com", EmailVerified: true, Name: "Ada Lovelace", Nickname: "ada",
		AvatarURL: "https://example.com/ada.png", CreatedAt: now, LastUsedAt: now,
	}
	if diff := cmp.Diff(wantID, res.Identity); diff != "" {
		t.Errorf("result identity (-want +got):\n%s", diff)
	}
	gotUser, err := svc.User(ctx, res.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantUser, gotUser); diff != "" {
		t.Errorf("stored user (-want +got):\n%s", diff)
	}
	ids, err := svc.Identities(ctx, res.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]accounts.Identity{wantID}, ids); diff != "" {
		t.Errorf("stored identities (-want +got):\n%s", diff)
	}
	events, err := svc.Events(ctx, res.User.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	wantEvents := []accounts.Event{{
		UserID: res.User.ID, Kind: accounts.EventSignedUp, Provider: "google", IdentityID: res.Identity.ID,
		IP: "192.0.2.7", UserAgent: "test-agent", At: now,
	}}
	if diff := cmp.Diff(wantEvents, events, ignoreEventID); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// ignoreEventID ignores the IDs the store gives events.
var ignoreEventID = cmpopts.IgnoreFields(accounts.Event{}, "ID")

func TestSignUpUnverifiedEmail(t *testing.T) {
	svc, _, _ := newService(t)
	res := mustSignIn(t, svc, accounts.Profile{
		Provider: "x", Subject: "42", Email: "someone@example.com", EmailVerified: false, Nickname: "nick",
	})
	if res.User.PrimaryEmail != "" {
		t.Errorf("PrimaryEmail = %q from an unverified email, want empty", res.User.PrimaryEmail)
	}
	if res.User.DisplayName != "nick" {
		t.Errorf("DisplayName = %q, want the nickname when there is no name", res.User.DisplayName)
	}
	if res.Identity.Email != "someone@example.com" || res.Identity.EmailVerified {
		t.Errorf("identity email = %q verified=%v, want the unverified email kept as such",
			res.Identity.Email, res.Identity.EmailVerified)
	}
}

func TestSignInAgain(t *testing.T) {
	svc, s, clk := newService(t)
	ctx := t.Context()
	first := mustSignIn(t, svc, ada)

	clk.Advance(time.Hour)
	later := ada
	later.Name, later.Nickname, later.AvatarURL = "Ada King", "countess", "https://example.com/new.png"
	second := mustSignIn(t, svc, later)

	clk.Advance(time.Hour)
	third := mustSignIn(t, svc, later)

	if second.Created || third.Created {
		t.Error("Created = true on a returning sign-in")
	}
	if second.User.ID != first.User.ID || third.User.ID != first.User.ID {
		t.Fatalf("user IDs %d, %d, %d; want the same user", first.User.ID, second.User.ID, third.User.ID)
	}
	// The identity is the source of the display name and avatar, so the
	// change at the provider shows up; the third sign-in changes nothing.
	wantUser := first.User
	wantUser.DisplayName, wantUser.AvatarURL = "Ada King", "https://example.com/new.png"
	wantUser.UpdatedAt = second.Identity.LastUsedAt
	if diff := cmp.Diff(wantUser, third.User); diff != "" {
		t.Errorf("user after returning sign-ins (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(third.User, mustUser(t, svc, first.User.ID)); diff != "" {
		t.Errorf("stored user differs from the result (-result +stored):\n%s", diff)
	}
	want := first.Identity
	want.Name, want.Nickname, want.AvatarURL = "Ada King", "countess", "https://example.com/new.png"
	want.LastUsedAt = clk.Now()
	if diff := cmp.Diff(want, third.Identity); diff != "" {
		t.Errorf("result identity (-want +got):\n%s", diff)
	}
	ids, err := svc.Identities(ctx, first.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]accounts.Identity{want}, ids); diff != "" {
		t.Errorf("stored identity (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"signed_in", "signed_in", "signed_up"}, kinds(t, svc, first.User.ID)); diff != "" {
		t.Errorf("event kinds (-want +got):\n%s", diff)
	}
	if got := rowCounts(t, s); got != "users=1 identities=1 events=3 orphans=0" {
		t.Errorf("rows: %s", got)
	}
}

// TestSameEmailNewSubject is C-01a: a new subject with a known email is a
// new user, even when both emails are verified.
func TestSameEmailNewSubject(t *testing.T) {
	svc, _, _ := newService(t)
	u1 := mustSignIn(t, svc, ada)
	other := ada
	other.Subject = "B"
	u2 := mustSignIn(t, svc, other)
	if u2.User.ID == u1.User.ID {
		t.Fatalf("sub=B with the same email signed in as user %d", u1.User.ID)
	}
	if !u2.Created {
		t.Error("Created = false for the new subject")
	}
	ids, err := svc.Identities(t.Context(), u1.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]accounts.Identity{u1.Identity}, ids); diff != "" {
		t.Errorf("first user's identities changed (-want +got):\n%s", diff)
	}
}

// TestEmailChangedSameSubject is C-01b: the subject, not the email, finds the
// user.
func TestEmailChangedSameSubject(t *testing.T) {
	svc, s, _ := newService(t)
	u1 := mustSignIn(t, svc, ada)
	changed := ada
	changed.Email = "y@example.com"
	again := mustSignIn(t, svc, changed)
	if again.User.ID != u1.User.ID || again.Created {
		t.Fatalf("signed in as user %d (created=%v), want user %d", again.User.ID, again.Created, u1.User.ID)
	}
	ids, err := svc.Identities(t.Context(), u1.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[0].ID != u1.Identity.ID || ids[0].Email != "y@example.com" {
		t.Errorf("identities = %+v, want the one identity with email y@example.com", ids)
	}
	if again.User.PrimaryEmail != "ada@example.com" {
		t.Errorf("PrimaryEmail = %q, want it unchanged by sign-in", again.User.PrimaryEmail)
	}
	if got := count(t, s, "SELECT count(*) FROM users"); got != 1 {
		t.Errorf("users = %d, want 1", got)
	}
}

// TestSameSubjectOtherProvider is C-01c: subjects are namespaced by provider.
func TestSameSubjectOtherProvider(t *testing.T) {
	svc, _, _ := newService(t)
	fb := mustSignIn(t, svc, accounts.Profile{Provider: "facebook", Subject: "12345"})
	x := mustSignIn(t, svc, accounts.Profile{Provider: "x", Subject: "12345"})
	if fb.User.ID == x.User.ID || fb.Identity.ID == x.Identity.ID || !fb.Created || !x.Created {
		t.Errorf("facebook 12345 → user %d identity %d, x 12345 → user %d identity %d; want two new users",
			fb.User.ID, fb.Identity.ID, x.User.ID, x.Identity.ID)
	}
}

func TestSignInInvalidProfile(t *testing.T) {
	svc, s, _ := newService(t)
	for _, tc := range []struct {
		name string
		p    accounts.Profile
	}{
		{"empty provider", accounts.Profile{Subject: "1"}},
		{"empty subject", accounts.Profile{Provider: "google"}},
		{"subject too long", accounts.Profile{Provider: "google", Subject: strings.Repeat("a", 256)}},
		{"newline in subject", accounts.Profile{Provider: "google", Subject: "1\n2"}},
		{"NUL in subject", accounts.Profile{Provider: "google", Subject: "1\x002"}},
		{"DEL in subject", accounts.Profile{Provider: "google", Subject: "1\x7f"}},
		{"C1 control in subject", accounts.Profile{Provider: "google", Subject: "1\u0085"}},
		{"invalid UTF-8 subject", accounts.Profile{Provider: "google", Subject: "\xff"}},
		{"control in provider", accounts.Profile{Provider: "goo\tgle", Subject: "1"}},
		{"provider too long", accounts.Profile{Provider: strings.Repeat("p", 65), Subject: "1"}},
	} {
		_, err := svc.SignIn(t.Context(), tc.p, accounts.Meta{})
		if !errors.Is(err, accounts.ErrInvalidProfile) {
			t.Errorf("%s: error = %v, want ErrInvalidProfile", tc.name, err)
		}
	}
	if got := rowCounts(t, s); got != "users=0 identities=0 events=0 orphans=0" {
		t.Errorf("invalid profiles wrote rows: %s", got)
	}
	// The limit is inclusive.
	mustSignIn(t, svc, accounts.Profile{Provider: "google", Subject: strings.Repeat("a", 255)})
}

func TestSignInCleansProfile(t *testing.T) {
	svc, _, _ := newService(t)
	res := mustSignIn(t, svc, accounts.Profile{
		Provider: "google", Subject: "1",
		Email: "  " + strings.Repeat("e", 321) + "  ", EmailVerified: true,
		Name:      "  Eve\x00 \u202eAdmin\n ",
		Nickname:  strings.Repeat("é", 250),
		AvatarURL: "javascript:alert(1)",
	})
	id := res.Identity
	if id.Email != "" || id.EmailVerified || res.User.PrimaryEmail != "" {
		t.Errorf("email = %q verified=%v primary=%q; want an over-long email dropped and not verified",
			id.Email, id.EmailVerified, res.User.PrimaryEmail)
	}
	if id.Name != "Eve Admin" || res.User.DisplayName != "Eve Admin" {
		t.Errorf("name = %q, display name = %q; want %q: trimmed, no control or bidi characters",
			id.Name, res.User.DisplayName, "Eve Admin")
	}
	if got := len([]rune(id.Nickname)); got != 200 {
		t.Errorf("nickname has %d runes, want it capped at 200", got)
	}
	if id.AvatarURL != "" || res.User.AvatarURL != "" {
		t.Errorf("avatar = %q / %q, want a javascript: URL dropped", id.AvatarURL, res.User.AvatarURL)
	}
}
