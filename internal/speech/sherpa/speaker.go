package sherpa

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	sherpa "github.com/k2-fsa/sherpa-onnx-go/sherpa_onnx"

	"github.com/izwi-speech/izwi/internal/speech"
)

// Embedder is a speaker-embedding model (3D-Speaker CAM++/ERes2Net,
// WeSpeaker or NeMo; sherpa-onnx picks the front end from the model's
// "framework" metadata) loaded through sherpa-onnx. One native extractor is
// shared: its Compute is const and onnxruntime sessions are safe for
// concurrent Run, and each Embed uses its own feature stream.
type Embedder struct {
	info speech.EngineInfo
	rate int
	dim  int

	mu     sync.RWMutex // held for reading by Embed, for writing by Close
	ex     *sherpa.SpeakerEmbeddingExtractor
	closed bool
}

var _ speech.Embedder = (*Embedder)(nil)

// NewEmbedder is the registry factory for the "sherpa" speaker engine. The
// model needs one role, "model"; its family, if set, must be
// "speaker-embedding" (package models' name), "3d-speaker", "wespeaker" or
// "nemo"; catalogue meta "dim", if set, must match the model, and "sample_rate" declares the
// rate callers must send (default 16000; the extractor resamples otherwise).
func NewEmbedder(ctx context.Context, spec speech.Spec, deps speech.Deps) (speech.Embedder, error) {
	m, err := resolve(ctx, spec, deps, "speaker")
	if err != nil {
		return nil, err
	}
	return newEmbedder(m, spec)
}

func newEmbedder(m speech.ResolvedModel, spec speech.Spec) (*Embedder, error) {
	if err := checkOptions(spec.Options); err != nil {
		return nil, err
	}
	if err := checkFamily(m, "speaker", "speaker-embedding", "3d-speaker", "wespeaker", "nemo"); err != nil {
		return nil, err
	}
	if err := requireFiles(m, "model"); err != nil {
		return nil, err
	}
	rate := 16000
	if s, ok := m.Meta["sample_rate"]; ok {
		r, err := strconv.Atoi(s)
		if err != nil || r < 8000 || r > 48000 {
			return nil, fmt.Errorf("sherpa: speaker: model %q sample_rate %q: %w", m.Name, s, speech.ErrModel)
		}
		rate = r
	}
	meta, err := readONNXMetadata(m.File("model"))
	if err != nil {
		return nil, err
	}
	if err := checkSpeakerMeta(meta); err != nil {
		return nil, metaErr("speaker", m.Name, err)
	}
	ex := sherpa.NewSpeakerEmbeddingExtractor(&sherpa.SpeakerEmbeddingExtractorConfig{
		Model:      m.File("model"),
		NumThreads: threads(spec),
		Provider:   "cpu",
	})
	if ex == nil {
		return nil, fmt.Errorf("sherpa: speaker: model %q failed to load: %w", m.Name, speech.ErrModel)
	}
	dim := ex.Dim()
	if want := m.Meta["dim"]; dim <= 0 || want != "" && want != strconv.Itoa(dim) {
		sherpa.DeleteSpeakerEmbeddingExtractor(ex)
		return nil, fmt.Errorf("sherpa: speaker: model %q reports dimension %d (catalogue: %q): %w", m.Name, dim, want, speech.ErrModel)
	}
	return &Embedder{info: info("speaker", m), rate: rate, dim: dim, ex: ex}, nil
}

// SampleRate is the rate Embed expects.
func (e *Embedder) SampleRate() int { return e.rate }

// Dim is the embedding length.
func (e *Embedder) Dim() int { return e.dim }

// Info describes the loaded model.
func (e *Embedder) Info() speech.EngineInfo { return e.info }

// Embed returns the voiceprint of samples (mono at SampleRate). Audio too
// short to give one feature frame (about 25 ms) is ErrBadAudio.
func (e *Embedder) Embed(ctx context.Context, samples []float32) ([]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sherpa: speaker: %w", err)
	}
	if err := speech.CheckSamples(samples); err != nil {
		return nil, fmt.Errorf("sherpa: speaker: %w", err)
	}
	if len(samples) == 0 {
		return nil, fmt.Errorf("sherpa: speaker: no samples: %w", speech.ErrBadAudio)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, fmt.Errorf("sherpa: speaker: %w", speech.ErrClosed)
	}
	st := e.ex.CreateStream()
	defer sherpa.DeleteOnlineStream(st)
	st.AcceptWaveform(e.rate, samples)
	st.InputFinished()
	if !e.ex.IsReady(st) {
		return nil, fmt.Errorf("sherpa: speaker: %d samples is too short for an embedding: %w", len(samples), speech.ErrBadAudio)
	}
	v := e.ex.Compute(st)
	if len(v) != e.dim {
		return nil, fmt.Errorf("sherpa: speaker: got %d values, want %d: %w", len(v), e.dim, speech.ErrModel)
	}
	return v, nil
}

// Close waits for running Embed calls and frees the model.
func (e *Embedder) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.closed {
		e.closed = true
		sherpa.DeleteSpeakerEmbeddingExtractor(e.ex)
		e.ex = nil
	}
	return nil
}
