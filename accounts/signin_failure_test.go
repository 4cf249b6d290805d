package accounts_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/linkport/linkport/accounts"
)

// faultyStore wraps a Store so that CreateIdentity or IdentityBySubject can
// be made to fail inside the real transaction.
type faultyStore struct {
	accounts.Store
	mu                sync.Mutex
	createIdentityErr []error // returned, one per call, before the real CreateIdentity
	hideIdentity      int     // IdentityBySubject calls that report ErrNotFound, as a stale read would
}

func (f *faultyStore) InTx(ctx context.Context, fn func(tx accounts.Tx) error) error {
	return f.Store.InTx(ctx, func(tx accounts.Tx) error { return fn(faultyTx{tx, f}) })
}

type faultyTx struct {
	accounts.Tx
	f *faultyStore
}

func (t faultyTx) CreateIdentity(ctx context.Context, id accounts.Identity) (accounts.Identity, error) {
	t.f.mu.Lock()
	var err error
	if len(t.f.createIdentityErr) > 0 {
		err, t.f.createIdentityErr = t.f.createIdentityErr[0], t.f.createIdentityErr[1:]
	}
	t.f.mu.Unlock()
	if err != nil {
		return accounts.Identity{}, err
	}
	return t.Tx.CreateIdentity(ctx, id)
}

func (t faultyTx) IdentityBySubject(ctx context.Context, provider, subject string) (accounts.Identity, error) {
	t.f.mu.Lock()
	hide := t.f.hideIdentity > 0
	if hide {
		t.f.hideIdentity--
	}
	t.f.mu.Unlock()
	if hide {
		return accounts.Identity{}, accounts.ErrNotFound
	}
	return t.Tx.IdentityBySubject(ctx, provider, subject)
}

// TestE04a_NoHalfCreatedAccounts is E-04a: a failure between creating the user and
// creating the identity leaves no user behind, and a retry succeeds.
func TestE04a_NoHalfCreatedAccounts(t *testing.T) {
	errDisk := errors.New("disk I/O error")
	for _, tc := range []struct {
		name      string
		failures  []error
		wantErr   error  // from the first SignIn
		wantRows  string // after the first SignIn
		retryNeed bool   // whether a second SignIn is needed
	}{
		{"storage error", []error{errDisk}, errDisk, "users=0 identities=0 events=0 orphans=0", true},
		{"conflict retried inside SignIn", []error{accounts.ErrConflict}, nil, "users=1 identities=1 events=1 orphans=0", false},
		{"conflict twice", []error{accounts.ErrConflict, accounts.ErrConflict}, accounts.ErrConflict, "users=0 identities=0 events=0 orphans=0", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			f := &faultyStore{Store: s, createIdentityErr: tc.failures}
			svc := accounts.NewService(f, newClock().Now)

			res, err := svc.SignIn(t.Context(), ada, accounts.Meta{})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("SignIn error = %v, want %v", err, tc.wantErr)
				}
			} else if err != nil || !res.Created {
				t.Fatalf("SignIn = %+v, %v; want a new user", res, err)
			}
			if got := rowCounts(t, s); got != tc.wantRows {
				t.Errorf("after the failure: %s, want %s", got, tc.wantRows)
			}
			if !tc.retryNeed {
				return
			}
			res = mustSignIn(t, svc, ada)
			if !res.Created {
				t.Error("retry: Created = false, want the user made now")
			}
			if got := rowCounts(t, s); got != "users=1 identities=1 events=1 orphans=0" {
				t.Errorf("after the retry: %s", got)
			}
		})
	}
}

// TestSignInRetriesRealConflict drives the retry with the database's own
// unique constraint: the first attempt misses the existing identity, as a
// READ COMMITTED reader racing another sign-in can, and its insert
// conflicts. SignIn must end on the existing user without an orphan.
func TestSignInRetriesRealConflict(t *testing.T) {
	s := openStore(t)
	f := &faultyStore{Store: s}
	svc := accounts.NewService(f, newClock().Now)
	first := mustSignIn(t, svc, ada)

	f.hideIdentity = 1
	again := mustSignIn(t, svc, ada)
	if again.User.ID != first.User.ID || again.Created {
		t.Errorf("after a conflict: user %d created=%v, want user %d", again.User.ID, again.Created, first.User.ID)
	}
	if got := rowCounts(t, s); got != "users=1 identities=1 events=2 orphans=0" {
		t.Errorf("rows: %s", got)
	}
}

// TestE10b_ConcurrentFirstSignIn is E-10b: many tabs finishing the first sign-in
// of one identity at once end with one user, all signed in as it.
func TestE10b_ConcurrentFirstSignIn(t *testing.T) {
	svc, s, _ := newService(t)
	const n = 20
	results := make([]accounts.SignInResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i], errs[i] = svc.SignIn(t.Context(), ada, accounts.Meta{}) })
	}
	wg.Wait()
	created := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("SignIn #%d: %v", i, errs[i])
		}
		if results[i].User.ID != results[0].User.ID {
			t.Errorf("SignIn #%d: user %d, want %d", i, results[i].User.ID, results[0].User.ID)
		}
		if results[i].Created {
			created++
		}
	}
	if created != 1 {
		t.Errorf("%d results say Created, want 1", created)
	}
	if got, want := rowCounts(t, s), fmt.Sprintf("users=1 identities=1 events=%d orphans=0", n); got != want {
		t.Errorf("rows: %s, want %s", got, want)
	}
}
