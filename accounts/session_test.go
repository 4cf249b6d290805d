package accounts_test

import (
	"errors"
	"testing"

	"github.com/linkport/linkport/accounts"
)

// SessionUser ends sessions whose user is gone or whose sign-in identity
// was removed, and keeps the others.
func TestSessionUser(t *testing.T) {
	svc, _, _ := newService(t)
	u := mustSignIn(t, svc, ada)
	x := mustLink(t, svc, u.User.ID, accounts.Profile{Provider: "x", Subject: "ada-x"})
	for _, tc := range []struct {
		name             string
		user, identityID int64
		want             error
	}{
		{"no identity recorded", u.User.ID, 0, nil},
		{"own identity", u.User.ID, u.Identity.ID, nil},
		{"other identity of the user", u.User.ID, x.ID, nil},
		{"identity of nobody", u.User.ID, x.ID + 100, accounts.ErrSignInRemoved},
		{"user gone", u.User.ID + 100, 0, accounts.ErrNotFound},
	} {
		got, err := svc.SessionUser(t.Context(), tc.user, tc.identityID)
		if !errors.Is(err, tc.want) || (err == nil && got.ID != tc.user) {
			t.Errorf("%s: user %d, err %v; want err %v", tc.name, got.ID, err, tc.want)
		}
	}
	if _, err := svc.Unlink(t.Context(), u.User.ID, x.ID, accounts.Meta{}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SessionUser(t.Context(), u.User.ID, x.ID); !errors.Is(err, accounts.ErrSignInRemoved) {
		t.Errorf("after unlinking its identity: %v, want ErrSignInRemoved", err)
	}
}
