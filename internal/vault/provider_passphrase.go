package vault

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/crypto/argon2"

	"github.com/izwi-speech/izwi/internal/secrets"
)

// Argon2id parameters for passphrase-derived master keys: RFC 9106's
// second recommended option (64 MiB, 3 passes, 4 lanes), above the
// checklist's floor of m = 19 MiB, t = 2, p = 1, which stored parameters
// may never go below.
const (
	argonMemoryKiB   = 64 << 10
	argonIterations  = 3
	argonParallelism = 4
	minMemoryKiB     = 19 << 10
	minIterations    = 2
	saltSize         = 16
)

// ErrWrongPassphrase means the passphrase does not derive the master key
// the parameters file recorded. Nothing else is said about it.
var ErrWrongPassphrase = errors.New("vault: wrong passphrase: it does not derive the recorded master key")

// kdfParams is the passphrase provider's parameters file (JSON, 0600): the
// salt, the argon2id costs and the derived key's id (a keyed hash that
// tells a wrong passphrase from a right one without revealing either).
type kdfParams struct {
	Version     int    `json:"version"`
	KDF         string `json:"kdf"`
	MemoryKiB   uint32 `json:"memory_kib"`
	Iterations  uint32 `json:"iterations"`
	Parallelism uint8  `json:"parallelism"`
	Salt        []byte `json:"salt"`
	KEKID       string `json:"kek_id"`
}

// PassphraseProvider derives the master key from a passphrase with
// argon2id. The passphrase is the secret "vault_passphrase"
// (IZWI_VAULT_PASSPHRASE, IZWI_VAULT_PASSPHRASE_FILE or a systemd
// credential), or the file PassphraseFile names; salt and costs live in
// ParamsPath. Rotation draws a new salt and, when "vault_new_passphrase" is
// set, takes the new passphrase from it; after promotion the operator moves
// the new passphrase into vault_passphrase.
type PassphraseProvider struct {
	ParamsPath     string
	PassphraseFile string
	Source         secrets.Source

	mu    sync.Mutex
	cache map[[32]byte]KEK // by hash of (params file, passphrase): derive once
	// params are the costs for new parameter files (tests lower them).
	params kdfParams
}

var _ Provider = (*PassphraseProvider)(nil)

// Name is "passphrase".
func (p *PassphraseProvider) Name() string { return "passphrase" }

// Keys derives the current key (creating the parameters on first use) and a
// staged one if a rotation is unfinished.
func (p *PassphraseProvider) Keys(ctx context.Context) (KEK, *KEK, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pass, err := p.passphrase(false)
	if err != nil {
		return KEK{}, nil, err
	}
	npass, err := p.passphrase(true)
	if err != nil {
		return KEK{}, nil, err
	}
	cur, err := p.load(p.ParamsPath, pass)
	if errors.Is(err, ErrWrongPassphrase) && !npass.Equal(pass.Reveal()) {
		// promoted, and the operator has not yet moved the new passphrase
		// into vault_passphrase
		cur, err = p.load(p.ParamsPath, npass)
	}
	if errors.Is(err, fs.ErrNotExist) {
		cur, err = p.create(p.ParamsPath, pass)
		if errors.Is(err, fs.ErrExist) { // another process made it first
			cur, err = p.load(p.ParamsPath, pass)
		}
	}
	if err != nil {
		return KEK{}, nil, err
	}
	next, err := p.load(p.ParamsPath+".next", npass)
	if errors.Is(err, fs.ErrNotExist) {
		return cur, nil, nil
	}
	if err != nil {
		return KEK{}, nil, fmt.Errorf("staged key: %w", err)
	}
	return cur, &next, nil
}

// Stage writes new parameters (fresh salt) to <params>.next.
func (p *PassphraseProvider) Stage(ctx context.Context) (KEK, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pass, err := p.passphrase(true)
	if err != nil {
		return KEK{}, err
	}
	k, err := p.load(p.ParamsPath+".next", pass)
	if errors.Is(err, fs.ErrNotExist) {
		return p.create(p.ParamsPath+".next", pass)
	}
	return k, err
}

// Promote renames <params>.next over the parameters file.
func (p *PassphraseProvider) Promote(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := os.Lstat(p.ParamsPath + ".next"); errors.Is(err, fs.ErrNotExist) {
		return ErrNoStaged
	}
	if err := os.Rename(p.ParamsPath+".next", p.ParamsPath); err != nil {
		return fmt.Errorf("vault: promote parameters: %w", err)
	}
	return syncDir(filepath.Dir(p.ParamsPath))
}

// passphrase reads the current passphrase, or for next the new one when set
// (falling back to the current one: rotation then only changes the salt).
func (p *PassphraseProvider) passphrase(next bool) (secrets.Secret, error) {
	if next {
		s, _, err := p.Source.Lookup("vault_new_passphrase")
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, secrets.ErrNotSet) {
			return s, fmt.Errorf("vault: new passphrase: %w", err)
		}
	}
	s, _, err := p.Source.Resolve("vault_passphrase", p.PassphraseFile)
	if err != nil {
		return s, fmt.Errorf("vault: passphrase: %w", err)
	}
	if s.Len() < 12 {
		return secrets.Secret{}, fmt.Errorf("vault: the passphrase has %d bytes; use at least 12 (a long random phrase)", s.Len())
	}
	return s, nil
}

func (p *PassphraseProvider) load(path string, pass secrets.Secret) (KEK, error) {
	b, err := readPrivateFile(path, 4096)
	if err != nil {
		return KEK{}, err
	}
	prm, err := parseParams(b)
	if err != nil {
		return KEK{}, fmt.Errorf("vault: %s: %w", path, err)
	}
	h := sha256.New()
	h.Write(b)
	h.Write([]byte{0})
	h.Write([]byte(pass.Reveal()))
	var ck [32]byte
	copy(ck[:], h.Sum(nil))
	if k, ok := p.cache[ck]; ok {
		return k, nil
	}
	k, err := derive(prm, pass)
	if err != nil {
		return KEK{}, err
	}
	if k.ID != prm.KEKID {
		return KEK{}, ErrWrongPassphrase
	}
	if p.cache == nil {
		p.cache = map[[32]byte]KEK{}
	}
	p.cache[ck] = k
	return k, nil
}

func (p *PassphraseProvider) create(path string, pass secrets.Secret) (KEK, error) {
	prm := p.params
	if prm.MemoryKiB == 0 {
		prm = kdfParams{MemoryKiB: argonMemoryKiB, Iterations: argonIterations, Parallelism: argonParallelism}
	}
	prm.Version, prm.KDF = 1, "argon2id"
	prm.Salt = make([]byte, saltSize)
	rand.Read(prm.Salt)
	k, err := derive(prm, pass)
	if err != nil {
		return KEK{}, err
	}
	prm.KEKID = k.ID
	b, err := json.MarshalIndent(prm, "", "  ")
	if err != nil {
		return KEK{}, fmt.Errorf("vault: %w", err)
	}
	return k, writePrivate(path, append(b, '\n'))
}

// parseParams reads a parameters file and refuses costs below the floor.
func parseParams(b []byte) (kdfParams, error) {
	var prm kdfParams
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&prm); err != nil {
		return prm, fmt.Errorf("%w: parameters: %v", ErrMalformed, err)
	}
	switch {
	case prm.Version != 1 || prm.KDF != "argon2id":
		return prm, fmt.Errorf("%w: parameters version %d kdf %q (want 1, argon2id)", ErrMalformed, prm.Version, prm.KDF)
	case len(prm.Salt) < saltSize || len(prm.Salt) > 64:
		return prm, fmt.Errorf("%w: salt of %d bytes", ErrMalformed, len(prm.Salt))
	case prm.Parallelism < 1 || prm.Iterations > 64 || prm.MemoryKiB > 4<<20:
		return prm, fmt.Errorf("%w: argon2id costs m=%d t=%d p=%d out of range", ErrMalformed, prm.MemoryKiB, prm.Iterations, prm.Parallelism)
	case prm.KEKID == "":
		return prm, fmt.Errorf("%w: no key id", ErrMalformed)
	}
	return prm, nil
}

func derive(prm kdfParams, pass secrets.Secret) (KEK, error) {
	if prm.MemoryKiB < minMemoryKiB || prm.Iterations < minIterations {
		return KEK{}, fmt.Errorf("vault: argon2id m=%d KiB, t=%d is below the minimum m=%d KiB, t=%d",
			prm.MemoryKiB, prm.Iterations, minMemoryKiB, minIterations)
	}
	raw := argon2.IDKey([]byte(pass.Reveal()), prm.Salt, prm.Iterations, prm.MemoryKiB, prm.Parallelism, kekSize)
	defer clear(raw)
	return NewKEK(raw)
}

// readPrivateFile is readPrivate after checking the directory.
func readPrivateFile(path string, limit int64) ([]byte, error) {
	if err := checkDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	return readPrivate(path, limit)
}

// stored reports whether the key (or a staged one) exists at ParamsPath.
func (p *PassphraseProvider) stored() (string, bool) {
	for _, f := range []string{p.ParamsPath, p.ParamsPath + ".next"} {
		if _, err := os.Lstat(f); err == nil {
			return p.ParamsPath, true
		}
	}
	return p.ParamsPath, false
}
