// Package accounts is the Linkport domain: users, the provider identities
// connected to them, the security timeline, and the rules that resolve a
// provider sign-in to a user.
//
// An identity is always the pair (provider, subject). An email address never
// joins two identities on its own.
//
// The package imports nothing else of Linkport; storage implements [Store].
package accounts

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// User is a Linkport account.
type User struct {
	ID           int64
	DisplayName  string
	AvatarURL    string
	PrimaryEmail string // empty when unknown; only ever set from a verified email
	// NameIdentityID and AvatarIdentityID are the identities that supply
	// DisplayName and AvatarURL (see [Service.SetProfileSource]); 0 when none
	// does. DisplayName and AvatarURL are cached copies, so pages need not
	// read the identities.
	NameIdentityID   int64
	AvatarIdentityID int64
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Identity is one provider account connected to a User; unique by
// (Provider, Subject).
type Identity struct {
	ID            int64
	UserID        int64
	Provider      string
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	Nickname      string
	AvatarURL     string
	CreatedAt     time.Time
	LastUsedAt    time.Time
}

// Profile is what a provider said about a person, after the provider's trust
// policy decided EmailVerified.
type Profile struct {
	Provider      string
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	Nickname      string
	AvatarURL     string
	// Tokens are the provider's tokens from this sign-in, to keep on the
	// identity; nil when they are not kept. Never serialized: a Profile
	// waiting in a session for a link confirmation must not carry them.
	Tokens *Tokens `json:"-"`
}

// Event is one entry of a user's security timeline. It never holds a token,
// code or state.
type Event struct {
	ID         int64
	UserID     int64
	Kind       string
	Provider   string
	IdentityID int64 // 0 when the event concerns no single identity
	IP         string
	UserAgent  string
	At         time.Time
}

// Event kinds. More kinds come with session management.
const (
	// EventSignedUp records the first sign-in of a new user.
	EventSignedUp = "signed_up"
	// EventSignedIn records a sign-in of an existing user.
	EventSignedIn = "signed_in"
	// EventLinked records a provider identity connected to the user.
	EventLinked = "linked"
	// EventUnlinked records a provider identity removed from the user.
	EventUnlinked = "unlinked"
	// EventMerged records an identity that arrived with a merged account.
	EventMerged = "merged"
	// EventLinkRefused records a link attempt of an identity that belongs to
	// another account. It names neither that account nor its identity.
	EventLinkRefused = "link_refused"
	// EventProfileChanged records a change of the identity that supplies the
	// display name or the avatar.
	EventProfileChanged = "profile_changed"
)

// Meta is who and where a change came from, for the timeline.
type Meta struct {
	IP        string
	UserAgent string
}

// Sentinel errors. Callers test them with errors.Is.
var (
	// ErrNotFound means the requested user or identity does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalidProfile means a provider profile lacks a usable provider or
	// subject.
	ErrInvalidProfile = errors.New("invalid profile")
	// ErrConflict means a unique constraint was violated, such as a second
	// identity with the same (provider, subject).
	ErrConflict = errors.New("conflict")
	// ErrIdentityTaken means the identity to link belongs to another account.
	// Link returns it inside a [*TakenError].
	ErrIdentityTaken = errors.New("identity belongs to another account")
	// ErrAlreadyLinked means the identity to link is already this account's.
	// Link returns the identity with it: a repeated link is harmless (C-05b).
	ErrAlreadyLinked = errors.New("identity already linked to this account")
	// ErrLastIdentity means the identity is the account's only way to sign in
	// and cannot be removed (C-06a).
	ErrLastIdentity = errors.New("cannot remove the last way to sign in")
	// ErrNotOwner means the identity does not exist or is another account's.
	// It wraps ErrNotFound so that both cases look the same to the caller and
	// no one learns that someone else holds the id (C-06c).
	ErrNotOwner = fmt.Errorf("identity is not one of this account's: %w", ErrNotFound)
	// ErrSameAccount means a merge of an account into itself.
	ErrSameAccount = errors.New("cannot merge an account into itself")
	// ErrInvalidField means a profile field that no identity can supply.
	ErrInvalidField = errors.New("invalid profile field")
)

// Store is what the service needs from storage. All writes go through InTx.
type Store interface {
	DeletionStore
	// InTx runs fn in one write transaction. It commits when fn returns nil
	// and rolls back when fn returns an error or panics (the panic is then
	// re-raised). A store may run fn again after the database aborted the
	// transaction (a deadlock), so fn works only through tx and sets its
	// results afresh on each run.
	InTx(ctx context.Context, fn func(tx Tx) error) error
	// User returns the user with the given id, or ErrNotFound.
	User(ctx context.Context, id int64) (User, error)
	// Identities returns the user's identities ordered by CreatedAt, then ID.
	Identities(ctx context.Context, userID int64) ([]Identity, error)
	// IdentityBySubject returns the identity (provider, subject), or
	// ErrNotFound.
	IdentityBySubject(ctx context.Context, provider, subject string) (Identity, error)
	// Events returns at most limit of the user's events, newest first; a limit
	// of zero or less returns them all.
	Events(ctx context.Context, userID int64, limit int) ([]Event, error)
	// EventsBefore returns at most limit of the user's events that come
	// after the event beforeID in Events' order (newest first); beforeID 0
	// starts at the newest. An unknown beforeID returns none.
	EventsBefore(ctx context.Context, userID, beforeID int64, limit int) ([]Event, error)
}

// Tx is the set of operations available inside a write transaction.
type Tx interface {
	DeletionTx
	// IdentityBySubject returns the identity (provider, subject), or
	// ErrNotFound.
	IdentityBySubject(ctx context.Context, provider, subject string) (Identity, error)
	// User returns the user with the given id, or ErrNotFound.
	User(ctx context.Context, id int64) (User, error)
	// CreateUser inserts u, ignoring u.ID, and returns it with its new ID.
	CreateUser(ctx context.Context, u User) (User, error)
	// CreateIdentity inserts id, ignoring id.ID, and returns it with its new
	// ID; ErrConflict when (Provider, Subject) is already taken.
	CreateIdentity(ctx context.Context, id Identity) (Identity, error)
	// UpdateIdentity saves the profile fields (Email, EmailVerified, Name,
	// Nickname, AvatarURL) and LastUsedAt of the identity id.ID; ErrNotFound
	// when it does not exist.
	UpdateIdentity(ctx context.Context, id Identity) error
	// AddEvent appends e to its user's timeline, ignoring e.ID.
	AddEvent(ctx context.Context, e Event) error

	// LockUser holds the user against concurrent changes until the
	// transaction ends, or returns ErrNotFound. Rules that count or move a
	// user's identities call it first, so that two of them cannot both pass
	// a check the other invalidates (C-06b). A database whose write
	// transactions are already serialized may only check that the user
	// exists; others lock the row (SELECT ... FOR UPDATE).
	LockUser(ctx context.Context, userID int64) error
	// IdentityByID returns the identity with the given id, or ErrNotFound.
	IdentityByID(ctx context.Context, id int64) (Identity, error)
	// IdentitiesOf returns the user's identities ordered by CreatedAt, then
	// ID; none when the user has none or does not exist.
	IdentitiesOf(ctx context.Context, userID int64) ([]Identity, error)
	// DeleteIdentity deletes the identity with its stored tokens; a user
	// whose profile source it was keeps no source for that field.
	// ErrNotFound when it does not exist.
	DeleteIdentity(ctx context.Context, id int64) error
	// UpdateUser saves DisplayName, AvatarURL, PrimaryEmail,
	// NameIdentityID, AvatarIdentityID and UpdatedAt of u.ID; ErrNotFound
	// when it does not exist.
	UpdateUser(ctx context.Context, u User) error
	// MoveIdentities gives every identity of user from to user to and returns
	// how many moved.
	MoveIdentities(ctx context.Context, from, to int64) (int64, error)
	// MoveEvents gives every event of user from to user to, unchanged
	// otherwise, and returns how many moved.
	MoveEvents(ctx context.Context, from, to int64) (int64, error)
	// DeleteUser deletes the user with the identities and events it still
	// has; ErrNotFound when it does not exist.
	DeleteUser(ctx context.Context, id int64) error

	// Tokens returns the provider tokens stored for the identity; none when
	// none are stored or the store keeps no tokens. Stored tokens that
	// cannot be decrypted are ErrTokensUnreadable.
	Tokens(ctx context.Context, identityID int64) (Tokens, error)
	// SaveTokens stores t for the identity, replacing what it held. A store
	// configured without a token key stores nothing and returns nil.
	SaveTokens(ctx context.Context, identityID int64, t Tokens) error
}
