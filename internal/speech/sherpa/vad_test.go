package sherpa

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/speechtest"
	"github.com/izwi-speech/izwi/internal/testdata"
)

// sileroModel returns the shared Silero VAD v5 as a ResolvedModel, after
// checking its pinned SHA-256: nothing unverified reaches onnxruntime.
func sileroModel(t testing.TB) speech.ResolvedModel { t.Helper(); return testdata.SileroModel(t) }

func loadVAD(t testing.TB, opts map[string]string) *VAD {
	t.Helper()
	v, err := newVAD(sileroModel(t), speech.Spec{Engine: Engine, Model: "silero-vad-v5", Options: opts})
	if err != nil {
		t.Fatalf("newVAD: %v", err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// runVAD pushes samples in 100 ms chunks, as a live client does, and
// returns every segment, Flush included.
func runVAD(t testing.TB, v *VAD, samples []float32) []speech.SpeechSegment {
	t.Helper()
	d, err := v.NewDetector()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var segs []speech.SpeechSegment
	for off := 0; off < len(samples); off += vadRate / 10 {
		s, err := d.Accept(samples[off:min(off+vadRate/10, len(samples))])
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, s...)
	}
	s, err := d.Flush()
	if err != nil {
		t.Fatal(err)
	}
	return append(segs, s...)
}

func speechSeconds(segs []speech.SpeechSegment) float64 {
	n := 0
	for _, s := range segs {
		n += len(s.Samples)
	}
	return float64(n) / vadRate
}

func TestVADConformance(t *testing.T) {
	v := loadVAD(t, nil)
	u := testdata.Utterances(t)[0]
	samples, rate := readWAV(t, u.WAV)
	if rate != vadRate {
		t.Fatalf("%s: rate %d", u.ID, rate)
	}
	speechtest.VAD(t, v, samples)
}

// TestVADRealUtterances checks every shared utterance against the figures
// in shared/models/MANIFEST.md (threshold 0.5, min speech 0.25 s, min
// silence 0.5 s, window 512): one segment each (two for 2412-153948-0000)
// covering 72–96 % of the clip. Fed window by window, as this detector
// does, two clips whose speech runs to the end (closed by Flush) measure
// 96.5 % and 96.8 %, so the upper bound here is 97 %; 1089-134686-0000
// gives exactly the manifest's 9.86 s of 10.44 s.
func TestVADRealUtterances(t *testing.T) {
	v := loadVAD(t, nil)
	for _, u := range testdata.Utterances(t) {
		samples, rate := readWAV(t, u.WAV)
		if rate != vadRate {
			t.Fatalf("%s: rate %d", u.ID, rate)
		}
		segs := runVAD(t, v, samples)
		want := 1
		if u.ID == "2412-153948-0000" {
			want = 2
		}
		total := float64(len(samples)) / vadRate
		cover := speechSeconds(segs) / total
		t.Logf("%s: %d segments, %.2f of %.2f s (%.0f%%)", u.ID, len(segs), speechSeconds(segs), total, 100*cover)
		if len(segs) != want {
			t.Errorf("%s: %d segments, want %d", u.ID, len(segs), want)
		}
		if cover < 0.72 || cover > 0.97 {
			t.Errorf("%s: speech covers %.1f%% of the clip, want 72–97%%", u.ID, 100*cover)
		}
		for i, s := range segs {
			if s.Start < 0 || s.End(vadRate) > speech.SamplesToDuration(len(samples), vadRate)+50*time.Millisecond {
				t.Errorf("%s: segment %d [%v, %v] outside the clip", u.ID, i, s.Start, s.End(vadRate))
			}
			if i > 0 && s.Start < segs[i-1].End(vadRate) {
				t.Errorf("%s: segment %d starts at %v before the previous ends at %v", u.ID, i, s.Start, segs[i-1].End(vadRate))
			}
		}
	}
}

func TestVADNegativeControls(t *testing.T) {
	v := loadVAD(t, nil)
	if segs := runVAD(t, v, make([]float32, 5*vadRate)); len(segs) != 0 {
		t.Errorf("5 s digital silence: %d segments, want 0", len(segs))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]float32, 5*vadRate)
	for i := range noise {
		noise[i] = float32(0.05 * (2*rng.Float64() - 1))
	}
	if segs := runVAD(t, v, noise); len(segs) != 0 {
		t.Errorf("5 s white noise at 0.05: %d segments, want 0", len(segs))
	}
}

// TestVADSplitsAtGap joins two real utterances with 2 s of silence and
// expects two segments, the second starting after the gap, with start
// times taken from the detector's sample offsets.
func TestVADSplitsAtGap(t *testing.T) {
	v := loadVAD(t, nil)
	us := testdata.Utterances(t)
	a, _ := readWAV(t, us[1].WAV) // 1089-134686-0001, 3.3 s
	b, _ := readWAV(t, us[2].WAV) // 1089-134691-0000, 2.1 s
	joined := append(append(append([]float32{}, a...), make([]float32, 2*vadRate)...), b...)
	segs := runVAD(t, v, joined)
	if len(segs) != 2 {
		t.Fatalf("two utterances 2 s apart: %d segments, want 2", len(segs))
	}
	gapStart := speech.SamplesToDuration(len(a), vadRate)
	gapEnd := gapStart + 2*time.Second
	if end := segs[0].End(vadRate); end > gapStart+600*time.Millisecond {
		t.Errorf("first segment ends at %v, want by %v (gap starts at %v)", end, gapStart+600*time.Millisecond, gapStart)
	}
	if st := segs[1].Start; st < gapEnd-300*time.Millisecond || st > gapEnd+time.Second {
		t.Errorf("second segment starts at %v, want near the gap's end %v", st, gapEnd)
	}
	// Pushing the same audio in one call gives the same segmentation.
	d, _ := v.NewDetector()
	defer d.Close()
	one, _ := d.Accept(joined)
	rest, _ := d.Flush()
	one = append(one, rest...)
	if len(one) != 2 || one[1].Start != segs[1].Start {
		t.Errorf("one big Accept: %d segments (second at %v), want 2 at %v", len(one), one[len(one)-1].Start, segs[1].Start)
	}
}

func TestVADSpeaking(t *testing.T) {
	v := loadVAD(t, nil)
	samples, _ := readWAV(t, testdata.Utterances(t)[0].WAV)
	d, err := v.NewDetector()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Speaking() {
		t.Errorf("Speaking before any audio")
	}
	spoke := false
	for off := 0; off < 3*vadRate; off += 1600 {
		if _, err := d.Accept(samples[off : off+1600]); err != nil {
			t.Fatal(err)
		}
		spoke = spoke || d.Speaking()
	}
	if !spoke {
		t.Errorf("Speaking never true during 3 s of speech")
	}
	if _, err := d.Accept(make([]float32, 2*vadRate)); err != nil {
		t.Fatal(err)
	}
	if d.Speaking() {
		t.Errorf("Speaking still true after 2 s of silence")
	}
}

func TestVADErrors(t *testing.T) {
	v := loadVAD(t, nil)
	d, err := v.NewDetector()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Accept([]float32{0, float32(math.NaN())}); !errors.Is(err, speech.ErrBadAudio) {
		t.Errorf("Accept(NaN) = %v, want ErrBadAudio", err)
	}
	if segs, err := d.Accept(nil); err != nil || segs != nil {
		t.Errorf("Accept(nil) = %v, %v", segs, err)
	}
	d.Close()
	if _, err := d.Accept(make([]float32, 160)); !errors.Is(err, speech.ErrClosed) {
		t.Errorf("Accept after Close = %v, want ErrClosed", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	v.Close()
	if _, err := v.NewDetector(); !errors.Is(err, speech.ErrClosed) {
		t.Errorf("NewDetector after Close = %v, want ErrClosed", err)
	}

	m := sileroModel(t)
	missing := m
	missing.Files = map[string]speech.ModelFile{"model": {Path: m.File("model") + ".missing"}}
	if _, err := newVAD(missing, speech.Spec{}); !errors.Is(err, speech.ErrModel) {
		t.Errorf("missing model file: %v, want ErrModel", err)
	}
	wrongSize := m
	wrongSize.Files = map[string]speech.ModelFile{"model": {Path: m.File("model"), Size: 10}}
	if _, err := newVAD(wrongSize, speech.Spec{}); !errors.Is(err, speech.ErrModel) {
		t.Errorf("size differing from the verified one: %v, want ErrModel", err)
	}
	for _, o := range []map[string]string{{"threshold": "2"}, {"window": "x"}, {"min_silence": "NaN"}, {"bogus": "1"}} {
		if _, err := newVAD(m, speech.Spec{Options: o}); !errors.Is(err, speech.ErrBadInput) {
			t.Errorf("options %v: %v, want ErrBadInput", o, err)
		}
	}
}

// BenchmarkVAD pushes all shared utterances (103.7 s) through fresh
// detectors in 100 ms chunks and reports the real-time factor of detection
// alone; making the detectors (one onnxruntime session each) is timed by
// BenchmarkVADNewDetector.
func BenchmarkVAD(b *testing.B) {
	v := loadVAD(b, nil)
	var clips [][]float32
	total := 0
	for _, u := range testdata.Utterances(b) {
		s, _ := readWAV(b, u.WAV)
		clips = append(clips, s)
		total += len(s)
	}
	var busy time.Duration
	for b.Loop() {
		for _, c := range clips {
			b.StopTimer()
			d, err := v.NewDetector()
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			start := time.Now()
			for off := 0; off < len(c); off += vadRate / 10 {
				if _, err := d.Accept(c[off:min(off+vadRate/10, len(c))]); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := d.Flush(); err != nil {
				b.Fatal(err)
			}
			busy += time.Since(start)
			b.StopTimer()
			d.Close()
			b.StartTimer()
		}
	}
	b.ReportMetric(busy.Seconds()/(float64(total)/vadRate*float64(b.N)), "rtf")
}

// BenchmarkVADNewDetector is the cost of one live stream's detector.
func BenchmarkVADNewDetector(b *testing.B) {
	v := loadVAD(b, nil)
	for b.Loop() {
		d, err := v.NewDetector()
		if err != nil {
			b.Fatal(err)
		}
		d.Close()
	}
}

// TestVADCatalogueDefaults: catalogue meta sets the defaults (here a
// 4 s minimum silence, which bridges a 2 s gap plus the clips' own pauses)
// and spec options win.
func TestVADCatalogueDefaults(t *testing.T) {
	us := testdata.Utterances(t)
	a, _ := readWAV(t, us[1].WAV)
	b, _ := readWAV(t, us[2].WAV)
	joined := append(append(append([]float32{}, a...), make([]float32, 2*vadRate)...), b...)
	m := sileroModel(t)
	m.Meta = map[string]string{"min_silence_duration": "4", "sample_rate": "16000"}
	bridged, err := newVAD(m, speech.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	defer bridged.Close()
	if segs := runVAD(t, bridged, joined); len(segs) != 1 {
		t.Errorf("catalogue min silence 4 s over a 2 s gap: %d segments, want 1", len(segs))
	}
	split, err := newVAD(m, speech.Spec{Options: map[string]string{"min_silence": "0.5"}})
	if err != nil {
		t.Fatal(err)
	}
	defer split.Close()
	if segs := runVAD(t, split, joined); len(segs) != 2 {
		t.Errorf("option min_silence 0.5 overriding the catalogue: %d segments, want 2", len(segs))
	}
	m.Meta = map[string]string{"sample_rate": "44100"}
	if _, err := newVAD(m, speech.Spec{}); !errors.Is(err, speech.ErrModel) {
		t.Errorf("sample_rate 44100: %v, want ErrModel", err)
	}
}
