package audio

import (
	"math"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/testdata"
)

func hasProblem(l Levels, substr string) bool {
	for _, p := range l.Problems() {
		if strings.Contains(p, substr) {
			return true
		}
	}
	return false
}

func TestAnalyzeSynthetic(t *testing.T) {
	const rate = 16000
	tone := sine(440, 0.5, rate, rate)
	l := Analyze(tone, rate)
	if math.Abs(l.Peak-0.5) > 1e-3 || math.Abs(l.RMSDBFS-db(0.5/math.Sqrt2)) > 0.01 || l.ClippedFrac != 0 ||
		l.SilentFrac != 0 || math.Abs(l.DCOffset) > 1e-4 || l.Duration.Seconds() != 1 || len(l.Problems()) != 0 {
		t.Errorf("0.5 sine: %+v, problems %q", l, l.Problems())
	}

	if p := Analyze(nil, rate).Problems(); len(p) != 1 || p[0] != "audio is empty" {
		t.Errorf("empty: %q", p)
	}
	if p := Analyze(make([]float32, rate), rate).Problems(); len(p) != 1 || p[0] != "audio is silent" {
		t.Errorf("zeros: %q", p)
	}

	// A sine driven to amplitude 2 and clamped spends 1 - (2/π)·asin(0.4995)
	// of its time at |x| ≥ 0.999.
	hot := sine(100, 2, rate, rate)
	for i := range hot {
		hot[i] = max(-1, min(1, hot[i]))
	}
	l = Analyze(hot, rate)
	want := 1 - 2/math.Pi*math.Asin(0.999/2)
	if math.Abs(l.ClippedFrac-want) > 0.01 || !hasProblem(l, "% of samples are clipped") {
		t.Errorf("clamped sine: clipped %.4f, want %.4f; problems %q", l.ClippedFrac, want, l.Problems())
	}

	// Isolated full-scale peaks are not clipping.
	peaks := sine(440, 0.3, rate, rate)
	for i := 0; i < len(peaks); i += 100 {
		peaks[i] = 1
	}
	if l := Analyze(peaks, rate); l.ClippedFrac != 0 || l.Peak != 1 {
		t.Errorf("isolated peaks: clipped %.4f, peak %v", l.ClippedFrac, l.Peak)
	}

	dc := sine(440, 0.3, rate, rate)
	for i := range dc {
		dc[i] += 0.1
	}
	if l := Analyze(dc, rate); math.Abs(l.DCOffset-0.1) > 1e-3 || !hasProblem(l, "DC offset of +0.10") {
		t.Errorf("DC: %v, problems %q", l.DCOffset, l.Problems())
	}

	if l := Analyze(sine(440, 0.005, rate, rate), rate); !hasProblem(l, "very quiet") {
		t.Errorf("quiet tone (%.1f dBFS): problems %q", l.RMSDBFS, l.Problems())
	}

	mostly := append(sine(440, 0.5, rate, rate/2), make([]float32, 30*rate)...)
	if l := Analyze(mostly, rate); math.Abs(l.SilentFrac-30/30.5) > 0.002 || !hasProblem(l, "98% of the audio is silence") {
		t.Errorf("mostly silence: %.4f, problems %q", l.SilentFrac, l.Problems())
	}
}

func TestAnalyzeRealSpeech(t *testing.T) {
	for _, u := range testdata.Utterances(t) {
		c, err := DecodeFile(u.WAV, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		l := Analyze(c.Mono(), c.SampleRate)
		if p := l.Problems(); len(p) != 0 || l.ClippedFrac != 0 || l.SilentFrac > 0.5 || l.RMSDBFS < -40 || l.RMSDBFS > -6 {
			t.Errorf("%s: real speech flagged: %+v, problems %q", u.ID, l, p)
		}
		loud := make([]float32, len(c.Samples))
		for i, s := range c.Samples {
			loud[i] = max(-1, min(1, 8*s))
		}
		if l := Analyze(loud, c.SampleRate); l.ClippedFrac < clipProblem || !hasProblem(l, "% of samples are clipped") {
			t.Errorf("%s ×8: clipped %.4f, problems %q", u.ID, l.ClippedFrac, l.Problems())
		}
	}
}
