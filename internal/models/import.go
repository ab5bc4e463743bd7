package models

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/izwi-speech/izwi/internal/speech"
)

// maxArchiveEntries bounds how many entries an import walks.
const maxArchiveEntries = 200_000

// ErrUnsafeArchive means an import source holds a path that escapes its
// root, a link, or an entry larger than the catalogue allows.
var ErrUnsafeArchive = errors.New("models: unsafe import source")

// candidate is one catalogue file an import is looking for.
type candidate struct {
	entry Entry
	file  File
}

// staged is a verified copy of a source entry, waiting to be installed.
type staged struct {
	path string
	sum  string
	size int64
}

// importer collects verified files from one source.
type importer struct {
	s       *Store
	strict  bool // a model was named: every problem is an error
	cands   []candidate
	stage   string
	found   map[[2]string]staged // (model, file path) → staged blob
	bad     map[[2]string]string // (model, file path) → why it was rejected
	nblobs  int
	entries int
}

// Import installs models from src, a directory or a tarball (.tar, .tar.gz,
// .tgz or .tar.bz2; the compression is recognised from the content). Each
// catalogue file is found by its path, or by its path under any directory
// (sherpa-onnx tarballs have one top-level directory), verified and copied.
// With name set, every file of that model must be found and verify. With
// name empty, every model whose files are all present and verify is
// installed. It returns the models installed.
func (s *Store) Import(ctx context.Context, src, name string) ([]string, error) {
	targets, err := s.importTargets(name)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	stage, err := os.MkdirTemp(s.Dir, ".import-*")
	if err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	defer os.RemoveAll(stage)
	im := &importer{s: s, strict: name != "", stage: stage,
		found: map[[2]string]staged{}, bad: map[[2]string]string{}}
	for _, e := range targets {
		for _, f := range e.Files {
			im.cands = append(im.cands, candidate{e, f})
		}
	}
	info, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("models: import: %w", err)
	}
	if info.IsDir() {
		err = im.walkDir(ctx, src)
	} else {
		var fh *os.File
		if fh, err = os.Open(src); err == nil {
			err = im.readArchive(ctx, fh)
			fh.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("models: import %s: %w", filepath.Base(src), err)
	}
	return im.install(ctx, targets)
}

func (s *Store) importTargets(name string) ([]Entry, error) {
	if name != "" {
		e, err := s.entry(name)
		if err != nil {
			return nil, err
		}
		if e.SystemDir != "" {
			return nil, fmt.Errorf("%w: model %s comes from its Debian package and cannot be imported", speech.ErrModel, name)
		}
		return []Entry{e}, nil
	}
	if s.Catalog == nil {
		return nil, errors.New("models: store has no catalogue")
	}
	var out []Entry
	for _, e := range s.Catalog.Models {
		if e.SystemDir == "" {
			out = append(out, e)
		}
	}
	return out, nil
}

// safeName cleans an archive or directory path, refusing anything that could
// land outside the model directory.
func safeName(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, "\\\x00") || path.IsAbs(name) {
		return "", fmt.Errorf("%w: entry %q has an absolute or malformed path", ErrUnsafeArchive, name)
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == ".." {
			return "", fmt.Errorf("%w: entry %q escapes the archive root", ErrUnsafeArchive, name)
		}
	}
	return strings.TrimPrefix(path.Clean(name), "./"), nil
}

// matches lists the candidates an entry path could be.
func (im *importer) matches(name string) []candidate {
	var out []candidate
	for _, c := range im.cands {
		if name == c.file.Path || strings.HasSuffix(name, "/"+c.file.Path) {
			out = append(out, c)
		}
	}
	return out
}

func (im *importer) walkDir(ctx context.Context, root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		name := filepath.ToSlash(rel)
		if d.IsDir() {
			return nil
		}
		cands := im.matches(name)
		if len(cands) == 0 {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%w: %s is a link or special file", ErrUnsafeArchive, name)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return im.take(ctx, name, info.Size(), f, cands)
	})
}

// readArchive streams a tar, gzip-tar or bzip2-tar.
func (im *importer) readArchive(ctx context.Context, r io.Reader) error {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(3)
	var src io.Reader = br
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%w: bad gzip stream: %v", ErrUnsafeArchive, err)
		}
		defer zr.Close()
		src = zr
	case bytes.Equal(magic, []byte("BZh")):
		src = bzip2.NewReader(br)
	}
	return im.readTar(ctx, src)
}

func (im *importer) readTar(ctx context.Context, r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading archive: %w", err)
		}
		if im.entries++; im.entries > maxArchiveEntries {
			return fmt.Errorf("%w: more than %d entries", ErrUnsafeArchive, maxArchiveEntries)
		}
		name, err := safeName(hdr.Name)
		if err != nil {
			return err
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg:
		case tar.TypeSymlink, tar.TypeLink:
			return fmt.Errorf("%w: entry %q is a link", ErrUnsafeArchive, name)
		default:
			return fmt.Errorf("%w: entry %q has unsupported type %q", ErrUnsafeArchive, name, hdr.Typeflag)
		}
		cands := im.matches(name)
		if len(cands) == 0 {
			continue
		}
		if err := im.take(ctx, name, hdr.Size, tr, cands); err != nil {
			return err
		}
	}
}

// take copies one matching entry into the staging area, hashing it, and
// credits it to every candidate whose size and hash it matches.
func (im *importer) take(ctx context.Context, name string, size int64, r io.Reader, cands []candidate) error {
	var limit int64
	for _, c := range cands {
		limit = max(limit, c.file.limit())
	}
	if size > limit || size < 0 {
		if im.strict {
			return fmt.Errorf("%w: entry %q is %d bytes, over the catalogue's %d", ErrUnsafeArchive, name, size, limit)
		}
		for _, c := range cands {
			im.bad[[2]string{c.entry.Name, c.file.Path}] = fmt.Sprintf("%s is %d bytes, over the catalogue's %d", name, size, limit)
		}
		return nil
	}
	im.nblobs++
	blob := filepath.Join(im.stage, "blob-"+strconv.Itoa(im.nblobs))
	out, err := os.OpenFile(blob, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := copyCtx(ctx, io.MultiWriter(out, h), io.LimitReader(r, limit+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	if n > limit {
		return fmt.Errorf("%w: entry %q holds more than the catalogue's %d bytes", ErrUnsafeArchive, name, limit)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	for _, c := range cands {
		key := [2]string{c.entry.Name, c.file.Path}
		switch {
		case c.file.Size > 0 && n != c.file.Size:
			im.bad[key] = fmt.Sprintf("%s: size mismatch (want %d bytes, got %d)", name, c.file.Size, n)
		case c.file.Verified && sum != c.file.SHA256:
			im.bad[key] = fmt.Sprintf("%s: sha256 mismatch (want %s, got %s)", name, short(c.file.SHA256), short(sum))
		default:
			if prev, dup := im.found[key]; dup && prev.sum != sum {
				if im.strict {
					return fmt.Errorf("%w: two different entries match %s of model %s", ErrUnsafeArchive, c.file.Path, c.entry.Name)
				}
				delete(im.found, key)
				im.bad[key] = "two different entries match " + c.file.Path
				continue
			}
			if _, ambiguous := im.bad[key]; ambiguous && !c.file.Verified {
				continue
			}
			im.found[key] = staged{path: blob, sum: sum, size: n}
		}
	}
	return nil
}

// install moves every complete model into place.
func (im *importer) install(ctx context.Context, targets []Entry) ([]string, error) {
	var done []string
	var problems []string
	for _, e := range targets {
		var missing []string
		for _, f := range e.Files {
			key := [2]string{e.Name, f.Path}
			if _, ok := im.found[key]; !ok {
				if why, bad := im.bad[key]; bad {
					missing = append(missing, why)
				} else {
					missing = append(missing, f.Path+" not found")
				}
			}
		}
		if len(missing) > 0 {
			if im.strict || len(missing) < len(e.Files) {
				problems = append(problems, fmt.Sprintf("%s: %s", e.Name, strings.Join(missing, "; ")))
			}
			continue
		}
		if err := im.installModel(ctx, e); err != nil {
			return done, err
		}
		done = append(done, e.Name)
	}
	slices.Sort(problems)
	switch {
	case im.strict && len(problems) > 0:
		return done, fmt.Errorf("%w: import refused: %s", speech.ErrModel, strings.Join(problems, " | "))
	case len(done) == 0 && len(problems) > 0:
		return done, fmt.Errorf("%w: no complete model found: %s", speech.ErrModel, strings.Join(problems, " | "))
	case len(done) == 0:
		return done, fmt.Errorf("%w: no catalogue model found in the import source", speech.ErrModel)
	}
	return done, nil
}

func (im *importer) installModel(ctx context.Context, e Entry) error {
	s := im.s
	unlock, err := lockModel(s.modelDir(e), e.Name)
	if err != nil {
		return err
	}
	defer unlock()
	for _, f := range e.Files {
		b := im.found[[2]string{e.Name, f.Path}]
		target := s.filePath(e, f)
		if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
			return fmt.Errorf("models: %w", err)
		}
		if err := s.copyInto(ctx, b.path, target); err != nil {
			return err
		}
		if !f.Verified {
			if err := s.record(e, f, b.sum, b.size, "import"); err != nil {
				return err
			}
		}
	}
	if _, err := s.Verify(ctx, e.Name); err != nil {
		return err
	}
	s.logger().Info("model imported", "model", e.Name, "files", len(e.Files))
	return nil
}

// copyInto copies a staged blob to target via target.part, synced and
// renamed, so a crash never leaves a half-written model file.
func (s *Store) copyInto(ctx context.Context, from, target string) error {
	in, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	defer in.Close()
	part := target + ".part"
	out, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	if _, err := copyCtx(ctx, out, in); err != nil {
		out.Close()
		os.Remove(part)
		return fmt.Errorf("models: copying into %s: %w", target, err)
	}
	if err := s.fsync(out); err != nil {
		out.Close()
		return fmt.Errorf("models: %w", err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("models: %w", err)
	}
	if err := os.Rename(part, target); err != nil {
		return fmt.Errorf("models: %w", err)
	}
	return s.syncDir(filepath.Dir(target))
}
