package sherpa

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
)

// asrResolver serves generated models by name, as package models would.
type asrResolver struct{ t testing.TB }

func (r asrResolver) Resolve(_ context.Context, name string) (speech.ResolvedModel, error) {
	switch name {
	case asrStreamingModel, asrOfflineModel:
		return genModel(r.t, name), nil
	}
	return speech.ResolvedModel{}, fmt.Errorf("test resolver: %q: %w", name, speech.ErrModel)
}

func TestRegisterASR(t *testing.T) {
	reg := speech.NewRegistry()
	RegisterASR(reg)
	ctx := context.Background()
	deps := speech.Deps{Models: asrResolver{t}}
	rec, err := reg.Recognizers.New(ctx, speech.Spec{Engine: "sherpa", Model: asrStreamingModel,
		Options: map[string]string{"rule2_min_trailing_silence": "0.8"}}, deps)
	if err != nil {
		t.Fatalf("recognizer: %v", err)
	}
	defer rec.Close()
	if inf := rec.Info(); inf.Engine != "sherpa" || inf.Role != "asr" || inf.Model != asrStreamingModel || len(inf.Files) != 5 {
		t.Errorf("Info = %+v", inf)
	}
	tr, err := reg.Transcribers.New(ctx, speech.Spec{Engine: "sherpa", Model: asrOfflineModel, Threads: 2}, deps)
	if err != nil {
		t.Fatalf("transcriber: %v", err)
	}
	defer tr.Close()
	out, err := tr.Transcribe(ctx, asrSpeech(t, 1), speech.TranscribeOptions{})
	if err != nil || out.Text == "" {
		t.Errorf("Transcribe via registry: %q, %v", out.Text, err)
	}
	for name, spec := range map[string]speech.Spec{
		"unknown model": {Engine: "sherpa", Model: "no-such-model"},
		"no model":      {Engine: "sherpa"},
	} {
		if _, err := reg.Recognizers.New(ctx, spec, deps); !errors.Is(err, speech.ErrModel) {
			t.Errorf("%s: %v, want ErrModel", name, err)
		}
	}
	if _, err := reg.Recognizers.New(ctx, speech.Spec{Engine: "sherpa", Model: asrStreamingModel}, speech.Deps{}); !errors.Is(err, speech.ErrModel) {
		t.Errorf("no resolver: %v, want ErrModel", err)
	}
	if _, err := reg.Recognizers.New(ctx, speech.Spec{Engine: "sherpa", Model: asrStreamingModel,
		Options: map[string]string{"beam": "4"}}, deps); !errors.Is(err, speech.ErrBadInput) {
		t.Errorf("unknown option: %v, want ErrBadInput", err)
	}
	if _, err := reg.Transcribers.New(ctx, speech.Spec{Engine: "sherpa", Model: asrStreamingModel}, deps); !errors.Is(err, speech.ErrUnsupported) {
		t.Errorf("streaming model as transcriber: %v, want ErrUnsupported", err)
	}
}

// BenchmarkStreamingDecode pushes real speech through one stream of the
// tiny generated model in 100 ms chunks, as a live client does. The model
// is nearly free, so this measures Izwi's and sherpa-onnx's per-chunk
// overhead (features, endpointing, result JSON, word merging). audio-s/s is
// seconds of audio handled per wall second.
func BenchmarkStreamingDecode(b *testing.B) {
	rec := asrOnline(b, DefaultASROptions())
	samples := asrSpeech(b, 2)
	st, err := rec.NewStream(context.Background(), speech.StreamOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	const chunk = asrSampleRate / 10
	b.ResetTimer()
	for b.Loop() {
		for off := 0; off < len(samples); off += chunk {
			if _, err := st.Accept(context.Background(), samples[off:min(off+chunk, len(samples))]); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := st.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*asrElapsed(int64(len(samples))).Seconds()/b.Elapsed().Seconds(), "audio-s/s")
}

// BenchmarkStreamingDecodeBatch runs 8 live streams through DecodeReady,
// which batches ready streams into one native call.
func BenchmarkStreamingDecodeBatch(b *testing.B) {
	rec := asrOnline(b, DefaultASROptions())
	samples := asrSpeech(b, 2)
	streams := make([]*OnlineStream, 8)
	for i := range streams {
		st, err := rec.NewOnlineStream(context.Background(), speech.StreamOptions{})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		streams[i] = st
	}
	const chunk = asrSampleRate / 10
	b.ResetTimer()
	for b.Loop() {
		for off := 0; off < len(samples); off += chunk {
			for _, st := range streams {
				if err := st.Push(samples[off:min(off+chunk, len(samples))]); err != nil {
					b.Fatal(err)
				}
			}
			rec.DecodeReady(streams)
			for _, st := range streams {
				if _, err := st.Results(); err != nil {
					b.Fatal(err)
				}
			}
		}
		for _, st := range streams {
			if _, err := st.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(streams))*asrElapsed(int64(len(samples))).Seconds()/b.Elapsed().Seconds(), "audio-s/s")
}

// BenchmarkTranscribe transcribes real speech with the tiny NeMo CTC model
// in 25 s pieces.
func BenchmarkTranscribe(b *testing.B) {
	tr := asrOffline(b, DefaultASROptions())
	samples := asrSpeech(b, 4)
	b.ResetTimer()
	for b.Loop() {
		if _, err := tr.Transcribe(context.Background(), samples, speech.TranscribeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*asrElapsed(int64(len(samples))).Seconds()/b.Elapsed().Seconds(), "audio-s/s")
}
