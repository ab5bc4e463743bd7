package schedule

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/audit/audittest"
	"github.com/izwi-speech/izwi/internal/clocktest"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/store/storetest"
)

// fakeSessions records what the runner asked of live captions.
type fakeSessions struct {
	mu     sync.Mutex
	began  []string // rule ids
	ended  []string // session ids
	failAt int      // Begin fails while len(began) == failAt-1 (0: never)
}

func (f *fakeSessions) Begin(_ context.Context, r Rule) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failAt > 0 && len(f.began) == f.failAt-1 {
		f.failAt = 0
		return "", fmt.Errorf("every decoder is busy")
	}
	f.began = append(f.began, r.ID)
	return fmt.Sprintf("ses_%d", len(f.began)), nil
}

func (f *fakeSessions) End(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended = append(f.ended, id)
	return nil
}

func (f *fakeSessions) counts() (int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.began), len(f.ended)
}

// TestRunnerOnTimeAcrossRestart: with a fake clock, a weekly service
// starts at its time (once, however often the runner ticks), survives a
// restart of the runner on the same database without a second start, and
// stops at its time; a start the runner could not make is retried; a
// server back after the grace records the occurrence as missed instead of
// starting it late. Every start, stop and miss is audited.
func TestRunnerOnTimeAcrossRestart(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	db, err := Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	// Sunday 7 June 2026, 09:00 in Johannesburg (UTC+2, no DST) is 07:00 UTC.
	clock := clocktest.New(utc("2026-06-07T06:50:00Z"))
	rule := Rule{ID: "sun", Label: "Sunday service", Kind: Weekly, TimeZone: "Africa/Johannesburg",
		Weekdays: []time.Weekday{time.Sunday}, Start: "09:00", Stop: "10:30", Grace: 20 * time.Minute, ViewerMode: "public"}
	if err := db.PutRule(ctx, rule); err != nil {
		t.Fatal(err)
	}
	rec := &audittest.Recorder{}
	sess := &fakeSessions{failAt: 1}
	newRunner := func() *Runner { return &Runner{Rules: db, Runs: db, Sessions: sess, Audit: rec, Now: clock.Now} }
	rn := newRunner()
	tick := func() { _ = rn.Tick(ctx) }

	tick()
	if b, _ := sess.counts(); b != 0 {
		t.Fatal("started before its time")
	}
	clock.Set(utc("2026-06-07T07:00:00Z"))
	if err := rn.Tick(ctx); err == nil {
		t.Fatal("a failed start was not reported")
	}
	clock.Advance(10 * time.Second)
	tick()
	tick()
	if b, _ := sess.counts(); b != 1 {
		t.Fatalf("%d starts after a retry, want 1", b)
	}

	// Restart: a new runner over the same database starts nothing again.
	rn = newRunner()
	clock.Set(utc("2026-06-07T08:00:00Z"))
	tick()
	if b, e := sess.counts(); b != 1 || e != 0 {
		t.Fatalf("after a restart: %d starts, %d stops", b, e)
	}
	clock.Set(utc("2026-06-07T08:30:00Z"))
	tick()
	tick()
	if _, e := sess.counts(); e != 1 || sess.ended[0] != "ses_1" {
		t.Fatalf("stop at 10:30: %v", sess.ended)
	}

	// Next Sunday the server is down until 09:25, past the 20 min grace.
	rn = newRunner()
	clock.Set(utc("2026-06-14T07:25:00Z"))
	tick()
	if b, _ := sess.counts(); b != 1 {
		t.Fatal("a service was started after its grace")
	}
	// The one after, back within the grace: started late.
	clock.Set(utc("2026-06-21T07:15:00Z"))
	tick()
	if b, _ := sess.counts(); b != 2 {
		t.Fatal("a service within its grace was not started")
	}
	// A rule deleted while its session runs: the session still stops.
	if err := db.DeleteRule(ctx, "sun"); err != nil {
		t.Fatal(err)
	}
	clock.Set(utc("2026-06-21T08:31:00Z"))
	tick()
	if _, e := sess.counts(); e != 2 {
		t.Fatal("the session of a deleted rule did not stop")
	}
	if s, st, m := len(rec.Find("schedule.start", "ok")), len(rec.Find("schedule.stop", "ok")), len(rec.Find("schedule.missed", "ok")); s != 2 || st != 2 || m != 1 {
		t.Fatalf("audited %d starts, %d stops, %d misses; want 2, 2, 1", s, st, m)
	}
}
