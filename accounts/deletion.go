package accounts

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Deletion events.
const (
	// EventDeletionRequested records that the person asked for the account
	// to be deleted; the grace period starts.
	EventDeletionRequested = "deletion_requested"
	// EventRestored records an account restored during its grace period.
	EventRestored = "restored"
)

// DefaultDeletionGrace is how long a deleted account can be restored when
// nothing else is configured.
const DefaultDeletionGrace = 7 * 24 * time.Hour

// ErrAccountDeleted means the account is scheduled for deletion: it signs
// no one in, and sessions of it end. SignIn returns it inside a
// [*DeletedError].
var ErrAccountDeleted = errors.New("account is scheduled for deletion")

// DeletedError is what SignIn returns for an identity whose account is in
// its grace period, so the person can be offered to restore it. It unwraps
// to ErrAccountDeleted.
type DeletedError struct {
	UserID     int64
	PurgeAfter time.Time
}

// Error returns the generic message of ErrAccountDeleted.
func (e *DeletedError) Error() string { return ErrAccountDeleted.Error() }

// Unwrap makes errors.Is(err, ErrAccountDeleted) hold.
func (e *DeletedError) Unwrap() error { return ErrAccountDeleted }

// Deletion is the deletion mark of a user; the zero Deletion is a live
// account.
type Deletion struct {
	RequestedAt time.Time
	// PurgeAfter ends the grace period: from then on the account is erased
	// and can no longer be restored.
	PurgeAfter time.Time
}

// Pending reports whether the account is marked for deletion.
func (d Deletion) Pending() bool { return !d.RequestedAt.IsZero() }

// DeletionStore is the part of [Store] that reads deletion marks.
type DeletionStore interface {
	// DeletionOf returns the user's deletion mark (zero when live), or
	// ErrNotFound.
	DeletionOf(ctx context.Context, userID int64) (Deletion, error)
}

// DeletionTx is the part of [Tx] that deletes and restores accounts.
type DeletionTx interface {
	// DeletionOf returns the user's deletion mark (zero when live), or
	// ErrNotFound.
	DeletionOf(ctx context.Context, userID int64) (Deletion, error)
	// SetDeletion saves the user's deletion mark; the zero Deletion clears
	// it. ErrNotFound when the user does not exist.
	SetDeletion(ctx context.Context, userID int64, d Deletion) error
	// EraseTokens forgets the provider tokens stored for every identity of
	// the user.
	EraseTokens(ctx context.Context, userID int64) error
	// DueForPurge returns the users whose PurgeAfter is at or before now.
	DueForPurge(ctx context.Context, now time.Time) ([]int64, error)
}

// SetDeletionGrace sets how long a deleted account can be restored; zero
// or less means DefaultDeletionGrace. Call it before the service is used.
func (s *Service) SetDeletionGrace(d time.Duration) { s.grace = d }

// DeletionGrace returns how long a deleted account can be restored.
func (s *Service) DeletionGrace() time.Duration {
	if s.grace <= 0 {
		return DefaultDeletionGrace
	}
	return s.grace
}

// DeletionOf returns the user's deletion mark, zero for a live account.
func (s *Service) DeletionOf(ctx context.Context, userID int64) (Deletion, error) {
	return s.store.DeletionOf(ctx, userID)
}

// Delete marks the account userID deleted: from now on it signs no one in
// and its sessions end at their next request (SessionUser returns
// ErrAccountDeleted). The provider tokens stored for its identities are
// erased at once. Signing in with one of its identities before the
// returned PurgeAfter offers to restore it (SignIn's [*DeletedError],
// Restore); after it, PurgeDeleted erases the account.
//
// Delete returns ErrNotFound when the user does not exist and
// ErrAccountDeleted when it is already marked.
func (s *Service) Delete(ctx context.Context, userID int64, m Meta) (Deletion, error) {
	m = cleanMeta(m)
	var d Deletion
	err := s.store.InTx(ctx, func(tx Tx) error {
		now := s.now().UTC().Round(0)
		if err := tx.LockUser(ctx, userID); err != nil {
			return err
		}
		cur, err := tx.DeletionOf(ctx, userID)
		if err != nil {
			return err
		}
		if cur.Pending() {
			return ErrAccountDeleted
		}
		d = Deletion{RequestedAt: now, PurgeAfter: now.Add(s.DeletionGrace())}
		if err := tx.SetDeletion(ctx, userID, d); err != nil {
			return err
		}
		if err := tx.EraseTokens(ctx, userID); err != nil {
			return err
		}
		return tx.AddEvent(ctx, newEvent(EventDeletionRequested, userID, Identity{}, m, now))
	})
	if err != nil {
		return Deletion{}, fmt.Errorf("delete account: %w", err)
	}
	return d, nil
}

// Restore takes back the deletion of the account userID, proven by a
// sign-in with its identity p moments ago, and signs that identity in as
// SignIn does. An account that is no longer marked (restored elsewhere) is
// simply signed in. It returns ErrProofGone when p is no longer the
// account's, or the account is gone or past its grace period.
func (s *Service) Restore(ctx context.Context, userID int64, p Profile, m Meta) (SignInResult, error) {
	p, err := cleanProfile(p)
	if err != nil {
		return SignInResult{}, fmt.Errorf("restore: %w", err)
	}
	m = cleanMeta(m)
	var res SignInResult
	err = s.store.InTx(ctx, func(tx Tx) error {
		now := s.now().UTC().Round(0)
		res = SignInResult{}
		if err := tx.LockUser(ctx, userID); errors.Is(err, ErrNotFound) {
			return ErrProofGone
		} else if err != nil {
			return err
		}
		id, err := tx.IdentityBySubject(ctx, p.Provider, p.Subject)
		if errors.Is(err, ErrNotFound) || (err == nil && id.UserID != userID) {
			return ErrProofGone
		}
		if err != nil {
			return err
		}
		d, err := tx.DeletionOf(ctx, userID)
		if err != nil {
			return err
		}
		if d.Pending() {
			if !now.Before(d.PurgeAfter) {
				return ErrProofGone
			}
			if err := tx.SetDeletion(ctx, userID, Deletion{}); err != nil {
				return err
			}
			if err := tx.AddEvent(ctx, newEvent(EventRestored, userID, id, m, now)); err != nil {
				return err
			}
		}
		return s.signInKnown(ctx, tx, &res, id, p, m, now)
	})
	if err != nil {
		return SignInResult{}, fmt.Errorf("restore: %w", err)
	}
	return res, nil
}

// PurgeDeleted erases, with their identities and timelines, the accounts
// whose grace period ended at or before now, and returns how many.
func (s *Service) PurgeDeleted(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := s.store.InTx(ctx, func(tx Tx) error {
		n = 0
		ids, err := tx.DueForPurge(ctx, now)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := tx.DeleteUser(ctx, id); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("purge deleted accounts: %w", err)
	}
	return n, nil
}

// liveHolder checks, inside a sign-in, the account that holds an identity:
// nil when it is live, a [*DeletedError] during its grace period. Past the
// grace period the account is purged here, so the identity is unknown from
// now on (the error wraps ErrNotFound) and signs up anew.
func liveHolder(ctx context.Context, tx Tx, userID int64, now time.Time) error {
	d, err := tx.DeletionOf(ctx, userID)
	if err != nil {
		return err
	}
	switch {
	case !d.Pending():
		return nil
	case now.Before(d.PurgeAfter):
		return &DeletedError{UserID: userID, PurgeAfter: d.PurgeAfter}
	}
	if err := tx.DeleteUser(ctx, userID); err != nil {
		return err
	}
	return fmt.Errorf("user %d past its deletion grace period, purged: %w", userID, ErrNotFound)
}
