package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/linkport/linkport/accounts"
)

// purgeEvery is how often accounts past their deletion grace period are
// erased.
const purgeEvery = time.Hour

// startPurger erases, now and then every interval, the accounts whose
// deletion grace period has ended, until ctx ends or the returned stop is
// called; stop waits for a purge in progress.
func startPurger(ctx context.Context, svc *accounts.Service, log *slog.Logger, interval time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			n, err := svc.PurgeDeleted(ctx, time.Now())
			switch {
			case err != nil && ctx.Err() == nil:
				log.Error("purge deleted accounts", "err", err)
			case n > 0:
				log.Info("purged deleted accounts", "count", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}
