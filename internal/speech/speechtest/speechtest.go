// Package speechtest is the conformance suite every speech engine runs: it
// checks the contracts written on the interfaces in package speech (stream
// lifecycle, concurrency on one loaded model, timing invariants, error
// sentinels) against a real loaded engine and real audio. Only tests import it.
package speechtest

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

// checkInfo fails t unless info names its engine and role.
func checkInfo(t *testing.T, info speech.EngineInfo, role string) {
	t.Helper()
	if info.Engine == "" || info.Role != role {
		t.Errorf("Info() = %+v, want engine set and role %q", info, role)
	}
}

// CheckResults fails t unless results obey the timing contract: start ≤ end,
// words inside [0, limit], words in order, confidence in [0, 1].
func CheckResults(t *testing.T, rs []speech.Result, limit time.Duration) {
	t.Helper()
	const slack = 100 * time.Millisecond // engines round to frames
	for _, r := range rs {
		if r.Start > r.End || r.End > limit+slack || r.Start < 0 {
			t.Errorf("segment %d: times [%v, %v] outside [0, %v]", r.Segment, r.Start, r.End, limit)
		}
		if r.Confidence < 0 || r.Confidence > 1 || math.IsNaN(float64(r.Confidence)) {
			t.Errorf("segment %d: confidence %v outside [0,1]", r.Segment, r.Confidence)
		}
		var prev time.Duration
		for _, w := range r.Words {
			if w.Start > w.End || w.Start < prev-slack || w.End > limit+slack {
				t.Errorf("segment %d: word %q [%v, %v] out of order or range", r.Segment, w.Text, w.Start, w.End)
			}
			if w.Confidence < 0 || w.Confidence > 1 {
				t.Errorf("word %q: confidence %v outside [0,1]", w.Text, w.Confidence)
			}
			prev = w.Start
		}
	}
}

// Feed pushes samples through st in chunk-sized pieces and returns all
// results, Flush included; it fails t on any error.
func Feed(t testing.TB, st speech.Stream, samples []float32, chunk int) []speech.Result {
	t.Helper()
	ctx := context.Background()
	var all []speech.Result
	for off := 0; off < len(samples); off += chunk {
		rs, err := st.Accept(ctx, samples[off:min(off+chunk, len(samples))])
		if err != nil {
			t.Fatalf("Accept: %v", err)
		}
		all = append(all, rs...)
	}
	rs, err := st.Flush(ctx)
	if err != nil {
		t.Fatalf("Flush: %v", err)
	}
	return append(all, rs...)
}

// Synthesize runs one synthesis request and returns all its samples and how
// many chunks reached the sink; it fails t on error (naming the voice, never
// the text).
func Synthesize(t testing.TB, s speech.Synthesizer, req speech.SynthesisRequest) ([]float32, int) {
	t.Helper()
	var out []float32
	chunks := 0
	err := s.Synthesize(context.Background(), req, func(c []float32) error {
		out = append(out, c...)
		chunks++
		return nil
	})
	if err != nil {
		t.Fatalf("Synthesize(voice %q): %v", req.Voice, err)
	}
	return out, chunks
}

// FinalText joins the text of the final results.
func FinalText(rs []speech.Result) string {
	var parts []string
	for _, r := range rs {
		if r.Final && strings.TrimSpace(r.Text) != "" {
			parts = append(parts, strings.TrimSpace(r.Text))
		}
	}
	return strings.Join(parts, " ")
}

// Recognizer runs the streaming contract against rec with real speech at
// rec.SampleRate(). check judges the recognised text (e.g. a WER bound); it
// may be nil when the model's words are meaningless (generated models).
func Recognizer(t *testing.T, rec speech.Recognizer, samples []float32, check func(t *testing.T, text string)) {
	t.Helper()
	ctx := context.Background()
	checkInfo(t, rec.Info(), "asr")
	if rec.SampleRate() <= 0 {
		t.Fatalf("SampleRate() = %d", rec.SampleRate())
	}
	limit := speech.SamplesToDuration(len(samples), rec.SampleRate())
	chunk := rec.SampleRate() / 10 // 100 ms, as a live client sends

	t.Run("lifecycle", func(t *testing.T) {
		st, err := rec.NewStream(ctx, speech.StreamOptions{})
		if err != nil {
			t.Fatalf("NewStream: %v", err)
		}
		if _, err := st.Accept(ctx, nil); err != nil {
			t.Errorf("Accept(nil) = %v, want nil", err)
		}
		rs := Feed(t, st, samples, chunk)
		CheckResults(t, rs, limit)
		text := FinalText(rs)
		if check != nil {
			check(t, text)
		}
		var segs []int
		for _, r := range rs {
			if r.Final {
				segs = append(segs, r.Segment)
			}
		}
		for i := 1; i < len(segs); i++ {
			if segs[i] <= segs[i-1] {
				t.Errorf("final segment numbers not increasing: %v", segs)
			}
		}
		// Flush with nothing buffered yields no new final text.
		again, err := st.Flush(ctx)
		if err != nil {
			t.Errorf("second Flush: %v", err)
		}
		if txt := FinalText(again); txt != "" {
			t.Errorf("second Flush produced %q, want nothing", txt)
		}
		// Reset, then the same audio gives the same words.
		if err := st.Reset(ctx); err != nil {
			t.Fatalf("Reset: %v", err)
		}
		if got := FinalText(Feed(t, st, samples, chunk)); got != text {
			t.Errorf("after Reset: %q, want %q", got, text)
		}
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if _, err := st.Accept(ctx, samples[:chunk]); !errors.Is(err, speech.ErrClosed) {
			t.Errorf("Accept after Close = %v, want ErrClosed", err)
		}
	})

	t.Run("bad-audio", func(t *testing.T) {
		st, err := rec.NewStream(ctx, speech.StreamOptions{})
		if err != nil {
			t.Fatalf("NewStream: %v", err)
		}
		defer st.Close()
		for _, bad := range [][]float32{{0, float32(math.NaN()), 0}, {0, float32(math.Inf(1))}, {float32(math.Inf(-1))}} {
			_, err := st.Accept(ctx, bad)
			if !errors.Is(err, speech.ErrBadAudio) {
				t.Errorf("Accept(%v) = %v, want ErrBadAudio", bad, err)
			}
			// Bad input is the caller's fault: a chain must not fail
			// over on it.
			if errors.Is(err, speech.ErrUnavailable) || speech.FailsOver(err) {
				t.Errorf("Accept(%v) = %v: bad audio must not read as ErrUnavailable", bad, err)
			}
		}
	})

	t.Run("cancelled-ctx", func(t *testing.T) {
		st, err := rec.NewStream(ctx, speech.StreamOptions{})
		if err != nil {
			t.Fatalf("NewStream: %v", err)
		}
		defer st.Close()
		if _, err := st.Accept(ctx, samples[:chunk]); err != nil {
			t.Fatalf("Accept: %v", err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		calls := map[string]func() error{
			"Accept": func() error { _, err := st.Accept(cctx, samples[chunk:2*chunk]); return err },
			"Flush":  func() error { _, err := st.Flush(cctx); return err },
			"Reset":  func() error { return st.Reset(cctx) },
		}
		for name, call := range calls {
			if err := returns(t, name, call); !errors.Is(err, context.Canceled) {
				t.Errorf("%s(cancelled ctx) = %v, want context.Canceled", name, err)
			}
		}
		if err := returns(t, "Close", st.Close); err != nil {
			t.Errorf("Close after cancelled calls: %v", err)
		}
	})

	t.Run("concurrent-streams", func(t *testing.T) {
		want := ""
		{
			st, err := rec.NewStream(ctx, speech.StreamOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want = FinalText(Feed(t, st, samples, chunk))
			st.Close()
		}
		const n = 4
		got := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, err := rec.NewStream(ctx, speech.StreamOptions{})
				if err != nil {
					t.Error(err)
					return
				}
				defer st.Close()
				got[i] = FinalText(Feed(t, st, samples, chunk))
			}()
		}
		wg.Wait()
		for i, g := range got {
			if g != want {
				t.Errorf("stream %d: %q, want %q (streams must not share state)", i, g, want)
			}
		}
	})
}

// hangLimit is how long a call given a cancelled ctx may take before the
// suite calls it a hang (not a speed check: any prompt return passes).
const hangLimit = 10 * time.Second

// returns runs call and fails t if it does not return within hangLimit.
func returns(t *testing.T, name string, call func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		return err
	case <-time.After(hangLimit):
		t.Fatalf("%s did not return within %v of a cancelled ctx", name, hangLimit)
		return nil
	}
}

// Transcriber runs the file contract against tr with real speech.
func Transcriber(t *testing.T, tr speech.Transcriber, samples []float32, check func(t *testing.T, text string)) {
	t.Helper()
	checkInfo(t, tr.Info(), "transcribe")
	limit := speech.SamplesToDuration(len(samples), tr.SampleRate())
	var progressed time.Duration
	out, err := tr.Transcribe(context.Background(), samples, speech.TranscribeOptions{
		Progress: func(d time.Duration) { progressed = d },
	})
	if err != nil {
		t.Fatalf("Transcribe: %v", err)
	}
	CheckResults(t, out.Segments, limit)
	if out.Duration < limit-time.Millisecond || out.Duration > limit+time.Millisecond {
		t.Errorf("Duration = %v, want %v", out.Duration, limit)
	}
	if progressed == 0 {
		t.Errorf("Progress never called")
	}
	if check != nil {
		check(t, out.Text)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tr.Transcribe(ctx, samples, speech.TranscribeOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Transcribe(cancelled ctx) = %v, want context.Canceled", err)
	}
}

// VAD runs the detector contract: speech gives segments inside the audio,
// silence gives none.
func VAD(t *testing.T, vad speech.VAD, speechSamples []float32) {
	t.Helper()
	checkInfo(t, vad.Info(), "vad")
	rate := vad.SampleRate()
	segs := detect(t, vad, speechSamples)
	if len(segs) == 0 {
		t.Fatalf("no speech found in real speech")
	}
	limit := speech.SamplesToDuration(len(speechSamples), rate)
	for _, s := range segs {
		if s.Start < 0 || s.End(rate) > limit+50*time.Millisecond {
			t.Errorf("segment [%v, %v] outside [0, %v]", s.Start, s.End(rate), limit)
		}
	}
	if segs := detect(t, vad, make([]float32, 3*rate)); len(segs) != 0 {
		t.Errorf("digital silence gave %d segments, want 0", len(segs))
	}
}

func detect(t *testing.T, vad speech.VAD, samples []float32) []speech.SpeechSegment {
	t.Helper()
	d, err := vad.NewDetector()
	if err != nil {
		t.Fatalf("NewDetector: %v", err)
	}
	defer d.Close()
	var segs []speech.SpeechSegment
	chunk := vad.SampleRate() / 10
	for off := 0; off < len(samples); off += chunk {
		s, err := d.Accept(samples[off:min(off+chunk, len(samples))])
		if err != nil {
			t.Fatalf("Accept: %v", err)
		}
		segs = append(segs, s...)
	}
	s, err := d.Flush()
	if err != nil {
		t.Fatalf("Flush: %v", err)
	}
	return append(segs, s...)
}

// Synthesizer runs the synthesis contract: real text makes bounded audio in
// chunks, sink errors stop synthesis, empty text is refused.
func Synthesizer(t *testing.T, syn speech.Synthesizer, text string) []float32 {
	t.Helper()
	checkInfo(t, syn.Info(), "tts")
	if len(syn.Voices()) == 0 {
		t.Errorf("Voices() is empty")
	}
	ctx := context.Background()
	var out []float32
	err := syn.Synthesize(ctx, speech.SynthesisRequest{Text: text}, func(s []float32) error {
		out = append(out, s...)
		return nil
	})
	if err != nil {
		t.Fatalf("Synthesize: %v", err)
	}
	if len(out) < syn.SampleRate()/10 {
		t.Fatalf("Synthesize made %d samples, want ≥ 100 ms", len(out))
	}
	var peak float32
	for _, v := range out {
		if v < -1 || v > 1 || v != v {
			t.Fatalf("sample %v outside [-1, 1]", v)
		}
		peak = max(peak, v, -v)
	}
	if peak < 0.01 {
		t.Errorf("synthesized audio is silent (peak %v)", peak)
	}
	stop := errors.New("stop")
	if err := syn.Synthesize(ctx, speech.SynthesisRequest{Text: text}, func([]float32) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("sink error = %v, want it returned", err)
	}
	if err := syn.Synthesize(ctx, speech.SynthesisRequest{Text: "  "}, func([]float32) error { return nil }); !errors.Is(err, speech.ErrBadInput) {
		t.Errorf("blank text = %v, want ErrBadInput", err)
	}
	if err := syn.Synthesize(ctx, speech.SynthesisRequest{Text: text, Voice: "no-such-voice"}, func([]float32) error { return nil }); !errors.Is(err, speech.ErrBadInput) {
		t.Errorf("unknown voice = %v, want ErrBadInput", err)
	}
	return out
}

// Embedder runs the embedding contract: fixed dimension, deterministic,
// safe under concurrency, bad audio refused.
func Embedder(t *testing.T, emb speech.Embedder, samples []float32) {
	t.Helper()
	checkInfo(t, emb.Info(), "speaker")
	ctx := context.Background()
	first, err := emb.Embed(ctx, samples)
	if err != nil {
		t.Fatalf("Embed: %v", err)
	}
	if len(first) != emb.Dim() || emb.Dim() == 0 {
		t.Fatalf("len(Embed) = %d, Dim() = %d", len(first), emb.Dim())
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := emb.Embed(ctx, samples)
			if err != nil {
				t.Error(err)
				return
			}
			for i := range v {
				if math.Abs(float64(v[i]-first[i])) > 1e-4 {
					t.Errorf("embedding differs at %d under concurrency: %v vs %v", i, v[i], first[i])
					return
				}
			}
		}()
	}
	wg.Wait()
	if _, err := emb.Embed(ctx, []float32{float32(math.NaN())}); !errors.Is(err, speech.ErrBadAudio) {
		t.Errorf("Embed(NaN) = %v, want ErrBadAudio", err)
	}
}

// Exhaust opens streams on rec until it has no free one within a short
// wait (every decoder of its pool taken) and returns a function that
// closes them all; it fails t if not even one opens. Tests of capacity
// refusals use it.
func Exhaust(t testing.TB, rec speech.Recognizer) (release func()) {
	t.Helper()
	var held []speech.Stream
	for len(held) < 1024 {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		st, err := rec.NewStream(ctx, speech.StreamOptions{})
		cancel()
		if err != nil {
			break
		}
		held = append(held, st)
	}
	if len(held) == 0 {
		t.Fatal("speechtest: could not take a single stream")
	}
	return func() {
		for _, st := range held {
			st.Close()
		}
		held = nil
	}
}
