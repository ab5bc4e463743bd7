package sherpa

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/testdata"
)

// testResolver serves already verified models by name, standing in for
// package models' catalogue.
type testResolver = testdata.Resolver

func TestRegister(t *testing.T) {
	r := speech.NewRegistry()
	Register(r)
	for role, names := range r.Roles() {
		if !slices.Contains(names, Engine) {
			t.Errorf("role %s: engines %v, want %q among them", role, names, Engine)
		}
	}
	ctx := context.Background()
	deps := speech.Deps{Models: testResolver{
		"silero-vad-v5": sileroModel(t),
		speakerModel:    genModel(t, speakerModel),
		ttsModel:        genModel(t, ttsModel),
	}}

	vad, err := r.VADs.New(ctx, speech.Spec{Engine: "silero", Model: "silero-vad-v5", Options: map[string]string{"min_silence": "0.3"}}, deps)
	if err != nil {
		t.Fatalf("VAD via registry: %v", err)
	}
	defer vad.Close()

	emb, err := r.Embedders.New(ctx, speech.Spec{Engine: Engine, Model: speakerModel}, deps)
	if err != nil {
		t.Fatalf("Embedder via registry: %v", err)
	}
	defer emb.Close()
	syn, err := r.Synthesizers.New(ctx, speech.Spec{Engine: Engine, Model: ttsModel, Threads: 2}, deps)
	if err != nil {
		t.Fatalf("Synthesizer via registry: %v", err)
	}
	defer syn.Close()
	if in := vad.Info(); in.Engine != Engine || in.Role != "vad" || in.Model != "silero-vad-v5" || len(in.Files) != 1 || in.Library == "" {
		t.Errorf("VAD Info = %+v", in)
	}
	if in := syn.Info(); len(in.Files) != 3 || in.Files[0].SHA256 == "" {
		t.Errorf("TTS Info files = %+v, want lexicon, model, tokens once each", in.Files)
	}
	if _, err := r.Synthesizers.New(ctx, speech.Spec{Engine: Engine, Model: "nope"}, deps); !errors.Is(err, speech.ErrModel) {
		t.Errorf("unknown model: %v, want the resolver's error wrapped", err)
	}
	if _, err := r.VADs.New(ctx, speech.Spec{Engine: Engine}, deps); !errors.Is(err, speech.ErrModel) {
		t.Errorf("no model named: %v, want ErrModel", err)
	}
	if _, err := r.Embedders.New(ctx, speech.Spec{Engine: Engine, Model: speakerModel}, speech.Deps{}); !errors.Is(err, speech.ErrModel) {
		t.Errorf("no resolver: %v, want ErrModel", err)
	}
	// A model of the wrong kind is refused before sherpa-onnx sees it.
	if _, err := r.Synthesizers.New(ctx, speech.Spec{Engine: Engine, Model: speakerModel}, deps); !errors.Is(err, speech.ErrModel) {
		t.Errorf("speaker model as TTS: %v, want ErrModel", err)
	}
	if _, err := r.VADs.New(ctx, speech.Spec{Engine: Engine, Model: ttsModel}, deps); !errors.Is(err, speech.ErrModel) {
		t.Errorf("TTS model as VAD: %v, want ErrModel", err)
	}
	if _, err := r.Embedders.New(ctx, speech.Spec{Engine: Engine, Model: ttsModel}, deps); !errors.Is(err, speech.ErrModel) {
		t.Errorf("TTS model as speaker: %v, want ErrModel", err)
	}
}
