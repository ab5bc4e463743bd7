package recognize

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// An idle pipeline gives its decoder back, and takes one again on the next
// audio: an idle session cannot hold an engine.
func TestAsyncIdleRelease(t *testing.T) {
	rec := newRecognizer(t)
	s := speechSamples(t)
	var c collector
	a, err := NewAsync(t.Context(), AsyncConfig{Config: Config{Recognizer: rec}, QueueAudio: time.Minute,
		IdleRelease: 100 * time.Millisecond}, c.emit)
	if err != nil {
		t.Fatal(err)
	}
	write(t, a.Write, s[:len(s)/2])
	waitFor(t, "the idle stream to be released", func() bool { return !a.Stats().Held })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	other, err := rec.NewStream(ctx, speech.StreamOptions{})
	cancel()
	if err != nil {
		t.Fatalf("an idle pipeline still holds the only decoder: %v", err)
	}
	other.Close()
	write(t, a.Write, s[len(s)/2:])
	if err := a.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := a.Stats(); st.AudioDropped != 0 || st.Held {
		t.Fatalf("stats after close: %+v", st)
	}
	if finalText(c.events()) == "" {
		t.Fatal("no words recognised")
	}
}

// Close honours its ctx: when ctx ends before the queue is drained, the
// engine's calls are cancelled, the rest is dropped and counted, and the
// decoder is free when Close returns.
func TestAsyncCloseHonoursCtx(t *testing.T) {
	rec := newRecognizer(t)
	s := speechSamples(t)
	a, err := NewAsync(t.Context(), AsyncConfig{Config: Config{Recognizer: rec}, QueueAudio: 10 * time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 { // minutes of audio: far more than a cancelled drain recognises
		write(t, a.Write, s)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := a.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close(cancelled) = %v, want context.Canceled", err)
	}
	select {
	case <-a.Done():
	default:
		t.Fatal("Close returned before the goroutine stopped")
	}
	if st := a.Stats(); st.AudioDropped == 0 || st.Held {
		t.Fatalf("stats after a cut drain: %+v (want audio dropped, no stream held)", st)
	}
	if err := a.Write(s[:10]); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close = %v, want ErrClosed", err)
	}
}
