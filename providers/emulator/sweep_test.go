package emulator

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Expired codes and tokens are refused on read even while their rows are
// still there between sweeps, and a sweep, at most once per sweepEvery,
// deletes the long-expired ones.
func TestExpiredRefusedBetweenSweeps(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	count := func(table string) int {
		t.Helper()
		var n int
		if err := f.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	save := func(name string) {
		t.Helper()
		now := f.clock.Now()
		c := authCode{Code: name, Provider: "google", ClientID: "google-client", Created: now, Expires: now.Add(codeTTL)}
		if err := f.e.saveCode(ctx, c); err != nil {
			t.Fatal(err)
		}
		tok := accessToken{Token: name, Provider: "google", ClientID: "google-client", Expires: now.Add(time.Hour)}
		if err := f.e.saveToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}

	save("old")
	// Long expired, but a sweep ran a moment ago: saving does not sweep,
	// the rows stay, and reading refuses them.
	f.clock.Add(expiredKeep + time.Hour)
	f.e.codeSweep.last.Store(f.clock.Now().Add(-sweepEvery / 2).UnixNano())
	f.e.tokenSweep.last.Store(f.clock.Now().Add(-sweepEvery / 2).UnixNano())
	save("new")
	if got := count("emulator_codes") + count("emulator_tokens"); got != 4 {
		t.Errorf("rows between sweeps = %d, want 4", got)
	}
	if _, err := f.e.takeCode(ctx, "google", "old"); !errors.Is(err, errBadCode) {
		t.Errorf("takeCode(expired, unswept) = %v, want errBadCode", err)
	}
	if _, err := f.e.lookupToken(ctx, "google", "old"); !errors.Is(err, errBadToken) {
		t.Errorf("lookupToken(expired, unswept) = %v, want errBadToken", err)
	}
	if _, err := f.e.lookupToken(ctx, "google", "new"); err != nil {
		t.Errorf("lookupToken(live) = %v", err)
	}

	// sweepEvery later, the next save sweeps the long-expired rows.
	f.clock.Add(sweepEvery)
	save("third")
	if got := count("emulator_codes") + count("emulator_tokens"); got != 4 {
		t.Errorf("rows after the sweep = %d, want 4 (new and third)", got)
	}
	if _, err := f.e.takeCode(ctx, "google", "new"); err != nil {
		t.Errorf("takeCode(live) = %v", err)
	}
}
