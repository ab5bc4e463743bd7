package vault

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// ErrLoosePermissions means a key file or its directory is accessible by
// other users, or owned by someone else.
var ErrLoosePermissions = errors.New("vault: key file permissions too loose")

// FileProvider keeps the master key as 64 hex digits in a file created 0600
// (directory 0700) on first use. It refuses a file or directory that its
// group or others may access, or that another user owns. Rotation writes
// <path>.next, and promotion renames it over the old file.
type FileProvider struct {
	Path string
	mu   sync.Mutex
}

var _ Provider = (*FileProvider)(nil)

// Name is "file".
func (p *FileProvider) Name() string { return "file" }

// Keys reads (or, the first time, creates) the key file and any staged one.
func (p *FileProvider) Keys(ctx context.Context) (KEK, *KEK, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur, err := readKeyFile(p.Path)
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Lstat(p.Path + ".next"); serr == nil {
			// promoted half-way: never invent a new key while one is staged
			return KEK{}, nil, fmt.Errorf("vault: %s is missing but %s.next exists; rename it back", p.Path, p.Path)
		}
		cur, err = createKeyFile(p.Path)
		if errors.Is(err, fs.ErrExist) { // another process made it first
			cur, err = readKeyFile(p.Path)
		}
	}
	if err != nil {
		return KEK{}, nil, err
	}
	next, err := readKeyFile(p.Path + ".next")
	if errors.Is(err, fs.ErrNotExist) {
		return cur, nil, nil
	}
	if err != nil {
		return KEK{}, nil, err
	}
	return cur, &next, nil
}

// Stage creates <path>.next, or returns it when it exists.
func (p *FileProvider) Stage(ctx context.Context) (KEK, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	next, err := readKeyFile(p.Path + ".next")
	if errors.Is(err, fs.ErrNotExist) {
		return createKeyFile(p.Path + ".next")
	}
	return next, err
}

// Promote renames <path>.next over <path>: the old key is gone.
func (p *FileProvider) Promote(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := readKeyFile(p.Path + ".next"); errors.Is(err, fs.ErrNotExist) {
		return ErrNoStaged
	} else if err != nil {
		return err
	}
	if err := os.Rename(p.Path+".next", p.Path); err != nil {
		return fmt.Errorf("vault: promote key file: %w", err)
	}
	return syncDir(filepath.Dir(p.Path))
}

// readKeyFile reads a key file after checking it and its directory.
func readKeyFile(path string) (KEK, error) {
	if err := checkDir(filepath.Dir(path)); err != nil {
		return KEK{}, err
	}
	b, err := readPrivate(path, 256)
	if err != nil {
		return KEK{}, err
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(raw) != kekSize {
		return KEK{}, fmt.Errorf("vault: %s does not hold a master key (want %d hex digits)", path, 2*kekSize)
	}
	defer clear(raw)
	return NewKEK(raw)
}

// createKeyFile writes 32 random bytes as hex to a new 0600 file.
func createKeyFile(path string) (KEK, error) {
	raw := make([]byte, kekSize)
	rand.Read(raw)
	defer clear(raw)
	if err := writePrivate(path, []byte(hex.EncodeToString(raw)+"\n")); err != nil {
		return KEK{}, err
	}
	return NewKEK(raw)
}

// readPrivate opens path, checks the opened file (regular, owned by us, no
// group or other access) and reads at most limit bytes.
func readPrivate(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("vault: %s is not a regular file", path)
	}
	if err := checkPrivate(path, fi, 0o077); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("vault: read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("vault: %s is larger than %d bytes; is it the right file?", path, limit)
	}
	return b, nil
}

// writePrivate creates path (never overwriting) with mode 0600 in a 0700
// directory: written and synced under a temporary name, then hard-linked
// into place, so another process never sees a half-written key and a
// racing creator gets fs.ErrExist.
func writePrivate(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	if err := checkDir(dir); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("vault: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("vault: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("vault: sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	if err := os.Link(tmp, path); err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	return syncDir(dir)
}

// checkDir refuses a key directory that others may write or list, or that
// another user owns (they could swap the key file).
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("vault: %s is not a directory", dir)
	}
	return checkPrivate(dir, fi, 0o077)
}

func checkPrivate(path string, fi fs.FileInfo, forbidden fs.FileMode) error {
	if perm := fi.Mode().Perm(); perm&forbidden != 0 {
		return fmt.Errorf("%w: %s has mode %#o, so other users can reach it; run `chmod %s %s`",
			ErrLoosePermissions, path, perm, map[bool]string{true: "700", false: "600"}[fi.IsDir()], path)
	}
	if uid, ok := ownerOf(fi); ok && uid != os.Geteuid() {
		return fmt.Errorf("%w: %s is owned by uid %d, not by this process (uid %d)", ErrLoosePermissions, path, uid, os.Geteuid())
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("vault: sync %s: %w", dir, err)
	}
	return nil
}

// stored reports whether the key (or a staged one) exists at Path.
func (p *FileProvider) stored() (string, bool) {
	for _, f := range []string{p.Path, p.Path + ".next"} {
		if _, err := os.Lstat(f); err == nil {
			return p.Path, true
		}
	}
	return p.Path, false
}
