package listen

import (
	"context"
	"fmt"
	"time"

	"github.com/izwi-speech/izwi/internal/recognize"
	"github.com/izwi-speech/izwi/internal/speech"
)

// Event is what a Pipeline emits: a recognition result (partial or final)
// or, when SpeechStarted is set, the VAD hearing speech begin at At.
type Event struct {
	Result        speech.Result
	SpeechStarted bool
	At            time.Duration
}

// Pipeline is one stream's recognition: mono samples in, Events out
// through the emit function its factory was given.
//
// Contract: used by one goroutine at a time; emit is called synchronously
// from Write, Finalize and Close, so the caller knows which call caused an
// event (Deepgram's from_finalize and speech_final depend on it), and a
// slow recognizer slows the client's socket instead of dropping audio.
// Finalize ends the current utterance now and emits its final. Close emits
// what is still open, then releases the pipeline.
type Pipeline interface {
	Write(samples []float32) error
	Finalize() error
	Close() error
}

// PipelineConfig tunes one stream's pipeline.
type PipelineConfig struct {
	Hotwords []string
	// Context is prepared text (Params.Context: the key terms).
	Context string
	// Endpointing ends an utterance after this much VAD silence (0: only
	// the engine's own endpointing ends utterances).
	Endpointing time.Duration
}

// PipelineFactory builds a stream's pipeline and says the sample rate its
// Write takes.
type PipelineFactory func(ctx context.Context, cfg PipelineConfig, emit func(Event)) (Pipeline, int, error)

// ErrNoEngine means no streaming recognizer is loaded.
var ErrNoEngine = recognize.ErrNoEngine

// EnginePipeline is the in-process pipeline (package recognize) over a
// recognizer and an optional VAD (without one there are no SpeechStarted
// events and endpointing is the engine's own). No free recognizer stream
// within recognize.DefaultStreamWait fails with recognize.ErrBusy.
func EnginePipeline(rec speech.Recognizer, vad speech.VAD) PipelineFactory {
	return func(ctx context.Context, cfg PipelineConfig, emit func(Event)) (Pipeline, int, error) {
		if rec == nil {
			return nil, 0, ErrNoEngine
		}
		p, err := recognize.New(ctx, recognize.Config{Recognizer: rec, VAD: vad, Hotwords: cfg.Hotwords,
			Context: cfg.Context, Endpointing: cfg.Endpointing}, func(e recognize.Event) {
			switch e.Kind {
			case recognize.KindResult:
				emit(Event{Result: e.Result})
			case recognize.KindSpeechStarted:
				emit(Event{SpeechStarted: true, At: e.At})
			}
		})
		if err != nil {
			return nil, 0, fmt.Errorf("listen: opening a recognition stream: %w", err)
		}
		return &enginePipeline{ctx: ctx, p: p}, p.SampleRate(), nil
	}
}

// enginePipeline binds a recognize.Pipeline to its stream's context.
type enginePipeline struct {
	ctx context.Context // the stream's: bounds every recognizer call
	p   *recognize.Pipeline
}

var _ Pipeline = (*enginePipeline)(nil)

func (p *enginePipeline) Write(samples []float32) error { return p.p.Write(p.ctx, samples) }

func (p *enginePipeline) Finalize() error { return p.p.Finalize(p.ctx) }

// Close emits what is still open even when the stream's context has ended
// (the client hung up), within closeTimeout.
func (p *enginePipeline) Close() error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), closeTimeout)
	defer cancel()
	return p.p.Close(ctx)
}

// closeTimeout bounds the recognizer's last calls after a stream ends.
const closeTimeout = 5 * time.Second
