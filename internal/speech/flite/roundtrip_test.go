package flite_test

import (
	"context"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/flite"
	"github.com/izwi-speech/izwi/internal/speech/pocketsphinx"
	"github.com/izwi-speech/izwi/internal/wer"
)

// roundTripSentences are varied everyday English: questions, numbers said
// as words, short and long sentences, words the PocketSphinx en-us
// dictionary knows.
var roundTripSentences = []string{
	"The weather today is cold and windy with rain in the afternoon.",
	"Please call me back when you get home tonight.",
	"How much does it cost to fly from New York to Chicago?",
	"She opened the window and looked out at the garden.",
	"We need to buy milk, bread, and eggs from the store.",
	"The meeting has been moved to three o'clock on Friday.",
	"Can you tell me where the nearest train station is?",
	"He has been working at the bank for twenty years.",
	"The children played in the park until it was dark.",
	"Turn left at the next light and then go straight ahead.",
}

// maxRoundTripWER bounds corpus WER (105 words) per voice. Measured with
// Debian flite 2.2-5 and pocketsphinx 5prealpha en-us on 2026-11-23:
// kal16 0.086 (bit-exact, so the same every run), slt 0.076, 0.076 and
// 0.114 in three runs (its excitation noise comes from rand()). The bound
// is the worst plus about 9 words of margin; a broken audio path (wrong rate, scaling,
// lost or repeated chunks) sends WER far above it.
var maxRoundTripWER = map[string]float64{
	"kal16": 0.20,
	"slt":   0.20,
}

// TestRoundTrip speaks each sentence with Flite, recognises it with
// PocketSphinx, and checks corpus word error rate per voice: it fails if
// either engine's audio path breaks (wrong rate, scaling, truncation,
// streaming that drops or repeats chunks).
func TestRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("round trip runs two engines")
	}
	ctx := context.Background()
	reg := speech.NewRegistry()
	flite.Register(reg)
	pocketsphinx.Register(reg)
	tts, err := reg.Synthesizers.New(ctx, speech.Spec{Engine: "flite"}, speech.Deps{})
	if err != nil {
		t.Fatalf("flite: %v", err)
	}
	defer tts.Close()
	asr, err := reg.Transcribers.New(ctx, speech.Spec{Engine: "pocketsphinx"}, speech.Deps{})
	if err != nil {
		t.Fatalf("pocketsphinx: %v", err)
	}
	defer asr.Close()
	if asr.SampleRate() != tts.SampleRate() {
		t.Fatalf("rates differ: asr %d, tts %d", asr.SampleRate(), tts.SampleRate())
	}
	pad := make([]float32, tts.SampleRate()/4) // 250 ms of silence each side

	for voice, limit := range maxRoundTripWER {
		var total wer.Errors
		for _, text := range roundTripSentences {
			audio := append([]float32(nil), pad...)
			err := tts.Synthesize(ctx, speech.SynthesisRequest{Text: text, Voice: voice}, func(c []float32) error {
				audio = append(audio, c...)
				return nil
			})
			if err != nil {
				t.Fatalf("%s: synthesize: %v", voice, err)
			}
			audio = append(audio, pad...)
			tr, err := asr.Transcribe(ctx, audio, speech.TranscribeOptions{})
			if err != nil {
				t.Fatalf("%s: transcribe: %v", voice, err)
			}
			e := wer.Compute(text, tr.Text)
			total.Add(e)
			t.Logf("%s: %.2f  %q", voice, e.Rate(), tr.Text)
		}
		t.Logf("voice %s: corpus WER %.3f over %d words (limit %.2f)", voice, total.Rate(), total.RefWords, limit)
		if total.Rate() > limit {
			t.Errorf("voice %s: corpus WER %.3f > %.2f", voice, total.Rate(), limit)
		}
	}
}
