package accounts_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/seal"
	"github.com/linkport/linkport/store"
)

// newTokenService is newService on a store that keeps tokens.
func newTokenService(t *testing.T) (*accounts.Service, *store.SQLite) {
	t.Helper()
	k := make([]byte, seal.KeySize)
	_, _ = rand.Read(k)
	keys, err := seal.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "linkport.db"), store.WithTokenKeys(keys))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return accounts.NewService(s, newClock().Now), s
}

func storedTokens(t *testing.T, s accounts.Store, identityID int64) accounts.Tokens {
	t.Helper()
	var tok accounts.Tokens
	if err := s.InTx(t.Context(), func(tx accounts.Tx) error {
		var err error
		tok, err = tx.Tokens(t.Context(), identityID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestRefreshTokenPreservedWhenProviderOmitsIt is LINKING.md P10: a later
// sign-in without a refresh token (Google sends one only at first consent)
// replaces the access token and keeps the stored refresh token.
func TestRefreshTokenPreservedWhenProviderOmitsIt(t *testing.T) {
	svc, s := newTokenService(t)
	first := accounts.Tokens{AccessToken: "access-1", RefreshToken: "refresh-1", Expiry: time.Date(2025, 3, 1, 13, 0, 0, 0, time.UTC)}
	p := accounts.Profile{Provider: "google", Subject: "100", Name: "Ada", Tokens: &first}
	res := mustSignIn(t, svc, p)
	if diff := cmp.Diff(first, storedTokens(t, s, res.Identity.ID)); diff != "" {
		t.Fatalf("after the first sign-in (-want +got):\n%s", diff)
	}

	p.Tokens = &accounts.Tokens{AccessToken: "access-2"}
	mustSignIn(t, svc, p)
	want := accounts.Tokens{AccessToken: "access-2", RefreshToken: "refresh-1"}
	if diff := cmp.Diff(want, storedTokens(t, s, res.Identity.ID)); diff != "" {
		t.Errorf("after a sign-in without refresh token (-want +got):\n%s", diff)
	}

	// A sign-in that kept no tokens at all leaves them alone.
	p.Tokens = nil
	mustSignIn(t, svc, p)
	if diff := cmp.Diff(want, storedTokens(t, s, res.Identity.ID)); diff != "" {
		t.Errorf("after a sign-in without tokens (-want +got):\n%s", diff)
	}

	// A new refresh token replaces the old one.
	p.Tokens = &accounts.Tokens{AccessToken: "access-3", RefreshToken: "refresh-3"}
	mustSignIn(t, svc, p)
	if got := storedTokens(t, s, res.Identity.ID).RefreshToken; got != "refresh-3" {
		t.Errorf("refresh token = %q, want refresh-3", got)
	}
}

// TestLinkAndUnlinkCarryTokens: Link stores the tokens of the new identity;
// Unlink deletes them with the identity and hands them back for revocation.
func TestLinkAndUnlinkCarryTokens(t *testing.T) {
	svc, s := newTokenService(t)
	res := mustSignIn(t, svc, accounts.Profile{Provider: "google", Subject: "100"})
	tok := accounts.Tokens{AccessToken: "x-access", RefreshToken: "x-refresh"}
	id, err := svc.Link(t.Context(), res.User.ID, accounts.Profile{Provider: "x", Subject: "200", Tokens: &tok}, accounts.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(tok, storedTokens(t, s, id.ID)); diff != "" {
		t.Fatalf("linked identity's tokens (-want +got):\n%s", diff)
	}
	un, err := svc.Unlink(t.Context(), res.User.ID, id.ID, accounts.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(tok, un.Tokens); diff != "" {
		t.Errorf("UnlinkResult.Tokens (-want +got):\n%s", diff)
	}
	if n := count(t, s, "SELECT count(*) FROM identities WHERE access_token IS NOT NULL OR refresh_token IS NOT NULL"); n != 0 {
		t.Errorf("%d identities still hold tokens after the unlink", n)
	}
}

// TestTokensNeverPrinted: every way a Tokens (or a Profile holding one)
// can reach a log line or a session prints no token (allauth 0.63.4).
func TestTokensNeverPrinted(t *testing.T) {
	tok := accounts.Tokens{AccessToken: "SECRET-ACCESS", RefreshToken: "SECRET-REFRESH"}
	p := accounts.Profile{Provider: "google", Subject: "1", Tokens: &tok}
	var sb strings.Builder
	log := slog.New(slog.NewJSONHandler(&sb, nil))
	log.Info("x", "tokens", tok, "profile", p, "ptr", &tok)
	log.Info("y", slog.Any("tokens", tok))
	js, _ := json.Marshal(p)
	js2, _ := json.Marshal(tok)
	out := strings.Join([]string{
		fmt.Sprint(tok), fmt.Sprintf("%v %+v %#v %s %q %x", tok, tok, tok, tok, tok, tok),
		fmt.Sprintf("%v %+v %#v", p, p, &tok), sb.String(), string(js), string(js2),
	}, "\n")
	if strings.Contains(out, "SECRET") {
		t.Errorf("a token was printed:\n%s", out)
	}
}
