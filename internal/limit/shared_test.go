package limit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

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
