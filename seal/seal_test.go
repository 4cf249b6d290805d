package seal_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/linkport/linkport/seal"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, seal.KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func mustKeyring(t *testing.T, current []byte, old ...[]byte) *seal.Keyring {
	t.Helper()
	r, err := seal.NewKeyring(current, old...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSealOpenRoundTrip(t *testing.T) {
	r := mustKeyring(t, newKey(t))
	secret := []byte("ya29.a0-access-token")
	ctx := []byte("identities.access_token:7")
	a, b := r.Seal(secret, ctx), r.Seal(secret, ctx)
	if bytes.Contains(a, secret) {
		t.Fatal("sealed value contains the plaintext")
	}
	if bytes.Equal(a, b) {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}
	got, err := r.Open(a, ctx)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v; want %q", got, err, secret)
	}
}

func TestOpenRefusesTamperingAndOtherContexts(t *testing.T) {
	r := mustKeyring(t, newKey(t))
	sealed := r.Seal([]byte("refresh"), []byte("identities.refresh_token:1"))
	if _, err := r.Open(sealed, []byte("identities.refresh_token:2")); !errors.Is(err, seal.ErrCorrupt) {
		t.Errorf("Open in another row: %v, want ErrCorrupt", err)
	}
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	if _, err := r.Open(flipped, []byte("identities.refresh_token:1")); !errors.Is(err, seal.ErrCorrupt) {
		t.Errorf("Open of a changed value: %v, want ErrCorrupt", err)
	}
	if _, err := r.Open([]byte("plain"), nil); !errors.Is(err, seal.ErrCorrupt) {
		t.Errorf("Open of a short value: %v, want ErrCorrupt", err)
	}
}

func TestKeyRotation(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	before := mustKeyring(t, k1)
	sealed := before.Seal([]byte("tok"), nil)

	after := mustKeyring(t, k2, k1) // current = new, old = previous
	if got, err := after.Open(sealed, nil); err != nil || string(got) != "tok" {
		t.Fatalf("Open with the old key listed: %q, %v", got, err)
	}
	if after.Current(sealed) {
		t.Error("Current reports a value of the old key as current")
	}
	fresh := after.Seal([]byte("tok"), nil)
	if !after.Current(fresh) {
		t.Error("a new seal is not under the current key")
	}
	if _, err := before.Open(fresh, nil); !errors.Is(err, seal.ErrUnknownKey) {
		t.Errorf("old keyring opened a value of the new key: %v", err)
	}
	if _, err := mustKeyring(t, k2).Open(sealed, nil); !errors.Is(err, seal.ErrUnknownKey) {
		t.Errorf("Open after the old key was dropped: %v, want ErrUnknownKey", err)
	}
}

func TestNewKeyringRefusesBadKeys(t *testing.T) {
	k := newKey(t)
	for name, tc := range map[string]struct {
		current []byte
		old     [][]byte
	}{
		"short":            {current: k[:16]},
		"old short":        {current: k, old: [][]byte{k[:31]}},
		"current as old":   {current: k, old: [][]byte{k}},
		"old listed twice": {current: newKey(t), old: [][]byte{k, k}},
	} {
		if _, err := seal.NewKeyring(tc.current, tc.old...); err == nil {
			t.Errorf("%s: NewKeyring accepted it", name)
		}
	}
}

func TestParseKey(t *testing.T) {
	k := newKey(t)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		got, err := seal.ParseKey(" " + enc.EncodeToString(k) + "\n")
		if err != nil || !bytes.Equal(got, k) {
			t.Errorf("ParseKey(%v) = %v", enc, err)
		}
	}
	secret := base64.StdEncoding.EncodeToString(k[:20])
	_, err := seal.ParseKey(secret)
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("ParseKey(20 bytes) = %v; want an error that does not quote the value", err)
	}
	if _, err := seal.ParseKey("not base64 !!"); err == nil {
		t.Error("ParseKey accepted non-base64")
	}
}
