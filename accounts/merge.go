package accounts

import (
	"context"
	"fmt"
	"time"
)

// MergePreview says what Merge would do, for the confirmation page.
type MergePreview struct {
	// Into is the account that survives; its profile (display name, avatar,
	// primary email and their sources) is the one kept.
	Into User
	// From is the account that would be deleted.
	From User
	// Moving are From's identities, which would move to Into.
	Moving []Identity
	// Events is the number of From's timeline events that would move.
	Events int
	// Keeping are Into's own identities.
	Keeping []Identity
}

// MergeResult is the outcome of a Merge.
type MergeResult struct {
	// Moved are the identities that moved, now owned by the surviving user.
	Moved []Identity
	// Events is the number of timeline events that moved.
	Events int
}

// MergePreview reports what Merge(intoUserID, fromUserID) would do, without
// changing anything. Like Merge it returns ErrSameAccount for one account
// and ErrNotFound when either is missing.
func (s *Service) MergePreview(ctx context.Context, intoUserID, fromUserID int64) (MergePreview, error) {
	if intoUserID == fromUserID {
		return MergePreview{}, fmt.Errorf("merge preview: %w", ErrSameAccount)
	}
	var (
		p   MergePreview
		err error
	)
	if p.Into, err = s.store.User(ctx, intoUserID); err != nil {
		return MergePreview{}, fmt.Errorf("merge preview: %w", err)
	}
	if p.From, err = s.store.User(ctx, fromUserID); err != nil {
		return MergePreview{}, fmt.Errorf("merge preview: %w", err)
	}
	if p.Moving, err = s.store.Identities(ctx, fromUserID); err != nil {
		return MergePreview{}, fmt.Errorf("merge preview: %w", err)
	}
	if p.Keeping, err = s.store.Identities(ctx, intoUserID); err != nil {
		return MergePreview{}, fmt.Errorf("merge preview: %w", err)
	}
	events, err := s.store.Events(ctx, fromUserID, 0)
	if err != nil {
		return MergePreview{}, fmt.Errorf("merge preview: %w", err)
	}
	p.Events = len(events)
	return p, nil
}

// Merge moves every identity and timeline event of the user fromUserID to
// the user intoUserID and deletes fromUserID, in one transaction. The moved
// events keep their kinds and times, so no history is lost; a merged event
// per moved identity goes on intoUserID's timeline. intoUserID keeps its own
// profile and profile sources.
//
// Merge checks no proof: the caller must have established that the person
// controls both accounts (signed in to one, freshly signed in with an
// identity of the other). It returns ErrSameAccount when the ids are equal
// and ErrNotFound when either user is missing.
func (s *Service) Merge(ctx context.Context, intoUserID, fromUserID int64, m Meta) (MergeResult, error) {
	if intoUserID == fromUserID {
		return MergeResult{}, fmt.Errorf("merge: %w", ErrSameAccount)
	}
	m = cleanMeta(m)
	var res MergeResult
	err := s.store.InTx(ctx, func(tx Tx) error {
		now := s.now().UTC().Round(0)
		res = MergeResult{}
		// Ascending order, so that two merges of the same pair in opposite
		// directions cannot deadlock on a database with row locks.
		if err := tx.LockUser(ctx, min(intoUserID, fromUserID)); err != nil {
			return err
		}
		if err := tx.LockUser(ctx, max(intoUserID, fromUserID)); err != nil {
			return err
		}
		moved, err := tx.IdentitiesOf(ctx, fromUserID)
		if err != nil {
			return err
		}
		if _, err := tx.MoveIdentities(ctx, fromUserID, intoUserID); err != nil {
			return err
		}
		events, err := tx.MoveEvents(ctx, fromUserID, intoUserID)
		if err != nil {
			return err
		}
		if err := tx.DeleteUser(ctx, fromUserID); err != nil {
			return err
		}
		for i := range moved {
			moved[i].UserID = intoUserID
		}
		if err := addMergedEvents(ctx, tx, intoUserID, moved, m, now); err != nil {
			return err
		}
		res = MergeResult{Moved: moved, Events: int(events)}
		return nil
	})
	if err != nil {
		return MergeResult{}, fmt.Errorf("merge: %w", err)
	}
	return res, nil
}

// addMergedEvents writes one merged event per moved identity, so the
// timeline shows which sign-in methods arrived, or one without an identity
// when the merged account had none.
func addMergedEvents(ctx context.Context, tx Tx, userID int64, moved []Identity, m Meta, now time.Time) error {
	if len(moved) == 0 {
		return tx.AddEvent(ctx, newEvent(EventMerged, userID, Identity{}, m, now))
	}
	for _, id := range moved {
		if err := tx.AddEvent(ctx, newEvent(EventMerged, userID, id, m, now)); err != nil {
			return err
		}
	}
	return nil
}
