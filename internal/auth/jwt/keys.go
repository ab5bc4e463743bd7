package jwt

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/izwi-speech/izwi/internal/config"
)

// MinHMACBytes is the shortest HMAC secret accepted (256 bits, RFC 7518 §3.2).
const MinHMACBytes = 32

// minRSABits is the smallest RSA modulus accepted (RFC 7518 §3.3).
const minRSABits = 2048

// key is one verification key bound to exactly one algorithm.
type key struct {
	kid string
	alg string
	pub any // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey or []byte (HMAC)
}

// keySource finds the key for a token's kid and alg. Contract: lookups are
// in memory; a remote source may fetch, rate-limited, on an unknown kid.
type keySource interface {
	lookup(ctx context.Context, kid, alg string) (key, error)
}

var (
	_ keySource = staticKeys(nil)
	_ keySource = (*remoteKeys)(nil)
)

// errUnknownKey means no configured key matches the token's kid and alg.
var errUnknownKey = errors.New("no key for this kid and alg")

// staticKeys are keys from configuration files.
type staticKeys []key

// lookup picks the one key with the token's alg and kid; a token without kid
// matches only when exactly one key has its alg.
func (s staticKeys) lookup(_ context.Context, kid, alg string) (key, error) {
	return pick(s, kid, alg)
}

func pick(keys []key, kid, alg string) (key, error) {
	var found []key
	for _, k := range keys {
		if k.alg == alg && (kid == "" || k.kid == kid) {
			found = append(found, k)
		}
	}
	if len(found) != 1 {
		return key{}, errUnknownKey
	}
	return found[0], nil
}

// loadStatic reads an issuer's static keys, refusing short HMAC secrets and
// keys that do not fit their algorithm.
func loadStatic(is config.JWTIssuer) (staticKeys, error) {
	var out staticKeys
	for i, k := range is.Keys {
		var pub any
		if strings.HasPrefix(k.Alg, "HS") {
			b, err := os.ReadFile(k.SecretFile)
			if err != nil {
				return nil, fmt.Errorf("jwt: issuer %q key %d: %w", is.Issuer, i, err)
			}
			b = bytes.TrimRight(b, "\r\n")
			pub = b
		} else {
			b, err := os.ReadFile(k.PEMFile)
			if err != nil {
				return nil, fmt.Errorf("jwt: issuer %q key %d: %w", is.Issuer, i, err)
			}
			if pub, err = parsePEM(b); err != nil {
				return nil, fmt.Errorf("jwt: issuer %q key %d (%s): %w", is.Issuer, i, k.PEMFile, err)
			}
		}
		if err := fits(k.Alg, pub); err != nil {
			return nil, fmt.Errorf("jwt: issuer %q key %d: %w", is.Issuer, i, err)
		}
		out = append(out, key{kid: k.KID, alg: k.Alg, pub: pub})
	}
	return out, nil
}

// parsePEM reads a PKIX or PKCS#1 public key, or a certificate's key.
func parsePEM(b []byte) (any, error) {
	blk, rest := pem.Decode(b)
	if blk == nil || len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("want exactly one PEM block")
	}
	switch blk.Type {
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(blk.Bytes)
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(blk.Bytes)
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		return c.PublicKey, nil
	}
	return nil, fmt.Errorf("PEM block %q is not a public key (never put a private key here)", blk.Type)
}

// fits checks that pub is the right kind and size of key for alg, so a key
// can never verify under another family (no HS/RS confusion).
func fits(alg string, pub any) error {
	switch k := pub.(type) {
	case []byte:
		need := map[string]int{"HS256": 32, "HS384": 48, "HS512": 64}[alg]
		if need == 0 {
			return fmt.Errorf("an HMAC secret cannot verify %s", alg)
		}
		if len(k) < need || len(k) < MinHMACBytes {
			return fmt.Errorf("HMAC secret for %s is %d bits; at least %d required", alg, len(k)*8, need*8)
		}
	case *rsa.PublicKey:
		if !strings.HasPrefix(alg, "RS") && !strings.HasPrefix(alg, "PS") {
			return fmt.Errorf("an RSA key cannot verify %s", alg)
		}
		if k.N.BitLen() < minRSABits {
			return fmt.Errorf("RSA key of %d bits; at least %d required", k.N.BitLen(), minRSABits)
		}
	case *ecdsa.PublicKey:
		want := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		if want == nil || k.Curve != want {
			return fmt.Errorf("an ECDSA %s key cannot verify %s", k.Curve.Params().Name, alg)
		}
	case ed25519.PublicKey:
		if alg != "EdDSA" || len(k) != ed25519.PublicKeySize {
			return fmt.Errorf("an Ed25519 key cannot verify %s", alg)
		}
	default:
		return fmt.Errorf("unsupported key type %T", pub)
	}
	return nil
}
