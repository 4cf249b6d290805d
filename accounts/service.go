package accounts

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Service holds the account rules. It is safe for concurrent use.
type Service struct {
	store Store
	now   func() time.Time
	grace time.Duration // see SetDeletionGrace
}

// NewService returns a Service on s. now is the clock; nil means time.Now.
func NewService(s Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: s, now: now}
}

// SignInResult is the outcome of a sign-in.
type SignInResult struct {
	User     User
	Identity Identity
	Created  bool // the user was created by this sign-in
}

// SignIn resolves the provider identity (p.Provider, p.Subject) to its user.
//
// A known identity signs in its user; the identity's profile fields and
// LastUsedAt are refreshed, and so are the user's display name and avatar
// where the identity is their source (see SetProfileSource), so a change at
// the provider shows up; the primary email is not. An unknown identity gets
// a new user, even when another user has the same email: email never joins
// accounts (C-01a, P1). The new user's display name and avatar come from the
// identity, which becomes their source, and its primary email only from a
// verified email. Everything happens in one
// transaction together with the timeline event (signed_up or signed_in).
//
// When two first sign-ins of the same identity race, the loser's
// transaction fails with ErrConflict and is rolled back; SignIn then retries
// once and finds the winner's identity, so both end with the same user.
//
// SignIn returns ErrInvalidProfile when the provider or subject is empty,
// too long or holds control characters.
func (s *Service) SignIn(ctx context.Context, p Profile, m Meta) (SignInResult, error) {
	p, err := cleanProfile(p)
	if err != nil {
		return SignInResult{}, err
	}
	m = cleanMeta(m)
	res, err := s.signIn(ctx, p, m, true)
	if errors.Is(err, ErrConflict) {
		res, err = s.signIn(ctx, p, m, true)
	}
	if err != nil {
		return SignInResult{}, fmt.Errorf("sign in: %w", err)
	}
	return res, nil
}

// SwitchTo signs in to the account that holds the provider identity p, as
// SignIn does, but never creates one: "sign in to that account instead"
// from a link conflict must not make a new, empty account when the
// identity was removed in the meantime (ErrProofGone).
func (s *Service) SwitchTo(ctx context.Context, p Profile, m Meta) (SignInResult, error) {
	p, err := cleanProfile(p)
	if err != nil {
		return SignInResult{}, err
	}
	res, err := s.signIn(ctx, p, cleanMeta(m), false)
	if err != nil {
		return SignInResult{}, fmt.Errorf("switch account: %w", err)
	}
	return res, nil
}

// signIn is one attempt of SignIn on a cleaned profile; with create false
// an unknown identity is ErrProofGone.
func (s *Service) signIn(ctx context.Context, p Profile, m Meta, create bool) (SignInResult, error) {
	var res SignInResult
	err := s.store.InTx(ctx, func(tx Tx) error {
		// A fresh time per attempt keeps a retried sign-in's clock honest.
		now := s.now().UTC().Round(0)
		res = SignInResult{}
		id, err := tx.IdentityBySubject(ctx, p.Provider, p.Subject)
		if err == nil {
			// A deleted account signs no one in; past its grace period it
			// is purged here and the identity is unknown again.
			err = liveHolder(ctx, tx, id.UserID, now)
		}
		switch {
		case err == nil:
			return s.signInKnown(ctx, tx, &res, id, p, m, now)
		case errors.Is(err, ErrNotFound) && !create:
			return ErrProofGone
		case errors.Is(err, ErrNotFound):
			return s.signUp(ctx, tx, &res, p, m, now)
		default:
			return err
		}
	})
	return res, err
}

// signInKnown signs in the owner of the existing identity id.
func (s *Service) signInKnown(ctx context.Context, tx Tx, res *SignInResult, id Identity, p Profile, m Meta, now time.Time) error {
	id = refreshed(id, p, now)
	if err := tx.UpdateIdentity(ctx, id); err != nil {
		return err
	}
	if err := saveTokens(ctx, tx, id.ID, p.Tokens); err != nil {
		return err
	}
	u, err := refreshUser(ctx, tx, id, now)
	if err != nil {
		return err
	}
	if err := tx.AddEvent(ctx, newEvent(EventSignedIn, u.ID, id, m, now)); err != nil {
		return err
	}
	*res = SignInResult{User: u, Identity: id}
	return nil
}

// signUp creates a user and its first identity from p. The identity is the
// source of the user's display name and avatar.
func (s *Service) signUp(ctx context.Context, tx Tx, res *SignInResult, p Profile, m Meta, now time.Time) error {
	u := User{CreatedAt: now, UpdatedAt: now}
	if p.EmailVerified {
		u.PrimaryEmail = p.Email
	}
	u, err := tx.CreateUser(ctx, u)
	if err != nil {
		return err
	}
	id, err := tx.CreateIdentity(ctx, identityFrom(p, u.ID, now))
	if err != nil {
		return err
	}
	if err := saveTokens(ctx, tx, id.ID, p.Tokens); err != nil {
		return err
	}
	// The sources can only be set once the identity exists.
	setSource(&u, FieldDisplayName, id)
	setSource(&u, FieldAvatar, id)
	if err := tx.UpdateUser(ctx, u); err != nil {
		return err
	}
	if err := tx.AddEvent(ctx, newEvent(EventSignedUp, u.ID, id, m, now)); err != nil {
		return err
	}
	*res = SignInResult{User: u, Identity: id, Created: true}
	return nil
}

// newEvent returns an event of kind about identity id.
func newEvent(kind string, userID int64, id Identity, m Meta, at time.Time) Event {
	return Event{
		UserID:     userID,
		Kind:       kind,
		Provider:   id.Provider,
		IdentityID: id.ID,
		IP:         m.IP,
		UserAgent:  m.UserAgent,
		At:         at,
	}
}

// User returns the user with the given id, or ErrNotFound.
func (s *Service) User(ctx context.Context, id int64) (User, error) {
	return s.store.User(ctx, id)
}

// Identities returns the user's connected identities, oldest first.
func (s *Service) Identities(ctx context.Context, userID int64) ([]Identity, error) {
	return s.store.Identities(ctx, userID)
}

// Events returns at most limit of the user's timeline events, newest first.
func (s *Service) Events(ctx context.Context, userID int64, limit int) ([]Event, error) {
	return s.store.Events(ctx, userID, limit)
}

// EventsBefore returns the page of at most limit of the user's timeline
// events that follows the event beforeID (0: the newest), newest first.
func (s *Service) EventsBefore(ctx context.Context, userID, beforeID int64, limit int) ([]Event, error) {
	return s.store.EventsBefore(ctx, userID, beforeID, limit)
}
