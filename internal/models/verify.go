package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/izwi-speech/izwi/internal/speech"
)

// FileState is what verification found for one file.
type FileState string

// File states, from good to bad.
const (
	FileOK         FileState = "ok"         // matches its pinned sha256
	FileUnpinned   FileState = "unpinned"   // no pin; matches the hash recorded at pull/import
	FileUnrecorded FileState = "unrecorded" // no pin and no record: cannot be trusted
	FileMissing    FileState = "missing"
	FileCorrupt    FileState = "corrupt" // wrong size or hash, or not a regular file
)

// ModelState summarises a model's files.
type ModelState string

// Model states.
const (
	ModelInstalled ModelState = "installed" // every file matches its pin
	ModelUnpinned  ModelState = "unpinned"  // installed, some files trusted on first use
	ModelMissing   ModelState = "missing"   // no file present
	ModelPartial   ModelState = "partial"   // some files missing, none bad
	ModelCorrupt   ModelState = "corrupt"   // a file fails verification
)

// FileStatus reports one file.
type FileStatus struct {
	Role   string    `json:"role"`
	Path   string    `json:"path"`
	State  FileState `json:"state"`
	Pinned bool      `json:"pinned"`
	Want   string    `json:"want_sha256,omitempty"`
	Got    string    `json:"got_sha256,omitempty"`
	Size   int64     `json:"size"`
	Detail string    `json:"detail,omitempty"`
}

// Status reports one model.
type Status struct {
	Name   string       `json:"name"`
	Engine string       `json:"engine"`
	Family string       `json:"family"`
	Dir    string       `json:"dir"`
	State  ModelState   `json:"state"`
	Files  []FileStatus `json:"files"`
}

// hashFile streams path through SHA-256, reading at most limit+1 bytes, and
// checks ctx between chunks so a huge file cannot hold up cancellation.
func hashFile(ctx context.Context, path string, limit int64) (sum string, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	size, err = copyCtx(ctx, h, io.LimitReader(f, limit+1))
	if err != nil {
		return "", size, err
	}
	return hex.EncodeToString(h.Sum(nil)), size, nil
}

// copyCtx is io.Copy that stops when ctx is done.
func copyCtx(ctx context.Context, dst io.Writer, src io.Reader) (int64, error) {
	buf := make([]byte, 1<<20)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		r, rerr := src.Read(buf)
		if r > 0 {
			w, werr := dst.Write(buf[:r])
			n += int64(w)
			if werr != nil {
				return n, werr
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12] + "…"
	}
	return sum
}

// checkFile verifies one installed file against its pin or its record.
func (s *Store) checkFile(ctx context.Context, e Entry, f File, lock lockFile) (FileStatus, error) {
	st := FileStatus{Role: f.Role, Path: f.Path, Pinned: f.Verified, Want: f.SHA256}
	p := s.filePath(e, f)
	info, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		st.State = FileMissing
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("models: %s: %w", f.Path, err)
	}
	if !info.Mode().IsRegular() {
		st.State, st.Detail = FileCorrupt, "not a regular file"
		return st, nil
	}
	st.Size = info.Size()
	rec, recorded := lock.Files[f.Path]
	if !f.Verified && recorded {
		st.Want = rec.SHA256
	}
	wantSize := f.Size
	if !f.Verified && recorded {
		wantSize = rec.Size
	}
	if wantSize > 0 && info.Size() != wantSize {
		st.State = FileCorrupt
		st.Detail = fmt.Sprintf("size mismatch (want %d bytes, got %d)", wantSize, info.Size())
		return st, nil
	}
	if lim := f.limit(); lim > 0 && info.Size() > lim {
		st.State, st.Detail = FileCorrupt, fmt.Sprintf("%d bytes is over the %d-byte bound", info.Size(), lim)
		return st, nil
	}
	sum, n, err := hashFile(ctx, p, info.Size())
	if err != nil {
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		return st, fmt.Errorf("models: hashing %s: %w", f.Path, err)
	}
	st.Got = sum
	switch {
	case n != info.Size():
		st.State, st.Detail = FileCorrupt, "file changed while it was read"
	case f.Verified && sum == f.SHA256:
		st.State = FileOK
	case f.Verified || recorded:
		if sum == st.Want {
			st.State = FileUnpinned
		} else {
			st.State = FileCorrupt
			st.Detail = fmt.Sprintf("sha256 mismatch (want %s, got %s)", short(st.Want), short(sum))
		}
	default:
		st.State = FileUnrecorded
		st.Detail = "no pinned sha256 and no recorded one"
	}
	return st, nil
}

// Verify checks every file of name against its pinned (or recorded) SHA-256
// and returns what it found. The error wraps speech.ErrModel when the model
// is not fully installed and intact; it names the first bad file.
func (s *Store) Verify(ctx context.Context, name string) (Status, error) {
	e, err := s.entry(name)
	if err != nil {
		return Status{Name: name, State: ModelMissing}, err
	}
	st := Status{Name: e.Name, Engine: e.Engine, Family: e.Family, Dir: s.modelDir(e)}
	lock, lockErr := s.readLock(e)
	var missing, bad, unpinned int
	var firstBad *FileStatus
	for _, f := range e.Files {
		fst, err := s.checkFile(ctx, e, f, lock)
		if err != nil {
			return st, err
		}
		st.Files = append(st.Files, fst)
		switch fst.State {
		case FileMissing:
			missing++
		case FileUnpinned:
			unpinned++
		case FileCorrupt, FileUnrecorded:
			bad++
			if firstBad == nil {
				firstBad = &st.Files[len(st.Files)-1]
			}
		}
	}
	switch {
	case bad > 0:
		st.State = ModelCorrupt
	case missing == len(e.Files):
		st.State = ModelMissing
	case missing > 0:
		st.State = ModelPartial
	case unpinned > 0:
		st.State = ModelUnpinned
	default:
		st.State = ModelInstalled
	}
	fix := fmt.Sprintf("run `izwi models pull %s`", e.Name)
	if e.SystemDir != "" {
		fix = "reinstall it with `apt-get install --reinstall pocketsphinx-en-us`"
	}
	switch {
	case firstBad != nil && firstBad.State == FileUnrecorded:
		return st, fmt.Errorf("%w: model %s: %s: no pinned sha256 and none recorded (lock %v); %s to record one",
			speech.ErrModel, e.Name, firstBad.Path, lockErr, fix)
	case firstBad != nil:
		return st, fmt.Errorf("%w: model %s: %s: %s: file is corrupt or tampered; %s",
			speech.ErrModel, e.Name, firstBad.Path, firstBad.Detail, fix)
	case missing > 0:
		var names []string
		for _, f := range st.Files {
			if f.State == FileMissing {
				names = append(names, f.Path)
			}
		}
		return st, fmt.Errorf("%w: model %s is not installed in %s (missing %s); %s",
			speech.ErrModel, e.Name, st.Dir, strings.Join(names, ", "), fix)
	}
	return st, nil
}

// Resolve verifies name and returns its files by role. Nothing unverified is
// returned: callers may hand these paths to native runtimes.
func (s *Store) Resolve(ctx context.Context, name string) (speech.ResolvedModel, error) {
	st, err := s.Verify(ctx, name)
	if err != nil {
		return speech.ResolvedModel{}, err
	}
	e, _ := s.entry(name)
	// Absolute paths: native runtimes may run after the working directory
	// has changed, and logs should say exactly which file was loaded.
	dir, err := filepath.Abs(st.Dir)
	if err != nil {
		return speech.ResolvedModel{}, fmt.Errorf("%w: model %s: %w", speech.ErrModel, e.Name, err)
	}
	m := speech.ResolvedModel{Name: e.Name, Family: e.Family, Dir: dir,
		Files: make(map[string]speech.ModelFile, len(e.Files)), Meta: maps.Clone(e.Meta)}
	if m.Meta == nil {
		m.Meta = map[string]string{}
	}
	for i, f := range e.Files {
		m.Files[f.Role] = speech.ModelFile{Path: filepath.Join(dir, filepath.FromSlash(f.Path)), SHA256: st.Files[i].Got, Size: st.Files[i].Size}
	}
	s.logger().Debug("model verified", "model", e.Name, "files", len(e.Files), "state", string(st.State))
	return m, nil
}

// List verifies every catalogued model. It hashes every installed file, so
// it reads every installed byte; it stops early if ctx is cancelled.
func (s *Store) List(ctx context.Context) []Status {
	var out []Status
	for _, name := range s.Catalog.Names() {
		if ctx.Err() != nil {
			break
		}
		st, _ := s.Verify(ctx, name)
		out = append(out, st)
	}
	return out
}
