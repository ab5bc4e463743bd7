package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// SignerName is the note key name checkpoints are signed under.
const SignerName = "izwi-audit"

// loadOrCreateSigner reads the note signer key at path, generating it (0600)
// with its verifier key beside it (<path>.pub, 0644) when absent.
func loadOrCreateSigner(path string) (note.Signer, string, error) {
	skey, err := readSecretFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		s, v, gerr := note.GenerateKey(rand.Reader, SignerName)
		if gerr != nil {
			return nil, "", fmt.Errorf("audit: signer key: %w", gerr)
		}
		if err := writeNewFile(path, []byte(s+"\n"), 0o600); err != nil {
			return nil, "", err
		}
		if err := os.WriteFile(path+".pub", []byte(v+"\n"), 0o644); err != nil {
			return nil, "", fmt.Errorf("audit: verifier key: %w", err)
		}
		skey = []byte(s)
	} else if err != nil {
		return nil, "", err
	}
	signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		return nil, "", fmt.Errorf("audit: signer key %s: malformed", path)
	}
	vkey, err := ReadVerifierKey(path + ".pub")
	if err != nil {
		return nil, "", err
	}
	return signer, vkey, nil
}

// ReadVerifierKey reads a note verifier key ("izwi-audit+hash+key") from path.
func ReadVerifierKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("audit: verifier key: %w", err)
	}
	v := strings.TrimSpace(string(b))
	if _, err := note.NewVerifier(v); err != nil {
		return "", fmt.Errorf("audit: verifier key %s: %w", path, err)
	}
	return v, nil
}

// loadOrCreatePseudonymKey reads (or makes, 0600) the 32-byte HMAC key.
func loadOrCreatePseudonymKey(path string) ([]byte, error) {
	b, err := readSecretFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("audit: pseudonym key: %w", err)
		}
		if err := writeNewFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
			return nil, err
		}
		return key, nil
	}
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(string(bytes.TrimSpace(b)))
	if err != nil || len(key) < 32 {
		return nil, fmt.Errorf("audit: pseudonym key %s: want 64 hex digits", path)
	}
	return key, nil
}

// readSecretFile reads a key file, refusing one that others can read.
func readSecretFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("audit: key file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("audit: key file %s has mode %v; want 0600 (chmod 600 it)", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: key file: %w", err)
	}
	return b, nil
}

// writeNewFile creates path (and its directory, 0700) exclusively with data,
// synced, so two processes starting at once cannot both make a key.
func writeNewFile(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("audit: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("audit: sync %s: %w", path, err)
	}
	return f.Close()
}

// pseudonymizeIP turns a remote address into "<network>/<bits> ip:<hmac>":
// the /24 (IPv4) or /48 (IPv6) network in clear, enough to see where an
// attack comes from and to block it, and a keyed hash of the full address
// that links events from one address without naming it. Anything that is
// not an IP address becomes "invalid".
func pseudonymizeIP(key []byte, s string) string {
	if s == "" {
		return ""
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		if ap, perr := netip.ParseAddrPort(s); perr == nil {
			addr = ap.Addr()
		} else {
			return "invalid"
		}
	}
	addr = addr.Unmap().WithZone("")
	bits := 24
	if addr.Is6() {
		bits = 48
	}
	prefix, _ := addr.Prefix(bits)
	mac := hmac.New(sha256.New, key)
	mac.Write(addr.AsSlice())
	return prefix.String() + " ip:" + hex.EncodeToString(mac.Sum(nil)[:8])
}

// Pseudonym returns how the log records the remote address ip, using the
// pseudonym key at keyPath (never creating one), so an operator can look an
// address up in an export (`izwi audit pseudonym IP`).
func Pseudonym(keyPath, ip string) (string, error) {
	b, err := readSecretFile(keyPath)
	if err != nil {
		return "", err
	}
	key, err := hex.DecodeString(string(bytes.TrimSpace(b)))
	if err != nil || len(key) < 32 {
		return "", fmt.Errorf("audit: pseudonym key %s: want 64 hex digits", keyPath)
	}
	p := pseudonymizeIP(key, ip)
	if p == "invalid" || p == "" {
		return "", fmt.Errorf("audit: %q is not an IP address", clip(ip, 64))
	}
	return p, nil
}
