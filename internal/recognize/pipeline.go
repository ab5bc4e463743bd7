package recognize

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/speech"
)

// Pipeline is recognition in the caller's goroutine: Write runs the VAD and
// the engine on the samples and emits what they produced before it
// returns. Events reach emit synchronously, in order.
//
// Contract: used by one goroutine at a time. A stream released by Release
// (an idle session) is taken back by the next Write; times and segment
// numbers keep increasing across the gap.
type Pipeline struct {
	cfg  Config
	emit func(Event)
	rate int

	st  speech.Stream // nil while released
	det speech.Detector
	rs  *audio.Resampler // to the VAD's rate, when it differs

	pos      int64 // samples written
	base     int64 // pos at which the current stream started
	segBase  int   // segment numbers the earlier streams used
	segNext  int   // first segment number not yet seen
	speaking bool
	silence  int64                 // samples of VAD silence since speech last stopped
	partial  map[int]speech.Result // last partial emitted per open segment
	words    bool                  // words heard since the last utterance end
	lastWord time.Duration         // end of the last word heard
	spkOff   bool                  // the speaker tracker failed once: off

	// recent holds the latest audio for snippets; recent[0] is sample
	// recentAt of the pipeline's audio.
	recent   []float32
	recentAt int64
	closed   bool
}

// New opens a recognizer stream (waiting at most cfg.StreamWait for one)
// and a VAD detector.
func New(ctx context.Context, cfg Config, emit func(Event)) (*Pipeline, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if emit == nil {
		emit = func(Event) {}
	}
	p := &Pipeline{cfg: cfg, emit: emit, rate: cfg.Recognizer.SampleRate(), partial: map[int]speech.Result{}}
	if cfg.VAD != nil {
		if r := cfg.VAD.SampleRate(); r != p.rate {
			rs, err := audio.NewResampler(p.rate, r)
			if err != nil {
				return nil, fmt.Errorf("%w: voice detector rate %d: %w", ErrBadConfig, r, err)
			}
			p.rs = rs
		}
	}
	if err := p.acquire(ctx); err != nil {
		return nil, err
	}
	if cfg.VAD != nil {
		det, err := cfg.VAD.NewDetector()
		if err != nil {
			p.st.Close()
			return nil, fmt.Errorf("recognize: voice detector: %w", err)
		}
		p.det = det
	}
	return p, nil
}

// SampleRate is the rate Write takes.
func (p *Pipeline) SampleRate() int { return p.rate }

// Held reports whether the pipeline holds a recognizer stream now.
func (p *Pipeline) Held() bool { return p.st != nil }

// acquire opens a recognizer stream, bounding the wait for a free one.
func (p *Pipeline) acquire(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, p.cfg.StreamWait)
	defer cancel()
	st, err := p.cfg.Recognizer.NewStream(sctx, speech.StreamOptions{Hotwords: p.cfg.Hotwords, Context: p.cfg.Context,
		Events: p.streamEvent, KeepForCatchUp: p.cfg.KeepForCatchUp})
	switch {
	case err == nil:
	case errors.Is(err, speech.ErrUnsupported):
		return fmt.Errorf("%w: hotwords: %w", ErrBadConfig, err)
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		return fmt.Errorf("%w: none free within %v", ErrBusy, p.cfg.StreamWait)
	default:
		return fmt.Errorf("recognize: recognizer stream: %w", err)
	}
	p.st, p.base, p.segBase = st, p.pos, p.segNext
	return nil
}

// Release ends the open segment and gives the recognizer stream back (an
// idle session must not hold a decoder); the next Write takes one again.
func (p *Pipeline) Release(ctx context.Context) error {
	if p.st == nil || p.closed {
		return nil
	}
	err := p.Finalize(ctx)
	p.utteranceEnd() // no audio for a while: whoever spoke has finished
	err = errors.Join(err, p.st.Close())
	p.st = nil
	return err
}

// Write recognises samples (mono, in [-1, 1], at SampleRate). Without a
// stream (released) it first takes one; if none is free the samples are
// not recognised and the error wraps ErrBusy.
func (p *Pipeline) Write(ctx context.Context, samples []float32) error {
	if p.closed {
		return ErrClosed
	}
	if len(samples) == 0 {
		return nil
	}
	if err := speech.CheckSamples(samples); err != nil {
		return fmt.Errorf("recognize: %w", err)
	}
	if p.st == nil {
		if err := p.acquire(ctx); err != nil {
			p.pos += int64(len(samples)) // the clock runs on: audio was heard, not recognised
			return err
		}
	}
	start := p.now()
	ended, err := p.detect(samples, start)
	if err != nil {
		return err
	}
	if tr := p.cfg.Speakers; tr != nil && !p.spkOff {
		if err := tr.Accept(ctx, samples, p.speaking || p.det == nil); err != nil {
			p.spkOff = true
			p.cfg.Logger.Warn("speaker identification stopped for this stream", "err", err)
		}
	}
	if p.cfg.Snippet != nil {
		p.hold(samples)
	}
	rs, err := p.st.Accept(ctx, samples)
	p.pos += int64(len(samples))
	p.results(rs)
	if err != nil {
		return fmt.Errorf("recognize: recognizer: %w", err)
	}
	return p.endpoint(ctx, ended)
}

// detect runs the VAD over samples; it reports whether a speech segment
// closed in them.
func (p *Pipeline) detect(samples []float32, start time.Duration) (bool, error) {
	if p.det == nil {
		return false, nil
	}
	v := samples
	if p.rs != nil {
		v = p.rs.Process(samples)
	}
	segs, err := p.det.Accept(v)
	if err != nil {
		return false, fmt.Errorf("recognize: voice detector: %w", err)
	}
	switch now := p.det.Speaking(); {
	case now && !p.speaking:
		p.emit(Event{Kind: KindSpeechStarted, At: start})
		p.silence = 0
	case !now:
		p.silence += int64(len(samples))
	}
	p.speaking = p.det.Speaking()
	return len(segs) > 0, nil
}

// endpoint finalizes the open segment when the options say speech ended.
func (p *Pipeline) endpoint(ctx context.Context, ended bool) error {
	open := len(p.partial) > 0
	switch {
	case !open || p.speaking:
	case p.cfg.FinalizeAtSpeechEnd && ended,
		p.cfg.Endpointing > 0 && p.det != nil && p.dur(p.silence) >= p.cfg.Endpointing:
		if err := p.Finalize(ctx); err != nil {
			return err
		}
	}
	if p.cfg.UtteranceEndGap > 0 && p.words && !p.speaking && p.now()-p.lastWord >= p.cfg.UtteranceEndGap {
		if len(p.partial) > 0 {
			if err := p.Finalize(ctx); err != nil {
				return err
			}
		}
		p.utteranceEnd()
	}
	return nil
}

// Finalize ends the current segment now and emits its final. A segment
// the engine left open gets an empty final so viewers drop its partial.
func (p *Pipeline) Finalize(ctx context.Context) error {
	if p.closed {
		return ErrClosed
	}
	var err error
	if p.st != nil {
		var rs []speech.Result
		rs, err = p.st.Flush(ctx)
		p.results(rs)
		if err != nil {
			err = fmt.Errorf("recognize: recognizer flush: %w", err)
		}
	}
	now := p.now()
	for seg := range p.partial {
		p.emit(Event{Kind: KindResult, Result: speech.Result{Segment: seg, Final: true, Start: now, End: now}})
		delete(p.partial, seg)
	}
	return err
}

// Close ends the open segment and the utterance, emits what they
// produced, and releases the stream and the detector. ctx bounds the
// engine's last calls.
func (p *Pipeline) Close(ctx context.Context) error {
	if p.closed {
		return nil
	}
	var err error
	if p.det != nil {
		_, _ = p.det.Flush()
	}
	err = p.Finalize(ctx)
	p.utteranceEnd()
	p.closed = true
	if p.st != nil {
		err = errors.Join(err, p.st.Close())
		p.st = nil
	}
	if p.det != nil {
		err = errors.Join(err, p.det.Close())
	}
	return err
}

func (p *Pipeline) utteranceEnd() {
	if p.words && p.cfg.UtteranceEndGap > 0 {
		p.words = false
		p.emit(Event{Kind: KindUtteranceEnd, At: p.lastWord})
	}
}

func (p *Pipeline) now() time.Duration        { return p.dur(p.pos) }
func (p *Pipeline) dur(n int64) time.Duration { return speech.SamplesToDuration(int(n), p.rate) }
