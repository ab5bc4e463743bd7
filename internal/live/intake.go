package live

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// An owner in a cluster takes its sessions' audio from the bus's audio
// stream (clusterbus.go) rather than a plain subscription, so that it can
// note where in the stream each final caption ended (a mark), and an
// owner taking a session over can start recognising from there.

// maxPositions bounds the audio positions a session remembers (about the
// last minute at the gateways' usual 20-100 ms messages).
const maxPositions = 4096

// positions are the recent audio messages a session's pipeline took: the
// stream Seq of each and the pipeline sample it began at. Its mutex is a
// leaf: the pipeline goroutine reads it (noteFinal) without session.mu.
type positions struct {
	mu  sync.Mutex
	seq []uint64
	at  []int64
}

func (p *positions) reset() {
	p.mu.Lock()
	p.seq, p.at = p.seq[:0], p.at[:0]
	p.mu.Unlock()
}

func (p *positions) add(seq uint64, at int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.seq) >= 2*maxPositions { // trim in batches: amortised O(1)
		p.seq = append(p.seq[:0], p.seq[len(p.seq)-maxPositions:]...)
		p.at = append(p.at[:0], p.at[len(p.at)-maxPositions:]...)
	}
	p.seq, p.at = append(p.seq, seq), append(p.at, at)
}

// find is the message holding pipeline sample n and n's offset into it.
func (p *positions) find(n int64) (seq uint64, skip int64, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.at) - 1; i >= 0; i-- {
		if p.at[i] <= n {
			return p.seq[i], n - p.at[i], true
		}
	}
	return 0, 0, false
}

// streamPos is where samples came from in the audio stream: message seq,
// whose first lead samples were skipped (0: not from the stream).
type streamPos struct {
	seq  uint64
	lead int
}

// notePosition records that the samples at pos start at the pipeline's
// next sample (s.mu held). The first message of a pipeline also sets the
// session's mark, so a session with no final yet resumes from its start.
func (m *Manager) notePosition(s *session, pos streamPos) {
	first := s.fed == 0
	s.pos.add(pos.seq, s.fed-int64(pos.lead))
	if first {
		m.bus.setMark(s.rec.ID, mark{Seq: pos.seq, Skip: pos.lead, EndMS: s.rec.AudioMS})
	}
}

// noteFinal marks where a final caption ending at end (session seconds)
// is in session id's audio stream; off is the pipeline's start on the
// session clock (ms). It runs on the pipeline goroutine and never blocks.
func (m *Manager) noteFinal(s *session, id string, off int64, end float64) {
	// A little before the end: a decoder started cold right at the next
	// word may clip it; what is recognised twice is skipped (session.told).
	endMS := max(int64(end*1000)-replayLead.Milliseconds(), off)
	n := (endMS - off) * int64(m.rate()) / 1000
	seq, skip, ok := s.pos.find(n)
	if !ok {
		return
	}
	m.bus.setMark(id, mark{Seq: seq, Skip: int(skip), EndMS: endMS})
}

// replayLead is how far before a final's end a taken-over session
// resumes recognising.
const replayLead = 300 * time.Millisecond

// startIntake starts taking the session's audio from the stream: from its
// mark when it was taken over live, else from now on (s.fx held).
func (m *Manager) startIntake(s *session) error {
	s.mu.Lock()
	id, from, skip := s.rec.ID, uint64(0), 0
	run := m.bus != nil && s.intake == nil && s.rec.State != Stopped
	if s.from != nil {
		from, skip = s.from.Seq, s.from.Skip
	}
	s.mu.Unlock()
	if !run {
		return nil
	}
	cc, err := m.bus.consume(m.ctx, id, from, func(msg jetstream.Msg) {
		if msg.Headers().Get(cmdHeader) == cmdFinalize {
			m.finalizeAudio(s)
			return
		}
		md, err := msg.Metadata()
		if err != nil {
			return
		}
		samples := decodePCM16(msg.Data())
		lead := 0
		if skip > 0 {
			lead = min(skip, len(samples))
			samples, skip = samples[lead:], skip-lead
		}
		m.acceptAudio(s, samples, len(msg.Data()), streamPos{seq: md.Sequence.Stream, lead: lead})
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.intake, s.from = cc, nil
	s.mu.Unlock()
	return nil
}
