package sherpa

import (
	"os"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/speechtest"
)

const piperModel = "piper-tiny-en"

// TestPiperEspeak loads a Piper-shaped model whose phonemes come from
// espeak-ng reading Debian's espeak-ng-data (roles "espeak-ng-data/<file>",
// copied into the model by the generator) and runs the synthesis contract.
func TestPiperEspeak(t *testing.T) {
	const debian = "/usr/lib/x86_64-linux-gnu/espeak-ng-data/phondata"
	if _, err := os.Stat(debian); err != nil && os.Getenv("CI") != "true" {
		t.Skipf("%v: apt-get install espeak-ng-data (scripts/setup.sh does)", err)
	}
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
	one, _ := synth(t, s, speech.SynthesisRequest{Text: "Good morning."})
	three, chunks := synth(t, s, speech.SynthesisRequest{Text: "Good morning. Good morning! Good morning?"})
	if chunks != 3 || len(three) < 2*len(one) {
		t.Errorf("three sentences: %d chunks, %d samples (one sentence %d); want 3 chunks", chunks, len(three), len(one))
	}
	fast, _ := synth(t, s, speech.SynthesisRequest{Text: "Good morning.", Speed: 2})
	if r := float64(len(fast)) / float64(len(one)); r < 0.45 || r > 0.55 {
		t.Errorf("speed 2: length ratio %.2f, want about 0.5", r)
	}
}
