package audio

import (
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/testdata"
	"github.com/izwi-speech/izwi/internal/testenv"
)

// soxPath finds Debian's sox (installed by scripts/setup.sh); it is the
// independent reference these tests compare against.
func soxPath(t *testing.T) string {
	t.Helper()
	return testenv.LookPath(t, "sox", "apt-get install sox")
}

func sox(t *testing.T, sox string, args ...string) {
	t.Helper()
	if out, err := exec.Command(sox, args...).CombinedOutput(); err != nil {
		t.Fatalf("sox %v: %v\n%s", args, err, out)
	}
}

func decodeOK(t *testing.T, path string) Clip {
	t.Helper()
	c, err := DecodeFile(path, Limits{})
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	return c
}

// Files written by an independent tool in every encoding we claim must
// decode to the same samples sox itself reads back.
func TestDecodeMatchesSox(t *testing.T) {
	s := soxPath(t)
	u := testdata.Utterances(t)[1]
	dir := t.TempDir()
	orig := decodeOK(t, u.WAV)
	for _, tc := range []struct {
		name, format string
		args         []string
		exact        bool // lossless: must equal the original samples
	}{
		{"s24.wav", "wav/pcm24", []string{"-b", "24"}, true},
		{"s32.wav", "wav/pcm32", []string{"-b", "32"}, true},
		{"f32.wav", "wav/float32", []string{"-e", "floating-point", "-b", "32"}, true},
		{"f64.wav", "wav/float64", []string{"-e", "floating-point", "-b", "64"}, true},
		{"stereo.wav", "wav/pcm16", []string{"-c", "2"}, true},
		{"six.wav", "wav/pcm16", []string{"-c", "6"}, true},
		{"s24.flac", "flac/24", []string{"-b", "24"}, true},
		{"stereo.flac", "flac/16", []string{"-c", "2"}, true},
		{"u8.wav", "wav/pcm8", []string{"-D", "-b", "8", "-e", "unsigned"}, false},
		{"ulaw.wav", "wav/mulaw", []string{"-e", "mu-law"}, false},
		{"alaw.wav", "wav/alaw", []string{"-e", "a-law"}, false},
	} {
		p := filepath.Join(dir, tc.name)
		sox(t, s, append(append([]string{u.WAV}, tc.args...), p)...)
		c := decodeOK(t, p)
		if c.Format != tc.format || c.SampleRate != 16000 {
			t.Errorf("%s: decoded as %s at %d Hz, want %s at 16000", tc.name, c.Format, c.SampleRate, tc.format)
		}
		want := orig.Samples
		if !tc.exact {
			// Lossy encodings: compare with sox's own expansion to PCM16.
			back := filepath.Join(dir, "back-"+tc.name+".wav")
			sox(t, s, p, "-D", "-e", "signed-integer", "-b", "16", back)
			want = decodeOK(t, back).Samples
		}
		got := c.Mono()
		if len(got) != len(want) {
			t.Fatalf("%s: %d frames, want %d", tc.name, len(got), len(want))
		}
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-6 {
				t.Fatalf("%s: sample %d = %v, want %v", tc.name, i, got[i], want[i])
			}
		}
	}
}

// snrDB compares y against reference x over their middle (edges differ by
// filter start-up), in dB.
func snrDB(x, y []float32) float64 {
	n := min(len(x), len(y))
	m := n / 20
	var sig, noise float64
	for i := m; i < n-m; i++ {
		sig += float64(x[i]) * float64(x[i])
		d := float64(x[i] - y[i])
		noise += d * d
	}
	return 10 * math.Log10(sig/noise)
}

// Real speech resampled by sox and by us must agree closely, and sox's
// upsampled copy brought back by Prepare must line up with the original (a
// filter delay or off-by-one would wreck that SNR).
func TestResampleAgreesWithSox(t *testing.T) {
	s := soxPath(t)
	dir := t.TempDir()
	for _, u := range testdata.Utterances(t)[:3] {
		orig := decodeOK(t, u.WAV)
		for _, rate := range []int{44100, 48000, 8000} {
			p := filepath.Join(dir, u.ID+".wav")
			sox(t, s, u.WAV, "-D", "-e", "floating-point", "-b", "32", "-c", "2", p, "rate", "-v", strconv.Itoa(rate))
			c := decodeOK(t, p)
			ours, err := Resample(orig.Samples, 16000, rate)
			if err != nil {
				t.Fatal(err)
			}
			if d := len(ours) - c.Frames(); d < -1 || d > 1 {
				t.Errorf("%s 16k→%d: %d samples, sox %d", u.ID, rate, len(ours), c.Frames())
			}
			t.Logf("%s 16k→%d: agreement with sox %.1f dB", u.ID, rate, snrDB(c.Mono(), ours))
			// Thresholds sit between what this resampler scores on these files
			// (≥ 40.9 dB up, ≥ 31.8 dB down to 8 kHz, where sox's passband is
			// wider than ours) and what linear interpolation scores (≤ 32.3 up,
			// 14–32.5 down).
			if want := map[bool]float64{true: 38, false: 30}[rate > 16000]; snrDB(c.Mono(), ours) < want {
				t.Errorf("%s 16k→%d: agreement with sox %.1f dB, want ≥ %.0f", u.ID, rate, snrDB(c.Mono(), ours), want)
			}
			if rate == 8000 {
				continue // band-limited: cannot come back
			}
			back, err := Prepare(c, 16000)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s round trip via %d: %.1f dB", u.ID, rate, snrDB(orig.Samples, back))
			if got := snrDB(orig.Samples, back); got < 30 {
				t.Errorf("%s 16k→%d (sox)→16k (ours): SNR %.1f dB, want ≥ 30", u.ID, rate, got)
			}
		}
	}
}

// FLAC compresses digital silence hundreds to one: short silent files must
// decode, but a small file that expands to gigabytes must be refused early.
func TestFLACSilenceExpansion(t *testing.T) {
	s := soxPath(t)
	dir := t.TempDir()
	short := filepath.Join(dir, "short.flac")
	sox(t, s, "-D", "-n", "-r", "16000", "-c", "1", "-b", "16", short, "trim", "0", "2")
	c := decodeOK(t, short)
	if c.Frames() != 32000 || !hasProblem(Analyze(c.Samples, 16000), "audio is silent") {
		t.Errorf("2 s of silence: %d frames, problems %q", c.Frames(), Analyze(c.Samples, 16000).Problems())
	}
	long := filepath.Join(dir, "long.flac")
	sox(t, s, "-D", "-n", "-r", "48000", "-c", "8", "-b", "16", long, "trim", "0", "60")
	st, err := os.Stat(long)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeFile(long, Limits{}); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "per input byte") {
		t.Errorf("1 min × 8 ch of silence in %d bytes: %v, want ErrTooLarge", st.Size(), err)
	}
}
