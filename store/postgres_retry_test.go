package store_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/linkport/linkport/accounts"
)

// A real deadlock on PostgreSQL: two transactions lock two users in
// opposite order, and each writes an event on its first user before its
// second lock. The server aborts one of them (SQLSTATE 40P01); InTx runs
// that one again, and both commit. Each side's event is there exactly
// once: the aborted attempt's write was rolled back, the retry's
// committed.
func TestPostgresInTxRetriesDeadlock(t *testing.T) {
	s := openPostgres(t)
	ctx := t.Context()
	ua, _ := createUser(t, s, "google", "a", at(0))
	ub, _ := createUser(t, s, "google", "b", at(0))

	var (
		attempts [2]atomic.Int32
		crossed  sync.WaitGroup // both hold their first lock
		done     sync.WaitGroup
		errs     [2]error
	)
	crossed.Add(2)
	side := func(i int, first, second int64) {
		defer done.Done()
		errs[i] = s.InTx(ctx, func(tx accounts.Tx) error {
			n := attempts[i].Add(1)
			if err := tx.LockUser(ctx, first); err != nil {
				return err
			}
			// On the row this side holds: an event row's foreign key
			// would otherwise wait for the other side's lock.
			err := tx.AddEvent(ctx, accounts.Event{UserID: first, Kind: accounts.EventSignedIn,
				Provider: []string{"side0", "side1"}[i], At: at(time.Duration(n) * time.Second)})
			if err != nil {
				return err
			}
			if n == 1 {
				crossed.Done()
				crossed.Wait()
			}
			return tx.LockUser(ctx, second)
		})
	}
	done.Add(2)
	go side(0, ua.ID, ub.ID)
	go side(1, ub.ID, ua.ID)
	done.Wait()

	for i, err := range errs {
		if err != nil {
			t.Errorf("side %d: InTx = %v, want the deadlock retried and committed", i, err)
		}
	}
	a0, a1 := attempts[0].Load(), attempts[1].Load()
	if a0+a1 != 3 || min(a0, a1) != 1 {
		t.Errorf("attempts = %d and %d; want one side once and the deadlock's victim twice", a0, a1)
	}
	count := map[string]int{}
	for _, u := range []int64{ua.ID, ub.ID} {
		events, err := s.Events(ctx, u, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			count[e.Provider]++
		}
	}
	if count["side0"] != 1 || count["side1"] != 1 {
		t.Errorf("events by side = %v, want one each", count)
	}
}

// Only a deadlock or a serialization failure is run again, at most four
// times in all; any other error is returned after one run, unchanged.
func TestPostgresInTxRetriesOnlyAbortedTransactions(t *testing.T) {
	s := openPostgres(t)
	ctx := t.Context()
	_, id := createUser(t, s, "google", "taken", at(0))
	errOther := errors.New("a rule said no")
	for _, tc := range []struct {
		name     string
		fn       func(tx accounts.Tx) error
		attempts int32
		want     func(error) bool
	}{
		{"unique violation", func(tx accounts.Tx) error {
			_, err := tx.CreateIdentity(ctx, accounts.Identity{UserID: id.UserID, Provider: "google", Subject: "taken", CreatedAt: at(0), LastUsedAt: at(0)})
			return err
		}, 1, func(err error) bool { return errors.Is(err, accounts.ErrConflict) }},
		{"error of fn's own", func(accounts.Tx) error { return errOther }, 1,
			func(err error) bool { return errors.Is(err, errOther) }},
		{"not found", func(tx accounts.Tx) error { return tx.LockUser(ctx, 987654) }, 1,
			func(err error) bool { return errors.Is(err, accounts.ErrNotFound) }},
		{"serialization failure every time", func(accounts.Tx) error {
			return &pgconn.PgError{Code: "40001", Message: "could not serialize access"}
		}, 4, func(err error) bool {
			var pe *pgconn.PgError
			return errors.As(err, &pe) && pe.Code == "40001"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			start := time.Now()
			err := s.InTx(ctx, func(tx accounts.Tx) error { n.Add(1); return tc.fn(tx) })
			if !tc.want(err) {
				t.Errorf("InTx = %v, want the error of the last attempt", err)
			}
			if got := n.Load(); got != tc.attempts {
				t.Errorf("fn ran %d times, want %d", got, tc.attempts)
			}
			if tc.attempts == 1 && time.Since(start) > time.Second {
				t.Errorf("a non-retryable error took %v to come back", time.Since(start))
			}
		})
	}
}
