package sherpa

import (
	"slices"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/speechtest"
	"github.com/izwi-speech/izwi/internal/testenv"
)

const piperModel = "piper-tiny-en"

// needEspeakData checks for Debian's espeak-ng-data, which the generated
// Piper and Kokoro models read their phonemes from.
func needEspeakData(t *testing.T) {
	t.Helper()
	testenv.Exists(t, "/usr/lib/x86_64-linux-gnu/espeak-ng-data/phondata", "apt-get install espeak-ng-data")
}

// TestPiperEspeak loads a Piper-shaped model whose phonemes come from
// espeak-ng reading Debian's espeak-ng-data (roles "espeak-ng-data/<file>",
// copied into the model by the generator) and runs the synthesis contract.
func TestPiperEspeak(t *testing.T) {
	needEspeakData(t)
	m := genModel(t, piperModel)
	s, err := newSynthesizer(m, speech.Spec{Engine: Engine, Model: piperModel})
	if err != nil {
		t.Fatalf("newSynthesizer: %v", err)
	}
	defer s.Close()
	if s.lex != nil {
		t.Errorf("an espeak model got a lexicon filter")
	}
	out := speechtest.Synthesizer(t, s, "Hello world, this is a test.")
	// About 20 phonemes with pads between them at 30 ms per token.
	if sec := float64(len(out)) / float64(s.SampleRate()); sec < 0.8 || sec > 3 {
		t.Errorf("synthesized %.2f s for a six-word sentence, want 0.8–3 s", sec)
	}
	one, _ := speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: "Good morning."})
	three, chunks := speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: "Good morning. Good morning! Good morning?"})
	if chunks != 3 || len(three) < 2*len(one) {
		t.Errorf("three sentences: %d chunks, %d samples (one sentence %d); want 3 chunks", chunks, len(three), len(one))
	}
	fast, _ := speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: "Good morning.", Speed: 2})
	if r := float64(len(fast)) / float64(len(one)); r < 0.45 || r > 0.55 {
		t.Errorf("speed 2: length ratio %.2f, want about 0.5", r)
	}
}

const kokoroModel = "kokoro-tiny-en"

// TestKokoroEspeak loads a Kokoro-v0.19-shaped model (tokens, a style from
// voices.bin chosen by speaker and length, speed) at 24 kHz.
func TestKokoroEspeak(t *testing.T) {
	needEspeakData(t)
	m := genModel(t, kokoroModel)
	s, err := newSynthesizer(m, speech.Spec{Engine: Engine, Model: kokoroModel})
	if err != nil {
		t.Fatalf("newSynthesizer: %v", err)
	}
	defer s.Close()
	if s.SampleRate() != 24000 {
		t.Errorf("SampleRate = %d, want the model's 24000", s.SampleRate())
	}
	speechtest.Synthesizer(t, s, "Hello world, this is a test.")
	af, _ := speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: "Good morning.", Voice: "af"})
	am, _ := speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: "Good morning.", Voice: "am"})
	if len(af) != len(am) || slices.Equal(af, am) {
		t.Errorf("voices af and am: lengths %d and %d, equal=%v; want same length, different audio", len(af), len(am), slices.Equal(af, am))
	}
	slow, _ := speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: "Good morning.", Voice: "af", Speed: 0.5})
	if r := float64(len(slow)) / float64(len(af)); r < 1.9 || r > 2.1 {
		t.Errorf("speed 0.5: length ratio %.2f, want about 2", r)
	}
	_, chunks := speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: "Good morning. Good morning! Good morning?"})
	if chunks != 3 {
		t.Errorf("three sentences: %d chunks, want 3", chunks)
	}
}

// TestKokoroLongSentence: sherpa-onnx exits the process when one Kokoro
// token sequence reaches style_dim[0] (510 here); its front end must split
// a long unpunctuated sentence first.
func TestKokoroLongSentence(t *testing.T) {
	needEspeakData(t)
	s, err := newSynthesizer(genModel(t, kokoroModel), speech.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	short, _ := speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: strings.Repeat("hello world ", 10)})
	long, chunks := speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: strings.Repeat("hello world ", 200)})
	t.Logf("400 words in one sentence: %.1f s in %d chunks", float64(len(long))/24000, chunks)
	if r := float64(len(long)) / float64(len(short)); r < 15 || r > 25 {
		t.Errorf("400 words made %.1f× the audio of 20 words, want about 20×", r)
	}
}
