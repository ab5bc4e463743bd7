package chain

import (
	"context"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

// probe is a goroutine opening primary streams with backoff until one
// opens; it hands that stream over on ready and exits.
type probe struct {
	cancel context.CancelFunc
	ready  chan speech.Stream // capacity 1
	done   chan struct{}
}

// startProbe starts probing the primary unless a probe runs already.
func (s *stream) startProbe() {
	if s.probe != nil {
		return
	}
	ctx, cancel := context.WithCancel(s.bg)
	p := &probe{cancel: cancel, ready: make(chan speech.Stream, 1), done: make(chan struct{})}
	s.probe = p
	primary, opts, cfg, log := s.r.engines[0], s.engineOpts(), s.r.cfg, s.r.log
	delay := s.backoff
	go func() {
		defer close(p.done)
		for {
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			octx, ocancel := context.WithTimeout(ctx, max(openTimeout, cfg.Stall))
			st, err := primary.Rec.NewStream(octx, opts)
			ocancel()
			if err == nil {
				p.ready <- st
				return
			}
			if ctx.Err() != nil {
				return
			}
			log.Debug("primary still unavailable", "engine", primary.Name, "reason", reasonOf(err), "next_probe", delay*2)
			delay = min(delay*2, cfg.ProbeMax)
		}
	}()
}

// stopProbe ends the probe and closes a stream it opened but did not hand
// over.
func (s *stream) stopProbe() {
	p := s.probe
	if p == nil {
		return
	}
	s.probe = nil
	p.cancel()
	<-p.done
	select {
	case st := <-p.ready:
		st.Close()
	default:
	}
}

// switchBack returns to the primary once a probe opened it and the
// fallback is between utterances. The primary gets the audio since the
// fallback's last final; the fallback's earlier span goes to catch-up
// when kept.
func (s *stream) switchBack(ctx context.Context) ([]speech.Result, error) {
	if s.cur <= 0 || s.probe == nil || s.showing {
		return nil, nil
	}
	var st speech.Stream
	select {
	case st = <-s.probe.ready:
	default:
		return nil, nil
	}
	<-s.probe.done
	s.probe = nil
	// A primary that fails again soon is probed less often next time.
	s.backoff = min(2*s.backoff, s.r.cfg.ProbeMax)
	kept, until, from := s.keep, s.finalEnd, s.name()
	s.keep = nil
	rs, err := s.use(ctx, 0, st, "recovered")
	if err != nil {
		// Still down: stay on the fallback and keep probing.
		s.keep = kept
		s.startProbe()
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, nil
	}
	if kept != nil {
		s.catchUp(kept, until, from)
	}
	return rs, nil
}

// catchUp re-transcribes the kept outage audio up to position until with
// the primary in the background and files the result for deliver.
func (s *stream) catchUp(k *sealed, until int64, fallback string) {
	primary, bg := s.r.engines[0], s.bg
	hot := s.opts.Hotwords
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer k.drop()
		audio, first, err := k.open()
		switch {
		case err != nil:
			s.r.log.Error("catch-up skipped", "error", err)
			return
		case until <= first: // the fallback finalised nothing of the outage
			s.r.log.Debug("catch-up: nothing to redo", "engine", primary.Name)
			return
		}
		audio = audio[:min(int64(len(audio)), until-first)]
		defer clear(audio)
		tr := primary.Files
		if tr == nil {
			// Not closed: closing would close the primary's recognizer.
			tr = speech.StreamTranscriber(primary.Rec)
		}
		t, err := tr.Transcribe(bg, audio, speech.TranscribeOptions{Hotwords: hot})
		if err != nil {
			if bg.Err() == nil {
				s.r.log.Warn("catch-up failed", "engine", primary.Name, "reason", reasonOf(err))
			}
			return
		}
		off := s.dur(first)
		span := [2]time.Duration{off, off + s.dur(int64(len(audio)))}
		rs := make([]speech.Result, 0, len(t.Segments))
		for _, r := range t.Segments {
			r.Start, r.End, r.Engine, r.Final = r.Start+off, r.End+off, primary.Name, true
			for i := range r.Words {
				r.Words[i].Start += off
				r.Words[i].End += off
			}
			rs = append(rs, r)
		}
		s.catchMu.Lock()
		s.caught = append(s.caught, speech.StreamEvent{Kind: speech.EventCatchUp, From: fallback, To: primary.Name,
			At: span[1], Span: span, Results: rs})
		s.catchMu.Unlock()
	}()
}
