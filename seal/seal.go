// Package seal encrypts small secrets, the provider tokens Linkport keeps,
// with AES-256-GCM under a keyring: one current key that seals, and older
// keys that still open what they sealed, so a key can be rotated by making
// the new key current and listing the previous one as old.
//
// A sealed value is
//
//	version (1 byte, 1) | key id (4 bytes) | nonce (12 bytes) | ciphertext and tag
//
// The key id is derived from the key, so the same key keeps its id when it
// moves from current to old. The nonce is random; a key can seal about 2^32
// values before the nonce collision bound of GCM matters, far more than the
// tokens of one portal.
package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the size of a key: AES-256.
const KeySize = 32

const (
	version   = 1
	idSize    = 4
	nonceSize = 12
	header    = 1 + idSize + nonceSize
)

// ErrUnknownKey means a sealed value names a key the keyring does not hold:
// the key that sealed it was removed from the configuration.
var ErrUnknownKey = errors.New("seal: sealed with a key that is not configured")

// ErrCorrupt means a sealed value is malformed or fails authentication:
// it was changed, moved to another row, or is not a sealed value at all.
var ErrCorrupt = errors.New("seal: sealed value is corrupt or was tampered with")

// Keyring seals with its current key and opens with any of its keys. It is
// safe for concurrent use.
type Keyring struct {
	current key
	byID    map[[idSize]byte]key
}

type key struct {
	id   [idSize]byte
	aead cipher.AEAD
}

// NewKeyring returns a keyring that seals with current and opens values
// sealed with current or any of old. Every key must be KeySize bytes, and
// no key may appear twice.
func NewKeyring(current []byte, old ...[]byte) (*Keyring, error) {
	k, err := newKey(current)
	if err != nil {
		return nil, fmt.Errorf("seal: current key: %w", err)
	}
	r := &Keyring{current: k, byID: map[[idSize]byte]key{k.id: k}}
	for i, raw := range old {
		k, err := newKey(raw)
		if err != nil {
			return nil, fmt.Errorf("seal: old key %d: %w", i+1, err)
		}
		if _, dup := r.byID[k.id]; dup {
			return nil, fmt.Errorf("seal: old key %d is listed twice or is the current key", i+1)
		}
		r.byID[k.id] = k
	}
	return r, nil
}

func newKey(raw []byte) (key, error) {
	if len(raw) != KeySize {
		return key{}, fmt.Errorf("must be %d bytes, got %d", KeySize, len(raw))
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return key{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return key{}, err
	}
	return key{id: keyID(raw), aead: aead}, nil
}

// keyID names a key without revealing it.
func keyID(raw []byte) [idSize]byte {
	sum := sha256.Sum256(append([]byte("linkport token key id\x00"), raw...))
	return [idSize]byte(sum[:idSize])
}

// Seal encrypts plaintext under the current key. context is authenticated
// but not stored (say, the table, column and row the value is written
// to), so a sealed value copied elsewhere does not open.
func (r *Keyring) Seal(plaintext, context []byte) []byte {
	out := make([]byte, header, header+len(plaintext)+r.current.aead.Overhead())
	out[0] = version
	copy(out[1:], r.current.id[:])
	if _, err := rand.Read(out[1+idSize : header]); err != nil {
		panic("seal: no randomness: " + err.Error()) // crypto/rand never fails on supported platforms
	}
	return r.current.aead.Seal(out, out[1+idSize:header], plaintext, aad(out[:1+idSize], context))
}

// Open decrypts a value made by Seal with the same context. It returns
// ErrUnknownKey when the value's key is not in the keyring and ErrCorrupt
// when it does not authenticate.
func (r *Keyring) Open(sealed, context []byte) ([]byte, error) {
	if len(sealed) < header || sealed[0] != version {
		return nil, ErrCorrupt
	}
	k, ok := r.byID[[idSize]byte(sealed[1:1+idSize])]
	if !ok {
		return nil, ErrUnknownKey
	}
	pt, err := k.aead.Open(nil, sealed[1+idSize:header], sealed[header:], aad(sealed[:1+idSize], context))
	if err != nil {
		return nil, ErrCorrupt
	}
	return pt, nil
}

// Current reports whether sealed was sealed with the current key; a value
// that is not may be sealed again on its next write.
func (r *Keyring) Current(sealed []byte) bool {
	return len(sealed) >= header && bytes.Equal(sealed[1:1+idSize], r.current.id[:])
}

// aad binds the header (version and key id) and the caller's context.
func aad(head, context []byte) []byte {
	return append(append([]byte{}, head...), context...)
}

// ParseKey decodes a key given in configuration: standard or URL-safe
// base64, padded or not, of exactly KeySize bytes. The error never quotes
// the value.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("must decode to %d bytes, got %d", KeySize, len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("is not base64")
}
