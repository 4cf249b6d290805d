package store_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/seal"
	"github.com/linkport/linkport/store"
)

func tokenKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, seal.KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func keyring(t *testing.T, current []byte, old ...[]byte) *seal.Keyring {
	t.Helper()
	r, err := seal.NewKeyring(current, old...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// rawTokens reads the stored token columns of an identity as they are on disk.
func rawTokens(t *testing.T, s testDB, id int64) (access, refresh []byte) {
	t.Helper()
	if err := s.DB.QueryRowContext(t.Context(), "SELECT access_token, refresh_token FROM identities WHERE id = $1", id).Scan(&access, &refresh); err != nil {
		t.Fatal(err)
	}
	return access, refresh
}

func readTokens(t *testing.T, s accounts.Store, id int64) (accounts.Tokens, error) {
	t.Helper()
	var tok accounts.Tokens
	err := s.InTx(t.Context(), func(tx accounts.Tx) error {
		var err error
		tok, err = tx.Tokens(t.Context(), id)
		return err
	})
	return tok, err
}

// TestTokensEncryptedAtRest is LINKING.md P10 and SECURITY.md A-13 at the
// store: the columns hold AES-GCM ciphertext, which opens with the key;
// after a rotation (current = new key, old = previous) old rows still
// read, and a new write uses the new key.
func TestTokensEncryptedAtRest(t *testing.T) { forEachEngine(t, testTokensEncryptedAtRest) }

func testTokensEncryptedAtRest(t *testing.T, open func(...store.Option) testDB) {
	k1, k2 := tokenKey(t), tokenKey(t)
	s := open(store.WithTokenKeys(keyring(t, k1)))
	_, id := createUser(t, s, "google", "sub-1", at(0))
	want := accounts.Tokens{AccessToken: "ya29.ACCESS-one", RefreshToken: "1//REFRESH-one", Expiry: at(time.Hour)}
	mustTx(t, s, func(tx accounts.Tx) error { return tx.SaveTokens(t.Context(), id.ID, want) })

	access, refresh := rawTokens(t, s, id.ID)
	if len(access) == 0 || len(refresh) == 0 {
		t.Fatal("tokens were not stored")
	}
	if bytes.Contains(access, []byte(want.AccessToken)) || bytes.Contains(refresh, []byte(want.RefreshToken)) {
		t.Fatal("a token column holds the plaintext")
	}
	if plain, err := keyring(t, k1).Open(access, []byte("identities.access_token:"+itoa(id.ID))); err != nil || string(plain) != want.AccessToken {
		t.Fatalf("the column does not open with the key: %q, %v", plain, err)
	}
	got, err := readTokens(t, s, id.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Tokens (-want +got):\n%s", diff)
	}
	s.Close()

	rotated := keyring(t, k2, k1)
	s = open(store.WithTokenKeys(rotated))
	if got, err := readTokens(t, s, id.ID); err != nil || got.RefreshToken != want.RefreshToken {
		t.Fatalf("after rotation the old row reads %v, %v", got.RefreshToken == want.RefreshToken, err)
	}
	if access, _ := rawTokens(t, s, id.ID); rotated.Current(access) {
		t.Fatal("the old row claims to be under the new key before any write")
	}
	next := accounts.Tokens{AccessToken: "ya29.ACCESS-two", RefreshToken: want.RefreshToken}
	mustTx(t, s, func(tx accounts.Tx) error { return tx.SaveTokens(t.Context(), id.ID, next) })
	access, refresh = rawTokens(t, s, id.ID)
	if !rotated.Current(access) || !rotated.Current(refresh) {
		t.Error("a write after rotation did not seal with the new key")
	}
	if _, err := keyring(t, k1).Open(access, []byte("identities.access_token:"+itoa(id.ID))); err == nil {
		t.Error("the new write still opens with the retired key alone")
	}
	s.Close()

	// A keyring without the key of a row leaves it unreadable, not fatal.
	mustTx(t, open(store.WithTokenKeys(keyring(t, k1))), func(tx accounts.Tx) error {
		_, err := tx.Tokens(t.Context(), id.ID)
		if !errors.Is(err, accounts.ErrTokensUnreadable) {
			t.Errorf("Tokens under an unknown key = %v, want ErrTokensUnreadable", err)
		}
		return nil
	})
}

// TestTokensNotStoredWithoutKey: without a key the store keeps no tokens.
func TestTokensNotStoredWithoutKey(t *testing.T) { forEachEngine(t, testTokensNotStoredWithoutKey) }

func testTokensNotStoredWithoutKey(t *testing.T, open func(...store.Option) testDB) {
	s := open()
	if s.KeepsTokens {
		t.Fatal("KeepsTokens without a key")
	}
	_, id := createUser(t, s, "google", "sub-1", at(0))
	mustTx(t, s, func(tx accounts.Tx) error {
		return tx.SaveTokens(t.Context(), id.ID, accounts.Tokens{AccessToken: "a", RefreshToken: "r"})
	})
	access, refresh := rawTokens(t, s, id.ID)
	if access != nil || refresh != nil {
		t.Errorf("stored %q %q without a key", access, refresh)
	}
	if got, err := readTokens(t, s, id.ID); err != nil || !got.IsZero() {
		t.Errorf("Tokens = %v, %v; want none", got.IsZero(), err)
	}
}

// TestEventsBefore pages the timeline newest first without gaps or
// repeats, also across events that share a time.
func TestEventsBefore(t *testing.T) { forEachEngine(t, testEventsBefore) }

func testEventsBefore(t *testing.T, open func(...store.Option) testDB) {
	s := open()
	u, id := createUser(t, s, "google", "sub-1", at(0))
	other, _ := createUser(t, s, "google", "sub-2", at(0))
	mustTx(t, s, func(tx accounts.Tx) error {
		for i := range 7 {
			// Pairs of events share a time.
			if err := tx.AddEvent(t.Context(), accounts.Event{UserID: u.ID, Kind: "signed_in", Provider: "google", IdentityID: id.ID, At: at(time.Duration(i/2) * time.Minute)}); err != nil {
				return err
			}
		}
		return tx.AddEvent(t.Context(), accounts.Event{UserID: other.ID, Kind: "signed_in", At: at(0)})
	})
	all, err := s.Events(t.Context(), u.ID, 0)
	if err != nil || len(all) != 7 {
		t.Fatalf("Events = %d, %v", len(all), err)
	}
	var paged []accounts.Event
	var before int64
	for range 10 {
		page, err := s.EventsBefore(t.Context(), u.ID, before, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		before = page[len(page)-1].ID
	}
	if diff := cmp.Diff(all, paged); diff != "" {
		t.Errorf("pages differ from Events (-all +paged):\n%s", diff)
	}
	// Another user's event id as cursor shows nothing of theirs or ours.
	otherEvents, _ := s.Events(t.Context(), other.ID, 0)
	if page, err := s.EventsBefore(t.Context(), u.ID, otherEvents[0].ID, 3); err != nil || len(page) != 0 {
		t.Errorf("EventsBefore with another user's cursor = %d events, %v", len(page), err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
