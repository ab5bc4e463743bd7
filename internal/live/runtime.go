package live

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A session that is not stopped has a runtime here: its publisher, and
// either its audio subscription (role all) or its control subscription
// and audio intake (the owner in a cluster). The handles are taken from
// the session under session.mu and released after it (bus calls are not
// made under a session lock).

// cmdHeader marks a command on the audio subject (so it stays ordered with
// the audio around it); the body is empty.
const (
	cmdHeader   = "Izwi-Live-Command"
	cmdFinalize = "finalize"
)

// attachRuntime gives a session that is not stopped its publisher and its
// audio subscription. The caller holds s.fx, or owns s alone.
func (m *Manager) attachRuntime(s *session) error {
	if m.publisherFor(s) == nil {
		return fmt.Errorf("live: session %s: publisher failed", s.id())
	}
	if m.clustered() {
		// The owner's audio comes from the bus's stream (startIntake) and
		// its commands on the control subject.
		return m.serveControl(s)
	}
	sub, err := m.nc.Subscribe(SubjectsFor(s.id()).Audio, func(msg *nats.Msg) { m.onAudio(s, msg) })
	if err != nil {
		return fmt.Errorf("live: audio subscription: %w", err)
	}
	// Bounded: when the owner cannot keep up the bus drops audio (counted)
	// rather than queueing it in memory.
	bytes := int(time.Duration(m.cfg.QueueAudio).Seconds()*float64(m.rate())) * 2
	_ = sub.SetPendingLimits(4096, max(bytes, 64<<10))
	s.mu.Lock()
	s.audio = sub
	s.mu.Unlock()
	return nil
}

// intake is the audio handles taken from a session that stopped.
type intake struct {
	audio  *nats.Subscription
	stream jetstream.ConsumeContext
}

// takeIntake ends audio intake of a stopped session (s.mu held): its
// history stays; the caller stops the returned handles after unlocking.
func (s *session) takeIntake() intake {
	in := intake{audio: s.audio, stream: s.intake}
	s.audio, s.intake, s.ring = nil, nil, nil
	return in
}

func (in intake) stop() {
	if in.audio != nil {
		_ = in.audio.Unsubscribe()
	}
	if in.stream != nil {
		in.stream.Stop()
	}
}

// handles is everything of a session's runtime, taken to be released.
type handles struct {
	intake
	control *nats.Subscription
	pub     *publisher
}

// takeRuntime takes everything of a deleted session's runtime (or at
// Close) (s.mu held); the caller releases it after unlocking.
func (s *session) takeRuntime() handles {
	h := handles{intake: s.takeIntake(), control: s.control, pub: s.pub}
	s.control = nil
	if s.ingest != nil {
		s.ingest.detached()
		s.ingest, s.source = nil, ""
	}
	return h
}

func (h handles) release() {
	h.stop()
	if h.control != nil {
		_ = h.control.Unsubscribe()
	}
	if h.pub != nil {
		h.pub.close()
	}
}

// detachRuntime releases everything of s's runtime; the caller holds s.fx
// (not s.mu).
func (m *Manager) detachRuntime(s *session) {
	s.mu.Lock()
	h := s.takeRuntime()
	s.mu.Unlock()
	h.release()
}

func (m *Manager) rate() int { return m.pipes.rate() }
