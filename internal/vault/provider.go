package vault

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// kekSize is the master key's size; dekSize a data key's (both 256 bits).
const (
	kekSize = 32
	dekSize = 32
)

// KEK is a master (key-encryption) key. Its bytes never leave this package
// except through a Provider that stores them; its ID is derived from them
// (a keyed hash, not reversible), so a wrong key is recognised as wrong.
type KEK struct {
	ID  string
	key []byte
}

// NewKEK wraps 32 bytes of key material. Providers call it.
func NewKEK(b []byte) (KEK, error) {
	if len(b) != kekSize {
		return KEK{}, fmt.Errorf("vault: a master key is %d bytes, got %d", kekSize, len(b))
	}
	k := append([]byte(nil), b...)
	m := hmac.New(sha256.New, k)
	m.Write([]byte("izwi vault master key id v1"))
	return KEK{ID: hex.EncodeToString(m.Sum(nil)[:8]), key: k}, nil
}

// IsZero reports an empty KEK.
func (k KEK) IsZero() bool { return len(k.key) == 0 }

// String never shows the key.
func (k KEK) String() string { return "vault.KEK{" + k.ID + "}" }

// Provider holds the master key outside the database: in a file, derived
// from a passphrase, in the environment or a systemd credential, or sealed
// to a TPM.
//
// Contract: Keys returns the current master key and, while a rotation is
// staged but not promoted, the staged next one (else nil). Stage creates the
// next key, or returns the one already staged (so a rotation interrupted by
// a crash resumes with the same key). Promote makes the staged key current
// and destroys the old one; the keyring calls it only after every data key
// has been re-wrapped under the new key. Providers are safe for concurrent
// use and never log or print key material.
type Provider interface {
	Name() string
	Keys(ctx context.Context) (current KEK, next *KEK, err error)
	Stage(ctx context.Context) (KEK, error)
	Promote(ctx context.Context) error
}

// ErrNoStaged means Promote found no staged key.
var ErrNoStaged = errors.New("vault: no master key is staged for rotation")
