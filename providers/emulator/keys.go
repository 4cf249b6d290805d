package emulator

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// signingKey is one RSA key of the emulated Google.
type signingKey struct {
	kid string
	key *rsa.PrivateKey
}

// keyring reads keys from the database on every use rather than caching
// "the current key", so that several Emulators on one database (a portal
// restart, tests) agree on which key signs, also after RotateKey. Parsed
// keys are cached because parsing is the expensive part.
type keyring struct {
	db     *sql.DB
	mu     sync.Mutex
	parsed map[string]*signingKey
}

// publishedKeys is how many of the newest keys the JWKS lists: the current
// one and its predecessor, so tokens signed just before a rotation still
// verify, as with Google's own rotation.
const publishedKeys = 2

// ensure creates the first key when the database has none. Two emulators
// starting together both try; ON CONFLICT on seq lets exactly one win.
func (k *keyring) ensure(ctx context.Context, now time.Time) error {
	keys, err := k.newest(ctx, 1)
	if err != nil {
		return err
	}
	if len(keys) > 0 {
		return nil
	}
	_, err = k.insert(ctx, 1, now)
	return err
}

// rotate adds a new key that becomes the signing key.
func (k *keyring) rotate(ctx context.Context, now time.Time) error {
	for range 5 {
		last, err := k.lastSeq(ctx)
		if err != nil {
			return err
		}
		ok, err := k.insert(ctx, last+1, now)
		if err != nil || ok {
			return err
		}
		// Someone else rotated at the same moment: try the next number.
	}
	return errors.New("emulator: rotate key: too much contention")
}

func (k *keyring) insert(ctx context.Context, seq int64, now time.Time) (bool, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return false, fmt.Errorf("emulator: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return false, fmt.Errorf("emulator: encode key: %w", err)
	}
	kid, err := thumbprint(&priv.PublicKey)
	if err != nil {
		return false, err
	}
	p := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	res, err := k.db.ExecContext(ctx, `INSERT INTO emulator_keys (kid, seq, private_key, created)
		VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, kid, seq, p, now.Unix())
	if err != nil {
		return false, fmt.Errorf("emulator: save key: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("emulator: save key: %w", err)
	}
	return n == 1, nil
}

func (k *keyring) lastSeq(ctx context.Context) (int64, error) {
	var n int64
	if err := k.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM emulator_keys`).Scan(&n); err != nil {
		return 0, fmt.Errorf("emulator: read keys: %w", err)
	}
	return n, nil
}

// newest returns up to n keys, newest (the signing key) first.
func (k *keyring) newest(ctx context.Context, n int) ([]*signingKey, error) {
	rs, err := k.db.QueryContext(ctx, `SELECT kid, private_key FROM emulator_keys ORDER BY seq DESC LIMIT $1`, n)
	if err != nil {
		return nil, fmt.Errorf("emulator: read keys: %w", err)
	}
	defer rs.Close()
	var keys []*signingKey
	for rs.Next() {
		var kid, p string
		if err := rs.Scan(&kid, &p); err != nil {
			return nil, fmt.Errorf("emulator: read keys: %w", err)
		}
		sk, err := k.parse(kid, p)
		if err != nil {
			return nil, err
		}
		keys = append(keys, sk)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("emulator: read keys: %w", err)
	}
	return keys, nil
}

func (k *keyring) parse(kid, p string) (*signingKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if sk, ok := k.parsed[kid]; ok {
		return sk, nil
	}
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return nil, fmt.Errorf("emulator: key %s is not PEM", kid)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("emulator: parse key %s: %w", kid, err)
	}
	priv, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("emulator: key %s is not RSA", kid)
	}
	sk := &signingKey{kid: kid, key: priv}
	k.parsed[kid] = sk
	return sk, nil
}

// current returns the signing key.
func (k *keyring) current(ctx context.Context) (*signingKey, error) {
	keys, err := k.newest(ctx, 1)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("emulator: no signing key")
	}
	return keys[0], nil
}

// thumbprint is the RFC 7638 thumbprint of the public key, a kid that is
// stable and unique without coordination.
func thumbprint(pub *rsa.PublicKey) (string, error) {
	t, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("emulator: key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(t), nil
}

// RotateKey makes a new signing key, as Google does periodically. The JWKS
// then lists the new key and the previous one; ID tokens carry the new kid,
// which a client has not cached yet.
func (e *Emulator) RotateKey(ctx context.Context) error {
	return e.keys.rotate(ctx, e.now())
}

// wrongKey is an RSA key that is never published, for IDTokenWrongKey. It
// is made on first use because generating it costs time most tests need
// not pay.
type wrongKey struct {
	once sync.Once
	key  *rsa.PrivateKey
	err  error
}

func (w *wrongKey) get() (*rsa.PrivateKey, error) {
	w.once.Do(func() { w.key, w.err = rsa.GenerateKey(rand.Reader, 2048) })
	return w.key, w.err
}
