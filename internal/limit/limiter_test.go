package limit

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// SECURITY-TESTS: "100 parallel requests against a quota of 10 → exactly 10
// succeed, the rest 429 with Retry-After", against a real listener.
func TestAtomicRateQuotaRealListener(t *testing.T) {
	clock := newClock(noon) // frozen: no refill during the test
	l := newLimiter(t, Options{Defaults: Limits{RPS: 0.01, Burst: 10}, Now: clock.Now})
	var served atomic.Int64
	srv := httptest.NewServer(withTestPrincipal(l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
	}))))
	defer srv.Close()

	type result struct {
		status     int
		retryAfter string
		code       string
	}
	results := make([]result, 100)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range results {
		wg.Go(func() {
			<-start
			req, _ := http.NewRequest("GET", srv.URL+"/v1/x", nil)
			req.Header.Set("X-Test-Key", "k1")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var e struct {
				Error struct{ Code string } `json:"error"`
			}
			_ = json.Unmarshal(body, &e)
			results[i] = result{resp.StatusCode, resp.Header.Get("Retry-After"), e.Error.Code}
		})
	}
	close(start)
	wg.Wait()
	ok, limited := 0, 0
	for _, r := range results {
		switch r.status {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			limited++
			secs, err := strconv.Atoi(r.retryAfter)
			// One token refills in 1/0.01 = 100 s on the frozen clock.
			if err != nil || secs != 100 {
				t.Errorf("Retry-After %q, want 100", r.retryAfter)
			}
			if r.code != CodeRateLimited {
				t.Errorf("code %q, want %s", r.code, CodeRateLimited)
			}
		default:
			t.Errorf("status %d", r.status)
		}
	}
	if ok != 10 || limited != 90 || served.Load() != 10 {
		t.Fatalf("%d ok, %d limited, %d served; want exactly 10, 90, 10", ok, limited, served.Load())
	}
	// Another subject has its own bucket.
	if err := l.Allow(context.Background(), key("k2")); err != nil {
		t.Fatalf("k2 limited by k1's traffic: %v", err)
	}
}

func TestAtomicSessionsAndAudio(t *testing.T) {
	clock := newClock(noon)
	l := newLimiter(t, Options{Defaults: Limits{MaxSessions: 10, AudioMinutesPerDay: 10}, Now: clock.Now})
	ctx, p := context.Background(), key("k")

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		sessions []*Session
		refused  atomic.Int64
		charged  atomic.Int64
	)
	for range 100 {
		wg.Go(func() {
			s, err := l.Acquire(ctx, p)
			var le *Error
			if errors.As(err, &le) && le.Code == CodeQuotaExceeded && le.Limit == "max_sessions" && le.RetryAfter > 0 {
				refused.Add(1)
			} else if err == nil {
				mu.Lock()
				sessions = append(sessions, s)
				mu.Unlock()
			}
			if l.ChargeAudio(ctx, p, time.Minute) == nil {
				charged.Add(1)
			}
		})
	}
	wg.Wait()
	if len(sessions) != 10 || refused.Load() != 90 {
		t.Fatalf("%d sessions, %d refused; want 10, 90", len(sessions), refused.Load())
	}
	if charged.Load() != 10 {
		t.Fatalf("%d one-minute charges against 10 minutes/day; want exactly 10", charged.Load())
	}
	for _, s := range sessions {
		s.Release()
		s.Release() // idempotent: must not free a slot twice
	}
	if n, _ := l.Sessions(ctx, p); n != 0 {
		t.Fatalf("%d sessions after release", n)
	}
	// Exactly MaxSessions can be held again, not more (double release did not leak slots).
	for i := range 11 {
		_, err := l.Acquire(ctx, p)
		if (err == nil) != (i < 10) {
			t.Fatalf("acquire %d: %v", i, err)
		}
	}
}

func TestBurstWithFakeClock(t *testing.T) {
	clock := newClock(noon)
	l := newLimiter(t, Options{Defaults: Limits{RPS: 2, Burst: 5}, Now: clock.Now})
	ctx, p := context.Background(), key("b")
	for i := range 5 {
		if err := l.Allow(ctx, p); err != nil {
			t.Fatalf("burst request %d refused: %v", i, err)
		}
	}
	err := l.Allow(ctx, p)
	var le *Error
	if !errors.As(err, &le) || le.RetryAfter != 500*time.Millisecond || le.RetryAfterSeconds() != 1 {
		t.Fatalf("6th request: %v, want retry after 500ms", err)
	}
	clock.Advance(499 * time.Millisecond)
	if l.Allow(ctx, p) == nil {
		t.Fatal("allowed before a token refilled")
	}
	clock.Advance(time.Millisecond)
	if err := l.Allow(ctx, p); err != nil {
		t.Fatalf("refused after refill: %v", err)
	}
	// A long idle refills only up to the burst.
	clock.Advance(time.Hour)
	n := 0
	for l.Allow(ctx, p) == nil {
		n++
	}
	if n != 5 {
		t.Fatalf("%d requests after an hour idle, want burst 5", n)
	}
}

func TestDefaultBurstAndUnlimited(t *testing.T) {
	clock := newClock(noon)
	l := newLimiter(t, Options{Defaults: Limits{RPS: 2.5}, Now: clock.Now})
	n := 0
	for l.Allow(context.Background(), key("d")) == nil {
		n++
	}
	if n != 3 {
		t.Fatalf("default burst for 2.5 rps = %d, want 3", n)
	}
	free := newLimiter(t, Options{Now: clock.Now})
	for range 10000 {
		if err := free.Allow(context.Background(), key("u")); err != nil {
			t.Fatalf("zero limits limited: %v", err)
		}
	}
}

func TestChatTokens(t *testing.T) {
	clock := newClock(noon)
	l := newLimiter(t, Options{Defaults: Limits{ChatTokensPerSecond: 100, ChatTokensPerDay: 1000}, Now: clock.Now})
	ctx, p := context.Background(), key("c")
	if err := l.Charge(ctx, p, 100); err != nil {
		t.Fatal(err)
	}
	var le *Error
	if err := l.Charge(ctx, p, 10); !errors.As(err, &le) || le.Code != CodeRateLimited || le.RetryAfter != 100*time.Millisecond {
		t.Fatalf("charge on an empty bucket: %v", err)
	}
	clock.Advance(time.Second)
	// Larger than one second's worth: allowed from a full bucket, into debt.
	if err := l.Charge(ctx, p, 500); err != nil {
		t.Fatal(err)
	}
	if err := l.Charge(ctx, p, 1); !errors.As(err, &le) || le.RetryAfter != 4010*time.Millisecond {
		t.Fatalf("charge in debt: %v, want retry after 4.01s", err)
	}
	clock.Advance(5 * time.Second)
	if err := l.Charge(ctx, p, 100); err != nil {
		t.Fatal(err)
	}
	// 700 used; 301 more would pass the day's 1000: refused, nothing charged.
	clock.Advance(10 * time.Second)
	if err := l.Charge(ctx, p, 301); !errors.As(err, &le) || le.Code != CodeQuotaExceeded || le.Limit != "chat_tokens_per_day" {
		t.Fatalf("over the daily quota: %v", err)
	}
	if u, _ := l.Usage(ctx, p); u.Used.ChatTokens != 700 {
		t.Fatalf("used %d, want 700", u.Used.ChatTokens)
	}
	if err := l.Charge(ctx, p, 100); err != nil {
		t.Fatal(err)
	}
}

func TestDailyRolloverAtUTCMidnight(t *testing.T) {
	// 23:59 UTC, observed from a zone where it is already tomorrow: the
	// day is the UTC day regardless.
	tz := time.FixedZone("UTC+3", 3*3600)
	clock := newClock(time.Date(2026, 11, 23, 23, 59, 0, 0, time.UTC).In(tz))
	l := newLimiter(t, Options{Defaults: Limits{AudioMinutesPerDay: 1}, Now: clock.Now})
	ctx, p := context.Background(), key("r")
	if err := l.ChargeAudio(ctx, p, 45*time.Second); err != nil {
		t.Fatal(err)
	}
	err := l.ChargeAudio(ctx, p, 30*time.Second)
	var le *Error
	if !errors.As(err, &le) || le.Code != CodeQuotaExceeded || le.RetryAfter != time.Minute {
		t.Fatalf("over quota at 23:59: %v, want retry after 1m (UTC midnight)", err)
	}
	if err := l.ChargeAudio(ctx, p, 15*time.Second); err != nil {
		t.Fatalf("exactly the remainder refused: %v", err)
	}
	if err := l.CheckAudio(ctx, p); err == nil {
		t.Fatal("CheckAudio passed with nothing left")
	}
	clock.Advance(59 * time.Second)
	if err := l.CheckAudio(ctx, p); err == nil {
		t.Fatal("quota reset before UTC midnight")
	}
	clock.Advance(time.Second)
	if err := l.CheckAudio(ctx, p); err != nil {
		t.Fatalf("quota not reset at UTC midnight: %v", err)
	}
	u, _ := l.Usage(ctx, p)
	if u.Day != "2026-11-24" || u.Used.AudioMinutes != 0 || !u.ResetsAt.Equal(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("usage after midnight: %+v", u)
	}
}

func TestSessionReleasedOnErrorPaths(t *testing.T) {
	l := newLimiter(t, Options{Defaults: Limits{MaxSessions: 1}})
	p := key("s")
	var mode atomic.Value
	entered := make(chan struct{}, 1)
	h := withTestPrincipal(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := l.Acquire(r.Context(), p)
		if err != nil {
			l.WriteLimitError(w, r, err)
			return
		}
		defer sess.Release()
		switch mode.Load() {
		case "error":
			http.Error(w, "engine failed", 500)
		case "panic":
			panic(http.ErrAbortHandler) // net/http's own abort; the server recovers it
		case "disconnect":
			entered <- struct{}{}
			<-r.Context().Done() // the client went away
		}
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	held := func() int { n, _ := l.Sessions(context.Background(), p); return n }

	for _, m := range []string{"error", "panic", "disconnect"} {
		mode.Store(m)
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		if m == "disconnect" {
			<-entered
			if held() != 1 {
				t.Fatalf("session not held while streaming")
			}
			cancel()
		}
		<-done
		cancel()
		waitFor(t, "session release after "+m, func() bool { return held() == 0 })
	}
	// The cap still works: one session, the second refused.
	s, err := l.Acquire(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire(context.Background(), p); !errors.Is(err, ErrLimited) {
		t.Fatalf("second session: %v", err)
	}
	s.Release()
}
