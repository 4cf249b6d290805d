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

// holderReader is what otherHolder reads; both Store and Tx have it.
type holderReader interface {
	IdentityBySubject(ctx context.Context, provider, subject string) (Identity, error)
	DeletionOf(ctx context.Context, userID int64) (Deletion, error)
}

// otherHolder is the one rule for acting on a link conflict: the identity
// proof must still be held by a live account other than userID. It returns
// that account, or ErrProofGone (nobody holds it), ErrSameAccount (userID
// does) or ErrAccountDeleted (the holder is scheduled for deletion: its
// identities are neither merged nor switched to).
func otherHolder(ctx context.Context, r holderReader, userID int64, proof Profile) (int64, error) {
	id, err := r.IdentityBySubject(ctx, proof.Provider, proof.Subject)
	if errors.Is(err, ErrNotFound) {
		return 0, ErrProofGone
	}
	if err != nil {
		return 0, err
	}
	if id.UserID == userID {
		return 0, ErrSameAccount
	}
	d, err := r.DeletionOf(ctx, id.UserID)
	if err != nil {
		return 0, err
	}
	if d.Pending() {
		return 0, ErrAccountDeleted
	}
	return id.UserID, nil
}

// OtherHolder returns the live account, other than userID, that holds the
// provider identity proof; see otherHolder for the errors. Merge and
// SwitchTo check again inside their transactions.
func (s *Service) OtherHolder(ctx context.Context, userID int64, proof Profile) (int64, error) {
	return otherHolder(ctx, s.store, userID, proof)
}

// MergePreview reports what Merge(intoUserID, proof) would do, without
// changing anything: the account to merge is the one that holds the
// identity proof. Like Merge it returns the errors of OtherHolder, or
// ErrNotFound when intoUserID is missing.
func (s *Service) MergePreview(ctx context.Context, intoUserID int64, proof Profile) (MergePreview, error) {
	fromUserID, err := s.OtherHolder(ctx, intoUserID, proof)
	if err != nil {
		return MergePreview{}, fmt.Errorf("merge preview: %w", err)
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
		fromUserID, err := otherHolder(ctx, tx, intoUserID, proof)
		if err != nil {
			return err
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
		if again, err := otherHolder(ctx, tx, intoUserID, proof); err != nil || again != fromUserID {
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
