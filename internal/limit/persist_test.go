package limit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/store/storetest"
)

// Usage survives a restart on the same database: the day's minutes still
// count against the quota.
func TestUsagePersistsAcrossRestart(t *testing.T) {
	ctx := context.Background()
	path := storetest.Database(t)
	clock := newClock(noon)
	opts := func() Options {
		return Options{Defaults: Limits{AudioMinutesPerDay: 6}, Now: clock.Now, FlushInterval: time.Hour}
	}
	p := key("persist")

	st := openStore(t, path)
	o := opts()
	o.Store = st
	l1, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := l1.ChargeAudio(ctx, p, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := l1.Flush(ctx); err != nil { // a mid-life flush, then more usage
		t.Fatal(err)
	}
	for _, err := range []error{l1.ChargeAudio(ctx, p, 2*time.Minute), l1.Allow(ctx, p), l1.Allow(ctx, p), l1.Charge(ctx, p, 42)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := l1.Close(ctx); err != nil { // the final flush
		t.Fatal(err)
	}
	st.Close()

	// Restart: a new store and limiter on the same file.
	o = opts()
	o.Store = openStore(t, path)
	l2 := newLimiter(t, o)
	u, err := l2.Usage(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if u.Used.AudioMinutes != 5 || u.Used.Requests != 2 || u.Used.ChatTokens != 42 {
		t.Fatalf("usage after restart %+v, want 5 min, 2 requests, 42 tokens", u.Used)
	}
	var le *Error
	if err := l2.ChargeAudio(ctx, p, 2*time.Minute); !errors.As(err, &le) || le.Code != CodeQuotaExceeded {
		t.Fatalf("restart forgot the day's usage: 2 more minutes over a 6-minute quota gave %v", err)
	}
	if err := l2.ChargeAudio(ctx, p, time.Minute); err != nil {
		t.Fatalf("the last minute: %v", err)
	}
}

// Usage of a finished day is flushed under that day even when the flush
// happens after midnight, and the new day starts from zero.
func TestRolloverPersistsOldDay(t *testing.T) {
	ctx := context.Background()
	clock := newClock(time.Date(2026, 11, 23, 23, 59, 30, 0, time.UTC))
	st := openStore(t, "")
	l := newLimiter(t, Options{Store: st, Now: clock.Now, FlushInterval: time.Hour})
	p := key("roll")
	if err := l.ChargeAudio(ctx, p, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if err := l.ChargeAudio(ctx, p, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for day, want := range map[string]int64{"2026-11-23": 90_000, "2026-11-24": 30_000} {
		c, err := loadUsage(ctx, st, "key:roll", day)
		if err != nil || c.audioMs != want {
			t.Fatalf("%s: %d ms, %v; want %d", day, c.audioMs, err, want)
		}
	}
}

// A failed flush loses nothing: the deltas are retried by the next one, and
// totals are not double counted meanwhile.
func TestFlushFailureRetries(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "")
	clock := newClock(noon)
	l := newLimiter(t, Options{Store: st, Now: clock.Now, FlushInterval: time.Hour})
	p := key("retry")
	if err := l.ChargeAudio(ctx, p, time.Minute); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.Flush(cancelled); err == nil {
		t.Fatal("flush with a cancelled context succeeded")
	}
	if u, _ := l.Usage(ctx, p); u.Used.AudioMinutes != 1 {
		t.Fatalf("after failed flush: %v minutes", u.Used.AudioMinutes)
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	c, _ := loadUsage(ctx, st, "key:retry", "2026-11-23")
	if u, _ := l.Usage(ctx, p); c.audioMs != 60_000 || u.Used.AudioMinutes != 1 {
		t.Fatalf("after retry: stored %d ms, reported %v minutes", c.audioMs, u.Used.AudioMinutes)
	}
}

// Idle subjects are evicted; ones holding a session, unflushed usage or a
// draining bucket are kept.
func TestIdleEviction(t *testing.T) {
	ctx := context.Background()
	clock := newClock(noon)
	st := openStore(t, "")
	l := newLimiter(t, Options{Defaults: Limits{RPS: 1, Burst: 1}, Store: st, Now: clock.Now, IdleTTL: time.Minute, FlushInterval: time.Hour})
	for i := range 1000 {
		if err := l.Allow(ctx, key("idle"+string(rune('a'+i%26))+string(rune('a'+i/26)))); err != nil {
			t.Fatal(err)
		}
	}
	sess, err := l.Acquire(ctx, key("holder"))
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)
	l.Sweep()
	if n := l.Subjects(); n != 1001 {
		t.Fatalf("%d subjects before flush; unflushed ones must stay", n)
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	l.Sweep()
	if n := l.Subjects(); n != 1 {
		t.Fatalf("%d subjects after flush and sweep, want only the session holder", n)
	}
	sess.Release()
	clock.Advance(2 * time.Minute)
	l.Sweep()
	if n := l.Subjects(); n != 0 {
		t.Fatalf("%d subjects after release", n)
	}
	// An evicted subject comes back with its stored day intact.
	if u, err := l.Usage(ctx, key("idleaa")); err != nil || u.Used.Requests != 1 {
		t.Fatalf("evicted subject's usage: %+v, %v", u.Used, err)
	}
}

// A closed Limiter keeps enforcing in memory; Close twice is fine.
func TestCloseIdempotent(t *testing.T) {
	l, err := New(context.Background(), Options{Defaults: Limits{RPS: 1, Burst: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = l.Allow(context.Background(), key("x"))
	if l.Allow(context.Background(), key("x")) == nil {
		t.Fatal("closed limiter stopped limiting")
	}
}

// The background writer flushes on its own within the interval, and Close
// stops it.
func TestBackgroundFlush(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "")
	l, err := New(ctx, Options{Store: st, FlushInterval: 20 * time.Millisecond, Now: newClock(noon).Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Charge(ctx, key("bg"), 7); err != nil {
		t.Fatal(err)
	}
	day := utcDay(noon)
	waitFor(t, "background flush", func() bool {
		c, err := loadUsage(ctx, st, "key:bg", day)
		return err == nil && c.chatTokens == 7
	})
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.done:
	default:
		t.Fatal("writer goroutine still running after Close")
	}
}

// With the database gone, requests are still admitted and rate-limited
// (uncounted), while daily quotas fail closed.
func TestDatabaseDown(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "")
	l := newLimiter(t, Options{Defaults: Limits{RPS: 1, Burst: 2, AudioMinutesPerDay: 10}, Store: st, Now: newClock(noon).Now, FlushInterval: time.Hour})
	st.Close()
	p := key("down")
	if err := l.Allow(ctx, p); err != nil {
		t.Fatalf("request refused because usage could not be read: %v", err)
	}
	_ = l.Allow(ctx, p)
	if err := l.Allow(ctx, p); !errors.Is(err, ErrLimited) {
		t.Fatalf("rate limit not enforced with the database down: %v", err)
	}
	err := l.ChargeAudio(ctx, p, time.Second)
	if err == nil || errors.Is(err, ErrLimited) {
		t.Fatalf("audio quota with unreadable usage: %v, want a non-quota error", err)
	}
}
