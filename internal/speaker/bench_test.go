package speaker

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/izwi-speech/izwi/internal/models"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/sherpa"
	"github.com/izwi-speech/izwi/internal/speech/sherpa/sherpatest"
)

// realSpeakerModel is the catalogue's speaker model (3D-Speaker CAM++).
const realSpeakerModel = "3dspeaker-campplus-en-voxceleb"

// benchEmbedder loads the real speaker model when it is installed under
// IZWI_MODELS_DIR (izwi models pull/import), else the generated test model;
// it returns which one.
func benchEmbedder(b *testing.B) (speech.Embedder, string) {
	b.Helper()
	reg := speech.NewRegistry()
	sherpa.Register(reg)
	ctx := context.Background()
	if dir := os.Getenv("IZWI_MODELS_DIR"); dir != "" {
		cat, err := models.Default()
		if err != nil {
			b.Fatal(err)
		}
		st := &models.Store{Dir: filepath.Clean(dir), Catalog: cat}
		if e, err := reg.Embedders.New(ctx, speech.Spec{Engine: sherpa.Engine, Model: realSpeakerModel}, speech.Deps{Models: st}); err == nil {
			b.Cleanup(func() { e.Close() })
			return e, realSpeakerModel
		}
	}
	return sherpatest.Embedder(b), sherpatest.SpeakerModel + " (generated, untrained)"
}

// BenchmarkTop1SharedSpeakers enrols each of the 5 shared speakers from
// their first utterance and reports top-1 identification accuracy over the
// rest (make bench; docs/benchmarks.md), plus the cost of one embedding.
func BenchmarkTop1SharedSpeakers(b *testing.B) {
	emb, name := benchEmbedder(b)
	utts, order := bySpeaker(b, emb.SampleRate())
	ctx := context.Background()
	var prints []Voiceprint
	for _, spk := range order {
		v, err := emb.Embed(ctx, utts[spk][0])
		if err != nil {
			b.Fatal(err)
		}
		prints = append(prints, Voiceprint{ID: spk, Name: spk, Vector: v})
	}
	g, err := NewGallery(prints)
	if err != nil {
		b.Fatal(err)
	}
	correct, total := 0, 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		correct, total = 0, 0
		for _, spk := range order {
			for _, s := range utts[spk][1:] {
				v, err := emb.Embed(ctx, s)
				if err != nil {
					b.Fatal(err)
				}
				if p, _, ok := g.Match(v); ok && p.ID == spk {
					correct++
				}
				total++
			}
		}
	}
	b.ReportMetric(float64(correct)/float64(total), "top1")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*total), "µs/embedding")
	b.Logf("model %s: %d/%d held-out utterances identified", name, correct, total)
}
