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

// Two limiters on one database (two processes, each with its own
// connections) enforce one daily request quota: of 100 parallel requests
// against a quota of 10, exactly 10 pass, and the eleventh is refused by
// either with quota_exceeded.
func TestRequestsPerDaySharedAcrossProcesses(t *testing.T) {
	db := storetest.Database(t)
	clock := newClock(noon)
	opts := func() Options {
		return Options{Store: openStore(t, db), Now: clock.Now, Defaults: Limits{RequestsPerDay: 10}}
	}
	a, b := newLimiter(t, opts()), newLimiter(t, opts())
	var passed, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := a
			if i%2 == 1 {
				l = b
			}
			var e *Error
			switch err := l.Allow(context.Background(), key("k")); {
			case err == nil:
				passed.Add(1)
			case errors.As(err, &e) && e.Code == CodeQuotaExceeded && e.Limit == "requests_per_day":
				refused.Add(1)
			default:
				t.Errorf("Allow: %v", err)
			}
		}()
	}
	wg.Wait()
	if passed.Load() != 10 || refused.Load() != 90 {
		t.Fatalf("%d passed, %d refused; want exactly 10 and 90", passed.Load(), refused.Load())
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
// parallel charges of 10 tokens against 100 a day from two limiters, and
// exactly 10 succeed; a refused charge gives its per-second tokens back.
func TestChatTokensPerDaySharedAcrossProcesses(t *testing.T) {
	db := storetest.Database(t)
	clock := newClock(noon)
	opts := func() Options {
		return Options{Store: openStore(t, db), Now: clock.Now, Defaults: Limits{ChatTokensPerDay: 100, ChatTokensPerSecond: 1000}}
	}
	a, b := newLimiter(t, opts()), newLimiter(t, opts())
	var passed, passedA, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := a
			if i%2 == 1 {
				l = b
			}
			var e *Error
			switch err := l.Charge(context.Background(), key("k"), 10); {
			case err == nil:
				passed.Add(1)
				if l == a {
					passedA.Add(1)
				}
			case errors.As(err, &e) && e.Limit == "chat_tokens_per_day":
				refused.Add(1)
			default:
				t.Errorf("Charge: %v", err)
			}
		}()
	}
	wg.Wait()
	if passed.Load() != 10 || refused.Load() != 30 {
		t.Fatalf("%d passed, %d refused; want exactly 10 and 30", passed.Load(), refused.Load())
	}
	u, err := a.Usage(context.Background(), key("k"))
	if err != nil || u.Used.ChatTokens != 100 {
		t.Fatalf("usage %+v, %v", u, err)
	}
	// Refusals gave their per-second tokens back (the clock stands still,
	// so nothing refilled): a's bucket lacks only its successful charges.
	err = a.with(context.Background(), key("k"), noLoad, func(s *subject, now time.Time) error {
		if got, want := s.chat.tokens, 1000-10*float64(passedA.Load()); got != want {
			t.Errorf("chat bucket holds %v tokens, want %v: refused charges were not given back", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A daily audio quota is one total across processes: two limiters charge
// one-second chunks against one minute a day, 100 each in parallel, and
// exactly 60 s are admitted; a limiter closed with part of a grant unused
// gives it back to the database.
func TestAudioPerDaySharedAcrossProcesses(t *testing.T) {
	db := storetest.Database(t)
	clock := newClock(noon)
	opts := func() Options {
		return Options{Store: openStore(t, db), Now: clock.Now, Defaults: Limits{AudioMinutesPerDay: 1}}
	}
	a, b := newLimiter(t, opts()), newLimiter(t, opts())
	var passed atomic.Int64
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := a
			if i%2 == 1 {
				l = b
			}
			var e *Error
			switch err := l.ChargeAudio(context.Background(), key("k"), time.Second); {
			case err == nil:
				passed.Add(1)
			case errors.As(err, &e) && e.Limit == "audio_minutes_per_day":
			default:
				t.Errorf("ChargeAudio: %v", err)
			}
		}()
	}
	wg.Wait()
	if passed.Load() != 60 {
		t.Fatalf("%d one-second chunks admitted against one minute a day; want exactly 60", passed.Load())
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
