//go:build unix

package models

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockModel takes an exclusive, non-blocking advisory lock on dir so two
// pulls or imports of one model cannot interleave their writes. The kernel
// drops the lock if the process dies, so no stale lock is ever left.
func lockModel(dir, name string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, ".izwi-busy"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("models: another pull or import of %s is running", name)
		}
		return nil, fmt.Errorf("models: locking %s: %w", name, err)
	}
	return func() { f.Close() }, nil
}
