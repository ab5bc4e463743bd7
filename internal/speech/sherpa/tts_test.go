package sherpa

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/speechtest"
)

const ttsModel = "vits-tiny-en"

func loadTTS(t testing.TB) *Synthesizer {
	t.Helper()
	s, err := newSynthesizer(genModel(t, ttsModel), speech.Spec{Engine: Engine, Model: ttsModel})
	if err != nil {
		t.Fatalf("newSynthesizer: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// synth collects all audio and the number of chunks sink received.

func TestSynthesizerConformance(t *testing.T) {
	s := loadTTS(t)
	out := speechtest.Synthesizer(t, s, "Hello world, this is a test.")
	// Plausible length: 26 letters and spaces with blanks between them at
	// 30 ms per token is about 1.6 s; real speech of this line is 1–2.5 s.
	sec := float64(len(out)) / float64(s.SampleRate())
	if sec < 0.8 || sec > 3 {
		t.Errorf("synthesized %.2f s for a six-word sentence, want 0.8–3 s", sec)
	}
}

func TestSynthesizerStreamsSentences(t *testing.T) {
	s := loadTTS(t)
	one, chunks1 := speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: "Hello world."})
	if chunks1 != 1 {
		t.Errorf("one sentence gave %d chunks, want 1", chunks1)
	}
	three, chunks3 := speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: "Hello world. Hello world. Hello world."})
	if chunks3 != 3 {
		t.Errorf("three sentences gave %d chunks, want 3 (sink must get audio per sentence)", chunks3)
	}
	if len(three) < 2*len(one) {
		t.Errorf("three sentences made %d samples, one made %d", len(three), len(one))
	}
	// Stopping after the first chunk stops generation.
	stop := errors.New("enough")
	calls := 0
	err := s.Synthesize(context.Background(), speech.SynthesisRequest{Text: "Hello world. Hello world. Hello world."},
		func([]float32) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("sink error: err %v after %d calls, want %v after 1", err, calls, stop)
	}
	// Cancelling between sentences stops at the next one.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls = 0
	err = s.Synthesize(ctx, speech.SynthesisRequest{Text: "Hello world. Hello world. Hello world."},
		func([]float32) error { calls++; cancel(); return nil })
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("cancel after the first sentence: err %v after %d chunks, want context.Canceled after 1", err, calls)
	}
}

func TestSynthesizerSpeed(t *testing.T) {
	s := loadTTS(t)
	normal, _ := speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: "good morning world"})
	fast, _ := speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: "good morning world", Speed: 2})
	slow, _ := speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: "good morning world", Speed: 0.5})
	ratio := func(a, b []float32) float64 { return float64(len(a)) / float64(len(b)) }
	if r := ratio(fast, normal); r < 0.45 || r > 0.55 {
		t.Errorf("speed 2: %d samples vs %d at speed 1 (ratio %.2f), want about 0.5", len(fast), len(normal), r)
	}
	if r := ratio(slow, normal); r < 1.9 || r > 2.1 {
		t.Errorf("speed 0.5: %d samples vs %d at speed 1 (ratio %.2f), want about 2", len(slow), len(normal), r)
	}
	for _, bad := range []float32{-1, 0.1, 10} {
		err := s.Synthesize(context.Background(), speech.SynthesisRequest{Text: "hello", Speed: bad}, func([]float32) error { return nil })
		if !errors.Is(err, speech.ErrBadInput) {
			t.Errorf("speed %v: %v, want ErrBadInput", bad, err)
		}
	}
}

func TestSynthesizerVoices(t *testing.T) {
	s := loadTTS(t)
	vs := s.Voices()
	if len(vs) != 2 || vs[0].ID != "alto" || vs[1].ID != "bass" || vs[1].Gender != "male" {
		t.Fatalf("Voices() = %+v, want alto, bass from the catalogue meta", vs)
	}
	def, _ := speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: "hello world"})
	alto, _ := speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: "hello world", Voice: "alto"})
	bass, _ := speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: "hello world", Voice: "bass"})
	if !slices.Equal(def, alto) {
		t.Errorf("default voice differs from the first voice")
	}
	if slices.Equal(alto, bass) || len(alto) != len(bass) {
		t.Errorf("voices alto and bass: equal=%v, lengths %d and %d; want same length, different audio",
			slices.Equal(alto, bass), len(alto), len(bass))
	}
}

func TestSynthesizerConcurrent(t *testing.T) {
	s := loadTTS(t)
	texts := []string{"hello world.", "good morning. thank you.", "the quick brown fox jumps over the lazy dog."}
	want := make([][]float32, len(texts))
	for i, txt := range texts {
		want[i], _ = speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: txt, Voice: []string{"alto", "bass"}[i%2]})
	}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i := g % len(texts)
			var got []float32
			err := s.Synthesize(context.Background(), speech.SynthesisRequest{Text: texts[i], Voice: []string{"alto", "bass"}[i%2]},
				func(c []float32) error { got = append(got, c...); return nil })
			if err != nil {
				t.Error(err)
				return
			}
			if !slices.Equal(got, want[i]) {
				t.Errorf("goroutine %d: %d samples differ from the serial %d", g, len(got), len(want[i]))
			}
		}()
	}
	wg.Wait()
}

func TestSynthesizerBadInput(t *testing.T) {
	s := loadTTS(t)
	ctx := context.Background()
	nop := func([]float32) error { return nil }
	for name, req := range map[string]speech.SynthesisRequest{
		"oov only":    {Text: "zzzqx qqqzz"},
		"invalid utf": {Text: "hello \xff world"},
		"nul":         {Text: "hello\x00world"},
		"too long":    {Text: string(make([]byte, maxTextBytes+1))},
	} {
		if err := s.Synthesize(ctx, req, nop); !errors.Is(err, speech.ErrBadInput) {
			t.Errorf("%s: %v, want ErrBadInput", name, err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Synthesize(cctx, speech.SynthesisRequest{Text: "hello"}, nop); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v, want context.Canceled", err)
	}
	s.Close()
	if err := s.Synthesize(ctx, speech.SynthesisRequest{Text: "hello"}, nop); !errors.Is(err, speech.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}

func TestSynthesizerMissingFiles(t *testing.T) {
	m := genModel(t, ttsModel)
	for _, role := range []string{"model", "tokens", "lexicon"} {
		bad := m
		bad.Files = maps.Clone(m.Files)
		f := bad.Files[role]
		f.Path += ".missing"
		bad.Files[role] = f
		if _, err := newSynthesizer(bad, speech.Spec{}); !errors.Is(err, speech.ErrModel) {
			t.Errorf("missing %s: %v, want ErrModel", role, err)
		}
	}
	noLex := m
	noLex.Files = maps.Clone(m.Files)
	delete(noLex.Files, "lexicon")
	if _, err := newSynthesizer(noLex, speech.Spec{}); !errors.Is(err, speech.ErrModel) {
		t.Errorf("no lexicon and no espeak data: %v, want ErrModel (sherpa-onnx would exit)", err)
	}
	if _, err := newSynthesizer(m, speech.Spec{Options: map[string]string{"noise": "1"}}); !errors.Is(err, speech.ErrBadInput) {
		t.Errorf("unknown option: %v, want ErrBadInput", err)
	}
}

// BenchmarkSynthesize reports time to the first chunk (ttfc-ms) as well as
// the whole synthesis of two sentences.
func BenchmarkSynthesize(b *testing.B) {
	s := loadTTS(b)
	req := speech.SynthesisRequest{Text: "Hello world, this is a test. The quick brown fox jumps over the lazy dog."}
	var first time.Duration
	for b.Loop() {
		start := time.Now()
		got := false
		err := s.Synthesize(context.Background(), req, func([]float32) error {
			if !got {
				first += time.Since(start)
				got = true
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(first.Milliseconds())/float64(b.N), "ttfc-ms")
}
