package accounts

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
)

// ErrSignInRemoved means a session's sign-in identity is no longer the
// user's: it was removed (or merged away), so the session it started ends
// (SECURITY.md C-06d, B-05b).
var ErrSignInRemoved = errors.New("the account this session signed in with was removed")

// SessionUser returns the user of a session that signed in with identity
// identityID (0: none recorded). It returns ErrNotFound when the user is
// gone, ErrAccountDeleted when it is scheduled for deletion, and
// ErrSignInRemoved when the identity no longer belongs to it.
func (s *Service) SessionUser(ctx context.Context, userID, identityID int64) (User, error) {
	u, err := s.store.User(ctx, userID)
	if err != nil {
		return User{}, fmt.Errorf("session user: %w", err)
	}
	if d, err := s.store.DeletionOf(ctx, userID); err != nil || d.Pending() {
		return User{}, fmt.Errorf("session user: %w", cmp.Or(err, ErrAccountDeleted))
	}
	if identityID == 0 {
		return u, nil
	}
	ids, err := s.store.Identities(ctx, userID)
	if err != nil {
		return User{}, fmt.Errorf("session user: %w", err)
	}
	if !slices.ContainsFunc(ids, func(id Identity) bool { return id.ID == identityID }) {
		return User{}, ErrSignInRemoved
	}
	return u, nil
}
