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
	"time"
)

// User is a Linkport account.
type User struct {
	ID           int64
	DisplayName  string
	AvatarURL    string
	PrimaryEmail string // empty when unknown; only ever set from a verified email
	CreatedAt    time.Time
	UpdatedAt    time.Time
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

// Event kinds. More kinds come with linking, unlinking, merging and session
// management.
const (
	// EventSignedUp records the first sign-in of a new user.
	EventSignedUp = "signed_up"
	// EventSignedIn records a sign-in of an existing user.
	EventSignedIn = "signed_in"
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
)

// Store is what the service needs from storage. All writes go through InTx.
type Store interface {
	// InTx runs fn in one write transaction. It commits when fn returns nil
	// and rolls back when fn returns an error or panics (the panic is then
	// re-raised).
	InTx(ctx context.Context, fn func(tx Tx) error) error
	// User returns the user with the given id, or ErrNotFound.
	User(ctx context.Context, id int64) (User, error)
	// Identities returns the user's identities ordered by CreatedAt, then ID.
	Identities(ctx context.Context, userID int64) ([]Identity, error)
	// Events returns at most limit of the user's events, newest first; a limit
	// of zero or less returns them all.
	Events(ctx context.Context, userID int64, limit int) ([]Event, error)
}

// Tx is the set of operations available inside a write transaction.
type Tx interface {
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
}
