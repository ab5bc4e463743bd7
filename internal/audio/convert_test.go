package audio

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/izwi-speech/izwi/internal/testdata"
)

// convertChunked feeds stream to a new Converter cut at the given sizes.
func convertChunked(t testing.TB, f RawFormat, rate int, stream []byte, sizes func() int) []float32 {
	c, err := NewConverter(f, rate)
	if err != nil {
		t.Fatal(err)
	}
	var out []float32
	for rest := stream; len(rest) > 0; {
		n := min(len(rest), sizes())
		out = append(out, c.Convert(rest[:n])...)
		rest = rest[n:]
	}
	return append(out, c.Flush()...)
}

func sameSamples(t testing.TB, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d samples, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-5 {
			t.Fatalf("%s: sample %d = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func TestConverterMatchesPrepareOnRealSpeech(t *testing.T) {
	u := testdata.Utterances(t)[2]
	orig, err := DecodeFile(u.WAV, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	// A 48 kHz stereo linear16 stream, as a browser might send it.
	up, err := Resample(orig.Samples, 16000, 48000)
	if err != nil {
		t.Fatal(err)
	}
	stereo := make([]float32, 2*len(up))
	for i, s := range up {
		stereo[2*i], stereo[2*i+1] = s, -0.5*s
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, f := range []RawFormat{{EncLinear16, 48000, 2}, {EncMuLaw, 48000, 2}} {
		var stream []byte
		if f.Encoding == EncLinear16 {
			stream = EncodePCM16(stereo)
		} else {
			stream = make([]byte, len(stereo))
			for i := range stream {
				stream[i] = byte(rng.IntN(256))
			}
		}
		whole, err := DecodeRaw(stream, f)
		if err != nil {
			t.Fatal(err)
		}
		want, err := Prepare(whole, 16000)
		if err != nil {
			t.Fatal(err)
		}
		got := convertChunked(t, f, 16000, stream, func() int { return 1 + rng.IntN(999) })
		sameSamples(t, f.Encoding+" random chunks", got, want)
		got = convertChunked(t, f, 16000, stream, func() int { return 1 })
		sameSamples(t, f.Encoding+" byte by byte", got, want)
		if f.Encoding == EncLinear16 {
			// And it is the original speech, at a quarter amplitude after the mix.
			if snr := snrDB(scale(orig.Samples, 0.25), got); snr < 30 {
				t.Errorf("48k stereo → 16k mono: SNR against the original %.1f dB", snr)
			}
		}
	}
}

func scale(x []float32, k float32) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = k * v
	}
	return out
}

func TestConverterRejectsBadFormats(t *testing.T) {
	for _, f := range []RawFormat{{"opus", 16000, 1}, {EncLinear16, 16000, 0}, {EncLinear16, 0, 1}} {
		if _, err := NewConverter(f, 16000); !errors.Is(err, ErrUnsupported) {
			t.Errorf("NewConverter(%+v) = %v, want ErrUnsupported", f, err)
		}
	}
}

func FuzzConverterChunking(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9}, uint8(0), uint8(3), uint8(1))
	f.Add([]byte{0xff, 0, 0x80, 1, 2}, uint8(3), uint8(1), uint8(2))
	f.Add(make([]byte, 64), uint8(2), uint8(7), uint8(2))
	encs := []string{EncLinear16, EncLinear32, EncFloat32, EncMuLaw, EncALaw}
	f.Fuzz(func(t *testing.T, stream []byte, enc, step, ch uint8) {
		rf := RawFormat{Encoding: encs[int(enc)%len(encs)], SampleRate: 8000, Channels: 1 + int(ch)%2}
		fs := rf.FrameSize()
		var want []float32
		if whole := len(stream) - len(stream)%fs; whole > 0 {
			c, err := DecodeRaw(stream[:whole], rf)
			if err != nil {
				t.Fatal(err)
			}
			if want, err = Prepare(c, 16000); err != nil {
				t.Fatal(err)
			}
		}
		got := convertChunked(t, rf, 16000, stream, func() int { return 1 + int(step)%13 })
		sameSamples(t, "chunked", got, want)
	})
}
