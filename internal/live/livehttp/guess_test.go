package livehttp

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/clocktest"
)

// A session's viewer password has its own guess budget, whatever address
// the guesses come from (on main there was none: guesses were only limited
// per address). Past it: 429 with Retry-After, right password or not;
// after the wait one guess more is allowed; other sessions are unaffected.
func TestViewerPasswordGuessLimit(t *testing.T) {
	clock := clocktest.New(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	hs := newHarness(t, harnessOpts{mutate: func(o *Options) { o.ViewerGuessesPerMinute, o.Now = 5, clock.Now }})
	pw := hs.create("alice", map[string]any{"viewer_mode": "password", "password": "correct horse"})
	other := hs.create("alice", map[string]any{"viewer_mode": "password", "password": "battery staple"})
	vt := func(id, secret string) *http.Response {
		req, _ := http.NewRequest("POST", hs.srv.URL+"/v1/sessions/"+id+"/viewer-ticket",
			strings.NewReader(`{"secret":"`+secret+`","origin":"`+hs.srv.URL+`"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i := range 5 {
		if resp := vt(pw.ID, fmt.Sprintf("guess %d", i)); resp.StatusCode != 401 {
			t.Fatalf("guess %d: %d", i, resp.StatusCode)
		}
	}
	resp := vt(pw.ID, "correct horse")
	if resp.StatusCode != 429 {
		t.Fatalf("after 5 wrong guesses: %d, want 429", resp.StatusCode)
	}
	if s, _ := strconv.Atoi(resp.Header.Get("Retry-After")); s < 1 || s > 12 {
		t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	if resp := vt(other.ID, "battery staple"); resp.StatusCode != 200 {
		t.Errorf("another session: %d", resp.StatusCode)
	}
	clock.Advance(12 * time.Second)
	if resp := vt(pw.ID, "correct horse"); resp.StatusCode != 200 {
		t.Errorf("after the wait: %d", resp.StatusCode)
	}
}

// Viewer-secret checks (argon2id, 19 MiB each) run at most two per CPU at
// once; a caller that cannot get a slot in time is refused, not queued
// forever.
func TestViewerChecksAreBounded(t *testing.T) {
	g := newGuessLimiter(10, nil)
	var held []func()
	for range maxConcurrentChecks() {
		rel, ok := g.acquire(t.Context())
		if !ok {
			t.Fatal("a free slot was refused")
		}
		held = append(held, rel)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, ok := g.acquire(ctx); ok {
		t.Fatal("a check ran past the cap")
	}
	held[0]()
	if rel, ok := g.acquire(t.Context()); !ok {
		t.Fatal("a released slot was not reused")
	} else {
		rel()
	}
	for _, rel := range held[1:] {
		rel()
	}
}
