package vault

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/izwi-speech/izwi/internal/secrets"
)

// EnvProvider takes the master key from the secret "vault_key":
// IZWI_VAULT_KEY, a file named by IZWI_VAULT_KEY_FILE (0600 or 0400) or the
// systemd credential vault_key (LoadCredentialEncrypted= keeps it sealed by
// systemd at rest). The value is 32 bytes as 64 hex digits or base64. Izwi
// never writes it: to rotate, the operator supplies the new key as
// "vault_new_key", runs `izwi vault rotate`, then moves it into vault_key.
type EnvProvider struct {
	Source secrets.Source
}

var _ Provider = (*EnvProvider)(nil)

// Name is "env".
func (p *EnvProvider) Name() string { return "env" }

// Keys reads vault_key and, when set, vault_new_key.
func (p *EnvProvider) Keys(ctx context.Context) (KEK, *KEK, error) {
	cur, err := p.read("vault_key")
	if err != nil {
		return KEK{}, nil, err
	}
	next, err := p.read("vault_new_key")
	if errors.Is(err, secrets.ErrNotSet) {
		return cur, nil, nil
	}
	if err != nil {
		return KEK{}, nil, err
	}
	if next.ID == cur.ID {
		return cur, nil, nil // already moved over
	}
	return cur, &next, nil
}

// Stage returns vault_new_key; the operator must have set it.
func (p *EnvProvider) Stage(ctx context.Context) (KEK, error) {
	k, err := p.read("vault_new_key")
	if errors.Is(err, secrets.ErrNotSet) {
		return KEK{}, fmt.Errorf("vault: the env provider cannot make keys: set IZWI_VAULT_NEW_KEY_FILE (or the credential vault_new_key) " +
			"to 32 random bytes (`openssl rand -hex 32`), then rotate")
	}
	return k, err
}

// Promote has nothing to write: the operator moves vault_new_key into
// vault_key (until then Keys returns both and everything opens).
func (p *EnvProvider) Promote(ctx context.Context) error { return nil }

func (p *EnvProvider) read(name string) (KEK, error) {
	s, origin, err := p.Source.Lookup(name)
	if err != nil {
		return KEK{}, fmt.Errorf("vault: %w", err)
	}
	raw, err := decodeKey(s.Reveal())
	if err != nil {
		return KEK{}, fmt.Errorf("vault: %s from %s: %w", name, origin, err)
	}
	defer clear(raw)
	return NewKEK(raw)
}

// decodeKey accepts 64 hex digits or standard/URL base64 of 32 bytes.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == kekSize {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == kekSize {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%w: want 32 bytes as 64 hex digits or base64 (`openssl rand -hex 32`)", ErrMalformed)
}
