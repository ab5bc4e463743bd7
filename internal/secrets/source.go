package secrets

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Errors callers may test for with errors.Is.
var (
	// ErrNotSet means no source holds the secret.
	ErrNotSet = errors.New("secrets: not set")
	// ErrLoosePermissions means a secret file is readable (or writable) by
	// its group or by others.
	ErrLoosePermissions = errors.New("secrets: file permissions too loose")
)

// MaxFileBytes bounds what a secret file may hold.
const MaxFileBytes = 64 << 10

// CredentialsDirEnv is the variable systemd sets for a unit with
// LoadCredential= or SetCredential=.
const CredentialsDirEnv = "CREDENTIALS_DIRECTORY"

// Origin says where a secret was found, never what it is: "env:IZWI_X",
// "file:/path" or "credential:name".
type Origin string

// Source reads named secrets. A name is lower-case snake case such as
// "metrics_scrape_token"; it is looked up, in order, as
//
//	IZWI_METRICS_SCRAPE_TOKEN       the value itself
//	IZWI_METRICS_SCRAPE_TOKEN_FILE  a file holding it
//	$CREDENTIALS_DIRECTORY/metrics_scrape_token  a systemd credential
//
// Setting both of the first two is refused as ambiguous.
type Source struct {
	// LookupEnv reads the environment: os.LookupEnv in main, a map in tests.
	// Nil reads nothing.
	LookupEnv func(string) (string, bool)
}

// EnvName is the variable that holds name's value.
func EnvName(name string) string { return "IZWI_" + strings.ToUpper(name) }

// Lookup finds the secret called name. It returns ErrNotSet (wrapped) when
// no source has it, and refuses files that are group- or world-accessible.
func (s Source) Lookup(name string) (Secret, Origin, error) {
	if !validName(name) {
		return Secret{}, "", fmt.Errorf("secrets: invalid name %q: want lower-case letters, digits and _", name)
	}
	env := func(k string) string {
		if s.LookupEnv == nil {
			return ""
		}
		v, _ := s.LookupEnv(k)
		return v
	}
	direct, file := env(EnvName(name)), env(EnvName(name)+"_FILE")
	switch {
	case direct != "" && file != "":
		return Secret{}, "", fmt.Errorf("secrets: both %s and %s_FILE are set; keep one", EnvName(name), EnvName(name))
	case direct != "":
		v := trim(direct)
		if v == "" {
			return Secret{}, "", fmt.Errorf("secrets: %s is blank", EnvName(name))
		}
		return New(v), Origin("env:" + EnvName(name)), nil
	case file != "":
		sec, err := ReadFile(file)
		return sec, Origin("file:" + file), err
	}
	if dir := env(CredentialsDirEnv); dir != "" {
		path := filepath.Join(dir, name)
		if _, err := os.Lstat(path); err == nil {
			sec, err := ReadFile(path)
			return sec, Origin("credential:" + name), err
		}
	}
	return Secret{}, "", fmt.Errorf("%w: %s (set %s, %s_FILE or a systemd credential %q)",
		ErrNotSet, name, EnvName(name), EnvName(name), name)
}

// Resolve reads the secret from path when a config key names a file, and
// looks name up otherwise. An empty result with ErrNotSet means "not
// configured", which callers may treat as "feature off".
func (s Source) Resolve(name, path string) (Secret, Origin, error) {
	if path != "" {
		sec, err := ReadFile(path)
		return sec, Origin("file:" + path), err
	}
	return s.Lookup(name)
}

// ReadFile reads a secret from path: a regular file of at most MaxFileBytes,
// accessible only by its owner (0600 or 0400), with trailing newlines trimmed.
// Permissions are checked on the opened file, so a swap between check and
// read cannot slip a different file in.
func ReadFile(path string) (Secret, error) {
	f, err := os.Open(path)
	if err != nil {
		return Secret{}, fmt.Errorf("secrets: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Secret{}, fmt.Errorf("secrets: %w", err)
	}
	if err := checkInfo(path, fi); err != nil {
		return Secret{}, err
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return Secret{}, fmt.Errorf("secrets: reading %s: %w", path, err)
	}
	if len(b) > MaxFileBytes {
		return Secret{}, fmt.Errorf("secrets: %s is larger than %d bytes; is it the right file?", path, MaxFileBytes)
	}
	v := trim(string(b))
	if v == "" {
		return Secret{}, fmt.Errorf("secrets: %s is empty", path)
	}
	return New(v), nil
}

// CheckFile reports whether path is a regular file that only its owner may
// access, without reading it (for `izwi doctor`). The error wraps
// ErrLoosePermissions when the mode is too open.
func CheckFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	return checkInfo(path, fi)
}

func checkInfo(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("secrets: %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %#o, so other users can read it; run `chmod 600 %s` "+
			"(Docker or Kubernetes secrets: set the mode to 0400)", ErrLoosePermissions, path, perm, path)
	}
	return nil
}

// trim drops trailing newlines (echo and editors add one) but keeps other
// whitespace, which may be part of a passphrase.
func trim(s string) string { return strings.TrimRight(s, "\r\n") }

func validName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
