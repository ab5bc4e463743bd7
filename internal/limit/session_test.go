package limit

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// HoldSession releases the slot on every exit path, including a panic the
// server recovers, and lets the handler charge audio through the session.
func TestHoldSession(t *testing.T) {
	clock := newClock(noon)
	var (
		mu      sync.Mutex
		limited []string
	)
	l := newLimiter(t, Options{Defaults: Limits{MaxSessions: 1, AudioMinutesPerDay: 1}, Now: clock.Now,
		OnLimited: func(limit string) { mu.Lock(); limited = append(limited, limit); mu.Unlock() }})
	release := make(chan struct{})
	inside := make(chan struct{}, 1)
	h := withTestPrincipal(l.HoldSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, ok := SessionFrom(r.Context())
		if !ok {
			t.Error("no session in context")
			return
		}
		switch r.URL.Path {
		case "/hold":
			inside <- struct{}{}
			<-release
		case "/panic":
			panic(http.ErrAbortHandler)
		case "/charge":
			if err := sess.ChargeAudio(r.Context(), 45*time.Second); err != nil {
				l.WriteLimitError(w, r, err)
			}
		}
	})))
	srv := httptest.NewServer(h)
	defer srv.Close()

	done := make(chan int)
	go func() {
		req, _ := http.NewRequest("GET", srv.URL+"/hold", nil)
		req.Header.Set("X-Test-Key", "k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	<-inside
	status, hdr, body := get(t, srv.URL+"/charge", "k")
	if status != 429 || errCode(t, body) != CodeQuotaExceeded || hdr.Get("Retry-After") != "1" {
		t.Fatalf("second session: %d %s Retry-After %q", status, body, hdr.Get("Retry-After"))
	}
	close(release)
	if s := <-done; s != 200 {
		t.Fatalf("held request: %d", s)
	}
	held := func() int { n, _ := l.Sessions(context.Background(), key("k")); return n }
	waitFor(t, "release after return", func() bool { return held() == 0 })

	req, _ := http.NewRequest("GET", srv.URL+"/panic", nil)
	req.Header.Set("X-Test-Key", "k")
	if resp, err := http.DefaultClient.Do(req); err == nil { // the abort closes the connection
		resp.Body.Close()
	}
	waitFor(t, "release after panic", func() bool { return held() == 0 })

	if status, _, body := get(t, srv.URL+"/charge", "k"); status != 200 {
		t.Fatalf("first charge: %d %s", status, body)
	}
	status, hdr, body = get(t, srv.URL+"/charge", "k")
	// 45 s used of 60: the next 45 s is refused until UTC midnight, 12 h away.
	if status != 429 || errCode(t, body) != CodeQuotaExceeded || hdr.Get("Retry-After") != "43200" {
		t.Fatalf("over the audio quota: %d %s Retry-After %q", status, body, hdr.Get("Retry-After"))
	}
	if status, _, body := get(t, srv.URL+"/charge", ""); status != 401 || errCode(t, body) != "unauthenticated" {
		t.Fatalf("anonymous: %d %s", status, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(limited, ",") != "max_sessions,audio_minutes_per_day" {
		t.Fatalf("OnLimited saw %v", limited)
	}
}

// Sub-millisecond chunks add up exactly instead of being truncated.
func TestAudioChargeKeepsRemainder(t *testing.T) {
	l := newLimiter(t, Options{Defaults: Limits{AudioMinutesPerDay: 1}})
	ctx, p := context.Background(), key("rem")
	chunk := 12500 * time.Microsecond // 200 samples at 16 kHz
	for i := range 4800 {             // exactly 60 s
		if err := l.ChargeAudio(ctx, p, chunk); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
	}
	if err := l.ChargeAudio(ctx, p, time.Millisecond); !errors.Is(err, ErrLimited) {
		t.Fatalf("quota not exhausted after exactly one minute of 12.5 ms chunks: %v", err)
	}
	if u, _ := l.Usage(ctx, p); u.Used.AudioMinutes != 1 {
		t.Fatalf("used %v minutes", u.Used.AudioMinutes)
	}
}
