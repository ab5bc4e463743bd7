package models

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// A local catalogue is the operator's own list of models — a fine-tuned
// recognizer, a speaker model trained on the venue's own voices — in the
// same format as the embedded one. It is trusted because the operator wrote
// it: every file must be pinned (verified, sha256 and size), so the same
// check stands between its files and the native runtime as for the
// project's models. Its entries may have no URL (they are imported, not
// pulled), may not reuse an embedded model's name, and the file must not be
// writable by anyone but its owner.

// WithLocal returns base extended with the local catalogue at path.
func WithLocal(base *Catalog, path string) (*Catalog, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: local catalogue: %w", ErrCatalog, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: local catalogue: %w", ErrCatalog, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: local catalogue %s is not a regular file", ErrCatalog, path)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return nil, fmt.Errorf("%w: local catalogue %s is writable by others (mode %04o): chmod go-w", ErrCatalog, path, perm)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		return nil, fmt.Errorf("%w: local catalogue %s is owned by uid %d, not root or this process", ErrCatalog, path, st.Uid)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxCatalogBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: local catalogue: %w", ErrCatalog, err)
	}
	return mergeLocal(base, data)
}

// mergeLocal parses a local catalogue and appends its entries to a copy of
// base, marked Local.
func mergeLocal(base *Catalog, data []byte) (*Catalog, error) {
	local, err := decodeCatalog(data)
	if err != nil {
		return nil, fmt.Errorf("local catalogue: %w", err)
	}
	if local.Version != 1 {
		return nil, fmt.Errorf("%w: local catalogue version %d, want 1", ErrCatalog, local.Version)
	}
	out := &Catalog{Version: base.Version, Models: append([]Entry(nil), base.Models...)}
	for _, e := range local.Models {
		e.Local = true
		if _, ok := base.Lookup(e.Name); ok {
			return nil, fmt.Errorf("%w: local model %q has the name of a catalogued model", ErrCatalog, e.Name)
		}
		if e.SystemDir != "" {
			return nil, fmt.Errorf("%w: local model %q: system_dir is for the project's catalogue", ErrCatalog, e.Name)
		}
		for _, f := range e.Files {
			if !f.Verified {
				return nil, fmt.Errorf("%w: local model %q: file %q is not pinned (a local model needs verified, sha256 and size for every file)", ErrCatalog, e.Name, f.Path)
			}
		}
		out.Models = append(out.Models, e)
	}
	if err := out.Validate(); err != nil {
		return nil, err
	}
	if len(local.Models) == 0 {
		return nil, errors.Join(ErrCatalog, errors.New("local catalogue lists no models"))
	}
	return out, nil
}
