// Package signing owns Izwi's signatures: minisign-compatible ed25519
// signatures (the prehashed "ED" form, BLAKE2b-512 of the file) made and
// checked with aead.dev/minisign, and the project's public key that is
// embedded in the binary. Release artifacts (tarball, .deb, SBOM, image) and
// the model catalogue are signed with it; `minisign -Vm FILE -P KEY` checks
// the same signatures.
package signing

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"aead.dev/minisign"
)

// projectKey is the public half of the project's signing key. The secret
// half never enters the repository (see docs/security.md, "Signing keys").
//
//go:embed izwi.pub
var projectKey []byte

// ErrSignature means a signature is malformed, made by another key, or does
// not match the bytes it claims to sign (a tampered file).
var ErrSignature = errors.New("signing: signature does not verify")

// ProjectKey returns the embedded project public key.
func ProjectKey() minisign.PublicKey {
	k, err := ParsePublicKey(projectKey)
	if err != nil {
		panic("signing: embedded project key: " + err.Error()) // caught by TestProjectKey
	}
	return k
}

// ParsePublicKey reads a minisign public key: a .pub file (comment line and
// base64 line) or the bare base64 line.
func ParsePublicKey(text []byte) (minisign.PublicKey, error) {
	var k minisign.PublicKey
	if err := k.UnmarshalText([]byte(lastLine(string(text)))); err != nil {
		return k, fmt.Errorf("signing: public key: %w", err)
	}
	return k, nil
}

// ReadPublicKey reads a public key file.
func ReadPublicKey(path string) (minisign.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return minisign.PublicKey{}, fmt.Errorf("signing: %w", err)
	}
	return ParsePublicKey(b)
}

// ReadPrivateKey reads a minisign secret key file. An encrypted key (made
// by `minisign -G`) needs its password; an unencrypted one (`minisign -G -W`
// or GenerateKey) takes "".
func ReadPrivateKey(path, password string) (minisign.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return minisign.PrivateKey{}, fmt.Errorf("signing: %w", err)
	}
	var k minisign.PrivateKey
	if minisign.IsEncrypted(b) {
		if password == "" {
			return k, fmt.Errorf("signing: %s is encrypted and no password was given", path)
		}
		k, err = minisign.DecryptKey(password, b)
	} else {
		err = k.UnmarshalText(b)
	}
	if err != nil {
		return k, fmt.Errorf("signing: secret key %s: %w", path, err)
	}
	return k, nil
}

// GenerateKey makes a new unencrypted key pair and returns both halves in
// minisign's text format.
func GenerateKey(random io.Reader) (pub, priv []byte, err error) {
	pk, sk, err := minisign.GenerateKey(random)
	if err != nil {
		return nil, nil, fmt.Errorf("signing: %w", err)
	}
	pubText, _ := pk.MarshalText()
	privText, _ := sk.MarshalText()
	return append(pubText, '\n'), append(privText, '\n'), nil
}

// Sign streams r through BLAKE2b and returns a minisign signature file whose
// trusted comment names the file and a timestamp (pass the build's
// SOURCE_DATE_EPOCH for reproducible signatures).
func Sign(ctx context.Context, key minisign.PrivateKey, r io.Reader, name string, at time.Time) ([]byte, error) {
	mr := minisign.NewReader(r)
	if err := drain(ctx, mr); err != nil {
		return nil, fmt.Errorf("signing: reading %s: %w", name, err)
	}
	trusted := fmt.Sprintf("timestamp:%d\tfile:%s\thashed", at.Unix(), name)
	return mr.SignWithComments(key, trusted, "signature from izwi secret key "+keyID(key.ID())), nil
}

// Verified is what a good signature says.
type Verified struct {
	KeyID          string // hex, as minisign prints it
	TrustedComment string
}

// Verify streams r and checks sig against each key in turn; it returns
// ErrSignature unless one of them signed exactly these bytes.
func Verify(ctx context.Context, keys []minisign.PublicKey, r io.Reader, sig []byte) (Verified, error) {
	var s minisign.Signature
	if err := s.UnmarshalText(sig); err != nil {
		return Verified{}, fmt.Errorf("%w: malformed signature: %v", ErrSignature, err)
	}
	var key *minisign.PublicKey
	var ids []string
	for i := range keys {
		ids = append(ids, keyID(keys[i].ID()))
		if keys[i].ID() == s.KeyID {
			key = &keys[i]
		}
	}
	if key == nil {
		return Verified{}, fmt.Errorf("%w: signed by key %s, not by a trusted key (%s)",
			ErrSignature, keyID(s.KeyID), strings.Join(ids, ", "))
	}
	mr := minisign.NewReader(r)
	if err := drain(ctx, mr); err != nil {
		return Verified{}, fmt.Errorf("signing: reading: %w", err)
	}
	if !mr.Verify(*key, sig) {
		return Verified{}, fmt.Errorf("%w: the file does not match its signature by key %s (tampered or truncated)",
			ErrSignature, keyID(s.KeyID))
	}
	return Verified{KeyID: keyID(s.KeyID), TrustedComment: s.TrustedComment}, nil
}

// VerifyBytes is Verify for data already in memory.
func VerifyBytes(keys []minisign.PublicKey, data, sig []byte) (Verified, error) {
	return Verify(context.Background(), keys, strings.NewReader(string(data)), sig)
}

func keyID(id uint64) string { return strings.ToUpper(strconv.FormatUint(id, 16)) }

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// drain reads r to the end, checking ctx between 1 MiB chunks.
func drain(ctx context.Context, r io.Reader) error {
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		_, err := r.Read(buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// VerifyProject checks data against sig with the embedded project key.
func VerifyProject(data, sig []byte) (Verified, error) {
	return VerifyBytes([]minisign.PublicKey{ProjectKey()}, data, sig)
}
