package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ErrTokensUnreadable means stored tokens exist but cannot be decrypted:
// the key that sealed them is no longer configured, or the value was
// changed. Rules treat such tokens as absent.
var ErrTokensUnreadable = errors.New("stored tokens cannot be decrypted")

// Tokens are the OAuth tokens a provider issued for an identity. The store
// keeps them encrypted, or not at all when no key is configured; they are
// never shown, logged or put in a session. Every way of printing a Tokens
// (fmt's verbs, slog) prints "[redacted]" (LINKING.md P10: allauth once
// logged tokens through SocialToken.__str__).
type Tokens struct {
	AccessToken  string
	RefreshToken string
	Expiry       time.Time // zero when the provider said nothing
}

// IsZero reports whether there is no token at all.
func (t Tokens) IsZero() bool { return t.AccessToken == "" && t.RefreshToken == "" }

// String returns "[redacted]".
func (t Tokens) String() string { return "[redacted]" }

// GoString returns "[redacted]" for %#v.
func (t Tokens) GoString() string { return "[redacted]" }

// Format prints "[redacted]" whatever the verb.
func (t Tokens) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[redacted]")) }

// LogValue keeps the tokens out of structured logs.
func (t Tokens) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// MarshalText makes encoders that honour encoding.TextMarshaler (JSON
// among them) write "[redacted]" too.
func (t Tokens) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// merged is what to store after a provider sent t for an identity that
// held old: a provider that sends no refresh token (Google after the first
// consent, most refreshes) leaves the stored one in place (LINKING.md P10,
// allauth's _store_token).
func (t Tokens) merged(old Tokens) Tokens {
	if t.RefreshToken == "" {
		t.RefreshToken = old.RefreshToken
	}
	return t
}

// saveTokens stores the tokens a sign-in or link brought for identity
// identityID; nil means the provider's tokens were not kept, and the stored
// ones stay as they are.
func saveTokens(ctx context.Context, tx Tx, identityID int64, t *Tokens) error {
	if t == nil || t.IsZero() {
		return nil
	}
	old, err := tx.Tokens(ctx, identityID)
	switch {
	case errors.Is(err, ErrTokensUnreadable):
		// Sealed with a key since removed: nothing worth keeping.
		old = Tokens{}
	case err != nil:
		return err
	}
	return tx.SaveTokens(ctx, identityID, t.merged(old))
}
