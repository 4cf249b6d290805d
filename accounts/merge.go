package accounts

import (
	"context"
	"errors"
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

// ErrProofGone means the provider identity that proved control of the
// other account no longer belongs to it (it was removed, or moved by
// another merge): whatever was offered on its strength is void.
var ErrProofGone = errors.New("the sign-in that proved the other account no longer holds")

// HolderOf returns the user that holds the provider identity (proof.Provider,
// proof.Subject), or ErrProofGone.
func (s *Service) HolderOf(ctx context.Context, proof Profile) (int64, error) {
	id, err := s.store.IdentityBySubject(ctx, proof.Provider, proof.Subject)
	if errors.Is(err, ErrNotFound) {
		return 0, ErrProofGone
	}
	if err != nil {
		return 0, err
	}
	return id.UserID, nil
}

// MergePreview reports what Merge(intoUserID, proof) would do, without
// changing anything: the account to merge is the one that holds the
// identity proof. Like Merge it returns ErrProofGone, ErrSameAccount, or
// ErrNotFound when intoUserID is missing.
func (s *Service) MergePreview(ctx context.Context, intoUserID int64, proof Profile) (MergePreview, error) {
	fromUserID, err := s.HolderOf(ctx, proof)
	if err != nil {
		return MergePreview{}, fmt.Errorf("merge preview: %w", err)
	}
	if intoUserID == fromUserID {
		return MergePreview{}, fmt.Errorf("merge preview: %w", ErrSameAccount)
	}
	var p MergePreview
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

// Merge moves every identity and timeline event of the account that holds
// the identity proof to the user intoUserID and deletes that account, in
// one transaction. The moved events keep their kinds and times, so no
// history is lost; a merged event per moved identity goes on intoUserID's
// timeline. intoUserID keeps its own profile and profile sources.
//
// proof is the provider account the person signed in with moments ago;
// the caller vouches for that sign-in (fresh, bound to this person).
// Merge resolves its holder inside the transaction, so a proof removed or
// moved in the meantime cannot be used: ErrProofGone. It returns
// ErrSameAccount when the proof is intoUserID's own and ErrNotFound when
// intoUserID is missing.
func (s *Service) Merge(ctx context.Context, intoUserID int64, proof Profile, m Meta) (MergeResult, error) {
	m = cleanMeta(m)
	var res MergeResult
	err := s.store.InTx(ctx, func(tx Tx) error {
		now := s.now().UTC().Round(0)
		res = MergeResult{}
		holder := func() (int64, error) {
			id, err := tx.IdentityBySubject(ctx, proof.Provider, proof.Subject)
			if errors.Is(err, ErrNotFound) {
				return 0, ErrProofGone
			}
			return id.UserID, err
		}
		fromUserID, err := holder()
		if err != nil {
			return err
		}
		if fromUserID == intoUserID {
			return ErrSameAccount
		}
		// Ascending order, so that two merges of the same pair in opposite
		// directions cannot deadlock on a database with row locks; then
		// look again, under the locks.
		if err := tx.LockUser(ctx, min(intoUserID, fromUserID)); err != nil {
			return err
		}
		if err := tx.LockUser(ctx, max(intoUserID, fromUserID)); err != nil {
			return err
		}
		if again, err := holder(); err != nil || again != fromUserID {
			return errors.Join(ErrProofGone, err)
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
