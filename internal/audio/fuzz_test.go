package audio

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/testdata"
)

// checkErr asserts an error is one of the typed sentinels and prefixed.
func checkErr(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrEmpty) {
		t.Fatalf("untyped error: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "audio: ") {
		t.Fatalf("error without component prefix: %v", err)
	}
}

// checkClip asserts the Clip contract: something real, in range.
func checkClip(t *testing.T, c Clip) {
	t.Helper()
	if len(c.Samples) == 0 || c.Channels < 1 || c.Channels > MaxChannels || len(c.Samples)%c.Channels != 0 ||
		c.SampleRate < MinSampleRate || c.SampleRate > MaxSampleRate || c.Format == "" {
		t.Fatalf("success with an unusable clip: %d Hz × %d, %d samples, %q", c.SampleRate, c.Channels, len(c.Samples), c.Format)
	}
	for i, s := range c.Samples {
		if !(s >= -1 && s <= 1) {
			t.Fatalf("sample %d = %v outside [-1, 1]", i, s)
		}
	}
}

func FuzzDecode(f *testing.F) {
	// Real files' first KBs (truncated data chunks / FLAC frames).
	for _, u := range testdata.Utterances(f)[:4] {
		for _, p := range []string{u.WAV, u.FLAC} {
			if p == "" {
				continue
			}
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b[:min(len(b), 4096)])
			f.Add(b[:min(len(b), 200)])
		}
	}
	pcm := fmtBody(1, 1, 16000, 16)
	data := chunk{"data", -1, le16s(1, -2, 3, -4)}
	for _, seed := range [][]byte{
		riff("RIFF", chunk{"fmt ", -1, pcm}, data),
		riff("RIFF", chunk{"fmt ", 0xFFFFFFFF, pcm}, data),
		riff("RIFF", chunk{"fmt ", -1, pcm}, chunk{"data", 0xFFFFFFFF, le16s(5, 6)}),
		riff("RIFF", chunk{"fmt ", -1, nil}, data),
		riff("RIFF", chunk{"fmt ", -1, pcm[:12]}, data),
		riff("RIFF", chunk{"fmt ", -1, extensibleBody(1, 2, 48000, 24, 24)}, chunk{"data", -1, make([]byte, 12)}),
		riff("RIFF", chunk{"fmt ", -1, append(fmtBody(tagExtensible, 1, 16000, 16), 22, 0)}, data),
		riff("RIFF", chunk{"data", -1, le16s(9)}, chunk{"fmt ", -1, pcm}),
		riff("RIFF", chunk{"fmt ", -1, pcm}, chunk{"fmt ", -1, pcm}, data, data),
		riff("RIFF", chunk{"LIST", 0, nil}, chunk{"LIST", 0, nil}, chunk{"LIST", 0, nil}),
		riff("RIFF", chunk{"LIST", -1, []byte("odd")}, chunk{"fmt ", -1, fmtBody(7, 1, 8000, 8)}, chunk{"data", -1, []byte{1, 2, 3}}),
		riff("RIFF", chunk{"fmt ", -1, fmtBody(1, 0, 16000, 16)}, data),
		riff("RIFF", chunk{"fmt ", -1, fmtBody(1, 1, 16000, 0)}, data),
		riff("RIFF", chunk{"fmt ", -1, fmtBody(3, 2, 96000, 64)}, chunk{"data", -1, make([]byte, 32)}),
		riff("RF64", chunk{"ds64", -1, make([]byte, 28)}, chunk{"fmt ", -1, pcm}, chunk{"data", 0xFFFFFFFF, le16s(1)}),
		[]byte("fLaC\x00\x00\x00\x22"),
		[]byte("fLaC\x80\x00\x00\x22\x10\x00\xff\xff\x00\x00\x00\x00\x00\x00\x0a\xc4\x40\xf0\xff\xff\xff\xff\xff\xff"),
	} {
		f.Add(seed)
	}
	lim := Limits{MaxBytes: 1 << 20, MaxDuration: 10 * time.Minute}
	f.Fuzz(func(t *testing.T, in []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c, err := Decode(bytes.NewReader(in), lim)
		runtime.ReadMemStats(&after)
		if err != nil {
			checkErr(t, err)
			c = Clip{}
		} else {
			checkClip(t, c)
			if strings.HasPrefix(c.Format, "wav/") && len(c.Samples) > len(in) {
				t.Fatalf("wav: %d samples from %d bytes", len(c.Samples), len(in))
			}
			if len(c.Samples) > max(flacFreeSamples, flacMaxExpansion*len(in)) {
				t.Fatalf("%d samples from %d bytes", len(c.Samples), len(in))
			}
			if max := lim.MaxDuration.Seconds() * float64(c.SampleRate*c.Channels); float64(len(c.Samples)) > max {
				t.Fatalf("%d samples exceed the duration limit", len(c.Samples))
			}
		}
		// Memory follows the bytes present (WAV) or the samples produced
		// (FLAC, where silence compresses hundreds to one), never a claim.
		budget := 32*uint64(len(in)) + 24*uint64(len(c.Samples)) + 8<<20
		if got := after.TotalAlloc - before.TotalAlloc; got > budget {
			t.Fatalf("allocated %d bytes for %d input bytes and %d samples (budget %d)", got, len(in), len(c.Samples), budget)
		}
	})
}

func FuzzDecodeRaw(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4}, "linear16", 16000, 1)
	f.Add([]byte{1, 2, 3}, "linear16", 16000, 2)
	f.Add([]byte{0xff, 0xff, 0xc0, 0x7f}, "float32", 48000, 1)
	f.Add([]byte{0, 0x80, 0xff}, "mulaw", 8000, 1)
	f.Add([]byte{0xd5, 0x55}, "alaw", 8000, 2)
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, "linear32", 44100, 2)
	f.Add([]byte{}, "linear16", 0, 0)
	f.Add([]byte{1}, "opus", -1, 1<<30)
	f.Fuzz(func(t *testing.T, in []byte, enc string, rate, ch int) {
		c, err := DecodeRaw(in, RawFormat{Encoding: enc, SampleRate: rate, Channels: ch})
		if err != nil {
			checkErr(t, err)
			return
		}
		checkClip(t, c)
		if size := (RawFormat{Encoding: enc}).sampleSize(); len(c.Samples)*size != len(in) {
			t.Fatalf("%d samples from %d bytes of %s", len(c.Samples), len(in), enc)
		}
		if _, err := ParseRawFormat(enc, rate, ch); err == nil && (rate < MinLiveRate || rate > MaxLiveRate || ch > MaxLiveChannels) {
			t.Fatalf("ParseRawFormat accepted %d Hz × %d", rate, ch)
		}
	})
}
