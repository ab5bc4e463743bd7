package live

import (
	"time"

	"github.com/nats-io/nats.go"
)

// The audio path: every frame of a session, from its source in process
// (localAudio), the bus (onAudio) or the cluster's audio stream
// (startIntake), comes through acceptAudio, which holds session.mu for a
// moment and never waits on a transition's I/O (session.fx).

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
// pos): to the pipeline when live, to the pre-roll when idle, and, while
// a live session's pipeline is being reopened, to a ring of
// live.queue_audio that the new pipeline takes first.
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
		if s.pipe == nil {
			m.hold(s, time.Duration(m.cfg.QueueAudio), samples)
			return
		}
		if pos.seq != 0 {
			m.notePosition(s, pos)
		}
		s.fed += int64(len(samples))
		_ = s.pipe.Write(samples)
	case Idle, Interrupted:
		m.hold(s, s.rec.PreRoll, samples)
	}
}

// hold keeps the last d of s's audio in its ring (s.mu held).
func (m *Manager) hold(s *session, d time.Duration, samples []float32) {
	if d <= 0 {
		return
	}
	if s.ring == nil {
		s.ring = newRing(int(d.Seconds() * float64(m.rate())))
	}
	s.ring.write(samples)
}

// countDrops adds the audio dropped since the last count to the metrics
// (s.mu held).
func (m *Manager) countDrops(s *session) {
	if s.pipe != nil {
		m.countPipeDrops(s, s.pipe.Stats().AudioDropped)
	}
	m.countBusDrops(s)
}

// countPipeDrops counts the audio s's pipeline dropped, d in all (s.mu
// held).
func (m *Manager) countPipeDrops(s *session, d time.Duration) {
	m.met.audioDropped.Add((d - s.pipeDrops).Seconds())
	s.pipeDrops = d
}

// countBusDrops counts the audio the bus dropped before s's subscription
// (s.mu held).
func (m *Manager) countBusDrops(s *session) {
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
