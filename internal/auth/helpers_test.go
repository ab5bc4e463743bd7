package auth

import (
	"io/fs"
	"os"
)

func chmod(path string, m fs.FileMode) error { return os.Chmod(path, m) }
