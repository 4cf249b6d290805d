package accounts

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// ErrSignInRemoved means a session's sign-in identity is no longer the
// user's: it was removed (or merged away), so the session it started ends
// (SECURITY.md C-06d, B-05b).
var ErrSignInRemoved = errors.New("the account this session signed in with was removed")

// SessionUserStore is implemented by a Store that can read what
// SessionUserIdentities needs, the user, its deletion mark and its
// identities (ordered by CreatedAt, then ID), in one query. The error
// wraps ErrNotFound when the user does not exist.
type SessionUserStore interface {
	SessionUser(ctx context.Context, userID int64) (User, Deletion, []Identity, error)
}

// SessionUser returns the user of a session that signed in with identity
// identityID (0: none recorded). It returns ErrNotFound when the user is
// gone, ErrAccountDeleted when it is scheduled for deletion, and
// ErrSignInRemoved when the identity no longer belongs to it.
func (s *Service) SessionUser(ctx context.Context, userID, identityID int64) (User, error) {
	u, _, err := s.sessionUser(ctx, userID, identityID, false)
	return u, err
}

// SessionUserIdentities is SessionUser that also returns the user's
// identities, ordered by CreatedAt, then ID, so that a page showing them
// does not read them again.
func (s *Service) SessionUserIdentities(ctx context.Context, userID, identityID int64) (User, []Identity, error) {
	return s.sessionUser(ctx, userID, identityID, true)
}

// sessionUser is SessionUser, returning the identities too when it read
// them or wantIDs is set.
func (s *Service) sessionUser(ctx context.Context, userID, identityID int64, wantIDs bool) (User, []Identity, error) {
	var (
		u      User
		d      Deletion
		ids    []Identity
		loaded bool // ids holds the identities
		err    error
	)
	if st, ok := s.store.(SessionUserStore); ok {
		u, d, ids, err = st.SessionUser(ctx, userID)
		if err != nil {
			return User{}, nil, fmt.Errorf("session user: %w", err)
		}
		loaded = true
	} else {
		if u, err = s.store.User(ctx, userID); err != nil {
			return User{}, nil, fmt.Errorf("session user: %w", err)
		}
		if d, err = s.store.DeletionOf(ctx, userID); err != nil {
			return User{}, nil, fmt.Errorf("session user: %w", err)
		}
	}
	if d.Pending() {
		return User{}, nil, fmt.Errorf("session user: %w", ErrAccountDeleted)
	}
	if !loaded && (identityID != 0 || wantIDs) {
		if ids, err = s.store.Identities(ctx, userID); err != nil {
			return User{}, nil, fmt.Errorf("session user: %w", err)
		}
	}
	if identityID != 0 && !slices.ContainsFunc(ids, func(id Identity) bool { return id.ID == identityID }) {
		return User{}, nil, ErrSignInRemoved
	}
	return u, ids, nil
}
