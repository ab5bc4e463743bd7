package recognize

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

// A released stream goes back to the pool at once, and the stream taken
// for the next audio continues the pipeline's clock and segment numbers.
func TestReleaseKeepsClockAndSegments(t *testing.T) {
	rec := newRecognizer(t)
	s := speechSamples(t)
	var c collector
	p, err := New(t.Context(), Config{Recognizer: rec}, c.emit)
	if err != nil {
		t.Fatal(err)
	}
	half := len(s) / 2
	write(t, func(x []float32) error { return p.Write(t.Context(), x) }, s[:half])
	if err := p.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if p.Held() {
		t.Fatal("Held after Release")
	}
	// The only decoder is free again.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	other, err := rec.NewStream(ctx, speech.StreamOptions{})
	cancel()
	if err != nil {
		t.Fatalf("the released decoder is not free: %v", err)
	}
	other.Close()
	before := len(c.events())
	write(t, func(x []float32) error { return p.Write(t.Context(), x) }, s[half:])
	if !p.Held() {
		t.Fatal("no stream after writing again")
	}
	if err := p.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	evs := c.events()
	if finalText(evs[:before]) == "" || finalText(evs[before:]) == "" {
		t.Fatalf("want words before and after the release: %q | %q", finalText(evs[:before]), finalText(evs[before:]))
	}
	releasedAt := speech.SamplesToDuration(half, 16000)
	lastSeg, lastEnd := -1, time.Duration(0)
	for i, e := range evs {
		if e.Kind != KindResult || !e.Result.Final {
			continue
		}
		r := e.Result
		if r.Segment <= lastSeg {
			t.Errorf("final segment %d after %d: numbers must keep increasing", r.Segment, lastSeg)
		}
		if r.Start < lastEnd-50*time.Millisecond {
			t.Errorf("final %d starts at %v before the previous end %v", r.Segment, r.Start, lastEnd)
		}
		if i >= before && r.Text != "" && r.Start < releasedAt {
			t.Errorf("final %q after the release starts at %v, before the release at %v", r.Text, r.Start, releasedAt)
		}
		for _, w := range r.Words {
			if w.Start < r.Start || w.End > r.End {
				t.Errorf("word %q [%v, %v] outside its result [%v, %v]", w.Text, w.Start, w.End, r.Start, r.End)
			}
		}
		lastSeg, lastEnd = r.Segment, r.End
	}
}

// With every decoder taken, New and a Write that must take a stream back
// are refused with ErrBusy (bounded by StreamWait), and the pipeline
// recovers once a decoder is free.
func TestBusyRefusesAndRecovers(t *testing.T) {
	rec := newRecognizer(t)
	s := speechSamples(t)
	hold, err := rec.NewStream(t.Context(), speech.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(t.Context(), Config{Recognizer: rec, StreamWait: 50 * time.Millisecond}, nil); !errors.Is(err, ErrBusy) {
		t.Fatalf("New with every decoder taken = %v, want ErrBusy", err)
	}
	hold.Close()

	var c collector
	p, err := New(t.Context(), Config{Recognizer: rec, StreamWait: 50 * time.Millisecond}, c.emit)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(t.Context())
	if err := p.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if hold, err = rec.NewStream(t.Context(), speech.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := p.Write(t.Context(), s[:1600]); !errors.Is(err, ErrBusy) {
		t.Fatalf("Write with no stream free = %v, want ErrBusy", err)
	}
	hold.Close()
	write(t, func(x []float32) error { return p.Write(t.Context(), x) }, s)
	if err := p.Finalize(t.Context()); err != nil {
		t.Fatal(err)
	}
	if finalText(c.events()) == "" {
		t.Fatal("no words once a decoder was free")
	}
}

// Bad audio is the caller's fault: refused with ErrBadAudio, never read as
// an unavailable engine.
func TestBadAudio(t *testing.T) {
	p, err := New(t.Context(), Config{Recognizer: newRecognizer(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(t.Context())
	bad := []float32{0, float32(nan())}
	if err := p.Write(t.Context(), bad); !errors.Is(err, speech.ErrBadAudio) || speech.FailsOver(err) {
		t.Fatalf("Write(NaN) = %v, want ErrBadAudio and no failover", err)
	}
	if p.pos != 0 {
		t.Fatalf("bad audio moved the clock to %d samples", p.pos)
	}
}

func nan() float64 { var z float64; return z / z }
