package secrets

import (
	"errors"
	"fmt"
	"os"
)

// WriteFile creates a temporary file with mode perm from the start (never
// briefly readable by others), syncs it and renames it over path.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("secrets: writing %s: %w", path, err)
	}
	if err := os.Chmod(tmp, perm); err != nil { // OpenFile's mode is masked by umask
		_ = os.Remove(tmp)
		return fmt.Errorf("secrets: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("secrets: %w", err)
	}
	return nil
}
