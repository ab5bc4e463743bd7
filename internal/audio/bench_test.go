package audio

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/izwi-speech/izwi/internal/audio/audiotest"
	"github.com/izwi-speech/izwi/internal/testdata"
)

// benchDecode decodes the longest shared utterance (11.66 s) in the given
// container, reporting input bytes/s and decoded samples/s.
func benchDecode(b *testing.B, flac bool) {
	var path string
	for _, u := range testdata.Utterances(b) {
		if u.ID == "2412-153948-0000" {
			path = u.WAV
			if flac {
				path = u.FLAC
			}
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var n int
	for b.Loop() {
		c, err := Decode(bytes.NewReader(data), Limits{})
		if err != nil {
			b.Fatal(err)
		}
		n += len(c.Samples)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "samples/s")
}

func BenchmarkDecodeWAV(b *testing.B)  { benchDecode(b, false) }
func BenchmarkDecodeFLAC(b *testing.B) { benchDecode(b, true) }

func benchResample(b *testing.B, from, to int) {
	rng := rand.New(rand.NewPCG(5, 6))
	x := make([]float32, 10*from) // 10 s
	for i := range x {
		x[i] = float32(rng.Float64()*2 - 1)
	}
	b.SetBytes(int64(4 * len(x)))
	var n int
	for b.Loop() {
		if _, err := Resample(x, from, to); err != nil {
			b.Fatal(err)
		}
		n += len(x)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "in-samples/s")
	b.ReportMetric(float64(n)/float64(from)/b.Elapsed().Seconds(), "x-realtime")
}

func BenchmarkResample48kTo16k(b *testing.B)  { benchResample(b, 48000, 16000) }
func BenchmarkResample44k1To16k(b *testing.B) { benchResample(b, 44100, 16000) }
func BenchmarkResample8kTo16k(b *testing.B)   { benchResample(b, 8000, 16000) }

// benchTranscode decodes the longest shared utterance (11.66 s), repeated
// reps times, from one phone container through the sandboxed ffmpeg, or
// from its WAV in process, reporting the cost per minute of audio
// (docs/codecs.md): one repetition shows the fixed cost of a process per
// file, five (58 s) the cost that grows with the audio.
func benchTranscode(b *testing.B, container string, reps int) {
	var path string
	for _, u := range testdata.Utterances(b) {
		if u.ID == "2412-153948-0000" {
			path = u.WAV
		}
	}
	one, err := DecodeFile(path, Limits{})
	if err != nil {
		b.Fatal(err)
	}
	var long []float32
	for range reps {
		long = append(long, one.Samples...)
	}
	var wav bytes.Buffer
	if err := EncodeWAV(&wav, long, one.SampleRate, 1); err != nil {
		b.Fatal(err)
	}
	path = b.TempDir() + "/long.wav"
	if err := os.WriteFile(path, wav.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	data := wav.Bytes()
	for _, c := range audiotest.PhoneContainers {
		if c.Name == container {
			data = audiotest.Encode(b, path, c)
		}
	}
	b.SetBytes(int64(len(data)))
	var audioSec float64
	for b.Loop() {
		c, err := DecodeContext(b.Context(), bytes.NewReader(data), Limits{})
		if err != nil {
			b.Fatal(err)
		}
		audioSec += c.Duration().Seconds()
	}
	b.ReportMetric(b.Elapsed().Seconds()*1000/(audioSec/60), "ms/audio-min")
}

func BenchmarkTranscode(b *testing.B) {
	for _, c := range []string{"wav", "ogg-opus", "webm-opus", "m4a-aac"} {
		for _, reps := range []int{1, 5} {
			b.Run(fmt.Sprintf("%s/%.0fs", c, 11.66*float64(reps)), func(b *testing.B) { benchTranscode(b, c, reps) })
		}
	}
}
