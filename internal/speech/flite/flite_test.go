package flite

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/speechtest"
)

const sample = "The quick brown fox jumps over the lazy dog. Flite speaks without downloading anything."

func newSynth(t testing.TB, spec speech.Spec) *Synthesizer {
	t.Helper()
	s, err := New(spec)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// synth returns all samples and the chunk count of one request.

func TestConformance(t *testing.T) {
	speechtest.Synthesizer(t, newSynth(t, speech.Spec{Engine: EngineName}), sample)
}

func TestRegister(t *testing.T) {
	r := speech.NewRegistry()
	Register(r)
	syn, err := r.Synthesizers.New(context.Background(), speech.Spec{Engine: EngineName, Model: "kal16"}, speech.Deps{})
	if err != nil {
		t.Fatalf("registry New: %v", err)
	}
	defer syn.Close()
	info := syn.Info()
	if info.Engine != "flite" || info.Role != "tts" || info.Model != "kal16" || info.Library != "flite 2.2" {
		t.Errorf("Info() = %+v", info)
	}
	if syn.SampleRate() != 16000 {
		t.Errorf("SampleRate() = %d", syn.SampleRate())
	}
}

func TestNewSpec(t *testing.T) {
	for _, tc := range []struct {
		spec    speech.Spec
		model   string
		wantErr error
	}{
		{speech.Spec{}, DefaultVoice, nil},
		{speech.Spec{Model: "awb"}, "awb", nil},
		{speech.Spec{Options: map[string]string{"voice": "rms"}}, "rms", nil},
		{speech.Spec{Model: "rms", Options: map[string]string{"voice": "rms"}}, "rms", nil},
		{speech.Spec{Model: "kal"}, "", speech.ErrModel},
		{speech.Spec{Model: "slt", Options: map[string]string{"voice": "awb"}}, "", speech.ErrBadInput},
		{speech.Spec{Options: map[string]string{"pitch": "200"}}, "", speech.ErrUnsupported},
	} {
		s, err := New(tc.spec)
		if tc.wantErr != nil {
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("New(%+v) = %v, want %v", tc.spec, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("New(%+v): %v", tc.spec, err)
			continue
		}
		if got := s.Info().Model; got != tc.model {
			t.Errorf("New(%+v).Info().Model = %q, want %q", tc.spec, got, tc.model)
		}
	}
}

// TestEveryVoice checks each voice makes distinct, non-silent, streamed
// audio of plausible length for the text.
func TestEveryVoice(t *testing.T) {
	s := newSynth(t, speech.Spec{})
	seen := map[int]string{}
	for _, v := range s.Voices() {
		out, chunks := speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: sample, Voice: v.ID})
		secs := float64(len(out)) / SampleRate
		// 15 words: anything from 2 to 12 seconds is speech at a sane rate.
		if secs < 2 || secs > 12 {
			t.Errorf("voice %s: %.2f s of audio for %d words", v.ID, secs, len(strings.Fields(sample)))
		}
		if chunks < 3 {
			t.Errorf("voice %s: %d chunks, want audio streamed in several", v.ID, chunks)
		}
		if rms(out) < 0.01 {
			t.Errorf("voice %s: near-silent audio (rms %.4f)", v.ID, rms(out))
		}
		if other, dup := seen[len(out)]; dup {
			t.Errorf("voice %s made exactly as many samples as %s: same voice twice?", v.ID, other)
		}
		seen[len(out)] = v.ID
	}
}

func rms(x []float32) float64 {
	var sum float64
	for _, v := range x {
		sum += float64(v) * float64(v)
	}
	if len(x) == 0 {
		return 0
	}
	return math.Sqrt(sum / float64(len(x)))
}

func TestSpeed(t *testing.T) {
	s := newSynth(t, speech.Spec{})
	for _, v := range []string{"kal16", "slt"} {
		normal, _ := speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: sample, Voice: v, Speed: 1})
		fast, _ := speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: sample, Voice: v, Speed: 2})
		slow, _ := speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: sample, Voice: v, Speed: 0.5})
		if r := float64(len(fast)) / float64(len(normal)); r < 0.4 || r > 0.7 {
			t.Errorf("voice %s: speed 2 gives %.2f× the length of speed 1, want about 0.5", v, r)
		}
		if r := float64(len(slow)) / float64(len(normal)); r < 1.5 || r > 2.5 {
			t.Errorf("voice %s: speed 0.5 gives %.2f× the length of speed 1, want about 2", v, r)
		}
	}
}

func TestDeterministicConcurrent(t *testing.T) {
	s := newSynth(t, speech.Spec{})
	texts := []string{sample, "Seven engineers share two cores.", "Numbers like 42 and 1999 are read aloud."}
	type job struct{ voice, text string }
	var jobs []job
	for _, v := range s.Voices() {
		for _, tx := range texts {
			jobs = append(jobs, job{v.ID, tx})
		}
	}
	want := make([][]float32, len(jobs))
	for i, j := range jobs {
		want[i], _ = speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: j.text, Voice: j.voice})
	}
	const rounds = 3
	var wg sync.WaitGroup
	for round := range rounds {
		for i, j := range jobs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var got []float32
				err := s.Synthesize(context.Background(), speech.SynthesisRequest{Text: j.text, Voice: j.voice}, func(c []float32) error {
					got = append(got, c...)
					return nil
				})
				if err != nil {
					t.Errorf("round %d job %d: %v", round, i, err)
					return
				}
				if !same(j.voice, got, want[i]) {
					t.Errorf("round %d: voice %s text %d differs from the sequential run under concurrency (%d vs %d samples, envelope distance %.3f)",
						round, j.voice, i%len(texts), len(got), len(want[i]), envelopeDistance(got, want[i]))
				}
			}()
		}
	}
	wg.Wait()
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSequentialRepeatable pins down what "same output" means per voice:
// the diphone voice (kal16) is bit-exact, while Flite's clustergen voices
// draw unvoiced excitation noise from libc rand(), so two runs differ in
// the samples but not in length or loudness envelope.
func TestSequentialRepeatable(t *testing.T) {
	s := newSynth(t, speech.Spec{})
	for _, v := range s.Voices() {
		other, _ := speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: sample[:44] + " Something else entirely, said slowly.", Voice: v.ID})
		a, _ := speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: sample, Voice: v.ID})
		b, _ := speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: sample, Voice: v.ID})
		if !same(v.ID, a, b) {
			t.Errorf("voice %s: two sequential runs differ (envelope distance %.3f)", v.ID, envelopeDistance(a, b))
		}
		t.Logf("voice %s: repeat envelope distance %.4f, vs other text %.4f", v.ID, envelopeDistance(a, b), envelopeDistance(a, other))
		if d := envelopeDistance(a, other); d < 5*envelopeTolerance {
			t.Errorf("voice %s: envelope distance to a different text is only %.3f: the measure cannot tell texts apart", v.ID, d)
		}
	}
}

// envelopeTolerance bounds the envelope distance between two runs of a
// clustergen voice on the same text.
const envelopeTolerance = 0.05

// same reports whether two syntheses of one request agree: bit-exact for
// the deterministic diphone voice, equal length and envelope otherwise.
func same(voice string, a, b []float32) bool {
	if voice == "kal16" {
		return equal(a, b)
	}
	return len(a) == len(b) && envelopeDistance(a, b) <= envelopeTolerance
}

// envelopeDistance is the mean absolute difference of 20 ms frame RMS
// values, relative to the mean frame RMS of a; lengths that differ count
// the missing frames as silence.
func envelopeDistance(a, b []float32) float64 {
	const frame = SampleRate / 50
	n := max(len(a), len(b)) / frame
	var diff, ref float64
	for f := range n {
		ra := rms(window(a, f*frame, frame))
		rb := rms(window(b, f*frame, frame))
		diff += abs(ra - rb)
		ref += ra
	}
	if ref == 0 {
		return 1
	}
	return diff / ref
}

func window(x []float32, off, n int) []float32 {
	if off >= len(x) {
		return nil
	}
	return x[off:min(off+n, len(x))]
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestBadInput covers each refusal and checks no error quotes the text,
// since errors are logged and text must never be.
func TestBadInput(t *testing.T) {
	s := newSynth(t, speech.Spec{})
	const secret = "zqxj secret words"
	ctx := context.Background()
	nop := func([]float32) error { return nil }
	for name, req := range map[string]speech.SynthesisRequest{
		"too long":       {Text: secret + strings.Repeat(" a", MaxTextRunes)},
		"unknown voice":  {Text: secret, Voice: "kal"},
		"negative speed": {Text: secret, Speed: -1},
		"nan speed":      {Text: secret, Speed: float32(math.NaN())},
		"only controls":  {Text: "\x00\x01\x02\u200b\x7f"},
	} {
		err := s.Synthesize(ctx, req, nop)
		if !errors.Is(err, speech.ErrBadInput) {
			t.Errorf("%s: %v, want ErrBadInput", name, err)
			continue
		}
		if strings.Contains(err.Error(), "zqxj") || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error %q quotes the text", name, err)
		}
	}
	if err := s.Synthesize(ctx, speech.SynthesisRequest{Text: secret}, nil); !errors.Is(err, speech.ErrBadInput) {
		t.Errorf("nil sink: %v, want ErrBadInput", err)
	}
	// Exactly at the cap is still accepted.
	atCap := strings.Repeat("a ", MaxTextRunes/2)
	if err := s.Synthesize(ctx, speech.SynthesisRequest{Text: atCap, Voice: "kal16", Speed: 4}, nop); err != nil {
		t.Errorf("text of exactly %d characters: %v", MaxTextRunes, err)
	}
}

func TestCancelAndClose(t *testing.T) {
	s, err := New(speech.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	chunks := 0
	err = s.Synthesize(ctx, speech.SynthesisRequest{Text: sample + " " + sample}, func([]float32) error {
		chunks++
		if chunks == 2 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancel mid-stream: %v, want context.Canceled", err)
	}
	if chunks != 2 {
		t.Errorf("sink called %d times, want synthesis to stop after the cancel on chunk 2", chunks)
	}
	if err := s.Synthesize(ctx, speech.SynthesisRequest{Text: sample}, func([]float32) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("already cancelled: %v, want context.Canceled", err)
	}
	s.Close()
	if err := s.Synthesize(context.Background(), speech.SynthesisRequest{Text: sample}, func([]float32) error { return nil }); !errors.Is(err, speech.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}

// TestSinkErrorStopsEarly checks a failing sink stops Flite at once: the
// sink sees exactly one chunk, for every voice.
func TestSinkErrorStopsEarly(t *testing.T) {
	s := newSynth(t, speech.Spec{})
	stop := errors.New("client went away")
	for _, v := range s.Voices() {
		calls := 0
		err := s.Synthesize(context.Background(), speech.SynthesisRequest{Text: sample, Voice: v.ID}, func([]float32) error {
			calls++
			return stop
		})
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("voice %s: err %v after %d sink calls, want %v after 1", v.ID, err, calls, stop)
		}
	}
}

func TestAudioCap(t *testing.T) {
	s := newSynth(t, speech.Spec{})
	// 2,500 words at speed 0.25 ask for well over MaxAudio; the cap, not
	// the text, must stop it (kal16 is the cheapest voice to run that far).
	text := strings.Repeat("9 ", MaxTextRunes/2)
	sent := 0
	err := s.Synthesize(context.Background(), speech.SynthesisRequest{Text: text, Voice: "kal16", Speed: 0.25}, func(c []float32) error {
		sent += len(c)
		return nil
	})
	if !errors.Is(err, speech.ErrBadInput) {
		t.Fatalf("huge audio: %v, want ErrBadInput", err)
	}
	if limit := int(MaxAudio.Seconds()) * SampleRate; sent > limit {
		t.Errorf("sent %d samples, over the %d limit", sent, limit)
	}
}

func TestSinkPanicCrossesNoCFrames(t *testing.T) {
	s := newSynth(t, speech.Spec{})
	defer func() {
		if p := recover(); p != "boom" {
			t.Errorf("recovered %v, want the sink's panic", p)
		}
		// Flite must still work after the unwinding.
		if out, _ := speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: "Still here."}); len(out) == 0 {
			t.Errorf("no audio after a sink panic")
		}
	}()
	_ = s.Synthesize(context.Background(), speech.SynthesisRequest{Text: sample}, func([]float32) error { panic("boom") })
	t.Errorf("Synthesize returned normally after its sink panicked")
}
