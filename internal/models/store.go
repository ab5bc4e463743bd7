package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

// Store is a directory of installed models checked against a Catalog.
// Models live under Dir/<name>/, except those a distribution package
// installs (Entry.SystemDir), which are verified where they are.
//
// The zero value is not usable: set Dir and Catalog. HTTPClient and Logger
// default to a client with timeouts and a discarding logger.
type Store struct {
	Dir        string
	Catalog    *Catalog
	HTTPClient *http.Client
	Logger     *slog.Logger

	// attempts and backoff override the download retry policy (tests);
	// noSync skips fsync where only speed matters (fuzzing).
	attempts int
	backoff  time.Duration
	noSync   bool
}

var _ speech.ModelResolver = (*Store)(nil)

// lockName is the trust-on-first-use record beside each model: the SHA-256
// and size that pull or import saw for files upstream publishes no hash for.
const lockName = ".izwi-lock.json"

type lockFile struct {
	Model string               `json:"model"`
	Files map[string]lockEntry `json:"files"`
}

type lockEntry struct {
	SHA256     string    `json:"sha256"`
	Size       int64     `json:"size"`
	Origin     string    `json:"origin"` // "pull" or "import"
	RecordedAt time.Time `json:"recorded_at"`
}

func (s *Store) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *Store) entry(name string) (Entry, error) {
	if s.Catalog == nil {
		return Entry{}, errors.New("models: store has no catalogue")
	}
	e, ok := s.Catalog.Lookup(name)
	if !ok {
		return Entry{}, fmt.Errorf("%w: model %q is not in the catalogue (have %v)", speech.ErrModel, name, s.Catalog.Names())
	}
	return e, nil
}

// modelDir is where name's files live.
func (s *Store) modelDir(e Entry) string {
	if e.SystemDir != "" {
		return filepath.FromSlash(e.SystemDir)
	}
	return filepath.Join(s.Dir, e.Name)
}

func (s *Store) filePath(e Entry, f File) string {
	return filepath.Join(s.modelDir(e), filepath.FromSlash(f.Path))
}

// readLock returns the model's trust-on-first-use record; a missing file is
// an empty record.
func (s *Store) readLock(e Entry) (lockFile, error) {
	lf := lockFile{Model: e.Name, Files: map[string]lockEntry{}}
	if e.SystemDir != "" {
		return lf, nil
	}
	data, err := os.ReadFile(filepath.Join(s.modelDir(e), lockName))
	if errors.Is(err, fs.ErrNotExist) {
		return lf, nil
	}
	if err != nil {
		return lf, fmt.Errorf("models: reading lock for %s: %w", e.Name, err)
	}
	if len(data) > 1<<20 {
		return lf, fmt.Errorf("models: lock for %s is implausibly large", e.Name)
	}
	if err := json.Unmarshal(data, &lf); err != nil || lf.Model != e.Name {
		return lf, fmt.Errorf("models: lock for %s is unreadable or for another model: %v", e.Name, err)
	}
	if lf.Files == nil {
		lf.Files = map[string]lockEntry{}
	}
	return lf, nil
}

// record stores the hash seen for an unpinned file (trust on first use).
func (s *Store) record(e Entry, f File, sum string, size int64, origin string) error {
	lf, err := s.readLock(e)
	if err != nil {
		// A damaged lock is replaced: the caller has just verified sizes
		// and is recording what it saw now.
		lf = lockFile{Model: e.Name, Files: map[string]lockEntry{}}
	}
	lf.Files[f.Path] = lockEntry{SHA256: sum, Size: size, Origin: origin, RecordedAt: time.Now().UTC()}
	data, err := json.MarshalIndent(lf, "", "  ")
	if err != nil {
		return fmt.Errorf("models: encoding lock: %w", err)
	}
	return s.writeFileAtomic(filepath.Join(s.modelDir(e), lockName), data)
}

// writeFileAtomic writes data beside path, syncs it and renames it into place.
func (s *Store) writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("models: writing %s: %w", path, err)
	}
	if err := s.fsync(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("models: syncing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("models: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("models: %w", err)
	}
	return s.syncDir(filepath.Dir(path))
}

// fsync flushes f to stable storage unless durability is off (fuzzing).
func (s *Store) fsync(f *os.File) error {
	if s.noSync {
		return nil
	}
	return f.Sync()
}

// syncDir makes a rename durable.
func (s *Store) syncDir(dir string) error {
	if s.noSync {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("models: syncing %s: %w", dir, err)
	}
	return nil
}
