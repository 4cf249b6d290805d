package accounts_test

import (
	"context"
	"errors"
	"testing"

	"github.com/linkport/linkport/accounts"
)

// CheckLink writes nothing for a new identity, and says what Link would
// say for one already held by this user or another.
func TestCheckLink(t *testing.T) {
	ctx := context.Background()
	svc, st, _ := newService(t)
	alice := signUp(t, svc, "google", "alice-sub")
	bob := signUp(t, svc, "google", "bob-sub")
	fresh := accounts.Profile{Provider: "facebook", Subject: "fb-1", Name: "Alice FB"}
	if err := svc.CheckLink(ctx, alice, fresh, accounts.Meta{}); err != nil {
		t.Fatalf("CheckLink(new) = %v, want nil", err)
	}
	if ids, _ := st.Identities(ctx, alice); len(ids) != 1 {
		t.Errorf("CheckLink wrote an identity: alice has %d", len(ids))
	}
	if err := svc.CheckLink(ctx, alice, accounts.Profile{Provider: "google", Subject: "alice-sub"}, accounts.Meta{}); !errors.Is(err, accounts.ErrAlreadyLinked) {
		t.Errorf("CheckLink(own) = %v, want ErrAlreadyLinked", err)
	}
	err := svc.CheckLink(ctx, alice, accounts.Profile{Provider: "google", Subject: "bob-sub"}, accounts.Meta{})
	var taken *accounts.TakenError
	if !errors.As(err, &taken) || taken.OtherUserID != bob {
		t.Errorf("CheckLink(bob's) = %v, want TakenError naming bob", err)
	}
	evs, _ := st.Events(ctx, alice, 0)
	if len(evs) == 0 || evs[0].Kind != accounts.EventLinkRefused {
		t.Errorf("newest event of alice = %v, want link_refused", evs)
	}
}

func signUp(t *testing.T, svc *accounts.Service, provider, subject string) int64 {
	t.Helper()
	res, err := svc.SignIn(context.Background(), accounts.Profile{Provider: provider, Subject: subject, Name: subject}, accounts.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	return res.User.ID
}
