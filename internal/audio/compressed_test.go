package audio

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/audio/audiotest"
	"github.com/izwi-speech/izwi/internal/testdata"
)

// Every container a phone makes decodes to the WAV it was made from: the
// same duration (within 70 ms: the encoder's delay is trimmed by Opus's
// pre-skip and MP4's edit list, but AAC pads its last frame, 1024 samples
// or 64 ms at 16 kHz) and the same loudness (within 1 dB).
func TestPhoneContainersDecode(t *testing.T) {
	u := testdata.Utterances(t)[0]
	ref, err := DecodeFile(u.WAV, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range audiotest.PhoneContainers {
		t.Run(c.Name, func(t *testing.T) {
			b := audiotest.Encode(t, u.WAV, c)
			if _, err := Decode(bytes.NewReader(b), Limits{}); !errors.Is(err, ErrUnsupported) {
				t.Fatalf("Decode (no context) = %v, want ErrUnsupported", err)
			}
			got, err := DecodeContext(t.Context(), bytes.NewReader(b), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			checkClip(t, got)
			if d := got.Duration() - ref.Duration(); d < -70*time.Millisecond || d > 70*time.Millisecond {
				t.Errorf("duration %v, WAV %v", got.Duration(), ref.Duration())
			}
			if d := db(rms(got.Mono()) / rms(ref.Samples)); math.Abs(d) > 1 {
				t.Errorf("level differs from the WAV by %.2f dB", d)
			}
			if !strings.Contains(got.Format, strings.Split(c.Name, "-")[1]) {
				t.Errorf("format %q for %s", got.Format, c.Name)
			}
		})
	}
}

func TestCompressedRefusals(t *testing.T) {
	u := testdata.Utterances(t)[0]
	ff := audiotest.FFmpeg(t)
	opus := audiotest.Encode(t, u.WAV, audiotest.PhoneContainers[1])
	vorbis, err := exec.Command(ff, "-nostdin", "-loglevel", "error", "-i", u.WAV, "-c:a", "libvorbis", "-f", "ogg", "pipe:1").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		lim  Limits
		want error
	}{
		{"vorbis in ogg", vorbis, Limits{}, ErrUnsupported},
		{"longer than allowed", opus, Limits{MaxDuration: 2 * time.Second}, ErrTooLarge},
		{"more samples than allowed", opus, Limits{MaxSamples: 48000}, ErrTooLarge},
		{"truncated header", opus[:60], Limits{}, ErrCorrupt},
		{"garbage after the magic", append([]byte("OggS\x00\x02OpusHead"), bytes.Repeat([]byte{0x55}, 4000)...), Limits{}, ErrCorrupt},
		{"mp4 without aac", append([]byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"), make([]byte, 64)...), Limits{}, ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeContext(t.Context(), bytes.NewReader(tc.in), tc.lim)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			checkErr(t, err)
		})
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := DecodeContext(ctx, bytes.NewReader(opus), Limits{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled decode = %v, want context.Canceled", err)
	}
}

// FuzzDecodeCompressed feeds the containers ffmpeg demuxes (Ogg, WebM,
// MP4, ADTS), whole, cut and damaged, through the sniffing, the codec
// checks and the sandboxed ffmpeg: never a panic or a hang, a clip that
// keeps the Clip contract or an error that is one of the sentinels.
func FuzzDecodeCompressed(f *testing.F) {
	u := testdata.Utterances(f)[0]
	for _, c := range audiotest.PhoneContainers {
		b := audiotest.Encode(f, u.WAV, c)
		f.Add(b[:min(len(b), 8192)])
		f.Add(b[:min(len(b), 300)])
		mid := bytes.Clone(b[:min(len(b), 8192)])
		for i := 100; i < len(mid); i += 97 {
			mid[i] ^= 0xA5
		}
		f.Add(mid)
	}
	f.Add([]byte{0xFF, 0xF1, 0x50, 0x80, 0x02, 0x1F, 0xFC, 0x21, 0x00})
	f.Add([]byte("OggS"))
	f.Add([]byte("\x1a\x45\xdf\xa3A_OPUS"))
	f.Add([]byte("\x00\x00\x00\x08ftypmp4a"))
	lim := Limits{MaxBytes: 1 << 20, MaxDuration: 30 * time.Second, MaxSamples: 30 * 48000}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := DecodeContext(t.Context(), bytes.NewReader(in), lim)
		if err != nil {
			checkErr(t, err)
			return
		}
		checkClip(t, c)
		if c.Duration() > lim.MaxDuration {
			t.Fatalf("decoded %v past the %v limit", c.Duration(), lim.MaxDuration)
		}
	})
}
