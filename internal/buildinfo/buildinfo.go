// Package buildinfo holds the version and commit stamped into the binary at
// link time (see Makefile LDFLAGS). The two variables are written only by the
// linker; nothing assigns them at run time.
package buildinfo

// Version and Commit are set with -ldflags -X; "dev"/"unknown" otherwise.
var (
	Version = "dev"
	Commit  = "unknown"
)
