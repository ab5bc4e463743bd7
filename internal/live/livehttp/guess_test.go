package livehttp

import (
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
