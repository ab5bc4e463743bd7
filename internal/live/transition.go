package live

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// A session changes state in one place: step (or quiet, for inputs with
// no effects). Next decides, under session.mu, on the Session value
// (machine); apply writes what it decided back, and is the only code that
// assigns a session's state (TestOnlyApplyChangesState). The effects, all
// I/O, run after session.mu is released, in Next's order, serialised per
// session by session.fx, which the audio path never takes.

// machine is s as the state machine sees it (s.mu held).
func (s *session) machine() Session {
	cur := Session{ID: s.rec.ID, Label: s.rec.Label, State: s.rec.State, LastSpeech: s.lastSpeech,
		AutoStopAfter: s.rec.AutoStopAfter, StopReason: s.rec.StopReason}
	if s.rec.StartedAt != nil {
		cur.StartedAt = *s.rec.StartedAt
	}
	return cur
}

// apply makes nxt, what Next returned for an input at in.At, s's state
// (s.mu held).
func (s *session) apply(nxt Session, in Input) {
	prev := s.rec.State
	s.rec.Label, s.rec.State, s.rec.StopReason = nxt.Label, nxt.State, nxt.StopReason
	if nxt.State == Live && prev != Live {
		started := nxt.StartedAt.UTC()
		s.rec.StartedAt, s.rec.StoppedAt = &started, nil
		s.lastSpeech = nxt.LastSpeech
	} else if nxt.LastSpeech.After(s.lastSpeech) {
		// A quiet EvAudio may have moved it on since Next ran.
		s.lastSpeech = nxt.LastSpeech
	}
	if nxt.State == Stopped && prev != Stopped {
		stopped := in.At.UTC()
		s.rec.StoppedAt = &stopped
	}
}

// errHasEffects refuses a quiet input Next gave effects to.
var errHasEffects = errors.New("live: input has effects")

// quiet applies in to s when Next gives it no effects: nothing to save,
// start, stop or tell (speech heard, a source reconnecting). It takes
// s.mu only, so the pipeline's goroutine and the sources may call it.
// An input with effects is refused and changes nothing.
func (s *session) quiet(in Input) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	nxt, effects, err := Next(s.machine(), in)
	if err != nil {
		return err
	}
	if len(effects) > 0 {
		return fmt.Errorf("%w: %s %v", errHasEffects, in.Kind, effects)
	}
	s.apply(nxt, in)
	return nil
}

// step applies in to s through Next and carries out its effects in
// order. The caller holds s.fx, not s.mu. action, when the state changes,
// is audited as done by who (before anything is done).
func (m *Manager) step(ctx context.Context, s *session, who string, in Input, action string) error {
	s.mu.Lock()
	cur := s.machine()
	nxt, effects, err := Next(cur, in)
	var spec pipeSpec
	if err == nil && slices.Contains(effects, StartPipeline) {
		spec = m.specLocked(s)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if len(effects) == 0 {
		return s.quiet(in)
	}
	id := cur.ID
	var p *Pipeline
	if slices.Contains(effects, StartPipeline) {
		if spec.pub = m.publisherFor(s); spec.pub == nil {
			return fmt.Errorf("live: session %s: no publisher", id)
		}
		if p, err = m.pipes.open(spec); err != nil {
			return err
		}
	}
	if action != "" && nxt.State != cur.State {
		details := map[string]string{"state": string(nxt.State)}
		if nxt.StopReason != "" && nxt.State == Stopped {
			details["reason"] = nxt.StopReason
		}
		if err := m.hooks.record(ctx, who, action, id, "ok", details); err != nil {
			if p != nil {
				m.pipes.close(ctx, id, p)
			}
			return err
		}
	}
	// The new state and the pipeline swap reach the audio path at once.
	s.mu.Lock()
	s.apply(nxt, in)
	var old *Pipeline
	if slices.Contains(effects, StopPipeline) {
		old, s.pipe = s.pipe, nil
	}
	if p != nil {
		m.install(s, p)
	}
	var gone intake
	if s.rec.State == Stopped {
		gone = s.takeIntake()
	}
	s.mu.Unlock()
	// Its last finals go out before the state event; viewers are told
	// before the record is saved, so the saved LastSeq includes it.
	if old != nil {
		m.drain(ctx, s, old, drainTimeout)
	}
	if slices.Contains(effects, NotifyViewers) {
		if pub := m.publisherFor(s); pub != nil {
			pub.publish(Event{Type: TypeState, State: nxt.State, Label: nxt.Label, StopReason: nxt.StopReason})
		}
	}
	gone.stop()
	if slices.Contains(effects, Persist) {
		return m.persist(ctx, s)
	}
	return nil
}

// specLocked is what s's next pipeline opens with (s.mu held).
func (m *Manager) specLocked(s *session) pipeSpec {
	id := s.rec.ID
	return pipeSpec{id: id, hotwords: s.rec.Hotwords, context: s.context, preRoll: s.rec.PreRoll, audioMS: s.rec.AudioMS,
		keepTranscript: s.rec.KeepTranscript, identifySpeakers: s.rec.IdentifySpeakers, told: s.told, resumed: s.from != nil,
		pub: s.pub,
		speech: func() {
			// Refused once the session left Live (a drain's last words).
			_ = s.quiet(Input{Kind: EvAudio, At: m.now(), Speech: true})
		},
		final: func(off int64, end float64) { m.noteFinal(s, id, off, end) }}
}

// install makes p s's pipeline, feeding it the audio held meanwhile (the
// pre-roll, or what came while it was reopened) (s.mu held).
func (m *Manager) install(s *session, p *Pipeline) {
	s.fed = 0
	s.pos.reset()
	if s.ring != nil {
		pre := s.ring.take()
		s.ring = nil
		s.fed = int64(len(pre))
		_ = p.Write(pre)
	}
	s.pipe, s.pipeDrops = p, 0
}

// reopen opens s's pipeline again (new hotwords or prepared text) if it
// is still live; the caller holds s.fx and drained the old one.
func (m *Manager) reopen(s *session) error {
	s.mu.Lock()
	if s.rec.State != Live || s.pipe != nil {
		s.mu.Unlock()
		return nil
	}
	spec := m.specLocked(s)
	s.mu.Unlock()
	if spec.pub == nil {
		return fmt.Errorf("live: session %s: no publisher", spec.id)
	}
	p, err := m.pipes.open(spec)
	if err != nil {
		return err
	}
	s.mu.Lock()
	m.install(s, p)
	s.mu.Unlock()
	return nil
}

// drain closes p, s's pipeline until now (detached under s.mu by the
// caller, who holds s.fx), within bound, and adds the audio it recognised
// to the session's clock. The drain outlives a caller that hangs up (ctx's
// cancellation is ignored) but not bound.
func (m *Manager) drain(ctx context.Context, s *session, p *Pipeline, bound time.Duration) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bound)
	defer cancel()
	m.drainWithin(dctx, s, p)
}

// drainWithin is drain bounded by ctx alone (a shutdown's).
func (m *Manager) drainWithin(ctx context.Context, s *session, p *Pipeline) {
	st := m.pipes.close(ctx, s.id(), p)
	s.mu.Lock()
	m.countPipeDrops(s, st.AudioDropped)
	m.countBusDrops(s)
	s.pipeDrops = 0
	s.rec.AudioMS += (st.AudioIn - st.AudioDropped).Milliseconds()
	s.mu.Unlock()
}

// persist saves s with its latest Seq and audio clock; the caller holds
// s.fx, so one session's saves never overtake each other.
func (m *Manager) persist(ctx context.Context, s *session) error {
	s.mu.Lock()
	r := s.rec
	if s.pub != nil {
		r.LastSeq = s.pub.lastSeq()
	}
	r.SeqExact = s.pipe == nil
	if s.pipe != nil {
		st := s.pipe.Stats()
		r.AudioMS += (st.AudioIn - st.AudioDropped - st.Lag).Milliseconds()
	}
	s.rec.LastSeq = r.LastSeq
	s.mu.Unlock()
	return m.recs.update(context.WithoutCancel(ctx), r)
}

// publisherFor returns s's publisher, creating it if needed (the caller
// holds s.fx, or owns s alone).
func (m *Manager) publisherFor(s *session) *publisher {
	s.mu.Lock()
	p, id, seq, told := s.pub, s.rec.ID, s.rec.LastSeq, s.told
	s.mu.Unlock()
	if p != nil {
		return p
	}
	p, err := newPublisher(m.nc, id, seq, m.cfg.HistoryEvents, m.now,
		func(e Event) { m.met.events.WithLabelValues(string(e.Type)).Inc() })
	if err != nil {
		m.log.Error("live: publisher", "session", id, "err", err)
		return nil
	}
	p.headers, p.finalEnd = m.clustered(), told
	s.mu.Lock()
	s.pub = p
	s.mu.Unlock()
	return p
}

// id is s's id (fixed at creation).
func (s *session) id() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.ID
}
