package listen

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/izwi-speech/izwi/internal/audio"
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
	// Endpointing ends an utterance after this much VAD silence (0: only
	// the engine's own endpointing ends utterances).
	Endpointing time.Duration
}

// PipelineFactory builds a stream's pipeline and says the sample rate its
// Write takes.
type PipelineFactory func(ctx context.Context, cfg PipelineConfig, emit func(Event)) (Pipeline, int, error)

// ErrNoEngine means no streaming recognizer is loaded.
var ErrNoEngine = errors.New("listen: no streaming recognizer loaded")

// EnginePipeline is the in-process pipeline over a recognizer and an
// optional VAD (without one there are no SpeechStarted events and
// endpointing is the engine's own).
func EnginePipeline(rec speech.Recognizer, vad speech.VAD) PipelineFactory {
	return func(ctx context.Context, cfg PipelineConfig, emit func(Event)) (Pipeline, int, error) {
		if rec == nil {
			return nil, 0, ErrNoEngine
		}
		st, err := rec.NewStream(ctx, speech.StreamOptions{Hotwords: cfg.Hotwords})
		if err != nil {
			return nil, 0, fmt.Errorf("listen: opening a recognition stream: %w", err)
		}
		p := &enginePipeline{ctx: ctx, st: st, rate: rec.SampleRate(), cfg: cfg, emit: emit}
		if vad != nil {
			if p.det, err = vad.NewDetector(); err != nil {
				_ = st.Close()
				return nil, 0, fmt.Errorf("listen: opening a voice detector: %w", err)
			}
			if vad.SampleRate() != p.rate {
				if p.rs, err = audio.NewResampler(p.rate, vad.SampleRate()); err != nil {
					_ = st.Close()
					_ = p.det.Close()
					return nil, 0, fmt.Errorf("listen: voice detector rate: %w", err)
				}
			}
		}
		return p, p.rate, nil
	}
}

type enginePipeline struct {
	ctx  context.Context // the stream's: bounds every recognizer call
	st   speech.Stream
	det  speech.Detector
	rs   *audio.Resampler
	rate int
	cfg  PipelineConfig
	emit func(Event)

	pos      int64 // samples written
	speaking bool
	silence  int64 // samples of VAD silence since speech last stopped
	open     bool  // an utterance has results not yet made final
}

var _ Pipeline = (*enginePipeline)(nil)

func (p *enginePipeline) Write(samples []float32) error {
	if len(samples) == 0 {
		return nil
	}
	at := speech.SamplesToDuration(int(p.pos), p.rate)
	p.pos += int64(len(samples))
	if p.det != nil {
		v := samples
		if p.rs != nil {
			v = p.rs.Process(samples)
		}
		if _, err := p.det.Accept(v); err != nil {
			return fmt.Errorf("listen: voice detector: %w", err)
		}
		switch now := p.det.Speaking(); {
		case now && !p.speaking:
			p.emit(Event{SpeechStarted: true, At: at})
			p.silence = 0
		case !now:
			p.silence += int64(len(samples))
		}
		p.speaking = p.det.Speaking()
	}
	rs, err := p.st.Accept(p.ctx, samples)
	if err != nil {
		return fmt.Errorf("listen: recognizer: %w", err)
	}
	p.send(rs)
	if p.open && p.det != nil && p.cfg.Endpointing > 0 && !p.speaking &&
		speech.SamplesToDuration(int(p.silence), p.rate) >= p.cfg.Endpointing {
		return p.Finalize()
	}
	return nil
}

func (p *enginePipeline) Finalize() error { return p.finalize(p.ctx) }

func (p *enginePipeline) finalize(ctx context.Context) error {
	rs, err := p.st.Flush(ctx)
	if err != nil {
		return fmt.Errorf("listen: recognizer flush: %w", err)
	}
	p.send(rs)
	p.open = false
	return nil
}

func (p *enginePipeline) send(rs []speech.Result) {
	for _, r := range rs {
		p.open = !r.Final
		p.emit(Event{Result: r})
	}
}

// Close emits what is still open even when the stream's context has ended
// (the client hung up): the last final still reaches it if it can.
func (p *enginePipeline) Close() error {
	err := p.finalize(context.WithoutCancel(p.ctx))
	err = errors.Join(err, p.st.Close())
	if p.det != nil {
		err = errors.Join(err, p.det.Close())
	}
	return err
}
