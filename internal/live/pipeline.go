package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/izwi-speech/izwi/internal/recognize"
	"github.com/izwi-speech/izwi/internal/speech"
)

// PipelineConfig configures one session's Pipeline; see recognize.Config
// for the fields it passes on.
type PipelineConfig struct {
	Recognizer     speech.Recognizer // required
	VAD            speech.VAD
	Hotwords       []string
	Context        string // prepared text, held in memory only
	Speakers       SpeakerTracker
	SnippetBelow   float32
	StreamWait     time.Duration
	KeepForCatchUp bool
	Logger         *slog.Logger
	// QueueAudio is how much audio may wait for the recognizer; beyond it
	// new audio is dropped and counted. Default 5 s.
	QueueAudio time.Duration
	// UtteranceEndGap: emit TypeUtteranceEnd (and finalize the open
	// segment) after this much silence following words. Default 1 s.
	UtteranceEndGap time.Duration
	// Offset is the stream time of the first sample (a resumed session
	// continues its clock).
	Offset time.Duration
	// IdleRelease gives the recognizer stream back after this long without
	// audio; the next audio takes one again (0: never).
	IdleRelease time.Duration
	// Snippet, when set, receives each final caption whose confidence is
	// below SnippetBelow with its audio. Called from the pipeline
	// goroutine: it must not block.
	Snippet func(e Event, samples []float32, rate int)
	// CatchUp, when set, receives the primary engine's finals for a span a
	// fallback served (session seconds, offset applied). Called from the
	// pipeline goroutine: it must not block.
	CatchUp func(from, to float64, finals []Event)
}

// SpeakerTracker decides who is speaking in one stream (a *speaker.Tracker).
type SpeakerTracker = recognize.SpeakerTracker

// PipelineStats are a pipeline's counters since it started.
type PipelineStats = recognize.Stats

// Pipeline carries one session's audio through the recognition pipeline
// (package recognize) and turns what it emits into caption Events on the
// session's clock. Write never blocks on recognition.
type Pipeline struct {
	*recognize.Async
}

// NewPipeline opens a recognizer stream (and a VAD detector) and starts
// the pipeline's goroutine. When ctx ends the pipeline closes as by Close.
// No free recognizer stream within StreamWait is ErrLimit.
func NewPipeline(ctx context.Context, cfg PipelineConfig, emit func(Event)) (*Pipeline, error) {
	if cfg.Recognizer == nil {
		return nil, ErrNoEngine
	}
	if emit == nil {
		emit = func(Event) {}
	}
	if cfg.UtteranceEndGap <= 0 {
		cfg.UtteranceEndGap = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	rc := recognize.Config{Recognizer: cfg.Recognizer, VAD: cfg.VAD, Hotwords: cfg.Hotwords, Context: cfg.Context,
		FinalizeAtSpeechEnd: true, UtteranceEndGap: cfg.UtteranceEndGap,
		Speakers: cfg.Speakers, SnippetBelow: cfg.SnippetBelow, StreamWait: cfg.StreamWait,
		KeepForCatchUp: cfg.KeepForCatchUp, Logger: cfg.Logger}
	if snip := cfg.Snippet; snip != nil {
		rate := cfg.Recognizer.SampleRate()
		rc.Snippet = func(e recognize.Event, samples []float32) {
			snip(eventOf(e, cfg.Offset), samples, rate)
		}
	}
	a, err := recognize.NewAsync(ctx, recognize.AsyncConfig{Config: rc, QueueAudio: cfg.QueueAudio, IdleRelease: cfg.IdleRelease},
		func(e recognize.Event) {
			if e.Kind == recognize.KindCatchUp && cfg.CatchUp != nil {
				cfg.CatchUp(catchUpOf(e, cfg.Offset))
				return
			}
			if ev, ok := captionOf(e, cfg.Offset); ok {
				emit(ev)
			}
		})
	switch {
	case err == nil:
		return &Pipeline{a}, nil
	case errors.Is(err, recognize.ErrBusy):
		return nil, fmt.Errorf("%w: the recognizer has no free stream (all its decoders are in use): %w", ErrLimit, err)
	case errors.Is(err, recognize.ErrBadConfig):
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	case errors.Is(err, recognize.ErrNoEngine):
		return nil, ErrNoEngine
	}
	return nil, fmt.Errorf("live: %w", err)
}

// Close recognises what is queued, emits the last finals and closes the
// stream; ctx bounds the drain (see recognize.Async.Close).
func (p *Pipeline) Close(ctx context.Context) error { return p.Async.Close(ctx) }

// captionOf turns a pipeline event into the caption feed's Event, times
// moved by offset; catch-up events are not the viewers' (they keep the
// captions they saw).
func captionOf(e recognize.Event, offset time.Duration) (Event, bool) {
	switch e.Kind {
	case recognize.KindResult:
		return eventOf(e, offset), true
	case recognize.KindSpeechStarted:
		return Event{Type: TypeSpeechStarted, At: seconds(offset + e.At)}, true
	case recognize.KindUtteranceEnd:
		return Event{Type: TypeUtteranceEnd, At: seconds(offset + e.At)}, true
	case recognize.KindSwitch:
		return Event{Type: TypeEngine, At: seconds(offset + e.At), Engine: e.Stream.To,
			EngineFrom: e.Stream.From, Reason: e.Stream.Reason}, true
	}
	return Event{}, false
}

// catchUpOf is a catch-up's span and finals on the session's clock.
func catchUpOf(e recognize.Event, offset time.Duration) (from, to float64, finals []Event) {
	for _, r := range e.Stream.Results {
		if r.Final && r.Text != "" {
			finals = append(finals, CaptionEvent(r, offset))
		}
	}
	return seconds(offset + e.Stream.Span[0]), seconds(offset + e.Stream.Span[1]), finals
}

// eventOf is the caption of a result event.
func eventOf(e recognize.Event, offset time.Duration) Event {
	ev := CaptionEvent(e.Result, offset)
	ev.SpeakerConfidence = e.SpeakerConfidence
	return ev
}
