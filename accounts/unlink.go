package accounts

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// UnlinkResult is the outcome of an Unlink.
type UnlinkResult struct {
	// Removed is the identity as it was before it was removed.
	Removed Identity
	// Fallbacks lists the profile fields Removed supplied, each now supplied
	// by another identity, so the page can tell the user.
	Fallbacks []ProfileFallback
	// Tokens are the tokens Removed held, deleted with it, for the caller
	// to revoke at the provider once the change is committed; zero when
	// none were stored (or they could not be decrypted).
	Tokens Tokens
}

// Unlink removes the identity identityID, with its stored tokens, from the
// user userID, and writes an unlinked event.
//
// The identity must be the user's own: a missing identity and another
// user's are both ErrNotOwner, which is also ErrNotFound (C-06c). The user's
// last identity is refused with ErrLastIdentity and nothing changes (C-06a).
//
// Counting and deleting happen in one transaction that first locks the user,
// so two Unlinks of a user's last two identities cannot both see two and
// leave none: one of them ends in ErrLastIdentity (C-06b).
//
// When the removed identity supplied the display name or the avatar, the
// oldest remaining identity supplies it from now on; each such change is
// reported in Fallbacks and written as a profile_changed event.
//
// Sessions started with the removed identity are not ended here (C-06d);
// that is the caller's part.
func (s *Service) Unlink(ctx context.Context, userID, identityID int64, m Meta) (UnlinkResult, error) {
	m = cleanMeta(m)
	var res UnlinkResult
	err := s.store.InTx(ctx, func(tx Tx) error {
		now := s.now().UTC().Round(0)
		res = UnlinkResult{}
		if err := tx.LockUser(ctx, userID); err != nil {
			return err
		}
		id, err := ownIdentity(ctx, tx, userID, identityID)
		if err != nil {
			return err
		}
		all, err := tx.IdentitiesOf(ctx, userID)
		if err != nil {
			return err
		}
		var rest []Identity
		for _, other := range all {
			if other.ID != id.ID {
				rest = append(rest, other)
			}
		}
		if len(rest) == 0 {
			return ErrLastIdentity
		}
		u, err := tx.User(ctx, userID)
		if err != nil {
			return err
		}
		tokens, err := tx.Tokens(ctx, id.ID)
		if err != nil && !errors.Is(err, ErrTokensUnreadable) {
			return err
		}
		if err := tx.DeleteIdentity(ctx, id.ID); err != nil {
			return err
		}
		if err := tx.AddEvent(ctx, newEvent(EventUnlinked, userID, id, m, now)); err != nil {
			return err
		}
		fallbacks, err := fallBack(ctx, tx, u, id, rest[0], m, now)
		if err != nil {
			return err
		}
		res = UnlinkResult{Removed: id, Fallbacks: fallbacks, Tokens: tokens}
		return nil
	})
	if err != nil {
		return UnlinkResult{}, fmt.Errorf("unlink: %w", err)
	}
	return res, nil
}

// fallBack moves every profile field of u that the removed identity supplied
// to the identity next, saves u and writes a profile_changed event per field.
func fallBack(ctx context.Context, tx Tx, u User, removed, next Identity, m Meta, now time.Time) ([]ProfileFallback, error) {
	var fallbacks []ProfileFallback
	for _, f := range profileFields() {
		if sourceOf(u, f) != removed.ID {
			continue
		}
		setSource(&u, f, next)
		fallbacks = append(fallbacks, ProfileFallback{Field: f, From: removed, To: next})
		if err := tx.AddEvent(ctx, newEvent(EventProfileChanged, u.ID, next, m, now)); err != nil {
			return nil, err
		}
	}
	if len(fallbacks) == 0 {
		return nil, nil
	}
	u.UpdatedAt = now
	if err := tx.UpdateUser(ctx, u); err != nil {
		return nil, err
	}
	return fallbacks, nil
}
