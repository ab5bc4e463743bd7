// Package sherpatest loads sherpa-onnx engines for other packages' tests:
// the speaker embedder on the project's generated model and the real Silero
// VAD from the shared models, through the registry as izwi serve would. Only
// tests import it.
package sherpatest

import (
	"context"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/sherpa"
	"github.com/izwi-speech/izwi/internal/testdata"
)

// SpeakerModel is the generated statistics-pooling speaker model
// (scripts/genmodels/speaker.py): untrained, but its pooling already
// separates the shared speakers.
const SpeakerModel = "speaker-stats-tiny"

// Embedder loads SpeakerModel; it is closed when t ends.
func Embedder(t testing.TB) speech.Embedder {
	t.Helper()
	e, err := registry().Embedders.New(context.Background(), speech.Spec{Engine: sherpa.Engine, Model: SpeakerModel},
		speech.Deps{Models: testdata.Resolver{SpeakerModel: testdata.GenModel(t, SpeakerModel)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// VAD loads the shared Silero VAD v5; it is closed when t ends.
func VAD(t testing.TB) speech.VAD {
	t.Helper()
	m := testdata.SileroModel(t)
	v, err := registry().VADs.New(context.Background(), speech.Spec{Engine: "silero", Model: m.Name},
		speech.Deps{Models: testdata.Resolver{m.Name: m}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func registry() *speech.Registry {
	r := speech.NewRegistry()
	sherpa.Register(r)
	return r
}
