package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// SQLSTATEs of a transaction that PostgreSQL aborted only because of a
// concurrent one, so that running it again may well succeed.
const (
	pgSerializationFailure = "40001"
	pgDeadlockDetected     = "40P01"
)

// pgTxAttempts bounds how often InTx runs a transaction that keeps being
// aborted; pgTxBackoff is the first pause between attempts, doubled each
// time and jittered so that the two sides of a deadlock do not meet again.
const (
	pgTxAttempts = 4
	pgTxBackoff  = 5 * time.Millisecond
)

// pgRetryable reports whether err is a serialization failure or a
// deadlock: PostgreSQL rolled the whole transaction back, and nothing of
// it was committed.
func pgRetryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == pgSerializationFailure || pe.Code == pgDeadlockDetected)
}

// pgRetry runs attempt, and runs it again while it fails with a
// retryable error, at most pgTxAttempts times in all, pausing a little
// longer each time; it gives up early when ctx ends. Every other error is
// returned at once.
func pgRetry(ctx context.Context, attempt func() error) error {
	pause := pgTxBackoff
	for i := 1; ; i++ {
		err := attempt()
		if err == nil || i == pgTxAttempts || !pgRetryable(err) {
			return err
		}
		// Jitter in [pause/2, pause): the two transactions of a deadlock
		// would otherwise retry in step.
		t := time.NewTimer(pause/2 + rand.N(pause/2))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		pause *= 2
	}
}
