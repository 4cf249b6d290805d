package store_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/store"
)

// count returns the result of a SELECT count(*) query.
func count(t *testing.T, s testDB, query string) int {
	t.Helper()
	var n int
	if err := s.DB.QueryRowContext(t.Context(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestC06b_ConcurrentUnlinksKeepOne is C-06b through the service on each
// engine: two unlinks of a user's last two identities at once, 200 rounds;
// exactly one succeeds each round and no user is left without an identity.
// On PostgreSQL this is what LockUser's SELECT ... FOR UPDATE is for.
func TestC06b_ConcurrentUnlinksKeepOne(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open func(...store.Option) testDB) {
		s := open()
		svc := accounts.NewService(s, nil)
		const rounds = 200
		type round struct {
			userID  int64
			targets [2]int64
		}
		plan := make([]round, rounds)
		mustTx(t, s, func(tx accounts.Tx) error {
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
		for r, p := range plan {
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i := range 2 {
				wg.Go(func() { _, errs[i] = svc.Unlink(t.Context(), p.userID, p.targets[i], accounts.Meta{}) })
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
	})
}

// TestE10a_ConcurrentLinkOfSameIdentity is E-10a through the service on
// each engine: two users link the same new identity at once; one wins, the
// other gets ErrIdentityTaken, and there is one row. On PostgreSQL the
// loser's insert waits for the winner's unique key and fails with 23505,
// which the store reports as ErrConflict and the service retries.
func TestE10a_ConcurrentLinkOfSameIdentity(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open func(...store.Option) testDB) {
		s := open()
		svc := accounts.NewService(s, nil)
		const rounds = 50
		for round := range rounds {
			u1, _ := createUser(t, s, "google", fmt.Sprint("u1-", round), at(0))
			u2, _ := createUser(t, s, "google", fmt.Sprint("u2-", round), at(0))
			contested := accounts.Profile{Provider: "github", Subject: fmt.Sprint("contested-", round)}
			users := []int64{u1.ID, u2.ID}
			ids := make([]accounts.Identity, 2)
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i := range 2 {
				wg.Go(func() { ids[i], errs[i] = svc.Link(t.Context(), users[i], contested, accounts.Meta{}) })
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
	})
}
