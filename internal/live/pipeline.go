package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/izwi-speech/izwi/internal/speaker"
	"github.com/izwi-speech/izwi/internal/speech"
)

// PipelineConfig configures one Pipeline.
type PipelineConfig struct {
	Recognizer speech.Recognizer // required
	// VAD is optional: it drives speech_started / utterance_end events and
	// the silence clock. Its rate must be the recognizer's.
	VAD speech.VAD
	// Hotwords are passed to NewStream; an engine that cannot honour them
	// makes NewPipeline fail with an error wrapping ErrBadConfig.
	Hotwords []string
	// QueueAudio is how much audio may wait for the recognizer; beyond it
	// new audio is dropped and counted. Default 5 s.
	QueueAudio time.Duration
	// UtteranceEndGap: emit TypeUtteranceEnd (and finalize the open
	// segment) after this much silence following words. Default 1 s.
	UtteranceEndGap time.Duration
	// Offset is the stream time of the first sample (a resumed session
	// continues its clock).
	Offset time.Duration
	// Speakers, when set, names who speaks: it sees every sample with the
	// VAD's verdict, and each caption gets the label covering its span
	// (issue 6). Its voices of people who did not consent stay in memory.
	Speakers SpeakerTracker
	// Snippet, when set, receives each final caption whose confidence is
	// below SnippetBelow with its audio (the last 30 s are held for it).
	// Called from the pipeline goroutine: it must not block.
	Snippet      func(e Event, samples []float32, rate int)
	SnippetBelow float32
	// StreamWait bounds the wait for a recognizer stream (engines with a
	// fixed decoder pool); beyond it NewPipeline fails with ErrLimit.
	// Default 3 s.
	StreamWait time.Duration
	Logger     *slog.Logger
}

// SpeakerTracker decides who is speaking in one stream (a *speaker.Tracker).
// Times are from the start of the pipeline's audio.
type SpeakerTracker interface {
	Accept(ctx context.Context, samples []float32, speech bool) error
	SpeakerAt(start, end time.Duration) speaker.Label
	Current() speaker.Label
}

var _ SpeakerTracker = (*speaker.Tracker)(nil)

// snippetHold is how much recent audio a pipeline keeps for snippets.
const snippetHold = 30 * time.Second

// PipelineStats are a pipeline's counters since it started.
type PipelineStats struct {
	AudioIn      time.Duration // audio accepted by Write (dropped audio included)
	AudioDropped time.Duration // audio dropped because the queue was full
	// Lag is how far recognition trails the audio written: audio queued
	// or inside the recognizer not yet processed.
	Lag    time.Duration
	Events uint64 // events emitted
}

// Pipeline carries one stream of audio through voice activity detection
// and recognition to caption events. Write never blocks on recognition:
// one goroutine drains a bounded queue. emit is called from that goroutine,
// in order; it must not block (publish, copy, return).
type Pipeline struct {
	cfg   PipelineConfig
	emit  func(Event)
	rate  int
	log   *slog.Logger
	limit int // queued samples allowed

	mu      sync.Mutex
	queue   []item
	queued  int
	closing bool
	wake    chan struct{}
	done    chan struct{}
	stopCtx func() bool

	in, dropped, processed, events atomic.Int64
}

type item struct {
	samples  []float32
	finalize bool
}

// errPipelineClosed is returned by Write and Finalize after Close.
var errPipelineClosed = fmt.Errorf("live: pipeline closed: %w", speech.ErrClosed)

// NewPipeline opens a recognizer stream (and a VAD detector) and starts
// the pipeline's goroutine. When ctx ends the pipeline closes as by Close.
func NewPipeline(ctx context.Context, cfg PipelineConfig, emit func(Event)) (*Pipeline, error) {
	if cfg.Recognizer == nil {
		return nil, ErrNoEngine
	}
	if emit == nil {
		emit = func(Event) {}
	}
	if cfg.QueueAudio <= 0 {
		cfg.QueueAudio = 5 * time.Second
	}
	if cfg.UtteranceEndGap <= 0 {
		cfg.UtteranceEndGap = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	rate := cfg.Recognizer.SampleRate()
	if cfg.VAD != nil && cfg.VAD.SampleRate() != rate {
		return nil, fmt.Errorf("%w: vad rate %d differs from the recognizer's %d", ErrBadConfig, cfg.VAD.SampleRate(), rate)
	}
	// An engine with a fixed pool of decoders (PocketSphinx) makes
	// NewStream wait for a free one; bound the wait so a full engine is a
	// refusal (ErrLimit), never a hang that holds the caller's locks.
	wait := cfg.StreamWait
	if wait <= 0 {
		wait = 3 * time.Second
	}
	sctx, cancel := context.WithTimeout(ctx, wait)
	st, err := cfg.Recognizer.NewStream(sctx, speech.StreamOptions{Hotwords: cfg.Hotwords})
	cancel()
	if err != nil {
		switch {
		case errors.Is(err, speech.ErrUnsupported):
			return nil, fmt.Errorf("%w: hotwords: %w", ErrBadConfig, err)
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			return nil, fmt.Errorf("%w: the recognizer has no free stream within %v (all its decoders are in use)", ErrLimit, wait)
		}
		return nil, fmt.Errorf("live: recognizer stream: %w", err)
	}
	var det speech.Detector
	if cfg.VAD != nil {
		if det, err = cfg.VAD.NewDetector(); err != nil {
			st.Close()
			return nil, fmt.Errorf("live: vad detector: %w", err)
		}
	}
	p := &Pipeline{cfg: cfg, emit: emit, rate: rate, log: cfg.Logger,
		limit: int(int64(cfg.QueueAudio) * int64(rate) / int64(time.Second)),
		wake:  make(chan struct{}, 1), done: make(chan struct{})}
	// The runner outlives ctx long enough to drain what is queued (Close
	// recognises the last audio), so its calls do not end with ctx.
	r := &runner{p: p, ctx: context.WithoutCancel(ctx), st: st, det: det, partial: map[int]string{}}
	go r.run()
	p.stopCtx = context.AfterFunc(ctx, func() { p.shut() })
	return p, nil
}

// SampleRate is the rate Write expects.
func (p *Pipeline) SampleRate() int { return p.rate }

// Write queues mono samples in [-1, 1] at SampleRate. When the queue holds
// QueueAudio already, the samples are dropped and counted; Write never
// waits for recognition.
func (p *Pipeline) Write(samples []float32) error {
	if len(samples) == 0 {
		return nil
	}
	if err := speech.CheckSamples(samples); err != nil {
		return fmt.Errorf("live: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return errPipelineClosed
	}
	p.in.Add(int64(len(samples)))
	if p.queued+len(samples) > p.limit {
		p.dropped.Add(int64(len(samples)))
		return nil
	}
	p.queue = append(p.queue, item{samples: append([]float32(nil), samples...)})
	p.queued += len(samples)
	p.signal()
	return nil
}

// Finalize ends the current utterance once the audio written before it is
// recognised: its final result follows with Final=true.
func (p *Pipeline) Finalize() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return errPipelineClosed
	}
	p.queue = append(p.queue, item{finalize: true})
	p.signal()
	return nil
}

// Close recognises what is queued, emits the last finals, stops the
// goroutine and closes the stream. It returns when all that is done.
func (p *Pipeline) Close() error {
	p.shut()
	p.stopCtx()
	<-p.done
	return nil
}

// Done is closed once the pipeline's goroutine has finished.
func (p *Pipeline) Done() <-chan struct{} { return p.done }

func (p *Pipeline) shut() {
	p.mu.Lock()
	p.closing = true
	p.signal()
	p.mu.Unlock()
}

// Stats reports the pipeline's counters.
func (p *Pipeline) Stats() PipelineStats {
	in, dropped, done := p.in.Load(), p.dropped.Load(), p.processed.Load()
	return PipelineStats{AudioIn: p.dur(in), AudioDropped: p.dur(dropped),
		Lag: p.dur(max(in-dropped-done, 0)), Events: uint64(p.events.Load())}
}

func (p *Pipeline) dur(n int64) time.Duration { return speech.SamplesToDuration(int(n), p.rate) }

// signal wakes the goroutine; p.mu is held.
func (p *Pipeline) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// take returns the queued items, and whether the pipeline is closing.
func (p *Pipeline) take() ([]item, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	q := p.queue
	p.queue = nil
	return q, p.closing
}

// consumed releases n samples of queue space once they are recognised.
func (p *Pipeline) consumed(n int) {
	p.mu.Lock()
	p.queued -= n
	p.mu.Unlock()
	p.processed.Add(int64(n))
}
