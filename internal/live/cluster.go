package live

import (
	"context"
	"errors"
	"time"

	"github.com/izwi-speech/izwi/internal/lease"
)

// Cluster makes a Manager one of several processes sharing the store and
// the bus (docs/architecture.md "Roles"): every session is run by the one
// process holding its lease (its owner), which numbers and publishes its
// events, runs its pipeline and saves its record; every other process
// forwards the session's commands to the owner on the bus and watches its
// events there. Without a Cluster (role all) this process owns every
// session, as it always has.
type Cluster struct {
	// Leases is the cluster's lease table (internal/lease).
	Leases Leases
	// Take: this process takes sessions (role worker): it claims every
	// session that is not stopped and has no owner, and runs it. A process
	// that does not take (role gateway) only forwards.
	Take bool
	// Audio is how long the bus keeps a session's audio for an owner that
	// takes the session over (default 60 s, in the broker's memory only).
	Audio time.Duration
}

// Leases is the lease table a cluster's managers share: one holder per
// name at a time, lost when not renewed within TTL.
type Leases interface {
	// Claim takes the lease on name; an error when another process holds
	// it (or the table cannot be reached).
	Claim(ctx context.Context, name string) (Held, error)
	// Holder names the process holding name's lease, "" when none does.
	Holder(ctx context.Context, name string) (string, error)
	// TTL is how long a lease lasts without renewal.
	TTL() time.Duration
}

// Held is a lease this process holds.
type Held interface {
	// Renew extends the lease. An error wrapping lease.ErrLost: another
	// process may hold it now, the holder stops acting for the name at
	// once; another error (the bus away): it stops once TTL has passed
	// since the last renewal.
	Renew(ctx context.Context) error
	// Release gives it up.
	Release(ctx context.Context) error
}

// LeasesOf is t as a manager's Leases.
func LeasesOf(t *lease.Table) Leases { return leaseTable{t} }

type leaseTable struct{ *lease.Table }

var _ Leases = leaseTable{}

func (l leaseTable) Claim(ctx context.Context, name string) (Held, error) {
	h, err := l.Table.Claim(ctx, name)
	if err != nil {
		return nil, err
	}
	return h, nil
}

// clustered reports whether sessions may be owned by other processes.
func (m *Manager) clustered() bool { return m.cl != nil }

// ownerLoops run a clustered manager's owner work every quarter TTL: one
// goroutine renews the leases it holds (dropping the sessions whose lease
// is lost, and releasing those that stopped), another (a taking manager's)
// claims the sessions no process owns; apart, so a slow takeover never
// delays a renewal.
func (m *Manager) ownerLoops() {
	every := max(m.cl.Leases.TTL()/4, 50*time.Millisecond)
	m.wg.Add(1)
	go m.every(every, m.renewAll)
	if m.cl.Take {
		m.wg.Add(1)
		go m.every(every, m.claimFree)
	}
}

// renewAll renews every held lease; a session whose lease is lost or
// which stopped is dropped from this process.
func (m *Manager) renewAll(ctx context.Context) {
	for _, s := range m.snapshot() {
		s.mu.Lock()
		l, stopped := s.lease, s.rec.State == Stopped
		s.mu.Unlock()
		if l == nil {
			continue
		}
		start := time.Now()
		if stopped {
			m.drop(ctx, s, true)
			continue
		}
		err := l.Renew(ctx)
		if err == nil {
			s.renewed(start)
			continue
		}
		if ctx.Err() != nil {
			continue
		}
		// A lease taken by another process is gone now; one the bus could
		// not renew (a node failing over) is held until its TTL has
		// surely passed since the last renewal.
		if errors.Is(err, lease.ErrLost) || time.Since(s.renewed(time.Time{})) > m.cl.Leases.TTL() {
			m.log.Warn("live: lease lost; the session is another process's now", "session_id", s.rec.ID, "err", err)
			m.drop(ctx, s, false)
		}
	}
}

// claimFree claims the sessions that are not stopped and have no owner.
func (m *Manager) claimFree(ctx context.Context) {
	recs, err := m.recs.query(ctx, " WHERE state <> ?", []any{string(Stopped)})
	if err != nil {
		if ctx.Err() == nil {
			m.log.Error("live: reading sessions", "err", err)
		}
		return
	}
	for _, r := range recs {
		if r.State == Stopped || ctx.Err() != nil {
			continue
		}
		if s := m.local(r.ID); s != nil && s.heldSettled() {
			continue
		}
		claimed := time.Now()
		l, err := m.cl.Leases.Claim(ctx, r.ID)
		if err != nil {
			continue // held by another process (or the table is away): next round
		}
		if err := m.adopt(ctx, r, l, claimed); err != nil {
			m.log.Error("live: taking a session", "session_id", r.ID, "err", err)
			_ = l.Release(context.WithoutCancel(ctx))
		}
	}
}

// renewed records a renewal begun at t (when not zero) and returns the
// latest one.
func (s *session) renewed(t time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !t.IsZero() {
		s.renewedAt = t
	}
	return s.renewedAt
}

// heldSettled is held once s's transition under way, or its drop, is
// done: a session dropped here is claimed again only after its pipeline
// drained and its last events went out, so the new owner numbers on from
// them (bus.last) and no event of the old one follows it.
func (s *session) heldSettled() bool {
	s.fx.Lock()
	defer s.fx.Unlock()
	return s.held()
}

func (s *session) held() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lease != nil
}

// adopt makes this process the owner of r (its lease l just claimed):
// numbering continues after the last event any viewer could have seen; a
// live session is resumed, recognising again the audio from the end of
// its last final caption (kept by the bus), so no final is lost or told
// twice.
func (m *Manager) adopt(ctx context.Context, r record, l Held, claimed time.Time) error {
	// Re-read the record now the lease is held: the previous owner may
	// have saved it since the list was read.
	fresh, err := m.recs.one(ctx, r.ID)
	if err != nil {
		return err
	}
	r = fresh
	if r.State == Stopped {
		return errors.New("live: session stopped meanwhile")
	}
	// The bus's last event is what viewers saw; the record may be ahead
	// (an owner cut off from the bus still saving) or behind (saved each
	// tick).
	seq, told, ok := m.bus.last(ctx, r.ID)
	if ok {
		r.LastSeq = seq
	} else if r.State == Live && !r.SeqExact {
		r.LastSeq += crashSeqGap
	}
	mk, hasMark := m.bus.mark(ctx, r.ID)
	s := newSession(r, m.now())
	s.lease, s.told, s.renewedAt = l, told, claimed
	if r.State == Live && hasMark {
		s.rec.AudioMS, s.from = mk.EndMS, &mk
	}
	s.fx.Lock()
	defer s.fx.Unlock()
	if err := m.add(s); err != nil {
		return err
	}
	if err := m.attachRuntime(s); err != nil {
		m.forget(s)
		return err
	}
	if r.State == Live {
		if err := m.step(ctx, s, "system", Input{Kind: EvRestart, At: m.now()}, "session.interrupt"); err != nil {
			m.detachRuntime(s)
			m.forget(s)
			return err
		}
		if err := m.step(ctx, s, "system", Input{Kind: EvResume, At: m.now()}, "session.resume"); err != nil {
			m.log.Error("live: resuming a session taken over", "session_id", r.ID, "err", err)
		}
	}
	if err := m.startIntake(s); err != nil {
		m.log.Error("live: audio intake", "session_id", r.ID, "err", err)
	}
	m.log.Info("live: session taken", "session_id", r.ID, "state", string(s.state()), "from_mark", hasMark)
	return nil
}

// state is s's state now.
func (s *session) state() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.State
}

// drop ends this process's ownership of s: its pipeline stops (without
// saving: a lost lease means another owner saves it now), its runtime is
// released and, when release, its lease is given up.
func (m *Manager) drop(ctx context.Context, s *session, release bool) {
	s.fx.Lock()
	s.mu.Lock()
	l, p := s.lease, s.pipe
	s.lease, s.pipe = nil, nil
	s.mu.Unlock()
	if p != nil {
		m.drain(ctx, s, p, time.Second)
	}
	m.detachRuntime(s)
	m.forget(s)
	s.fx.Unlock()
	if release && l != nil {
		if err := l.Release(context.WithoutCancel(ctx)); err != nil {
			m.log.Warn("live: releasing a lease", "session_id", s.id(), "err", err)
		}
	}
	m.gauge()
}

// startClustered finishes NewManager for a process of a cluster: nothing
// is loaded (sessions are taken by lease, claimFree), and the owner loops
// start.
func (m *Manager) startClustered() {
	m.wg.Add(2)
	go m.ticker()
	m.ownerLoops()
	go func() {
		defer m.wg.Done()
		m.bus.writeMarks(m.ctx)
	}()
}

// handOver, at shutdown, saves the marks of the sessions this process
// owned and gives up their leases, so another worker takes them at once
// (their records were saved live, so it resumes them).
func (m *Manager) handOver(ctx context.Context, all []*session) {
	if m.cl == nil {
		return
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	m.bus.flush(fctx)
	for _, s := range all {
		s.mu.Lock()
		l := s.lease
		s.lease = nil
		s.mu.Unlock()
		if l != nil {
			_ = l.Release(fctx)
		}
	}
}

// Holds reports whether this process holds session id's lease (runs its
// pipeline); always false without a Cluster.
func (m *Manager) Holds(id string) bool {
	s := m.local(id)
	return s != nil && s.held()
}
