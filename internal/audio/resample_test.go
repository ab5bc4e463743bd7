package audio

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func sine(freq, amp float64, rate, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return out
}

// toneAmplitude measures the amplitude of freq in x with a Hann-windowed
// single-bin DFT (Goertzel-style), ignoring margin samples at each end.
func toneAmplitude(x []float32, rate int, freq float64, margin int) float64 {
	x = x[margin : len(x)-margin]
	var re, im, wsum float64
	n := float64(len(x))
	for i, v := range x {
		w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/n)
		ph := 2 * math.Pi * freq * float64(i) / float64(rate)
		re += w * float64(v) * math.Cos(ph)
		im -= w * float64(v) * math.Sin(ph)
		wsum += w
	}
	return 2 * math.Hypot(re, im) / wsum
}

func rms(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(len(x)))
}

func db(ratio float64) float64 { return 20 * math.Log10(ratio) }

func mustResample(t *testing.T, x []float32, from, to int) []float32 {
	t.Helper()
	y, err := Resample(x, from, to)
	if err != nil {
		t.Fatalf("Resample(%d→%d): %v", from, to, err)
	}
	return y
}

func TestResampleKeepsToneFrequencyAndAmplitude(t *testing.T) {
	for _, tc := range []struct {
		from, to int
		freq     float64
	}{
		{44100, 16000, 1000},
		{48000, 16000, 7000}, // passband edge
		{16000, 48000, 1000},
		{8000, 16000, 3000},
		{22050, 16000, 440},
		{44101, 16000, 1000}, // L too large for a table: dense-kernel path
	} {
		const amp = 0.5
		x := sine(tc.freq, amp, tc.from, tc.from) // 1 s
		y := mustResample(t, x, tc.from, tc.to)
		margin := tc.to / 20
		got := toneAmplitude(y, tc.to, tc.freq, margin)
		if math.Abs(db(got/amp)) > 0.1 {
			t.Errorf("%d→%d: %.0f Hz amplitude %.4f, want %.2f ±0.1 dB", tc.from, tc.to, tc.freq, got, amp)
		}
		// The strongest frequency near the tone must be the tone itself.
		best, bestAmp := 0.0, 0.0
		for f := tc.freq * 0.9; f <= tc.freq*1.1; f += tc.freq / 200 {
			if a := toneAmplitude(y, tc.to, f, margin); a > bestAmp {
				best, bestAmp = f, a
			}
		}
		if math.Abs(best-tc.freq) > tc.freq/100 {
			t.Errorf("%d→%d: peak at %.1f Hz, want %.0f", tc.from, tc.to, best, tc.freq)
		}
	}
}

func TestResampleRejectsAliasesAndImages(t *testing.T) {
	for _, tc := range []struct {
		from, to   int
		freq, seen float64 // input tone and where its alias/image would land
	}{
		{48000, 16000, 10000, 6000}, // alias
		{48000, 16000, 8500, 7500},  // just above the new Nyquist
		{44100, 16000, 12000, 4000}, // alias
		{8000, 16000, 3000, 5000},   // image of upsampling
		{16000, 48000, 7000, 9000},  // image
	} {
		x := sine(tc.freq, 0.5, tc.from, tc.from)
		y := mustResample(t, x, tc.from, tc.to)
		margin := tc.to / 20
		at := db(toneAmplitude(y, tc.to, tc.seen, margin) / 0.5)
		whole := db(rms(y[margin:len(y)-margin]) / (0.5 / math.Sqrt2))
		if tc.from > tc.to && whole > -40 {
			t.Errorf("%d→%d: %.0f Hz leaves %.1f dB overall, want ≤ -40", tc.from, tc.to, tc.freq, whole)
		}
		if at > -40 {
			t.Errorf("%d→%d: %.0f Hz shows %.1f dB at %.0f Hz, want ≤ -40", tc.from, tc.to, tc.freq, at, tc.seen)
		}
	}
}

func TestResampleIdentityAndLength(t *testing.T) {
	x := sine(440, 0.3, 16000, 1234)
	y := mustResample(t, x, 16000, 16000)
	if len(y) != len(x) || &y[0] == &x[0] {
		t.Fatalf("identity: got %d samples (copy=%v), want a copy of %d", len(y), &y[0] != &x[0], len(x))
	}
	for i := range x {
		if x[i] != y[i] {
			t.Fatalf("identity: sample %d changed", i)
		}
	}
	for _, tc := range [][2]int{{44100, 16000}, {16000, 44100}, {48000, 16000}, {8000, 16000}, {11025, 16000}, {44101, 16000}} {
		for _, n := range []int{0, 1, 7, 1000, 44100} {
			y := mustResample(t, make([]float32, n), tc[0], tc[1])
			want := (n*tc[1] + tc[0] - 1) / tc[0]
			if len(y) != want {
				t.Errorf("%d→%d of %d samples: %d out, want %d", tc[0], tc[1], n, len(y), want)
			}
		}
	}
}

func TestResampleDCGain(t *testing.T) {
	for _, tc := range [][2]int{{44100, 16000}, {16000, 48000}, {48000, 16000}} {
		x := make([]float32, tc[0])
		for i := range x {
			x[i] = 0.25
		}
		y := mustResample(t, x, tc[0], tc[1])
		for i := tc[1] / 10; i < len(y)-tc[1]/10; i++ {
			if math.Abs(float64(y[i])-0.25) > 1e-3 {
				t.Fatalf("%d→%d: DC sample %d = %v, want 0.25", tc[0], tc[1], i, y[i])
			}
		}
	}
}

func TestResamplerStreamingMatchesOneShot(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range [][2]int{{44100, 16000}, {16000, 48000}, {48000, 16000}, {8000, 16000}, {44101, 16000}, {16000, 16000}} {
		x := make([]float32, 30000)
		for i := range x {
			x[i] = float32(rng.Float64()*2 - 1)
		}
		want := mustResample(t, x, tc[0], tc[1])
		r, err := NewResampler(tc[0], tc[1])
		if err != nil {
			t.Fatal(err)
		}
		// Two streams through the same Resampler: Flush must reset it.
		for round := range 2 {
			var got []float32
			for rest := x; len(rest) > 0; {
				n := min(len(rest), rng.IntN(700))
				got = append(got, r.Process(rest[:n])...)
				rest = rest[n:]
			}
			got = append(got, r.Flush()...)
			if len(got) != len(want) {
				t.Fatalf("%d→%d round %d: streamed %d samples, one-shot %d", tc[0], tc[1], round, len(got), len(want))
			}
			for i := range got {
				if math.Abs(float64(got[i]-want[i])) > 1e-5 {
					t.Fatalf("%d→%d round %d: sample %d streamed %v, one-shot %v", tc[0], tc[1], round, i, got[i], want[i])
				}
			}
		}
	}
}

func TestResampleRejectsBadRates(t *testing.T) {
	for _, tc := range [][2]int{{0, 16000}, {16000, 0}, {-8000, 16000}, {999, 16000}, {16000, 400000}} {
		if _, err := Resample([]float32{0}, tc[0], tc[1]); !errors.Is(err, ErrUnsupported) {
			t.Errorf("Resample(%d→%d) error %v, want ErrUnsupported", tc[0], tc[1], err)
		}
	}
}

func TestPrepareMixesAndResamples(t *testing.T) {
	// Left carries a 1 kHz tone, right its inverse plus a 2 kHz tone: the
	// mono mix must keep only the 2 kHz tone at half amplitude.
	l := sine(1000, 0.4, 48000, 48000)
	r2 := sine(2000, 0.4, 48000, 48000)
	inter := make([]float32, 2*len(l))
	for i := range l {
		inter[2*i], inter[2*i+1] = l[i], -l[i]+r2[i]
	}
	y, err := Prepare(Clip{SampleRate: 48000, Channels: 2, Samples: inter}, 16000)
	if err != nil {
		t.Fatal(err)
	}
	if len(y) != 16000 {
		t.Fatalf("Prepare gave %d samples, want 16000", len(y))
	}
	if a := toneAmplitude(y, 16000, 2000, 800); math.Abs(a-0.2) > 0.002 {
		t.Errorf("2 kHz amplitude %.4f, want 0.2", a)
	}
	if a := toneAmplitude(y, 16000, 1000, 800); a > 1e-3 {
		t.Errorf("1 kHz should cancel, amplitude %.4f", a)
	}
	if _, err := Prepare(Clip{}, 16000); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Prepare(empty Clip) error %v, want ErrCorrupt", err)
	}
}

// Live use needs output as input arrives, not at Flush: what Process holds
// back must stay within the filter's half-width (≈ 2.5 ms at the lower rate).
func TestResamplerLatency(t *testing.T) {
	for _, tc := range [][2]int{{48000, 16000}, {44100, 16000}, {8000, 16000}, {16000, 48000}} {
		r, err := NewResampler(tc[0], tc[1])
		if err != nil {
			t.Fatal(err)
		}
		in := tc[0] / 10 // 100 ms
		got := len(r.Process(make([]float32, in)))
		want := in * tc[1] / tc[0]
		held := time.Duration(want-got) * time.Second / time.Duration(tc[1])
		limit := time.Duration(float64(45*time.Second) / float64(min(tc[0], tc[1])))
		if got <= 0 || held > limit {
			t.Errorf("%d→%d: 100 ms in gave %d of %d samples; %v held back, want ≤ %v", tc[0], tc[1], got, want, held, limit)
		}
	}
}
