package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
)

// API key format: izk_<id>_<secret>.
//
//   - "izk_" is a visible prefix so a leaked key is recognisable (secret
//     scanners, logs, UIs) and so the key authenticator can tell a key from
//     a JWT in the same Authorization header.
//   - <id> is 12 lowercase base32 characters (60 random bits): public, shown
//     in lists, logs and audit records, and the database lookup key.
//   - <secret> is 52 lowercase base32 characters: 32 bytes (256 bits) from
//     crypto/rand, shown once at creation and never stored.
const (
	KeyPrefix    = "izk_"
	keyIDLen     = 12
	keySecretLen = 52 // base32 of 32 bytes, unpadded
	// KeyLen is the length of a whole key.
	KeyLen = len(KeyPrefix) + keyIDLen + 1 + keySecretLen
)

// keyEncoding is lowercase RFC 4648 base32 without padding: no "_" so the
// three parts split unambiguously, and no characters that need URL or shell
// quoting.
var keyEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ErrMalformedKey says a string is not an Izwi API key.
var ErrMalformedKey = fmt.Errorf("%w: malformed api key", ErrInvalidCredentials)

// newKeyID returns a fresh random public key id.
func newKeyID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return keyEncoding.EncodeToString(b[:])[:keyIDLen]
}

// newKeySecret returns 256 random bits, encoded.
func newKeySecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return keyEncoding.EncodeToString(b[:])
}

// FormatKey joins a public id and a secret into a key.
func FormatKey(id, secret string) string { return KeyPrefix + id + "_" + secret }

// ParseKey splits a key into its public id and secret, refusing anything
// that is not exactly the format FormatKey writes. It never echoes the
// input in its error.
func ParseKey(s string) (id, secret string, err error) {
	if len(s) != KeyLen || !strings.HasPrefix(s, KeyPrefix) {
		return "", "", ErrMalformedKey
	}
	rest := s[len(KeyPrefix):]
	if rest[keyIDLen] != '_' {
		return "", "", ErrMalformedKey
	}
	id, secret = rest[:keyIDLen], rest[keyIDLen+1:]
	if !validKeyChars(id) || !validKeyChars(secret) {
		return "", "", ErrMalformedKey
	}
	// The secret must be canonical base32 of exactly 32 bytes, so each key
	// has one spelling: 52 characters carry 260 bits, and the last
	// character's 4 low (padding) bits must be zero.
	var buf [33]byte
	if n, err := keyEncoding.Decode(buf[:], []byte(secret)); err != nil || n != 32 || b32Value(secret[keySecretLen-1])&0x0f != 0 {
		return "", "", ErrMalformedKey
	}
	return id, secret, nil
}

// ValidKeyID reports whether s has the shape of a public key id.
func ValidKeyID(s string) bool { return len(s) == keyIDLen && validKeyChars(s) }

// b32Value is c's 5-bit value in keyEncoding's alphabet (c must be valid).
func b32Value(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a'
	}
	return c - '2' + 26
}

func validKeyChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// hashKey is HMAC-SHA-256 under the server pepper over id and secret.
//
// Why not argon2/bcrypt: a key carries 256 random bits, so a stolen hash
// cannot be brute-forced however fast the hash is; slow hashes exist for
// low-entropy passwords and would only add latency to every request. The
// pepper (a file outside the database) means a leaked database alone cannot
// even be used to test guesses, and binding the id stops one row's hash
// from being moved onto another id.
func hashKey(pepper []byte, id, secret string) []byte {
	m := hmac.New(sha256.New, pepper)
	return sumKey(m, id, secret)
}

func sumKey(m hash.Hash, id, secret string) []byte {
	m.Write([]byte(id))
	m.Write([]byte{0})
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// hasher hands out HMACs keyed with one pepper, reused across requests
// (building one costs two SHA-256 states per request otherwise).
type hasher struct {
	pool sync.Pool
}

func newHasher(pepper []byte) *hasher {
	p := append([]byte(nil), pepper...)
	return &hasher{pool: sync.Pool{New: func() any { return hmac.New(sha256.New, p) }}}
}

func (h *hasher) sum(id, secret string) []byte {
	m := h.pool.Get().(hash.Hash)
	m.Reset()
	out := sumKey(m, id, secret)
	h.pool.Put(m)
	return out
}

// equalHash compares two hashes in constant time.
func equalHash(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// errPepper is returned for a pepper too short to be a secret.
var errPepper = errors.New("auth: pepper must be at least 32 bytes")
