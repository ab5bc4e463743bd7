// Package models owns Izwi's model catalogue and the checks that stand
// between a model file on disk and a native runtime: every file is verified
// against a pinned SHA-256 (or, for the few files upstream publishes no hash
// for, against the hash recorded when it was first pulled or imported) before
// its path is handed out. It implements speech.ModelResolver for the engines,
// and pulls (HTTPS, resumable) and imports (directory or tarball, for
// air-gapped hosts) models. Only cmd/izwi and tests import it.
package models

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/izwi-speech/izwi/internal/netpolicy"
	"github.com/izwi-speech/izwi/internal/signing"
)

//go:embed catalog.json
var embeddedCatalog []byte

// embeddedSignature is catalog.json's minisign signature by the project key
// (`make catalog-sign` with IZWI_CATALOG_KEY_FILE writes it).
//
//go:embed catalog.json.minisig
var embeddedSignature []byte

// ErrCatalog means a catalogue file is malformed or breaks a rule.
var ErrCatalog = errors.New("models: invalid catalogue")

// maxCatalogBytes bounds what Parse reads; the real catalogue is ~30 KiB.
const maxCatalogBytes = 4 << 20

// Catalog is the declarative list of models Izwi knows how to verify.
type Catalog struct {
	Version int     `json:"version"`
	Models  []Entry `json:"models"`
}

// Entry is one model: its engine, family, files and declarative settings.
type Entry struct {
	Name        string   `json:"name"`
	Engine      string   `json:"engine"`
	Family      string   `json:"family"`
	Description string   `json:"description"`
	Licence     string   `json:"licence"`
	Languages   []string `json:"languages"`
	Files       []File   `json:"files"`
	// Meta holds settings the engine reads (model_type, language, ...),
	// checked against a per-family allow-list; never code or paths.
	Meta map[string]string `json:"meta,omitempty"`
	// Archive is the upstream release tarball, for `izwi models import`.
	Archive string `json:"archive,omitempty"`
	// SystemDir, when set, is where a distribution package installs the
	// model (pocketsphinx-en-us); such models are verified in place and
	// never pulled.
	SystemDir string `json:"system_dir,omitempty"`
	Notes     string `json:"notes,omitempty"`
	// Local marks an entry from the operator's local catalogue (WithLocal):
	// pinned by the operator, imported rather than pulled when it has no URL.
	Local bool `json:"local,omitempty"`
}

// File is one file of a model.
type File struct {
	Role string `json:"role"`
	// Path is relative to the model directory, slash-separated.
	Path string `json:"path"`
	URL  string `json:"url,omitempty"`
	// SHA256 and Size are pinned when Verified; Size may also be known for
	// an unverified file.
	SHA256   string `json:"sha256,omitempty"`
	Size     int64  `json:"size,omitempty"`
	Verified bool   `json:"verified"`
	// MaxSize bounds a download or import of a file whose size is unknown.
	MaxSize int64 `json:"max_size,omitempty"`
	// Source says where the hash came from, or why there is none.
	Source string `json:"source"`
}

// limit is the most bytes this file may have.
func (f File) limit() int64 {
	if f.Size > 0 {
		return f.Size
	}
	return f.MaxSize
}

// Default returns the catalogue embedded in the binary, once its signature
// by the project key (internal/signing) checks out: a catalogue edited
// without the maintainers' key is refused (ErrCatalog wrapping
// signing.ErrSignature), and so are the pins in it.
func Default() (*Catalog, error) {
	if _, err := VerifyCatalog(embeddedCatalog, embeddedSignature); err != nil {
		return nil, err
	}
	return Parse(embeddedCatalog)
}

// VerifyCatalog checks a catalogue's bytes against its minisign signature
// by the project key and reports which key signed it.
func VerifyCatalog(data, sig []byte) (signing.Verified, error) {
	v, err := signing.VerifyProject(data, sig)
	if err != nil {
		return v, fmt.Errorf("%w: catalogue signature: %w", ErrCatalog, err)
	}
	return v, nil
}

// EmbeddedSignature reports who signed the embedded catalogue.
func EmbeddedSignature() (signing.Verified, error) {
	return VerifyCatalog(embeddedCatalog, embeddedSignature)
}

// Parse decodes and validates a catalogue. Unknown fields are rejected so a
// typo cannot silently drop a pin.
func Parse(data []byte) (*Catalog, error) {
	c, err := decodeCatalog(data)
	if err != nil {
		return nil, err
	}
	for _, e := range c.Models {
		if e.Local {
			return nil, fmt.Errorf("%w: model %q: local is set by a local catalogue, not written in one", ErrCatalog, e.Name)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// decodeCatalog decodes a catalogue strictly: unknown fields and trailing
// data are errors, so a typo cannot silently drop a pin.
func decodeCatalog(data []byte) (*Catalog, error) {
	if len(data) > maxCatalogBytes {
		return nil, fmt.Errorf("%w: %d bytes is over the %d-byte limit", ErrCatalog, len(data), maxCatalogBytes)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var c Catalog
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCatalog, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the catalogue object", ErrCatalog)
	}
	return &c, nil
}

// Lookup returns the entry called name.
func (c *Catalog) Lookup(name string) (Entry, bool) {
	for _, e := range c.Models {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// Names lists every model name, sorted.
func (c *Catalog) Names() []string {
	out := make([]string, 0, len(c.Models))
	for _, e := range c.Models {
		out = append(out, e.Name)
	}
	sort.Strings(out)
	return out
}

var (
	nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,99}$`)
	hexRE  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	langRE = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$`)
)

// Validate checks every rule a catalogue must keep.
func (c *Catalog) Validate() error {
	if c.Version != 1 {
		return fmt.Errorf("%w: version %d, want 1", ErrCatalog, c.Version)
	}
	if len(c.Models) == 0 {
		return fmt.Errorf("%w: no models", ErrCatalog)
	}
	seen := map[string]bool{}
	for _, e := range c.Models {
		if err := e.Validate(); err != nil {
			return err
		}
		if seen[e.Name] {
			return fmt.Errorf("%w: model %q listed twice", ErrCatalog, e.Name)
		}
		seen[e.Name] = true
	}
	return nil
}

// Validate checks one entry: name, engine and family, files, roles and meta.
func (e Entry) Validate() error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: model %q: %s", ErrCatalog, e.Name, fmt.Sprintf(format, args...))
	}
	if !nameRE.MatchString(e.Name) {
		return fail("name must match %s", nameRE)
	}
	fam, ok := lookupFamily(e.Family)
	if !ok {
		return fail("unknown family %q", e.Family)
	}
	if e.Engine != fam.engine {
		return fail("family %q needs engine %q, not %q", e.Family, fam.engine, e.Engine)
	}
	if e.Licence == "" || e.Description == "" {
		return fail("licence and description are required")
	}
	for _, l := range e.Languages {
		if !langRE.MatchString(l) {
			return fail("bad language tag %q", l)
		}
	}
	if e.SystemDir != "" && (e.Engine != "pocketsphinx" || !path.IsAbs(e.SystemDir) || path.Clean(e.SystemDir) != e.SystemDir) {
		return fail("system_dir is only for pocketsphinx and must be a clean absolute path")
	}
	if e.Archive != "" {
		if err := checkURL(e.Archive); err != nil {
			return fail("archive: %v", err)
		}
	}
	if len(e.Files) == 0 {
		return fail("no files")
	}
	roles, paths := map[string]bool{}, map[string]bool{}
	for _, f := range e.Files {
		if err := f.validate(e, fam); err != nil {
			return fail("file %q: %v", f.Path, err)
		}
		if roles[f.Role] || paths[f.Path] {
			return fail("role %q or path %q repeated", f.Role, f.Path)
		}
		roles[f.Role], paths[f.Path] = true, true
	}
	for _, r := range fam.required {
		if !roles[r] {
			return fail("family %q needs role %q", e.Family, r)
		}
	}
	if err := validateMeta(e.Family, e.Meta); err != nil {
		return fail("%v", err)
	}
	return nil
}

func (f File) validate(e Entry, fam family) error {
	if err := checkRelPath(f.Path); err != nil {
		return err
	}
	if !fam.allowsRole(f.Role) {
		return fmt.Errorf("role %q is not one family %q uses", f.Role, e.Family)
	}
	if f.Source == "" {
		return errors.New("source is required (where the hash came from, or why there is none)")
	}
	if f.Size < 0 || f.MaxSize < 0 {
		return errors.New("negative size")
	}
	if f.Verified {
		if !hexRE.MatchString(f.SHA256) {
			return errors.New("a verified file needs a 64-hex-digit lower-case sha256")
		}
		if f.Size <= 0 {
			return errors.New("a verified file needs its size")
		}
	} else {
		if f.SHA256 != "" {
			return errors.New("an unverified file must not carry a sha256 (pin it and set verified)")
		}
		if f.limit() <= 0 {
			return errors.New("an unverified file needs size or max_size to bound downloads")
		}
	}
	if e.SystemDir == "" {
		if e.Local && f.URL == "" {
			return nil // imported, never pulled
		}
		if err := checkURL(f.URL); err != nil {
			return err
		}
	} else if f.URL != "" {
		return errors.New("a system_dir model is installed by its package, not downloaded")
	}
	return nil
}

// checkRelPath accepts only clean, relative, slash-separated paths that stay
// inside the model directory.
func checkRelPath(p string) error {
	switch {
	case p == "" || len(p) > 255:
		return errors.New("path must be 1-255 bytes")
	case strings.ContainsAny(p, "\\\x00:"):
		return errors.New("path has a forbidden character")
	case path.IsAbs(p) || path.Clean(p) != p || p == "." || strings.HasPrefix(p, "../") || p == "..":
		return errors.New("path must be clean, relative and inside the model directory")
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." || strings.HasPrefix(seg, ".") {
			return errors.New("path segments must not start with a dot")
		}
	}
	return nil
}

// checkURL accepts https URLs, and plain http only to a loopback host (tests).
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return fmt.Errorf("bad url %q", raw)
	}
	switch {
	case u.Scheme == "https" && u.Host != "":
		return nil
	case u.Scheme == "http" && netpolicy.LoopbackHost(u.Hostname()):
		return nil
	}
	return fmt.Errorf("url %q must be https (plain http only to loopback)", raw)
}
