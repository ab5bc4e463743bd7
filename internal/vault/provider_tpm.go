package vault

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2/transport"
)

// DefaultTPMDevice is the kernel's TPM resource manager.
const DefaultTPMDevice = "/dev/tpmrm0"

// ErrPCRMismatch means the TPM refused to unseal the master key because the
// measured boot state (PCRs) differs from when it was sealed.
var ErrPCRMismatch = errors.New("vault: the TPM refused to unseal the master key: the PCR values differ from when it was sealed " +
	"(firmware, boot loader or Secure Boot state changed)")

// TPMProvider keeps a random master key sealed to a TPM 2.0 under a policy
// over PCRs (default 0 and 7: firmware and Secure Boot state, SHA-256 bank).
// The sealed object (public and private parts; the private part is
// encrypted by the TPM's storage key and useless off this TPM) is stored in
// SealedPath. A stolen disk yields nothing; the same machine booted into
// other firmware or with Secure Boot changed cannot unseal either. Seal and
// unseal run over sessions salted to the storage key with AES parameter
// encryption, so the key does not cross the bus in the clear.
type TPMProvider struct {
	// Device is a character device (/dev/tpmrm0, the default) or
	// "unix:///path" / "tcp://host:port" for a software TPM (swtpm) speaking
	// raw TPM commands; those are for tests and development only.
	Device     string
	SealedPath string
	// PCRs to seal to; nil means 0 and 7.
	PCRs []uint

	mu    sync.Mutex
	cache map[[32]byte]KEK // by hash of the sealed file: unseal once
}

var _ Provider = (*TPMProvider)(nil)

// sealedFile is the on-disk form of the sealed master key (JSON, 0600).
type sealedFile struct {
	Version int    `json:"version"`
	Bank    string `json:"bank"`
	PCRs    []uint `json:"pcrs"`
	Public  []byte `json:"public"`
	Private []byte `json:"private"`
	KEKID   string `json:"kek_id"`
}

// parseSealed reads a sealed-key file.
func parseSealed(b []byte) (sealedFile, error) {
	var sf sealedFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sf); err != nil || sf.Version != 1 || sf.Bank != "sha256" || len(sf.PCRs) == 0 || len(sf.PCRs) > 24 ||
		sf.KEKID == "" || len(sf.Public) == 0 || len(sf.Private) == 0 {
		return sf, fmt.Errorf("%w: not a sealed master key this build reads", ErrMalformed)
	}
	for _, pcr := range sf.PCRs {
		if pcr > 23 {
			return sf, fmt.Errorf("%w: PCR %d", ErrMalformed, pcr)
		}
	}
	return sf, nil
}

// Name is "tpm".
func (p *TPMProvider) Name() string { return "tpm" }

// Keys unseals the current key (sealing a new one the first time) and a
// staged one, if any.
func (p *TPMProvider) Keys(ctx context.Context) (KEK, *KEK, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur, err := p.load(ctx, p.SealedPath)
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Lstat(p.SealedPath + ".next"); serr == nil {
			return KEK{}, nil, fmt.Errorf("vault: %s is missing but %s.next exists; rename it back", p.SealedPath, p.SealedPath)
		}
		cur, err = p.create(ctx, p.SealedPath)
		if errors.Is(err, fs.ErrExist) { // another process made it first
			cur, err = p.load(ctx, p.SealedPath)
		}
	}
	if err != nil {
		return KEK{}, nil, err
	}
	next, err := p.load(ctx, p.SealedPath+".next")
	if errors.Is(err, fs.ErrNotExist) {
		return cur, nil, nil
	}
	if err != nil {
		return KEK{}, nil, err
	}
	return cur, &next, nil
}

// Stage seals a new random key to <path>.next, or unseals the staged one.
func (p *TPMProvider) Stage(ctx context.Context) (KEK, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k, err := p.load(ctx, p.SealedPath+".next")
	if errors.Is(err, fs.ErrNotExist) {
		return p.create(ctx, p.SealedPath+".next")
	}
	return k, err
}

// Promote renames the staged sealed key over the current one.
func (p *TPMProvider) Promote(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := os.Lstat(p.SealedPath + ".next"); errors.Is(err, fs.ErrNotExist) {
		return ErrNoStaged
	}
	if err := os.Rename(p.SealedPath+".next", p.SealedPath); err != nil {
		return fmt.Errorf("vault: promote sealed key: %w", err)
	}
	return syncDir(filepath.Dir(p.SealedPath))
}

func (p *TPMProvider) pcrs() []uint {
	if len(p.PCRs) == 0 {
		return []uint{0, 7}
	}
	return p.PCRs
}

func (p *TPMProvider) load(ctx context.Context, path string) (KEK, error) {
	b, err := readPrivateFile(path, 64<<10)
	if err != nil {
		return KEK{}, err
	}
	ck := sha256.Sum256(b)
	if k, ok := p.cache[ck]; ok {
		return k, nil
	}
	sf, err := parseSealed(b)
	if err != nil {
		return KEK{}, fmt.Errorf("%s: %w", path, err)
	}
	var raw []byte
	err = p.withTPM(ctx, func(t transport.TPM) error {
		var err error
		raw, err = unsealKEK(t, sf)
		return err
	})
	if err != nil {
		return KEK{}, err
	}
	defer clear(raw)
	k, err := NewKEK(raw)
	if err != nil {
		return KEK{}, err
	}
	if k.ID != sf.KEKID {
		return KEK{}, fmt.Errorf("vault: the TPM unsealed a key whose id %s is not the recorded %s", k.ID, sf.KEKID)
	}
	if p.cache == nil {
		p.cache = map[[32]byte]KEK{}
	}
	p.cache[ck] = k
	return k, nil
}

func (p *TPMProvider) create(ctx context.Context, path string) (KEK, error) {
	raw := make([]byte, kekSize)
	rand.Read(raw)
	defer clear(raw)
	k, err := NewKEK(raw)
	if err != nil {
		return KEK{}, err
	}
	sf := sealedFile{Version: 1, Bank: "sha256", PCRs: p.pcrs(), KEKID: k.ID}
	err = p.withTPM(ctx, func(t transport.TPM) error {
		var err error
		sf.Public, sf.Private, err = sealKEK(t, sf.PCRs, raw)
		return err
	})
	if err != nil {
		return KEK{}, err
	}
	b, err := json.MarshalIndent(sf, "", "  ")
	if err != nil {
		return KEK{}, fmt.Errorf("vault: %w", err)
	}
	return k, writePrivate(path, append(b, '\n'))
}

// withTPM opens the device for one operation and closes it after.
func (p *TPMProvider) withTPM(ctx context.Context, fn func(transport.TPM) error) error {
	dev := p.Device
	if dev == "" {
		dev = DefaultTPMDevice
	}
	var conn net.Conn
	var err error
	d := net.Dialer{Timeout: 10 * time.Second}
	switch {
	case strings.HasPrefix(dev, "unix://"):
		conn, err = d.DialContext(ctx, "unix", strings.TrimPrefix(dev, "unix://"))
	case strings.HasPrefix(dev, "tcp://"):
		conn, err = d.DialContext(ctx, "tcp", strings.TrimPrefix(dev, "tcp://"))
	default:
		f, ferr := os.OpenFile(dev, os.O_RDWR, 0)
		if ferr != nil {
			return fmt.Errorf("vault: open TPM %s: %w", dev, ferr)
		}
		defer f.Close()
		return fn(transport.FromReadWriter(f))
	}
	if err != nil {
		return fmt.Errorf("vault: connect to TPM %s: %w", dev, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	} else {
		conn.SetDeadline(time.Now().Add(time.Minute))
	}
	return fn(transport.FromReadWriter(&framed{Conn: conn}))
}

// framed reads one whole TPM response per Read from a stream socket: go-tpm
// reads a response with a single Read, which a stream may split. The
// response header (tag, size, code) says how long it is.
type framed struct {
	net.Conn
}

func (f *framed) Read(p []byte) (int, error) {
	const headerLen = 10
	if len(p) < headerLen {
		return 0, io.ErrShortBuffer
	}
	if _, err := io.ReadFull(f.Conn, p[:headerLen]); err != nil {
		return 0, err
	}
	size := int(binary.BigEndian.Uint32(p[2:6]))
	if size < headerLen || size > len(p) {
		return 0, fmt.Errorf("vault: TPM response of %d bytes", size)
	}
	if _, err := io.ReadFull(f.Conn, p[headerLen:size]); err != nil {
		return 0, err
	}
	return size, nil
}

// stored reports whether the key (or a staged one) exists at SealedPath.
func (p *TPMProvider) stored() (string, bool) {
	for _, f := range []string{p.SealedPath, p.SealedPath + ".next"} {
		if _, err := os.Lstat(f); err == nil {
			return p.SealedPath, true
		}
	}
	return p.SealedPath, false
}
