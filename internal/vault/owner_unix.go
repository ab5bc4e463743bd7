//go:build unix

package vault

import (
	"io/fs"
	"syscall"
)

// ownerOf returns the file's owner uid where the platform has one.
func ownerOf(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
