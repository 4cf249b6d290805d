package accounts

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// TakenError is the error Link returns when the identity belongs to another
// account. It carries what the conflict page needs to offer "sign in to that
// account instead" or "merge it into this one"; it unwraps to
// ErrIdentityTaken.
//
// Its message names neither the other account nor the identity, because
// messages end up in logs and pages (C-05a).
type TakenError struct {
	// OtherUserID is the account that holds the identity. Show it to no one
	// who has not just proven control of the identity.
	OtherUserID int64
	// Identity is the identity as stored, owned by OtherUserID.
	Identity Identity
}

// Error returns the generic message of ErrIdentityTaken.
func (e *TakenError) Error() string { return ErrIdentityTaken.Error() }

// Unwrap makes errors.Is(err, ErrIdentityTaken) hold.
func (e *TakenError) Unwrap() error { return ErrIdentityTaken }

// Link connects the provider identity (p.Provider, p.Subject) to the user
// userID, in one transaction:
//
//   - an unknown identity is created for the user, with a linked event. A
//     user may hold several identities of one provider (personal and work
//     Google, C-05c).
//   - an identity the user already holds has its profile fields and
//     LastUsedAt refreshed (and the user's display name or avatar when it is
//     their source), and is returned with ErrAlreadyLinked: no second row,
//     no event (C-05b).
//   - an identity of another user is left alone; a link_refused event goes
//     on userID's timeline only, naming neither the other user nor its
//     identity, and the error is a [*TakenError] (C-05a). Nothing is ever
//     joined by email.
//
// When two links of one new identity race, the loser's insert fails with
// ErrConflict and is rolled back; Link retries once and then finds the
// winner's row, so it ends in ErrAlreadyLinked or ErrIdentityTaken.
//
// Link returns ErrNotFound when the user does not exist and
// ErrInvalidProfile for a profile SignIn would refuse.
func (s *Service) Link(ctx context.Context, userID int64, p Profile, m Meta) (Identity, error) {
	p, err := cleanProfile(p)
	if err != nil {
		return Identity{}, fmt.Errorf("link: %w", err)
	}
	m = cleanMeta(m)
	id, err := s.link(ctx, userID, p, m, true)
	if errors.Is(err, ErrConflict) {
		id, err = s.link(ctx, userID, p, m, true)
	}
	if err != nil {
		return id, fmt.Errorf("link: %w", err)
	}
	return id, nil
}

// CheckLink tells what Link would do, before the person is asked to
// confirm: nil when Link would attach a new identity (nothing is written
// then), otherwise what Link itself returns and writes for an identity the
// user already holds (ErrAlreadyLinked, profile refreshed) or one of another
// user ([*TakenError], link_refused event). Link checks again at confirm
// time, so a race in between is still caught.
func (s *Service) CheckLink(ctx context.Context, userID int64, p Profile, m Meta) error {
	p, err := cleanProfile(p)
	if err != nil {
		return fmt.Errorf("check link: %w", err)
	}
	if _, err := s.link(ctx, userID, p, cleanMeta(m), false); err != nil {
		return fmt.Errorf("check link: %w", err)
	}
	return nil
}

// link is one attempt of Link on a cleaned profile. Outcomes that must be
// committed (the refresh, the link_refused event) are returned as errors only
// after the transaction.
// With create false an unknown identity is left alone (CheckLink).
func (s *Service) link(ctx context.Context, userID int64, p Profile, m Meta, create bool) (Identity, error) {
	var (
		res     Identity
		outcome error
	)
	err := s.store.InTx(ctx, func(tx Tx) error {
		now := s.now().UTC().Round(0)
		res, outcome = Identity{}, nil
		// Locking the user keeps a concurrent Merge from deleting it
		// between the check and the insert.
		if err := tx.LockUser(ctx, userID); err != nil {
			return err
		}
		id, err := tx.IdentityBySubject(ctx, p.Provider, p.Subject)
		switch {
		case errors.Is(err, ErrNotFound) && !create:
			return nil
		case errors.Is(err, ErrNotFound):
			res, err = linkNew(ctx, tx, userID, p, m, now)
			return err
		case err != nil:
			return err
		case id.UserID == userID:
			res, err = relink(ctx, tx, id, p, now)
			outcome = ErrAlreadyLinked
			return err
		default:
			outcome = &TakenError{OtherUserID: id.UserID, Identity: id}
			return tx.AddEvent(ctx, Event{
				UserID: userID, Kind: EventLinkRefused, Provider: id.Provider,
				IP: m.IP, UserAgent: m.UserAgent, At: now,
			})
		}
	})
	if err != nil {
		return Identity{}, err
	}
	if _, taken := outcome.(*TakenError); taken {
		return Identity{}, outcome
	}
	return res, outcome
}

// linkNew creates the identity p for userID with a linked event.
func linkNew(ctx context.Context, tx Tx, userID int64, p Profile, m Meta, now time.Time) (Identity, error) {
	id, err := tx.CreateIdentity(ctx, identityFrom(p, userID, now))
	if err != nil {
		return Identity{}, err
	}
	if err := saveTokens(ctx, tx, id.ID, p.Tokens); err != nil {
		return Identity{}, err
	}
	if err := tx.AddEvent(ctx, newEvent(EventLinked, userID, id, m, now)); err != nil {
		return Identity{}, err
	}
	return id, nil
}

// relink refreshes the user's own identity id from p, and the user's cached
// profile where id is its source.
func relink(ctx context.Context, tx Tx, id Identity, p Profile, now time.Time) (Identity, error) {
	id = refreshed(id, p, now)
	if err := tx.UpdateIdentity(ctx, id); err != nil {
		return Identity{}, err
	}
	if err := saveTokens(ctx, tx, id.ID, p.Tokens); err != nil {
		return Identity{}, err
	}
	if _, err := refreshUser(ctx, tx, id, now); err != nil {
		return Identity{}, err
	}
	return id, nil
}

// identityFrom is the new identity p of userID.
func identityFrom(p Profile, userID int64, now time.Time) Identity {
	return Identity{
		UserID:        userID,
		Provider:      p.Provider,
		Subject:       p.Subject,
		Email:         p.Email,
		EmailVerified: p.EmailVerified,
		Name:          p.Name,
		Nickname:      p.Nickname,
		AvatarURL:     p.AvatarURL,
		CreatedAt:     now,
		LastUsedAt:    now,
	}
}

// refreshed is id with the profile fields the provider just sent, used now.
func refreshed(id Identity, p Profile, now time.Time) Identity {
	id.Email, id.EmailVerified = p.Email, p.EmailVerified
	id.Name, id.Nickname, id.AvatarURL = p.Name, p.Nickname, p.AvatarURL
	id.LastUsedAt = now
	return id
}

// refreshUser copies the refreshed identity id into its user's cached
// profile fields it is the source of, saves the user if that changed
// anything, and returns the user.
func refreshUser(ctx context.Context, tx Tx, id Identity, now time.Time) (User, error) {
	u, err := tx.User(ctx, id.UserID)
	if err != nil {
		return User{}, fmt.Errorf("owner of identity %d: %w", id.ID, err)
	}
	if !refreshSources(&u, id) {
		return u, nil
	}
	u.UpdatedAt = now
	if err := tx.UpdateUser(ctx, u); err != nil {
		return User{}, err
	}
	return u, nil
}
