package accounts

import (
	"context"
	"errors"
	"fmt"
)

// ProfileField is a user profile field whose value comes from one identity.
type ProfileField string

// The profile fields an identity can supply.
const (
	// FieldDisplayName is User.DisplayName, from the identity's name, or its
	// nickname when it has no name.
	FieldDisplayName ProfileField = "display_name"
	// FieldAvatar is User.AvatarURL, from the identity's avatar.
	FieldAvatar ProfileField = "avatar"
)

// profileFields lists every ProfileField, in the order fallbacks are
// reported.
func profileFields() []ProfileField { return []ProfileField{FieldDisplayName, FieldAvatar} }

// valid reports whether f is one of the fields an identity can supply.
func (f ProfileField) valid() bool { return f == FieldDisplayName || f == FieldAvatar }

// ProfileFallback reports a field whose source identity was removed and which
// now comes from another identity, so the page can say "your display name now
// comes from your X account".
type ProfileFallback struct {
	Field ProfileField
	From  Identity // the removed source
	To    Identity // the new source
}

// SetProfileSource makes the identity identityID, which must be one of the
// user's own (else ErrNotOwner), the source of field, and copies the field's
// value from it into the user in the same transaction, with a
// profile_changed event. Choosing the current source again changes nothing
// and writes no event. An unknown field is ErrInvalidField.
func (s *Service) SetProfileSource(ctx context.Context, userID int64, field ProfileField, identityID int64, m Meta) error {
	if !field.valid() {
		return fmt.Errorf("set profile source: %w: %q", ErrInvalidField, field)
	}
	m = cleanMeta(m)
	err := s.store.InTx(ctx, func(tx Tx) error {
		now := s.now().UTC().Round(0)
		if err := tx.LockUser(ctx, userID); err != nil {
			return err
		}
		id, err := ownIdentity(ctx, tx, userID, identityID)
		if err != nil {
			return err
		}
		u, err := tx.User(ctx, userID)
		if err != nil {
			return err
		}
		if !setSource(&u, field, id) {
			return nil
		}
		u.UpdatedAt = now
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		return tx.AddEvent(ctx, newEvent(EventProfileChanged, userID, id, m, now))
	})
	if err != nil {
		return fmt.Errorf("set profile source: %w", err)
	}
	return nil
}

// ownIdentity returns the identity identityID if it belongs to userID. A
// missing identity and another user's look the same (ErrNotOwner), so ids
// cannot be probed.
func ownIdentity(ctx context.Context, tx Tx, userID, identityID int64) (Identity, error) {
	id, err := tx.IdentityByID(ctx, identityID)
	switch {
	case errors.Is(err, ErrNotFound), err == nil && id.UserID != userID:
		return Identity{}, fmt.Errorf("identity %d: %w", identityID, ErrNotOwner)
	case err != nil:
		return Identity{}, err
	}
	return id, nil
}

// sourceOf returns the id of the identity that supplies f for u, 0 for none.
func sourceOf(u User, f ProfileField) int64 {
	switch f {
	case FieldDisplayName:
		return u.NameIdentityID
	case FieldAvatar:
		return u.AvatarIdentityID
	}
	return 0
}

// setSource makes id the source of f for u and copies the value from it. It
// reports whether u changed.
func setSource(u *User, f ProfileField, id Identity) bool {
	before := *u
	switch f {
	case FieldDisplayName:
		u.NameIdentityID, u.DisplayName = id.ID, displayNameOf(id)
	case FieldAvatar:
		u.AvatarIdentityID, u.AvatarURL = id.ID, id.AvatarURL
	}
	return *u != before
}

// refreshSources copies the current values of id into every field of u it
// is the source of, so that a name or avatar changed at the provider shows
// up at the next sign-in or link. It reports whether u changed.
func refreshSources(u *User, id Identity) bool {
	changed := false
	for _, f := range profileFields() {
		if sourceOf(*u, f) == id.ID && setSource(u, f, id) {
			changed = true
		}
	}
	return changed
}

// displayNameOf is the display name an identity supplies: its name, or its
// nickname when the provider gave no name (X handles, for example).
func displayNameOf(id Identity) string {
	if id.Name != "" {
		return id.Name
	}
	return id.Nickname
}
