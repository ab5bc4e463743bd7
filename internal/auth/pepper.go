package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LoadOrCreatePepper reads the key-hashing pepper from path (hex, as this
// function writes it, or at least 32 raw bytes), creating a fresh 256-bit
// one, readable by the owner only, when the file does not exist. A pepper
// file that others can read or write is refused: whoever reads it and the
// database can test key guesses offline, and whoever writes it can lock
// every key out.
func LoadOrCreatePepper(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createPepper(path)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: reading pepper: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("auth: pepper: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("auth: pepper file %s has mode %v; it must be readable by its owner only (chmod 600)", path, st.Mode().Perm())
	}
	return decodePepper(b)
}

func decodePepper(b []byte) ([]byte, error) {
	s := strings.TrimSpace(string(b))
	if p, err := hex.DecodeString(s); err == nil && len(p) >= 32 {
		return p, nil
	}
	if len(b) >= 32 {
		return b, nil
	}
	return nil, errPepper
}

func createPepper(path string) ([]byte, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("auth: pepper directory: %w", err)
	}
	p := make([]byte, 32)
	_, _ = rand.Read(p)
	// O_EXCL: two processes starting at once cannot each write their own.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadOrCreatePepper(path)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: creating pepper: %w", err)
	}
	_, werr := f.WriteString(hex.EncodeToString(p) + "\n")
	serr := f.Sync()
	if cerr := f.Close(); werr == nil && serr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = serr
	}
	if werr != nil {
		os.Remove(path)
		return nil, fmt.Errorf("auth: writing pepper: %w", werr)
	}
	return p, nil
}
