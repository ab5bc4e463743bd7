package live

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/recognize"
	"github.com/izwi-speech/izwi/internal/speech"
)

// collector gathers emitted events (emit must not block: it appends).
type collector struct {
	mu  sync.Mutex
	evs []Event
}

func (c *collector) emit(e Event) {
	c.mu.Lock()
	c.evs = append(c.evs, e)
	c.mu.Unlock()
}

func (c *collector) events() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Event(nil), c.evs...)
}

func finalsOf(evs []Event) []Event {
	var out []Event
	for _, e := range evs {
		if e.Type == TypeCaption && e.Final {
			out = append(out, e)
		}
	}
	return out
}

// push writes samples in 100 ms chunks as fast as Write takes them.
func push(t testing.TB, write func([]float32) error, s []float32) {
	t.Helper()
	for off := 0; off < len(s); off += 1600 {
		if err := write(s[off:min(off+1600, len(s))]); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPipelineRecognisesWithVAD(t *testing.T) {
	u := utterance(t, pauseID)
	var c collector
	p, err := NewPipeline(t.Context(), PipelineConfig{Recognizer: newRecognizer(t), VAD: newVAD(t), QueueAudio: time.Minute}, c.emit)
	if err != nil {
		t.Fatal(err)
	}
	// Two seconds of silence first, so speech starts later than 0.
	push(t, p.Write, make([]float32, 32000))
	push(t, p.Write, samples(t, u))
	push(t, p.Write, make([]float32, 32000))
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs := c.events()
	finals := finalsOf(evs)
	rate, hyp := werOf(u.Reference, finals)
	// PocketSphinx alone: 0.361 on this file; the pipeline adds endpoints
	// from the VAD, so allow a little more.
	if rate > 0.45 {
		t.Errorf("WER %.3f > 0.45: %q", rate, hyp)
	}
	t.Logf("WER %.3f over %d finals", rate, len(finals))
	var started, ended int
	last := -1.0
	for _, e := range evs {
		if e.Seq != 0 || e.SessionID != "" || !e.Time.IsZero() {
			t.Fatalf("pipeline set publisher fields: %+v", e)
		}
		switch e.Type {
		case TypeSpeechStarted:
			started++
			if e.At < 1.5 {
				t.Errorf("speech started at %.2f s, inside the leading silence", e.At)
			}
		case TypeUtteranceEnd:
			ended++
		case TypeCaption:
			if e.End < e.Start {
				t.Errorf("caption ends before it starts: %+v", e)
			}
			if e.Final {
				if e.Start < last {
					t.Errorf("final at %.2f s before the previous final's start %.2f s", e.Start, last)
				}
				last = e.Start
			}
		}
	}
	if started == 0 || ended == 0 {
		t.Errorf("speech_started ×%d, utterance_end ×%d: want both", started, ended)
	}
	st := p.Stats()
	if st.AudioDropped != 0 || st.Lag != 0 || st.Events != uint64(len(evs)) {
		t.Errorf("stats %+v with %d events", st, len(evs))
	}
	if want := 2*time.Second + speech.SamplesToDuration(len(samples(t, u))+32000, 16000); st.AudioIn != want {
		t.Errorf("AudioIn %v, want %v", st.AudioIn, want)
	}
	if err := p.Write(make([]float32, 10)); !errors.Is(err, speech.ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
}

func TestPipelinePartialsNotRepeated(t *testing.T) {
	u := utterance(t, pauseID)
	var c collector
	p, err := NewPipeline(t.Context(), PipelineConfig{Recognizer: newRecognizer(t), QueueAudio: time.Minute}, c.emit)
	if err != nil {
		t.Fatal(err)
	}
	// Small chunks: the engine is asked often, partials must not repeat.
	s := samples(t, u)
	for off := 0; off < len(s); off += 320 {
		if err := p.Write(s[off:min(off+320, len(s))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Finalize(); err != nil {
		t.Fatal(err)
	}
	p.Close(context.Background())
	// An unchanged partial comes again only as a refresh, once its end
	// has moved on by recognize.PartialRefresh.
	prev := map[int]Event{}
	partials := 0
	for _, e := range c.events() {
		if e.Type != TypeCaption {
			continue
		}
		if !e.Final {
			partials++
			if p, ok := prev[e.Segment]; ok && p.Text == e.Text && e.End-p.End < recognize.PartialRefresh.Seconds()-1e-9 {
				t.Errorf("segment %d partial %q repeated after %.3f s", e.Segment, e.Text, e.End-p.End)
			}
			prev[e.Segment] = e
		} else {
			delete(prev, e.Segment)
		}
	}
	if partials == 0 {
		t.Error("no partials")
	}
	if rate, hyp := werOf(u.Reference, finalsOf(c.events())); rate > 0.45 {
		t.Errorf("WER %.3f: %q", rate, hyp)
	}
}

func TestPipelineFinalize(t *testing.T) {
	u := utterance(t, pauseID)
	var c collector
	p, err := NewPipeline(t.Context(), PipelineConfig{Recognizer: newRecognizer(t), QueueAudio: time.Minute, UtteranceEndGap: time.Hour}, c.emit)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	s := samples(t, u)
	push(t, p.Write, s[:3*16000])
	if err := p.Finalize(); err != nil {
		t.Fatal(err)
	}
	// Finalize must produce a final for the first three seconds without
	// more audio and without Close.
	eventually(t, 30*time.Second, "a final after Finalize", func() bool {
		for _, e := range finalsOf(c.events()) {
			if e.Text != "" {
				return true
			}
		}
		return false
	})
}

func TestPipelineQueueOverflowDropsAndCounts(t *testing.T) {
	u := utterance(t, pauseID)
	var c collector
	p, err := NewPipeline(t.Context(), PipelineConfig{Recognizer: newRecognizer(t), QueueAudio: 200 * time.Millisecond}, c.emit)
	if err != nil {
		t.Fatal(err)
	}
	s := samples(t, u)
	// 11.7 s written at once into a 200 ms queue: most must be dropped,
	// and Write must not wait for the recognizer.
	for off := 0; off < len(s); off += 1600 {
		if err := p.Write(s[off:min(off+1600, len(s))]); err != nil {
			t.Fatal(err)
		}
	}
	st := p.Stats()
	p.Close(context.Background())
	if st.AudioDropped == 0 || st.AudioDropped > st.AudioIn {
		t.Fatalf("stats %+v: want audio dropped", st)
	}
	if st.AudioIn != speech.SamplesToDuration(len(s), 16000) {
		t.Errorf("AudioIn %v", st.AudioIn)
	}
	after := p.Stats()
	if after.Lag != 0 || after.AudioDropped != st.AudioDropped {
		t.Errorf("after close %+v", after)
	}
}

func TestPipelineBadConfig(t *testing.T) {
	if _, err := NewPipeline(t.Context(), PipelineConfig{}, nil); !errors.Is(err, ErrNoEngine) {
		t.Errorf("no recognizer: %v", err)
	}
	rec := newRecognizer(t)
	_, err := NewPipeline(t.Context(), PipelineConfig{Recognizer: rec, Hotwords: []string{"zzyzxqvw"}}, nil)
	if !errors.Is(err, ErrBadConfig) {
		t.Errorf("unspellable hotword: %v", err)
	}
	p, err := NewPipeline(t.Context(), PipelineConfig{Recognizer: rec}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	if err := p.Write([]float32{0, float32NaN()}); !errors.Is(err, speech.ErrBadAudio) {
		t.Errorf("NaN: %v", err)
	}
}

func TestPipelineContextEndCloses(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	p, err := NewPipeline(ctx, PipelineConfig{Recognizer: newRecognizer(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("pipeline still running after its context ended")
	}
	p.Close(context.Background())
}

func float32NaN() float32 { var z float32; return z / z }
