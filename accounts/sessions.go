package accounts

import (
	"context"
	"fmt"
	"time"
)

// EventSessionRevoked records that the user signed out one or more of their
// other sessions.
const EventSessionRevoked = "session_revoked"

// Session is one signed-in session as the session index keeps it: whose it
// is, which connected account started it, from where and when. It never
// holds the session token.
type Session struct {
	// TokenHash is the session store's key of the token (base64url of its
	// SHA-256), never the token.
	TokenHash string
	// PublicID is an opaque random id that pages and forms use instead of
	// TokenHash.
	PublicID   string
	UserID     int64
	IdentityID int64 // the identity that signed in; 0 when none is recorded
	UserAgent  string
	IP         string
	CreatedAt  time.Time
	LastSeenAt time.Time
}

// SessionsRevoked records on the user's timeline that they signed out some
// of their sessions.
func (s *Service) SessionsRevoked(ctx context.Context, userID int64, m Meta) error {
	m = cleanMeta(m)
	now := s.now()
	err := s.store.InTx(ctx, func(tx Tx) error {
		return tx.AddEvent(ctx, newEvent(EventSessionRevoked, userID, Identity{}, m, now))
	})
	if err != nil {
		return fmt.Errorf("record revoked sessions: %w", err)
	}
	return nil
}
