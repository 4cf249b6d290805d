package accounts

import (
	"context"
	"errors"
	"fmt"
)

// EventSteppedUp records that the person confirmed who they are with one
// of their connected accounts before a sensitive change.
const EventSteppedUp = "stepped_up"

// ErrNotYourIdentity means a re-authentication came back with a provider
// account that is not connected to the signed-in account (SECURITY.md
// B-08c).
var ErrNotYourIdentity = errors.New("provider account is not connected to this account")

// StepUp checks that the provider identity (p.Provider, p.Subject), just
// signed in to again, is one of the user's, and records the confirmation
// on the timeline. Any other identity, known or not, is ErrNotYourIdentity
// and changes nothing: a re-authentication never switches or creates
// accounts.
func (s *Service) StepUp(ctx context.Context, userID int64, p Profile, m Meta) (Identity, error) {
	p, err := cleanProfile(p)
	if err != nil {
		return Identity{}, fmt.Errorf("step up: %w", err)
	}
	m = cleanMeta(m)
	var id Identity
	err = s.store.InTx(ctx, func(tx Tx) error {
		now := s.now().UTC().Round(0)
		var err error
		id, err = tx.IdentityBySubject(ctx, p.Provider, p.Subject)
		if errors.Is(err, ErrNotFound) || (err == nil && id.UserID != userID) {
			return ErrNotYourIdentity
		}
		if err != nil {
			return err
		}
		return tx.AddEvent(ctx, newEvent(EventSteppedUp, userID, id, m, now))
	})
	if err != nil {
		return Identity{}, fmt.Errorf("step up: %w", err)
	}
	return id, nil
}
