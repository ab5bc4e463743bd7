package audio

import (
	"bytes"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/testdata"
	"github.com/izwi-speech/izwi/internal/testenv"
)

// mp3Fixture encodes a real utterance to MP3 with sox (libsox-fmt-mp3,
// i.e. LAME) at test time; no MP3 is committed.
func mp3Fixture(t *testing.T, args ...string) (path, wav string) {
	t.Helper()
	s := soxPath(t)
	if !soxWritesMP3(s) {
		testenv.Missing(t, "sox cannot write MP3 (apt-get install libsox-fmt-mp3)")
	}
	u := testdata.Utterances(t)[1]
	path = filepath.Join(t.TempDir(), "u.mp3")
	sox(t, s, append(append([]string{u.WAV}, args...), path)...)
	return path, u.WAV
}

// soxWritesMP3 reports whether this sox has its MP3 format handler
// (Debian's libsox-fmt-mp3, which links LAME).
func soxWritesMP3(sox string) bool {
	out, _ := exec.Command(sox, "-h").CombinedOutput()
	_, formats, _ := strings.Cut(string(out), "AUDIO FILE FORMATS:")
	formats, _, _ = strings.Cut(formats, "\n")
	return slices.Contains(strings.Fields(formats), "mp3")
}

// bestCorrelation is the highest normalised correlation of a with b[off:]
// over lags in [-maxLag, maxLag] (MP3 encoders add a start delay).
func bestCorrelation(a, b []float32, off, maxLag int) float64 {
	best := -1.0
	for lag := -maxLag; lag <= maxLag; lag += 1 {
		var ab, aa, bb float64
		for i := range a {
			j := off + i + lag
			if j < 0 || j >= len(b) {
				continue
			}
			ab += float64(a[i]) * float64(b[j])
			aa += float64(a[i]) * float64(a[i])
			bb += float64(b[j]) * float64(b[j])
		}
		if aa > 0 && bb > 0 {
			best = max(best, ab/math.Sqrt(aa*bb))
		}
	}
	return best
}

// An MP3 made by LAME decodes to the speech it was made from: same rate,
// same length within two frames, and the waveform matches the original
// (lossy, so by correlation rather than equality).
func TestDecodeMP3MatchesOriginal(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"16k mono 64 kbit/s", []string{"-C", "64"}},
		{"44.1k stereo", []string{"-r", "44100", "-c", "2", "-C", "128"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, wav := mp3Fixture(t, tc.args...)
			orig := decodeOK(t, wav)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if Sniff(b[:12]) != "mp3" {
				t.Fatalf("Sniff(%q) = %q", b[:12], Sniff(b[:12]))
			}
			c := decodeOK(t, path)
			checkClip(t, c)
			if c.Format != "mp3" || c.Channels != 1 {
				t.Fatalf("format %q, %d channels", c.Format, c.Channels)
			}
			mono, err := Prepare(c, orig.SampleRate)
			if err != nil {
				t.Fatal(err)
			}
			if d := c.Duration() - orig.Duration(); d < -100*time.Millisecond || d > 200*time.Millisecond {
				t.Fatalf("duration %v, original %v", c.Duration(), orig.Duration())
			}
			// One second from the middle, where the speech is.
			mid, n := len(orig.Samples)/2, orig.SampleRate
			a := orig.Samples[mid-n/2 : mid+n/2]
			if r := bestCorrelation(a, mono, mid-n/2, 2000); r < 0.9 {
				t.Fatalf("correlation with the original %.3f, want ≥ 0.9", r)
			}
		})
	}
}

func TestDecodeMP3Bad(t *testing.T) {
	path, _ := mp3Fixture(t, "-C", "32")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A truncated file keeps the frames it has.
	c, err := Decode(bytes.NewReader(b[:len(b)/2]), Limits{})
	if err != nil {
		t.Fatalf("truncated mp3: %v", err)
	}
	checkClip(t, c)
	// Duration limit.
	if _, err := Decode(bytes.NewReader(b), Limits{MaxDuration: time.Second}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the duration limit: %v", err)
	}
	for name, in := range map[string][]byte{
		"sync then garbage":  append([]byte{0xFF, 0xFB, 0x90, 0x64}, bytes.Repeat([]byte{0xAA}, 500)...),
		"id3 then nothing":   []byte("ID3\x04\x00\x00\x00\x00\x00\x00"),
		"id3 then garbage":   append([]byte("ID3\x04\x00\x00\x00\x00\x00\x05"), bytes.Repeat([]byte{1}, 40)...),
		"ogg":                []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00"),
		"webm":               {0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01, 0x42, 0xF7, 0x81},
		"m4a":                []byte("\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00"),
		"header, no payload": {0xFF, 0xFB, 0x90, 0x64},
	} {
		_, err := Decode(bytes.NewReader(in), Limits{})
		if err == nil {
			t.Errorf("%s: decoded", name)
			continue
		}
		checkErr(t, err)
	}
}

func FuzzDecodeMP3(f *testing.F) {
	f.Add([]byte{0xFF, 0xFB, 0x90, 0x64, 0, 0, 0, 0})
	f.Add([]byte("ID3\x04\x00\x00\x00\x00\x00\x00\xFF\xFB\x90\x64"))
	f.Add([]byte("ID3\x04\x00\x00\x00\x00\x00\x00fLaC"))
	f.Add(append([]byte{0xFF, 0xF3, 0x44, 0xC4}, bytes.Repeat([]byte{0x55}, 300)...))
	// The first KBs of a real MP3, when sox can make one.
	if s, err := exec.LookPath("sox"); err == nil && soxWritesMP3(s) {
		u := testdata.Utterances(f)[1]
		out := filepath.Join(f.TempDir(), "seed.mp3")
		if exec.Command(s, u.WAV, "-C", "32", out).Run() == nil {
			if b, err := os.ReadFile(out); err == nil {
				f.Add(b[:min(len(b), 4096)])
			}
		}
	}
	lim := Limits{MaxBytes: 1 << 20, MaxDuration: 10 * time.Minute}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := Decode(bytes.NewReader(in), lim)
		if err != nil {
			checkErr(t, err)
			return
		}
		checkClip(t, c)
		if int64(len(c.Samples)) > mp3FreeSamples && int64(len(c.Samples)) > mp3MaxExpansion*int64(len(in)) {
			t.Fatalf("%d bytes expanded to %d samples", len(in), len(c.Samples))
		}
	})
}
