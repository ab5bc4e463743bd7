//go:build soak

package chain

import "testing"

// TestSoakFailover is the loop: every fault 20 times (`make soak`).
func TestSoakFailover(t *testing.T) { failover(t, 20) }
