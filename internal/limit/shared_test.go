package limit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/store/storetest"
)

// twoProcesses opens two limiters on one fresh database (two processes,
// each with its own connections) with defaults d and one clock.
func twoProcesses(t *testing.T, d Limits) (a, b *Limiter, clock interface{ Advance(time.Duration) }) {
	db := storetest.Database(t)
	c := newClock(noon)
	open := func() *Limiter { return newLimiter(t, Options{Store: openStore(t, db), Now: c.Now, Defaults: d}) }
	return open(), open(), c
}

// race runs n calls of fn in parallel, alternately on a and b, and counts
// those that passed (in all, and on a); any error but a refusal by limit
// (a quota, or a rate with a Retry-After) fails t.
func race(t *testing.T, n int, a, b *Limiter, limit string, fn func(*Limiter) error) (passed, onA int64) {
	var all, fromA atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := a
			if i%2 == 1 {
				l = b
			}
			var e *Error
			switch err := fn(l); {
			case err == nil:
				all.Add(1)
				if l == a {
					fromA.Add(1)
				}
			case errors.As(err, &e) && (e.Code == CodeQuotaExceeded || e.Code == CodeRateLimited && e.RetryAfter > 0) && e.Limit == limit:
			default:
				t.Errorf("%s: %v", limit, err)
			}
		}()
	}
	wg.Wait()
	return all.Load(), fromA.Load()
}

// Two limiters on one database enforce one daily request quota: of 100
// parallel requests against a quota of 10, exactly 10 pass.
func TestRequestsPerDaySharedAcrossProcesses(t *testing.T) {
	a, b, clock := twoProcesses(t, Limits{RequestsPerDay: 10})
	if n, _ := race(t, 100, a, b, "requests_per_day", func(l *Limiter) error { return l.Allow(context.Background(), key("k")) }); n != 10 {
		t.Fatalf("%d of 100 passed; want exactly 10", n)
	}
	u, err := b.Usage(context.Background(), key("k"))
	if err != nil || u.Used.Requests != 10 || u.Limits.RequestsPerDay != 10 {
		t.Fatalf("usage %+v, %v", u, err)
	}
	// A new UTC day starts a new count.
	clock.Advance(nextUTCMidnight(noon).Sub(noon))
	if err := a.Allow(context.Background(), key("k")); err != nil {
		t.Fatalf("next day: %v", err)
	}
}

// The daily chat-token quota is one total across processes too: 40
// parallel charges of 10 tokens against 100 a day, and exactly 10 succeed;
// a refused charge gives its per-second tokens back.
func TestChatTokensPerDaySharedAcrossProcesses(t *testing.T) {
	a, b, _ := twoProcesses(t, Limits{ChatTokensPerDay: 100, ChatTokensPerSecond: 1000})
	n, onA := race(t, 40, a, b, "chat_tokens_per_day", func(l *Limiter) error { return l.Charge(context.Background(), key("k"), 10) })
	if n != 10 {
		t.Fatalf("%d of 40 charges passed; want exactly 10", n)
	}
	u, err := a.Usage(context.Background(), key("k"))
	if err != nil || u.Used.ChatTokens != 100 {
		t.Fatalf("usage %+v, %v", u, err)
	}
	// The clock stands still, so nothing refilled: a's bucket lacks only
	// its successful charges.
	err = a.with(context.Background(), key("k"), noLoad, func(s *subject, now time.Time) error {
		if got, want := s.chat.tokens, 1000-10*float64(onA); got != want {
			t.Errorf("chat bucket holds %v tokens, want %v: refused charges were not given back", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A daily audio quota is one total across processes: one-second chunks
// against one minute a day, 100 from each limiter in parallel, and exactly
// 60 s are admitted; a limiter closed with part of a grant unused gives it
// back to the database.
func TestAudioPerDaySharedAcrossProcesses(t *testing.T) {
	a, b, clock := twoProcesses(t, Limits{AudioMinutesPerDay: 1})
	if n, _ := race(t, 200, a, b, "audio_minutes_per_day", func(l *Limiter) error {
		return l.ChargeAudio(context.Background(), key("k"), time.Second)
	}); n != 60 {
		t.Fatalf("%d one-second chunks admitted against one minute a day; want exactly 60", n)
	}
	if err := b.CheckAudio(context.Background(), key("k")); err == nil {
		t.Fatal("CheckAudio admits a subject with no audio left")
	}

	// The next day: a takes a grant, uses 1 s of it and closes.
	clock.Advance(nextUTCMidnight(noon).Sub(noon))
	if err := a.ChargeAudio(context.Background(), key("k"), time.Second); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	u, err := b.Usage(context.Background(), key("k"))
	if err != nil || u.Used.AudioMinutes != 0.017 { // 1 s, the unused 9 s given back
		t.Fatalf("usage after a closed with an unused grant: %+v, %v", u.Used, err)
	}
}
