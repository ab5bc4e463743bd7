package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/izwi-speech/izwi/internal/testdata"
)

func TestParseRawFormat(t *testing.T) {
	for _, tc := range []struct {
		enc      string
		rate, ch int
		ok       bool
	}{
		{"linear16", 16000, 1, true},
		{"mulaw", 8000, 1, true},
		{"float32", 48000, 2, true},
		{"alaw", 8000, 2, true},
		{"linear32", 44100, 1, true},
		{"linear16", 7999, 1, false},
		{"linear16", 48001, 1, false},
		{"linear16", 16000, 0, false},
		{"linear16", 16000, 3, false},
		{"opus", 16000, 1, false},
		{"LINEAR16", 16000, 1, false},
		{"", 16000, 1, false},
	} {
		f, err := ParseRawFormat(tc.enc, tc.rate, tc.ch)
		if tc.ok != (err == nil) {
			t.Errorf("ParseRawFormat(%q, %d, %d) = %v, want ok=%v", tc.enc, tc.rate, tc.ch, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrUnsupported) {
			t.Errorf("ParseRawFormat(%q, %d, %d) error %v does not wrap ErrUnsupported", tc.enc, tc.rate, tc.ch, err)
		}
		if err == nil && (f.Encoding != tc.enc || f.SampleRate != tc.rate || f.Channels != tc.ch) {
			t.Errorf("ParseRawFormat(%q, %d, %d) = %+v", tc.enc, tc.rate, tc.ch, f)
		}
	}
}

func TestDecodeRaw(t *testing.T) {
	f32 := make([]byte, 8)
	binary.LittleEndian.PutUint32(f32, math.Float32bits(-0.75))
	binary.LittleEndian.PutUint32(f32[4:], math.Float32bits(float32(math.Inf(1))))
	i32 := make([]byte, 4)
	binary.LittleEndian.PutUint32(i32, uint32(1<<29))
	for _, tc := range []struct {
		f    RawFormat
		b    []byte
		want []float32
	}{
		{RawFormat{"linear16", 16000, 1}, le16s(-32768, 8192), []float32{-1, 0.25}},
		{RawFormat{"linear16", 16000, 2}, le16s(1, 2, 3, 4), []float32{1.0 / 32768, 2.0 / 32768, 3.0 / 32768, 4.0 / 32768}},
		{RawFormat{"float32", 48000, 1}, f32, []float32{-0.75, 1}},
		{RawFormat{"linear32", 8000, 1}, i32, []float32{0.25}},
		{RawFormat{"mulaw", 8000, 1}, []byte{0xFF, 0x80}, []float32{0, 32124.0 / 32768}},
		{RawFormat{"alaw", 8000, 1}, []byte{0xD5, 0x2A}, []float32{8.0 / 32768, -32256.0 / 32768}},
	} {
		c, err := DecodeRaw(tc.b, tc.f)
		if err != nil {
			t.Fatalf("DecodeRaw(%+v): %v", tc.f, err)
		}
		if c.Format != "raw/"+tc.f.Encoding || c.SampleRate != tc.f.SampleRate || c.Channels != tc.f.Channels {
			t.Errorf("DecodeRaw(%+v) clip %q %d×%d", tc.f, c.Format, c.SampleRate, c.Channels)
		}
		if len(c.Samples) != len(tc.want) {
			t.Fatalf("DecodeRaw(%+v) = %v, want %v", tc.f, c.Samples, tc.want)
		}
		for i := range tc.want {
			if c.Samples[i] != tc.want[i] {
				t.Fatalf("DecodeRaw(%+v) = %v, want %v", tc.f, c.Samples, tc.want)
			}
		}
	}
	for _, tc := range []struct {
		f    RawFormat
		b    []byte
		want error
	}{
		{RawFormat{"linear16", 16000, 1}, nil, ErrEmpty},
		{RawFormat{"linear16", 16000, 1}, []byte{1, 2, 3}, ErrCorrupt},
		{RawFormat{"linear16", 16000, 2}, []byte{1, 2}, ErrCorrupt},
		{RawFormat{"float32", 16000, 1}, []byte{1, 2}, ErrCorrupt},
		{RawFormat{"opus", 16000, 1}, []byte{1, 2}, ErrUnsupported},
		{RawFormat{"linear16", 0, 1}, []byte{1, 2}, ErrUnsupported},
		{RawFormat{"linear16", 16000, 0}, []byte{1, 2}, ErrUnsupported},
		{RawFormat{"linear16", 16000, -1}, []byte{1, 2}, ErrUnsupported},
	} {
		if _, err := DecodeRaw(tc.b, tc.f); !errors.Is(err, tc.want) {
			t.Errorf("DecodeRaw(%v, %+v) = %v, want %v", tc.b, tc.f, err, tc.want)
		}
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, 2*5000)
	for i := range x {
		x[i] = float32(rng.Float64()*2.2 - 1.1) // some beyond ±1 to exercise clamping
	}
	x[0], x[1], x[2] = float32(math.NaN()), 1, -1
	var buf bytes.Buffer
	if err := EncodeWAV(&buf, x, 22050, 2); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 44+2*len(x) {
		t.Fatalf("wrote %d bytes, want %d", buf.Len(), 44+2*len(x))
	}
	c, err := Decode(&buf, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if c.SampleRate != 22050 || c.Channels != 2 || c.Format != "wav/pcm16" || len(c.Samples) != len(x) {
		t.Fatalf("decoded %d Hz × %d %s, %d samples", c.SampleRate, c.Channels, c.Format, len(c.Samples))
	}
	for i, v := range x {
		want := math.Max(-1, math.Min(32767.0/32768, float64(v)))
		if v != v {
			want = 0
		}
		if d := math.Abs(float64(c.Samples[i]) - want); d > 0.5/32768+1e-9 {
			t.Fatalf("sample %d: %v → %v, error %g > half an LSB", i, v, c.Samples[i], d)
		}
	}
	for _, bad := range []struct{ rate, ch, n int }{{0, 1, 2}, {16000, 0, 2}, {16000, 2, 3}} {
		if err := EncodeWAV(&bytes.Buffer{}, make([]float32, bad.n), bad.rate, bad.ch); err == nil {
			t.Errorf("EncodeWAV(rate %d, ch %d, %d samples) succeeded", bad.rate, bad.ch, bad.n)
		}
	}
}

// Real PCM16 audio must survive decode → encode → decode bit for bit.
func TestEncodeRealAudioIsLossless(t *testing.T) {
	for _, u := range testdata.Utterances(t)[:3] {
		c, err := DecodeFile(u.WAV, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := EncodeWAV(&buf, c.Samples, c.SampleRate, c.Channels); err != nil {
			t.Fatal(err)
		}
		d, err := Decode(&buf, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range c.Samples {
			if c.Samples[i] != d.Samples[i] {
				t.Fatalf("%s: sample %d changed %v → %v", u.ID, i, c.Samples[i], d.Samples[i])
			}
		}
		raw, err := DecodeRaw(EncodePCM16(c.Samples), RawFormat{EncLinear16, 16000, 1})
		if err != nil || len(raw.Samples) != len(c.Samples) || raw.Samples[len(raw.Samples)/2] != c.Samples[len(c.Samples)/2] {
			t.Fatalf("%s: EncodePCM16 → DecodeRaw did not round-trip: %v", u.ID, err)
		}
	}
}
