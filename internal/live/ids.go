package live

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// idPrefix starts every session id.
const idPrefix = "ses_"

// b32 is lowercase base32 without padding: safe in NATS subjects and URLs.
var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns "ses_" and 128 random bits in lowercase base32.
func newID() string { return idPrefix + b32.EncodeToString(randBytes(16)) }

// ValidID reports whether id has the shape of a session id, so it can go
// into a bus subject (no dots, no wildcards) and a URL.
func ValidID(id string) bool {
	rest, ok := strings.CutPrefix(id, idPrefix)
	if !ok || len(rest) != 26 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return b
}

// newLinkToken returns a 256-bit link token and the hash kept of it.
func newLinkToken() (token, stored string) {
	token = base64.RawURLEncoding.EncodeToString(randBytes(32))
	return token, linkHash(token)
}

func linkHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(h[:])
}

// Password hashing: argon2id with the project's parameters (those of
// internal/admin's MinParams: m = 19 MiB, t = 2, p = 1), PHC-encoded.
const (
	pwMemoryKiB = 19 * 1024
	pwTime      = 2
	pwThreads   = 1
	pwKeyLen    = 32
	// MinPassword is the shortest viewer password.
	MinPassword = 8
	// MaxPassword bounds the work one CheckViewer may cost.
	MaxPassword = 256
)

func hashPassword(pw string) string {
	salt := randBytes(16)
	key := argon2.IDKey([]byte(pw), salt, pwTime, pwMemoryKiB, pwThreads, pwKeyLen)
	b := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, pwMemoryKiB, pwTime, pwThreads,
		b.EncodeToString(salt), b.EncodeToString(key))
}

// checkSecret compares secret with a stored hash in constant time.
// Only hashes this package wrote are accepted, with its fixed parameters,
// so a tampered row cannot make a check expensive.
func checkSecret(stored, secret string) bool {
	if rest, ok := strings.CutPrefix(stored, "sha256:"); ok {
		want, err := hex.DecodeString(rest)
		got := sha256.Sum256([]byte(secret))
		return err == nil && subtle.ConstantTimeCompare(got[:], want) == 1
	}
	prefix := fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$", argon2.Version, pwMemoryKiB, pwTime, pwThreads)
	rest, ok := strings.CutPrefix(stored, prefix)
	if !ok || len(secret) > MaxPassword {
		return false
	}
	saltB, keyB, ok := strings.Cut(rest, "$")
	b := base64.RawStdEncoding.Strict()
	salt, err1 := b.DecodeString(saltB)
	key, err2 := b.DecodeString(keyB)
	if !ok || err1 != nil || err2 != nil || len(salt) < 16 || len(key) != pwKeyLen {
		return false
	}
	got := argon2.IDKey([]byte(secret), salt, pwTime, pwMemoryKiB, pwThreads, pwKeyLen)
	return subtle.ConstantTimeCompare(got, key) == 1
}
