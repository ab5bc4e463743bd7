// Package leaktest fails a test binary whose goroutines outlive its tests:
// a package's TestMain calls Main with the stack fragments that identify its
// own goroutines (its import path, an HTTP test server's connections, ...).
// Only tests import it.
package leaktest

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// grace is how long goroutines may take to finish after the last test:
// closed servers and clients wind down asynchronously.
const grace = 5 * time.Second

// Main runs m and exits non-zero if, after a passing run, goroutines whose
// stacks contain any of patterns are still alive once the grace period ends.
func Main(m *testing.M, patterns ...string) {
	os.Exit(Check(m.Run(), patterns...))
}

// Check is Main's leak check for a TestMain that runs the tests itself
// (storetest.Main): it turns a passing code into a failing one when a
// goroutine matching patterns outlived the tests.
func Check(code int, patterns ...string) int {
	if code == 0 {
		if leaked := Leaked(grace, patterns...); leaked != "" {
			fmt.Fprintln(os.Stderr, "leaked goroutines:\n"+leaked)
			code = 1
		}
	}
	return code
}

// Leaked polls until no goroutine matches patterns or wait passes, and
// returns the matching stacks still alive then ("" if none).
func Leaked(wait time.Duration, patterns ...string) string {
	deadline := time.Now().Add(wait)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "leaktest.Leaked") {
				continue
			}
			for _, p := range patterns {
				if strings.Contains(g, p) {
					leaked = append(leaked, g)
					break
				}
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
