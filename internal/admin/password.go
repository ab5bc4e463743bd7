package admin

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters.
type Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
}

// MinParams is the floor for production hashes (OWASP: m = 19 MiB, t = 2, p = 1).
func MinParams() Params { return Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1} }

// weakerThan reports whether p costs less than q on any axis.
func (p Params) weakerThan(q Params) bool {
	return p.MemoryKiB < q.MemoryKiB || p.Iterations < q.Iterations || p.Parallelism < q.Parallelism
}

const (
	saltLen = 16
	keyLen  = 32
	// phcMaxLen bounds what parsePHC accepts, so a corrupt row cannot make
	// it allocate much.
	phcMaxLen = 256
	// Caps on decoded parameters: a tampered hash must not make a login
	// allocate gigabytes or spin for minutes.
	maxMemoryKiB  = 4 << 20 // 4 GiB
	maxIterations = 100
)

var errPHC = errors.New("admin: malformed password hash")

// phc is a parsed "$argon2id$v=19$m=..,t=..,p=..$salt$key" string.
type phc struct {
	params    Params
	salt, key []byte
}

// hashPassword returns the PHC-encoded argon2id hash of pw with a fresh
// 16-byte salt from crypto/rand.
func hashPassword(pw string, p Params) string {
	salt := make([]byte, saltLen)
	rand.Read(salt) // crypto/rand.Read never fails (Go ≥ 1.24)
	key := argon2.IDKey([]byte(pw), salt, p.Iterations, p.MemoryKiB, p.Parallelism, keyLen)
	return encodePHC(phc{params: p, salt: salt, key: key})
}

func encodePHC(h phc) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		h.params.MemoryKiB, h.params.Iterations, h.params.Parallelism, b64.EncodeToString(h.salt), b64.EncodeToString(h.key))
}

// parsePHC parses an argon2id PHC string, refusing anything else (other
// algorithms, versions, out-of-range parameters, short salts).
func parsePHC(s string) (phc, error) {
	if len(s) > phcMaxLen {
		return phc{}, errPHC
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return phc{}, errPHC
	}
	var h phc
	seen := map[string]bool{}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || seen[k] || v == "" || (len(v) > 1 && v[0] == '0') {
			return phc{}, errPHC
		}
		seen[k] = true
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return phc{}, errPHC
		}
		switch k {
		case "m":
			h.params.MemoryKiB = uint32(n)
		case "t":
			h.params.Iterations = uint32(n)
		case "p":
			if n > 255 {
				return phc{}, errPHC
			}
			h.params.Parallelism = uint8(n)
		default:
			return phc{}, errPHC
		}
	}
	p := h.params
	if len(seen) != 3 || p.Iterations < 1 || p.Iterations > maxIterations || p.Parallelism < 1 ||
		p.MemoryKiB < 8*uint32(p.Parallelism) || p.MemoryKiB > maxMemoryKiB {
		return phc{}, errPHC
	}
	var err error
	b64 := base64.RawStdEncoding.Strict()
	if h.salt, err = b64.DecodeString(parts[4]); err != nil || len(h.salt) < saltLen {
		return phc{}, errPHC
	}
	if h.key, err = b64.DecodeString(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > 64 {
		return phc{}, errPHC
	}
	return h, nil
}

// verifyPassword reports whether pw matches the encoded hash, comparing in
// constant time. The whole password is hashed: nothing is truncated.
func verifyPassword(pw, encoded string) (bool, Params, error) {
	h, err := parsePHC(encoded)
	if err != nil {
		return false, Params{}, err
	}
	got := argon2.IDKey([]byte(pw), h.salt, h.params.Iterations, h.params.MemoryKiB, h.params.Parallelism, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1, h.params, nil
}
