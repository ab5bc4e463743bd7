// Package testenv owns the one switch that decides what a test does when a
// tool or data set it needs is missing from the machine: with the switch on
// (`make test` turns it on, and so does CI=true, because `.ci/run` calls
// `make test`) the test fails loudly; with it off (a bare `go test` on a
// developer's laptop) it skips with a message saying what to install.
// There is no other place in the suite that makes this choice. Only tests
// import it.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// StrictEnv is the switch. `make test` exports IZWI_TEST_STRICT=1.
const StrictEnv = "IZWI_TEST_STRICT"

// Strict reports whether a missing dependency must fail the test: when
// IZWI_TEST_STRICT=1 (set by `make test`) or CI=true.
func Strict() bool {
	return os.Getenv(StrictEnv) == "1" || os.Getenv("CI") == "true"
}

// Missing reports that something t needs is not on this machine: it fails t
// when Strict, and skips it otherwise. The message should say how to
// install it.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Strict() {
		t.Fatalf("%s (a missing dependency fails under `make test` and CI=true: %s=1)", msg, StrictEnv)
	}
	t.Skipf("%s (skipped: not running under `make test`)", msg)
}

// LookPath returns the path of the command name, or reports it Missing with
// install as the way to get it (e.g. "apt-get install -y sox").
func LookPath(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "command %s not found (%s)", name, install)
	}
	return p
}

// Exists returns path if it exists, or reports it Missing with install as
// the way to get it.
func Exists(t testing.TB, path, install string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		Missing(t, "%s not found (%s)", path, install)
	}
	return path
}
