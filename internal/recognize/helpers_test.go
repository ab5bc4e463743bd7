package recognize

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/leaktest"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/pocketsphinx"
	"github.com/izwi-speech/izwi/internal/testdata"
)

func TestMain(m *testing.M) { leaktest.Main(m, "izwi/internal/recognize.") }

// pauseID is an 11.7 s LibriSpeech utterance with a pause PocketSphinx
// endpoints on (two segments).
const pauseID = "2412-153948-0000"

// speechSamples reads the shared utterance as mono 16 kHz samples.
func speechSamples(t testing.TB) []float32 {
	t.Helper()
	for _, u := range testdata.Utterances(t) {
		if u.ID != pauseID {
			continue
		}
		c, err := audio.DecodeFile(u.WAV, audio.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if c.SampleRate != 16000 || c.Channels != 1 {
			t.Fatalf("%s: %d Hz × %d, want 16 kHz mono", u.WAV, c.SampleRate, c.Channels)
		}
		return c.Samples
	}
	t.Fatalf("utterance %s not in the shared set", pauseID)
	return nil
}

// oneDecoder loads PocketSphinx with a pool of one decoder, once for the
// test binary: exhausting it is one NewStream away.
var oneDecoder = sync.OnceValues(func() (speech.Recognizer, error) {
	reg := speech.NewRegistry()
	pocketsphinx.Register(reg)
	return reg.Recognizers.New(context.Background(),
		speech.Spec{Engine: pocketsphinx.Name, Options: map[string]string{"decoders": "1"}}, speech.Deps{})
})

func newRecognizer(t testing.TB) speech.Recognizer {
	t.Helper()
	rec, err := oneDecoder()
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// collector gathers emitted events; safe for use from a pipeline goroutine.
type collector struct {
	mu  sync.Mutex
	evs []Event
}

func (c *collector) emit(e Event) {
	c.mu.Lock()
	c.evs = append(c.evs, e)
	c.mu.Unlock()
}

func (c *collector) events() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Event(nil), c.evs...)
}

// finalText joins the words of the final results.
func finalText(evs []Event) string {
	var parts []string
	for _, e := range evs {
		if e.Kind == KindResult && e.Result.Final && e.Result.Text != "" {
			parts = append(parts, e.Result.Text)
		}
	}
	return strings.Join(parts, " ")
}

// write pushes samples in 100 ms chunks.
func write(t testing.TB, w func([]float32) error, s []float32) {
	t.Helper()
	for off := 0; off < len(s); off += 1600 {
		if err := w(s[off:min(off+1600, len(s))]); err != nil {
			t.Fatal(err)
		}
	}
}
