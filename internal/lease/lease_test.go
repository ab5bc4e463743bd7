package lease_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/bus"
	"github.com/izwi-speech/izwi/internal/lease"
)

// newBus is an embedded NATS server with JetStream, closed after t.
func newBus(t *testing.T) *bus.Bus {
	t.Helper()
	b, err := bus.Start(t.Context(), bus.Config{JetStream: true, StoreDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func open(t *testing.T, b *bus.Bus, node string, ttl time.Duration) *lease.Table {
	t.Helper()
	tb, err := lease.Open(t.Context(), b.Conn(), lease.Config{Bucket: "test_leases", TTL: ttl, Node: node})
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

// waitFor polls f until it is true or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, f func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !f() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// The lease contract: one holder at a time; renewal keeps it past its
// TTL; a holder that stops renewing loses it to another node, and learns
// so (ErrLost) when it next renews; release hands it over at once.
func TestLeaseConformance(t *testing.T) {
	b := newBus(t)
	const ttl = 600 * time.Millisecond
	a, c := open(t, b, "node-a", ttl), open(t, b, "node-c", ttl)
	ctx := t.Context()

	la, err := a.Claim(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Claim(ctx, "s1"); !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("second claim: %v, want ErrHeld", err)
	}
	if h, err := c.Holder(ctx, "s1"); err != nil || h != "node-a" {
		t.Fatalf("holder %q %v", h, err)
	}
	// Renewed for three TTLs, it stays a's.
	for end := time.Now().Add(3 * ttl); time.Now().Before(end); time.Sleep(ttl / 4) {
		if err := la.Renew(ctx); err != nil {
			t.Fatalf("renew: %v", err)
		}
		if _, err := c.Claim(ctx, "s1"); !errors.Is(err, lease.ErrHeld) {
			t.Fatalf("claim of a renewed lease: %v", err)
		}
	}
	// a stops renewing: c gets it after the TTL, and a learns it lost it.
	var lc *lease.Lease
	waitFor(t, 10*ttl, "claim after expiry", func() bool {
		lc, err = c.Claim(ctx, "s1")
		return err == nil
	})
	if err := la.Renew(ctx); !errors.Is(err, lease.ErrLost) {
		t.Fatalf("renew of an expired lease: %v, want ErrLost", err)
	}
	if h, _ := a.Holder(ctx, "s1"); h != "node-c" {
		t.Fatalf("holder after takeover %q", h)
	}
	// Release by the loser changes nothing; by the holder frees it at once.
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if h, _ := a.Holder(ctx, "s1"); h != "node-c" {
		t.Fatalf("a stale release freed the lease (holder %q)", h)
	}
	if err := lc.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if h, _ := a.Holder(ctx, "s1"); h != "" {
		t.Fatalf("holder after release %q", h)
	}
	if _, err := a.Claim(ctx, "s1"); err != nil {
		t.Fatalf("claim after release: %v", err)
	}
	// Leases are per name.
	if _, err := c.Claim(ctx, "s2"); err != nil {
		t.Fatalf("claim of another name: %v", err)
	}
}

// Run: exactly one of two processes runs the job at a time; when the
// holder stops, the other takes the job up.
func TestRunIsASingleton(t *testing.T) {
	b := newBus(t)
	const ttl = 400 * time.Millisecond
	var running, most, runs atomic.Int32
	job := func(ctx context.Context) {
		runs.Add(1)
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-ctx.Done()
		running.Add(-1)
	}
	ctxA, stopA := context.WithCancel(t.Context())
	ctxB, stopB := context.WithCancel(t.Context())
	defer stopB()
	var wg sync.WaitGroup
	for _, r := range []struct {
		tb  *lease.Table
		ctx context.Context
	}{{open(t, b, "a", ttl), ctxA}, {open(t, b, "b", ttl), ctxB}} {
		wg.Add(1)
		go func() { defer wg.Done(); r.tb.Run(r.ctx, "job", job) }()
	}
	waitFor(t, 5*time.Second, "the job runs", func() bool { return running.Load() == 1 })
	time.Sleep(3 * ttl) // both keep trying: still one
	if most.Load() != 1 || runs.Load() != 1 {
		t.Fatalf("%d ran at once, %d runs", most.Load(), runs.Load())
	}
	stopA()
	stopB()
	wg.Wait()
	ctxA, stopA = context.WithCancel(t.Context())
	defer stopA()
	ctxB, stopB = context.WithCancel(t.Context())
	a, c := open(t, b, "a", ttl), open(t, b, "c", ttl)
	wg.Add(2)
	go func() { defer wg.Done(); a.Run(ctxA, "job2", job) }()
	waitFor(t, 5*time.Second, "a runs job2", func() bool { return running.Load() == 1 })
	go func() { defer wg.Done(); c.Run(ctxB, "job2", job) }()
	before := runs.Load()
	stopA() // a releases: c takes the job up
	waitFor(t, 5*time.Second, "c takes job2 up", func() bool { return runs.Load() == before+1 && running.Load() == 1 })
	stopB()
	wg.Wait()
	if most.Load() != 1 {
		t.Fatalf("%d ran at once", most.Load())
	}
}
