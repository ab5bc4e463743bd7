package chain

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

// Accept feeds the serving engine; on its failure or stall the stream
// fails over inside this call and returns what the next engine made of the
// replayed audio.
func (s *stream) Accept(ctx context.Context, samples []float32) ([]speech.Result, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	if err := speech.CheckSamples(samples); err != nil {
		return nil, err
	}
	s.deliver()
	start := s.pos
	s.ring.push(samples)
	s.pos += int64(len(samples))
	if s.cur > 0 {
		if err := s.hold(start, samples); err != nil {
			return nil, err
		}
	}
	if s.st == nil { // every engine failed last time: start again from the primary
		return s.open(ctx, s.order(-1), "recovered")
	}
	rs, err := s.st.Accept(ctx, samples)
	if err != nil {
		return s.failed(ctx, err)
	}
	out := s.results(rs)
	if s.stalled() {
		more, err := s.failover(ctx, "stall")
		return append(out, more...), err
	}
	more, err := s.switchBack(ctx)
	return append(out, more...), err
}

// Flush ends the utterance on the serving engine, bounding a network
// engine's answer by Stall; a failure fails over and flushes the next one.
func (s *stream) Flush(ctx context.Context) ([]speech.Result, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	s.deliver()
	var out []speech.Result
	if s.st == nil {
		rs, err := s.open(ctx, s.order(-1), "recovered")
		if err != nil {
			return nil, err
		}
		out = rs
	}
	fctx, cancel := context.WithCancel(ctx)
	stalled := s.watch(fctx, cancel)
	rs, err := s.st.Flush(fctx)
	cancel()
	if err != nil {
		if <-stalled {
			rs, err = s.failover(ctx, "stall")
		} else {
			rs, err = s.failed(ctx, err)
		}
		if err != nil {
			return out, err
		}
		out = append(out, rs...)
		rs, err = s.st.Flush(ctx)
		if err != nil {
			return out, err
		}
	}
	out = append(out, s.results(rs)...)
	more, err := s.switchBack(ctx)
	return append(out, more...), err
}

// Reset restarts the stream's time and segments on the serving engine.
// Catch-ups in flight belong to the old timeline and are abandoned.
func (s *stream) Reset(ctx context.Context) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	s.stopBackground()
	s.ring.reset()
	s.pos, s.offset, s.finalEnd, s.nextSeg, s.segBase, s.showing = 0, 0, 0, 0, 0, false
	s.acked, s.waiting = 0, time.Time{}
	if s.st == nil {
		_, err := s.open(ctx, s.order(-1), "")
		return err
	}
	if s.cur > 0 {
		s.startProbe()
	}
	if err := s.st.Reset(ctx); err != nil {
		_, err = s.failed(ctx, err)
		return err
	}
	return nil
}

// Close stops probes and catch-ups, closes the serving stream and wipes
// held audio. It waits only for goroutines whose work honours
// cancellation.
func (s *stream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.stopBackground()
	s.cancel()
	s.drop()
	s.ring.reset()
	return nil
}

func (s *stream) usable(ctx context.Context) error {
	if s.closed {
		return speech.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("chain: %w", err)
	}
	return nil
}

// failed handles an error from the serving engine: the caller's own
// cancellation and bad input pass through; anything else that is the
// engine's fault (or a Flush bounded by Stall timing out) fails over.
func (s *stream) failed(ctx context.Context, err error) ([]speech.Result, error) {
	if ctx.Err() != nil {
		return nil, fmt.Errorf("chain: %w", ctx.Err())
	}
	if !failsOver(err) && !errors.Is(err, context.DeadlineExceeded) {
		return nil, err
	}
	return s.failover(ctx, reasonOf(err))
}

// failover leaves the serving engine for the next that opens (after it in
// priority order, then before it).
func (s *stream) failover(ctx context.Context, reason string) ([]speech.Result, error) {
	rs, err := s.open(ctx, s.order(s.cur), reason)
	if err != nil {
		s.drop() // the next call starts again from the primary
	}
	return rs, err
}

// order lists the engines to try when leaving engine cur (-1: all).
func (s *stream) order(cur int) []int {
	var out []int
	for i := cur + 1; i < len(s.r.engines); i++ {
		out = append(out, i)
	}
	for i := 0; i < cur; i++ {
		out = append(out, i)
	}
	return out
}

// stalled reports whether a stream that reports Acknowledged has left
// audio unanswered for longer than Stall.
func (s *stream) stalled() bool {
	a, ok := s.st.(Acker)
	if !ok {
		return false
	}
	now := time.Now()
	if ack := a.Acknowledged(); ack > s.acked {
		s.acked, s.waiting = ack, time.Time{}
	}
	switch {
	case s.dur(s.pos-s.offset) <= s.acked:
		s.waiting = time.Time{}
	case s.waiting.IsZero():
		s.waiting = now
	}
	return !s.waiting.IsZero() && now.Sub(s.waiting) > s.r.cfg.Stall
}

// watch guards a blocking call on a stream that reports Acknowledged:
// while ctx lives it cancels the call when the acknowledged audio has not
// moved for Stall (a backlog that is being worked through is no stall).
// The channel yields, once the call is over and ctx is cancelled, whether
// it did.
func (s *stream) watch(ctx context.Context, cancel context.CancelFunc) <-chan bool {
	out := make(chan bool, 1)
	a, ok := s.st.(Acker)
	if !ok {
		out <- false
		return out
	}
	stall := s.r.cfg.Stall
	go func() {
		tick := time.NewTicker(max(stall/8, 10*time.Millisecond))
		defer tick.Stop()
		last, since := a.Acknowledged(), time.Now()
		for {
			select {
			case <-ctx.Done():
				out <- false
				return
			case now := <-tick.C:
				if ack := a.Acknowledged(); ack != last {
					last, since = ack, now
				} else if now.Sub(since) > stall {
					cancel()
					out <- true
					return
				}
			}
		}
	}()
	return out
}

// hold seals outage audio for catch-up when the session keeps it.
func (s *stream) hold(at int64, samples []float32) error {
	if !s.opts.KeepForCatchUp || len(samples) == 0 {
		return nil
	}
	if s.keep == nil {
		k, err := newSealed(s.samples(s.r.cfg.CatchUpMax))
		if err != nil {
			return err
		}
		s.keep = k
	}
	return s.keep.add(at, samples)
}

// deliver reports finished catch-ups from the caller's goroutine.
func (s *stream) deliver() {
	s.catchMu.Lock()
	evs := s.caught
	s.caught = nil
	s.catchMu.Unlock()
	for _, e := range evs {
		s.event(e)
	}
}

// stopBackground ends the probe and any catch-up, drops held audio, and
// readies a fresh background context.
func (s *stream) stopBackground() {
	s.stopProbe()
	s.cancel()
	s.wg.Wait()
	if s.keep != nil {
		s.keep.drop()
		s.keep = nil
	}
	s.catchMu.Lock()
	s.caught = nil
	s.catchMu.Unlock()
	s.bg, s.cancel = context.WithCancel(context.WithoutCancel(s.bg))
}
