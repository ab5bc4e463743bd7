package limit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/store"
)

// Two limiters on one database and one request rate (1/s, burst 5): on
// PostgreSQL, which gateways share, of 100 parallel requests exactly the
// burst passes, and after two seconds two more; a refused request gives its
// local token back, so the limiter that lost the race still admits the
// next shared token. On SQLite (one gateway) each process keeps its own
// bucket, as documented: twice the burst.
func TestRequestRateSharedAcrossProcesses(t *testing.T) {
	a, b, clock := twoProcesses(t, Limits{RPS: 1, Burst: 5})
	shared := a.db.Dialect() == store.Postgres
	allow := func(n int) int64 { return allowRace(t, n, a, b) }
	want := int64(10)
	if shared {
		want = 5
	}
	if n := allow(100); n != want {
		t.Fatalf("%d of 100 passed at once; want %d (shared %v)", n, want, shared)
	}
	clock.Advance(2 * time.Second)
	want = 4
	if shared {
		want = 2
	}
	if n := allow(100); n != want {
		t.Fatalf("%d of 100 passed two seconds later; want %d (shared %v)", n, want, shared)
	}
	if !shared {
		return
	}
	// Every local bucket got its refused tokens back: after one more
	// second either limiter alone takes the one shared token.
	clock.Advance(time.Second)
	if err := b.Allow(context.Background(), key("k")); err != nil {
		t.Fatalf("b after a refill: %v", err)
	}
	if err := a.Allow(context.Background(), key("k")); err == nil {
		t.Fatal("a took a second token in the same second")
	}
}

// LocalRate keeps rates per process on PostgreSQL too.
func TestLocalRateOptOut(t *testing.T) {
	db := openStore(t, "")
	l := newLimiter(t, Options{Store: db, Now: newClock(noon).Now, Defaults: Limits{RPS: 1, Burst: 1}, LocalRate: true})
	if l.sharedRate() {
		t.Fatal("LocalRate still counts in the database")
	}
	var n int
	if err := db.QueryRowContext(context.Background(), "SELECT count(*) FROM limit_rate_buckets").Scan(&n); err != nil || n != 0 {
		t.Fatalf("buckets %d, %v", n, err)
	}
	if err := l.Allow(context.Background(), key("k")); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(context.Background(), "SELECT count(*) FROM limit_rate_buckets").Scan(&n); err != nil || n != 0 {
		t.Fatalf("buckets %d after a request, %v", n, err)
	}
}

// allowRace runs n Allow calls in parallel, alternately on a and b, and
// counts those that passed; any error but an rps refusal fails t.
func allowRace(t *testing.T, n int, a, b *Limiter) int64 {
	passed, _ := race(t, n, a, b, "rps", func(l *Limiter) error { return l.Allow(context.Background(), key("k")) })
	return passed
}

// A fast key (100/s, burst 40) is taken from the shared bucket ten tokens
// at a time (leaseSize), yet of 200 parallel requests over two processes
// exactly the burst passes: a lease only moves tokens, never adds any. A
// lease not used within leaseTime is dropped.
func TestSharedRateLeases(t *testing.T) {
	if got := leaseSize(100, 40); got != 10 {
		t.Fatalf("leaseSize(100, 40) = %v", got)
	}
	if got := leaseSize(1e9, 1e9); got != 64 {
		t.Fatalf("leaseSize(1e9, 1e9) = %v", got)
	}
	if got := leaseSize(0.1, 2); got != 1 {
		t.Fatalf("leaseSize(0.1, 2) = %v", got)
	}
	a, b, clock := twoProcesses(t, Limits{RPS: 100, Burst: 40})
	if a.db.Dialect() != store.Postgres {
		if n := allowRace(t, 200, a, b); n != 80 {
			t.Fatalf("SQLite: %d passed; want each process's burst, 80", n)
		}
		return
	}
	if n := allowRace(t, 200, a, b); n != 40 {
		t.Fatalf("%d of 200 passed; want the burst, 40", n)
	}
	// a holds no lease now (everything was used); one token refilled in
	// 10 ms goes to whoever asks, and a's expired leases count for nothing.
	clock.Advance(leaseTime + 10*time.Millisecond)
	if n := allowRace(t, 200, a, b); n != 11 {
		t.Fatalf("%d passed after 110 ms; want the 11 refilled", n)
	}
}

// Chat tokens per second are one bucket across processes on PostgreSQL:
// of 100 parallel one-token charges at 10 tokens/s exactly 10 pass (20 on
// SQLite, one bucket per process). A charge larger than the bucket passes
// from a full one and leaves the shared bucket in debt, so the other
// process waits for it to be paid back.
func TestChatTokenRateSharedAcrossProcesses(t *testing.T) {
	a, b, clock := twoProcesses(t, Limits{ChatTokensPerSecond: 10})
	shared := a.db.Dialect() == store.Postgres
	charge := func(l *Limiter, n int64) error { return l.Charge(context.Background(), key("k"), n) }
	passed, _ := race(t, 100, a, b, "chat_tokens_per_second", func(l *Limiter) error { return charge(l, 1) })
	want := int64(20)
	if shared {
		want = 10
	}
	if passed != want {
		t.Fatalf("%d of 100 charges passed at once; want %d (shared %v)", passed, want, shared)
	}
	if !shared {
		return
	}
	clock.Advance(time.Second) // both buckets full again
	if err := charge(a, 25); err != nil {
		t.Fatalf("a large charge from a full bucket: %v", err)
	}
	err := charge(b, 1)
	var e *Error
	if !errors.As(err, &e) || e.Limit != "chat_tokens_per_second" {
		t.Fatalf("b charged while the shared bucket is 15 tokens in debt: %v", err)
	}
	if e.RetryAfter < 1500*time.Millisecond || e.RetryAfter > 1700*time.Millisecond {
		t.Fatalf("b told to retry after %v; want 1.6 s (15 tokens of debt + 1, at 10/s)", e.RetryAfter)
	}
	clock.Advance(1600 * time.Millisecond)
	if err := charge(b, 1); err != nil {
		t.Fatalf("b after the debt was paid: %v", err)
	}
}
