package chain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/izwi-speech/izwi/internal/speech"
)

// FileEngine is one link of a transcriber chain.
type FileEngine struct {
	Name string
	Tr   speech.Transcriber
}

// Transcriber tries its engines in order: a file goes to the next one when
// an engine is unavailable (speech.ErrUnavailable), never when the input
// is bad or the caller gave up.
type Transcriber struct {
	log     *slog.Logger
	engines []FileEngine
}

var _ speech.Transcriber = (*Transcriber)(nil)

// NewTranscriber builds a transcriber chain, first = preferred. All
// engines must share one sample rate; closing the chain closes them.
func NewTranscriber(log *slog.Logger, engines ...FileEngine) (*Transcriber, error) {
	if err := checkEngines(len(engines), func(i int) (string, int) { return engines[i].Name, engines[i].Tr.SampleRate() }); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Transcriber{log: log, engines: engines}, nil
}

func (t *Transcriber) SampleRate() int { return t.engines[0].Tr.SampleRate() }

// Info describes the first engine, with Engine naming the chain.
func (t *Transcriber) Info() speech.EngineInfo {
	info := t.engines[0].Tr.Info()
	info.Engine = ""
	for i, e := range t.engines {
		if i > 0 {
			info.Engine += ","
		}
		info.Engine += e.Name
	}
	return info
}

func (t *Transcriber) Close() error {
	var errs []error
	for _, e := range t.engines {
		errs = append(errs, e.Tr.Close())
	}
	return errors.Join(errs...)
}

// Transcribe returns the first engine's transcript that succeeds; its
// segments carry that engine's name.
func (t *Transcriber) Transcribe(ctx context.Context, samples []float32, opts speech.TranscribeOptions) (speech.Transcript, error) {
	var errs []error
	for _, e := range t.engines {
		tr, err := e.Tr.Transcribe(ctx, samples, opts)
		if err == nil {
			for i := range tr.Segments {
				tr.Segments[i].Engine = e.Name
			}
			return tr, nil
		}
		if ctx.Err() != nil {
			return speech.Transcript{}, fmt.Errorf("chain: %w", ctx.Err())
		}
		if !failsOver(err) {
			return speech.Transcript{}, err
		}
		t.log.Warn("engine unavailable", "engine", e.Name, "reason", reasonOf(err))
		errs = append(errs, err)
	}
	return speech.Transcript{}, fmt.Errorf("chain: no engine can transcribe: %w", errors.Join(errs...))
}
