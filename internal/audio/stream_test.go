package audio

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/audio/audiotest"
)

// bufSink records what an encoder wrote and how often it flushed.
type bufSink struct {
	bytes.Buffer
	flushes int
}

func (b *bufSink) Flush() error { b.flushes++; return nil }

// Every stream format: nothing before the first Write, output flushed as
// it comes, and the stream decodes back to as much audio as went in
// (within 150 ms of codec delay and padding; pcm is checked by length).
func TestStreamEncoders(t *testing.T) {
	audiotest.FFmpeg(t)
	const rate = 16000
	tone := make([]float32, rate/10)
	for i := range tone {
		tone[i] = 0.3 * float32(math.Sin(2*math.Pi*440*float64(i)/rate))
	}
	for _, f := range StreamFormats {
		t.Run(f.Name, func(t *testing.T) {
			var sink bufSink
			enc, err := NewStreamEncoder(t.Context(), &sink, f.Name, rate, 0)
			if err != nil {
				t.Fatal(err)
			}
			if sink.Len() != 0 {
				t.Fatal("bytes before the first Write")
			}
			for range 20 { // 2 s
				if err := enc.Write(tone); err != nil {
					t.Fatal(err)
				}
			}
			if err := enc.Close(); err != nil {
				t.Fatal(err)
			}
			if sink.flushes == 0 {
				t.Error("never flushed")
			}
			if f.Name == "pcm" {
				if sink.Len() != 2*20*len(tone) {
					t.Fatalf("pcm: %d bytes", sink.Len())
				}
				return
			}
			c, err := DecodeContext(t.Context(), &sink.Buffer, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if d := c.Duration() - 2*time.Second; d < -150*time.Millisecond || d > 150*time.Millisecond {
				t.Errorf("decoded %v, encoded 2 s", c.Duration())
			}
		})
	}
	// Abort mid-stream stops ffmpeg and returns.
	var sink bufSink
	enc, err := NewStreamEncoder(t.Context(), &sink, "mp3", rate, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.Write(tone); err != nil {
		t.Fatal(err)
	}
	enc.Abort()
	if _, err := NewStreamEncoder(t.Context(), &sink, "vorbis", rate, 0); err == nil {
		t.Error("an unknown format was accepted")
	}
}

// G.711 for telephony: one byte a sample at the asked rate, and it decodes
// (by Izwi's own G.711 decoder) back to the same waveform.
func TestStreamEncodersG711(t *testing.T) {
	audiotest.FFmpeg(t)
	const rate = 8000
	tone := make([]float32, 2*rate)
	for i := range tone {
		tone[i] = 0.3 * float32(math.Sin(2*math.Pi*440*float64(i)/rate))
	}
	for _, f := range []string{"mulaw", "alaw"} {
		var sink bufSink
		enc, err := NewStreamEncoder(t.Context(), &sink, f, 16000, rate)
		if err != nil {
			t.Fatal(err)
		}
		up, err := Resample(tone, rate, 16000)
		if err != nil {
			t.Fatal(err)
		}
		if err := enc.Write(up); err != nil {
			t.Fatal(err)
		}
		if err := enc.Close(); err != nil {
			t.Fatal(err)
		}
		if d := sink.Len() - len(tone); d < -80 || d > 80 {
			t.Fatalf("%s: %d bytes for %d samples", f, sink.Len(), len(tone))
		}
		c, err := DecodeRaw(sink.Bytes(), RawFormat{Encoding: f, SampleRate: rate, Channels: 1})
		if err != nil {
			t.Fatal(err)
		}
		var ab, aa, bb float64
		for i := 1000; i < min(len(tone), len(c.Samples))-1000; i++ {
			a, b := float64(tone[i]), float64(c.Samples[i])
			ab, aa, bb = ab+a*b, aa+a*a, bb+b*b
		}
		if r := ab / math.Sqrt(aa*bb); r < 0.99 {
			t.Errorf("%s: correlates %.3f with what was encoded", f, r)
		}
	}
}
