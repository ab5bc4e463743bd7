package flite

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

// benchText is two sentences, so the first-chunk time shows streaming
// within the first sentence rather than after the whole text.
const benchText = "The meeting has been moved to three o'clock on Friday, so please call me back when you get home tonight. " +
	"We need to buy milk, bread, and eggs from the store before it closes."

// longText has no sentence break for 300 words: Flite synthesises it as
// one utterance, the worst case for time to first chunk.
var longText = strings.Repeat("we need to buy milk bread and eggs from the store before it closes ", 20)

// BenchmarkSynthesize reports, per voice, the real-time factor (compute
// seconds per second of audio; lower is faster) and the time to the first
// chunk reaching the sink.
func BenchmarkSynthesize(b *testing.B) {
	s, err := New(speech.Spec{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, v := range s.Voices() {
		b.Run(v.ID, func(b *testing.B) { benchSynth(b, s, v.ID, benchText) })
	}
	b.Run("slt-300-words-unbroken", func(b *testing.B) { benchSynth(b, s, "slt", longText) })
}

func benchSynth(b *testing.B, s *Synthesizer, voice, text string) {
	var audio int
	var first, total time.Duration
	for b.Loop() {
		start := time.Now()
		var got time.Duration
		err := s.Synthesize(context.Background(), speech.SynthesisRequest{Text: text, Voice: voice}, func(c []float32) error {
			if got == 0 {
				got = time.Since(start)
			}
			audio += len(c)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		first += got
	}
	secs := float64(audio) / SampleRate
	b.ReportMetric(total.Seconds()/secs, "rtf")
	b.ReportMetric(first.Seconds()*1000/float64(b.N), "first-chunk-ms")
	b.ReportMetric(secs/float64(b.N), "audio-s/op")
}
