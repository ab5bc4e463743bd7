//go:build soak

package main

import "testing"

// TestSoakKill9 is `make soak`: fifty kill -9 cycles (see soakKill9).
func TestSoakKill9(t *testing.T) { soakKill9(t, 50) }
