package live

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
)

// cmdHeader marks a command on the audio subject (so it stays ordered with
// the audio around it); the body is empty.
const (
	cmdHeader   = "Izwi-Live-Command"
	cmdFinalize = "finalize"
)

// transition applies in to s (s.mu held) and carries out the effects.
// action, when the state changes, is audited as done by who.
func (m *Manager) transition(ctx context.Context, s *session, who string, in Input, action string) error {
	prev := s.rec
	cur := Session{ID: s.rec.ID, Label: s.rec.Label, State: s.rec.State, LastSpeech: time.Unix(0, s.lastSpeech.Load()),
		AutoStopAfter: s.rec.AutoStopAfter, StopReason: s.rec.StopReason}
	if s.rec.StartedAt != nil {
		cur.StartedAt = *s.rec.StartedAt
	}
	nxt, effects, err := Next(cur, in)
	if err != nil {
		return err
	}
	if len(effects) == 0 {
		return nil
	}
	if slices.Contains(effects, StartPipeline) {
		if err := m.startPipeline(ctx, s); err != nil {
			return err
		}
	}
	if action != "" && nxt.State != prev.State {
		details := map[string]string{"state": string(nxt.State)}
		if nxt.StopReason != "" && nxt.State == Stopped {
			details["reason"] = nxt.StopReason
		}
		if err := m.record(ctx, who, action, s.rec.ID, "ok", details); err != nil {
			if s.pipe != nil && prev.State != Live {
				m.stopPipeline(ctx, s)
			}
			return err
		}
	}
	s.rec.Label, s.rec.State, s.rec.StopReason = nxt.Label, nxt.State, nxt.StopReason
	now := in.At.UTC()
	if nxt.State == Live && prev.State != Live {
		s.rec.StartedAt, s.rec.StoppedAt = &now, nil
		s.lastSpeech.Store(nxt.LastSpeech.UnixNano())
	}
	if nxt.State == Stopped && prev.State != Stopped {
		s.rec.StoppedAt = &now
	}
	// Viewers are told before the record is saved, so the saved LastSeq
	// includes the state event.
	if slices.Contains(effects, StopPipeline) {
		m.stopPipeline(ctx, s)
	}
	if slices.Contains(effects, NotifyViewers) {
		if p := m.publisher(s); p != nil {
			p.publish(Event{Type: TypeState, State: s.rec.State, Label: s.rec.Label, StopReason: s.rec.StopReason})
		}
	}
	if s.rec.State == Stopped {
		m.stopAudio(s)
	}
	if slices.Contains(effects, Persist) {
		return m.persist(ctx, s)
	}
	return nil
}

// startPipeline reserves a live slot and starts the session's pipeline,
// feeding it the pre-roll first.
func (m *Manager) startPipeline(ctx context.Context, s *session) error {
	if m.rec == nil {
		return ErrNoEngine
	}
	if m.liveN.Add(1) > int32(m.cfg.MaxSessions) {
		m.liveN.Add(-1)
		return fmt.Errorf("%w: %d live already", ErrLimit, m.cfg.MaxSessions)
	}
	if m.publisher(s) == nil {
		m.liveN.Add(-1)
		return fmt.Errorf("live: session %s: no publisher", s.rec.ID)
	}
	pub := s.pub
	off := s.rec.AudioMS
	if s.from == nil {
		m.bus.setMark(s.rec.ID, mark{}) // marks of an earlier run are void
	}
	s.fed = 0
	s.pos.reset()
	keep := m.privacy.Keep
	if !s.rec.KeepTranscript {
		keep = nil
	}
	told := s.told
	onEvent := func(e Event) {
		var ok bool
		if e, ok = afterTold(e, told); !ok {
			return // recognised again after a takeover, and already told
		}
		if e.Type == TypeEngine {
			m.met.switches.WithLabelValues(e.EngineFrom, e.Engine, e.Reason).Inc()
			m.log.Info("live: recognition moved to another engine", "session_id", s.rec.ID,
				"from", e.EngineFrom, "to", e.Engine, "reason", e.Reason, "at", e.At)
		}
		if e.Type == TypeSpeechStarted || (e.Type == TypeCaption && e.Text != "") {
			s.lastSpeech.Store(m.now().UnixNano())
		}
		if m.bus != nil && e.Type == TypeCaption && e.Final {
			m.noteFinal(s, off, e.End)
		}
		if m.caption != nil && e.Type == TypeCaption {
			e = m.caption(s.rec.ID, e)
		}
		pub.publishKept(e, keep)
	}
	pc := PipelineConfig{Recognizer: m.rec, VAD: m.vad, Hotwords: s.rec.Hotwords, Context: s.context,
		QueueAudio:  time.Duration(m.cfg.QueueAudio) + s.rec.PreRoll + m.replayWindow(s),
		IdleRelease: m.cfg.IdleReleaseDuration(),
		// The audio a fallback engine served is held (sealed, in memory)
		// for the primary's catch-up only when the transcript is kept.
		KeepForCatchUp: s.rec.KeepTranscript,
		Offset:         time.Duration(s.rec.AudioMS) * time.Millisecond,
		Logger:         m.log.With("session", s.rec.ID)}
	if keep != nil && m.privacy.Replace != nil {
		sessionID, replace := s.rec.ID, m.privacy.Replace
		pc.CatchUp = func(from, to float64, finals []Event) { replace(sessionID, from, to, finals) }
	}
	if s.rec.KeepTranscript && m.privacy.Snippet != nil {
		sessionID, snip := s.rec.ID, m.privacy.Snippet
		pc.Snippet, pc.SnippetBelow = func(e Event, samples []float32, rate int) {
			e.SessionID = sessionID
			snip(e, samples, rate)
		}, m.privacy.SnippetBelow
	}
	if s.rec.IdentifySpeakers && m.privacy.Speakers != nil {
		tr, err := m.privacy.Speakers(m.ctx)
		if err != nil {
			m.log.Warn("speaker identification off for this session", "session_id", s.rec.ID, "err", err)
		}
		pc.Speakers = tr
	}
	p, err := NewPipeline(m.ctx, pc, onEvent)
	if err != nil {
		m.liveN.Add(-1)
		return err
	}
	if s.ring != nil {
		pre := s.ring.take()
		s.fed = int64(len(pre))
		_ = p.Write(pre)
	}
	s.pipe, s.pipeDrops = p, 0
	return nil
}

// drainTimeout bounds how long stopping a session's pipeline may take to
// recognise its queued audio outside a shutdown (which has its own bound,
// server.shutdown_timeout, in the ctx given to Manager.Close).
const drainTimeout = 10 * time.Second

// stopPipeline closes the pipeline (its last finals are published) and
// adds the audio it recognised to the session's clock. The drain outlives
// a caller that hangs up (ctx's cancellation is ignored) but not
// drainTimeout.
func (m *Manager) stopPipeline(ctx context.Context, s *session) {
	if s.pipe == nil {
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
	defer cancel()
	m.closePipeline(dctx, s)
}

// closePipeline closes the pipeline within ctx.
func (m *Manager) closePipeline(ctx context.Context, s *session) {
	if err := s.pipe.Close(ctx); err != nil {
		m.log.Warn("live: pipeline drain cut short", "session_id", s.rec.ID, "err", err)
	}
	m.countDrops(s)
	st := s.pipe.Stats()
	s.rec.AudioMS += (st.AudioIn - st.AudioDropped).Milliseconds()
	s.pipe = nil
	m.liveN.Add(-1)
}

// persist saves s with its latest Seq and audio clock.
func (m *Manager) persist(ctx context.Context, s *session) error {
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
	return updateRecord(context.WithoutCancel(ctx), m.db, r)
}

// publisher returns the session's publisher, creating it if needed.
func (m *Manager) publisher(s *session) *publisher {
	if s.pub == nil {
		p, err := newPublisher(m.nc, s.rec.ID, s.rec.LastSeq, m.cfg.HistoryEvents, m.now,
			func(e Event) { m.met.events.WithLabelValues(string(e.Type)).Inc() })
		if err != nil {
			m.log.Error("live: publisher", "session", s.rec.ID, "err", err)
			return nil
		}
		p.headers, p.finalEnd = m.clustered(), s.told
		s.pub = p
	}
	return s.pub
}

// attachRuntime gives a session that is not stopped its publisher and its
// audio subscription.
func (m *Manager) attachRuntime(s *session) error {
	if m.publisher(s) == nil {
		return fmt.Errorf("live: session %s: publisher failed", s.rec.ID)
	}
	if m.clustered() {
		// The owner's audio comes from the bus's stream (startIntake) and
		// its commands on the control subject.
		return m.serveControl(s)
	}
	sub, err := m.nc.Subscribe(SubjectsFor(s.rec.ID).Audio, func(msg *nats.Msg) { m.onAudio(s, msg) })
	if err != nil {
		return fmt.Errorf("live: audio subscription: %w", err)
	}
	// Bounded: when the owner cannot keep up the bus drops audio (counted)
	// rather than queueing it in memory.
	bytes := int(time.Duration(m.cfg.QueueAudio).Seconds()*float64(m.rate())) * 2
	_ = sub.SetPendingLimits(4096, max(bytes, 64<<10))
	s.audio = sub
	return nil
}

// stopAudio ends audio intake of a stopped session; its history stays.
func (m *Manager) stopAudio(s *session) {
	if s.audio != nil {
		_ = s.audio.Unsubscribe()
		s.audio = nil
	}
	if s.intake != nil {
		s.intake.Stop()
		s.intake = nil
	}
	s.ring = nil
}

// detachRuntime releases everything of a deleted session (or at Close).
func (m *Manager) detachRuntime(s *session) {
	m.stopAudio(s)
	if s.control != nil {
		_ = s.control.Unsubscribe()
		s.control = nil
	}
	if s.pub != nil {
		s.pub.close()
	}
	if s.ingest != nil {
		s.ingest.detached()
		s.ingest, s.source = nil, ""
	}
}

func (m *Manager) rate() int {
	if m.rec == nil {
		return 16000
	}
	return m.rec.SampleRate()
}

// onAudio receives a session's audio from the bus (one goroutine per
// session, in order): from a source in another process (busAudio).
func (m *Manager) onAudio(s *session, msg *nats.Msg) {
	if msg.Header != nil && msg.Header.Get(cmdHeader) == cmdFinalize {
		m.finalizeAudio(s)
		return
	}
	m.acceptAudio(s, decodePCM16(msg.Data), len(msg.Data), streamPos{})
}

// finalizeAudio ends the session pipeline's current utterance.
func (m *Manager) finalizeAudio(s *session) {
	s.mu.Lock()
	if s.pipe != nil {
		_ = s.pipe.Finalize()
	}
	s.mu.Unlock()
}

// acceptAudio takes samples (owned by the callee from now on) that came
// as wire bytes (from the bus's audio stream at pos, or not: the zero
// pos): to the pipeline when live, to the pre-roll when idle.
func (m *Manager) acceptAudio(s *session, samples []float32, wire int, pos streamPos) {
	if len(samples) == 0 {
		return
	}
	m.met.audioIn.Add(float64(len(samples)) / float64(m.rate()))
	s.level.note(samples, m.now())
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgsIn++
	s.bytesIn += int64(wire)
	switch s.rec.State {
	case Live:
		if s.pipe != nil {
			if pos.seq != 0 {
				m.notePosition(s, pos)
			}
			s.fed += int64(len(samples))
			_ = s.pipe.Write(samples)
		}
	case Idle, Interrupted:
		if s.rec.PreRoll > 0 {
			if s.ring == nil {
				s.ring = newRing(int(s.rec.PreRoll.Seconds() * float64(m.rate())))
			}
			s.ring.write(samples)
		}
	}
}

// countDrops adds the audio dropped since the last count to the metrics.
func (m *Manager) countDrops(s *session) {
	if s.pipe != nil {
		d := s.pipe.Stats().AudioDropped
		m.met.audioDropped.Add((d - s.pipeDrops).Seconds())
		s.pipeDrops = d
	}
	if s.audio != nil && s.msgsIn > 0 {
		if n, err := s.audio.Dropped(); err == nil && n > s.natsDrops {
			perMsg := float64(s.bytesIn) / float64(s.msgsIn) / 2 / float64(m.rate())
			m.met.audioDropped.Add(float64(n-s.natsDrops) * perMsg)
			s.natsDrops = n
		}
	}
}

// ring keeps the last len(buf) samples (the pre-roll).
type ring struct {
	buf  []float32
	pos  int
	full bool
}

func newRing(n int) *ring { return &ring{buf: make([]float32, max(n, 1))} }

func (r *ring) write(x []float32) {
	if len(x) >= len(r.buf) {
		copy(r.buf, x[len(x)-len(r.buf):])
		r.pos, r.full = 0, true
		return
	}
	n := copy(r.buf[r.pos:], x)
	if n < len(x) {
		copy(r.buf, x[n:])
		r.full = true
	}
	r.pos = (r.pos + len(x)) % len(r.buf)
	if r.pos == 0 && len(x) > 0 {
		r.full = true
	}
}

// take returns the held samples, oldest first, and empties the ring.
func (r *ring) take() []float32 {
	var out []float32
	if r.full {
		out = append(append(out, r.buf[r.pos:]...), r.buf[:r.pos]...)
	} else {
		out = append(out, r.buf[:r.pos]...)
	}
	r.pos, r.full = 0, false
	return out
}
