package main

import (
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/live"
)

// awaitState polls v until it has seen a state event with state.
func awaitState(t *testing.T, v *captionViewer, state live.State) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for i, e := range v.snapshot() {
			if e.Type == live.TypeState && e.State == state {
				return i
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("viewers never saw the session %s", state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Pause blanks the screens without ending the session: viewers are told
// "paused", audio sent meanwhile is not recognised (no caption between the
// pause and the resume), the source may stay, and resume brings captions
// back. A paused session cannot be paused again; it can be stopped.
func TestPauseBlanksViewers(t *testing.T) {
	env := liveEnv(t)
	key := newKey(t, env, "--name", "venue", "--scopes", "live.write,live.read")
	s := startServe(t, env)
	ses := createLiveSession(t, s, key, map[string]any{"label": "pause", "start": true})
	v, _ := watchLiveWS(t, liveWSURL(s, "/v1/sessions/"+ses.ID+"/captions"), nil)

	var info struct{ State string }
	if code := liveAPI(t, s, "POST", "/v1/sessions/"+ses.ID+"/pause", key, nil, &info); code != 200 || info.State != "paused" {
		t.Fatalf("pause: %d %+v", code, info)
	}
	if code := liveAPI(t, s, "POST", "/v1/sessions/"+ses.ID+"/pause", key, nil, nil); code != 409 {
		t.Errorf("pausing a paused session: %d, want 409", code)
	}
	paused := awaitState(t, v, live.Paused)
	_, heldBack := liveUtterance(t, "1089-134691-0001")
	streamPaced(t, s, key, ses.ID, heldBack, 4)

	if code := liveAPI(t, s, "POST", "/v1/sessions/"+ses.ID+"/resume", key, nil, &info); code != 200 || info.State != "live" {
		t.Fatalf("resume: %d %+v", code, info)
	}
	u, samples := liveUtterance(t, "3752-4944-0002")
	streamPaced(t, s, key, ses.ID, samples, 4)
	evs := awaitLiveWER(t, "after resume", v, u.Reference)
	resumed := len(evs)
	for i, e := range evs {
		if e.Type == live.TypeState && e.State == live.Live && i > paused {
			resumed = i
			break
		}
	}
	for _, e := range evs[paused:resumed] {
		if e.Type == live.TypeCaption {
			t.Errorf("a caption while paused: %+v", e)
		}
	}
	if strings.Contains(strings.ToLower(liveFinals(evs)), "paced") {
		t.Errorf("audio sent while paused was recognised: %q", liveFinals(evs))
	}
	if code := liveAPI(t, s, "POST", "/v1/sessions/"+ses.ID+"/pause", key, nil, nil); code != 200 {
		t.Fatalf("pause again: %d", code)
	}
	if code := liveAPI(t, s, "POST", "/v1/sessions/"+ses.ID+"/stop", key, nil, &info); code != 200 || info.State != "stopped" {
		t.Errorf("stop while paused: %d %+v", code, info)
	}
}
