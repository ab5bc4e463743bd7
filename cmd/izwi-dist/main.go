// Command izwi-dist is the release tool behind `make dist`: it writes
// reproducible tarballs, the daemonless OCI image, minisign signatures and
// the dependency licence list. It is a build tool, never shipped: the izwi
// binary does not link it (internal/archtest keeps the image builder out).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"time"
)

type tool struct {
	summary string
	run     func(ctx context.Context, args []string) error
}

var tools = map[string]tool{
	"keygen":       {"write a new unencrypted minisign key pair: -pub FILE -key FILE", runKeygen},
	"sign":         {"sign files with $IZWI_SIGNING_KEY_FILE (or -key): FILE.minisig beside each", runSign},
	"tar":          {"write a reproducible .tar.gz of a directory: -o OUT -prefix DIR SRC", runTar},
	"oci":          {"build the OCI image layout tarball from a staged root: -o OUT -rootfs DIR -sbom F", runOCI},
	"oci-check":    {"read an OCI layout tar back and check user, entrypoint, volumes, no shell, SBOM", runOCICheck},
	"sandbox-exec": {"run a command as -uid/-gid with -mdwe (the unit's MemoryDenyWriteExecute), for the package test", runSandboxExec},
	"licences":     {"list the licence of every Go module linked into ./cmd/izwi", runLicences},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if len(os.Args) < 2 || tools[os.Args[1]].run == nil {
		names := make([]string, 0, len(tools))
		for n := range tools {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintln(os.Stderr, "usage: izwi-dist TOOL [flags]")
		for _, n := range names {
			fmt.Fprintf(os.Stderr, "  %-9s %s\n", n, tools[n].summary)
		}
		os.Exit(2)
	}
	if err := tools[os.Args[1]].run(ctx, os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "izwi-dist %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// sourceDate is the build's fixed timestamp: $SOURCE_DATE_EPOCH (the commit
// time, set by the Makefile), so every artifact's dates are reproducible.
func sourceDate() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH is not set (make dist sets it to the commit time)")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", s, err)
	}
	return time.Unix(n, 0).UTC(), nil
}
