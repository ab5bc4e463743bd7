package live

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/izwi-speech/izwi/internal/config"
)

// Manager owns this process's live-caption sessions by composing parts
// with one job each, built in order by NewManager: the registry (the
// sessions held in memory), records (their rows in the store), pipelines
// (recognition, live slots), hubs (viewers' feeds), metrics, and hooks
// (audit and privacy). Its own code orders them: a transition
// (transition.go) decides with Next under a session's lock and carries
// out the effects after releasing it.
//
// In a cluster (ManagerOptions.Cluster) it owns only the sessions whose
// lease it holds and forwards the rest (cluster.go, remote.go).
//
// Lock order (written beside the structs too):
//
//	session.fx → session.mu → publisher.mu
//	session.fx → publisher.send → publisher.mu
//	registry.mu → session.mu
//	hubs.mu → hub.mu → feed.mu
//	positions.mu, clusterBus.mu: leaves
//
// session.fx is held across a session's transition and its I/O (record
// writes, audit, pipelines opened and drained, bus subscriptions), and is
// never taken by the audio path, the pipeline's goroutine or a reader;
// session.mu and publisher.mu are held for moments, never across I/O.
// publisher.send keeps a session's events in Seq order from numbering to
// the bus and is held while Privacy.Keep stores a final; it is never taken
// under session.mu. Forwarding and lease renewal hold no lock while they
// wait on the bus.
type Manager struct {
	*registry
	recs  records
	pipes *pipelines
	hubs  *hubs
	met   *metrics
	hooks hooks

	nc   *nats.Conn
	cfg  config.Live
	log  *slog.Logger
	now  func() time.Time
	tick time.Duration
	cl   *Cluster
	bus  *clusterBus // nil unless clustered

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var _ Sessions = (*Manager)(nil)

// crashSeqGap is how far numbering jumps after a crash: more events than
// a session publishes between two saves (one tick).
const crashSeqGap = 10000

// errShutdown ends feeds and refuses calls once the manager is closing.
var errShutdown = errors.New("live: shutting down")

// NewManager migrates the store, loads the sessions, marks those that were
// live as interrupted and, when configured, resumes them.
func NewManager(ctx context.Context, opts ManagerOptions) (*Manager, error) {
	if opts.Store == nil || opts.Conn == nil {
		return nil, errors.New("live: manager needs a store and a bus connection")
	}
	if err := migrate(ctx, opts.Store); err != nil {
		return nil, err
	}
	cfg := withDefaults(opts.Config)
	log, now, tick := opts.Logger, opts.Now, opts.TickEvery
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	if tick <= 0 {
		tick = time.Second
	}
	var bus *clusterBus
	var replay time.Duration
	if cl := opts.Cluster; cl != nil {
		if cl.Leases == nil {
			return nil, errors.New("live: a cluster needs a lease table")
		}
		b, err := openClusterBus(ctx, opts.Conn, cl.Audio, log)
		if err != nil {
			return nil, err
		}
		bus, replay = b, cmp.Or(cl.Audio, time.Minute)
	}
	mctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	met := newMetrics(opts.Metrics)
	hk := hooks{aud: opts.Audit, privacy: opts.Privacy}
	m := &Manager{
		registry: newRegistry(),
		recs:     records{db: opts.Store},
		pipes: &pipelines{ctx: mctx, rec: opts.Recognizer, vad: opts.VAD, cfg: cfg, hooks: hk, caption: opts.Captions,
			met: met, log: log, bus: bus, replay: replay},
		hubs:  newHubs(opts.Conn, cfg.ViewerBuffer, met),
		met:   met,
		hooks: hk,
		nc:    opts.Conn, cfg: cfg, log: log, now: now, tick: tick, cl: opts.Cluster, bus: bus,
		ctx: mctx, cancel: cancel,
	}
	if m.cl != nil {
		m.startClustered()
		return m, nil
	}
	if err := m.load(ctx); err != nil {
		m.shutdown(ctx)
		return nil, err
	}
	m.gauge()
	m.wg.Add(1)
	go m.ticker()
	return m, nil
}

// load holds the stored sessions: a live one was interrupted (the process
// stopped under it) and, when configured, resumes.
func (m *Manager) load(ctx context.Context) error {
	recs, err := m.recs.all(ctx)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.State == Live && !r.SeqExact {
			// The process died with the pipeline running: events after
			// the last saved seq were published but not saved. Numbering
			// resumes past them, so no viewer sees a seq twice.
			r.LastSeq += crashSeqGap
		}
		s := newSession(r, m.now())
		if err := m.add(s); err != nil {
			return err
		}
		if r.State == Stopped {
			continue
		}
		s.fx.Lock()
		err := m.resumeLoaded(ctx, s, r.State)
		s.fx.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// resumeLoaded gives a loaded session its runtime, interrupts it when it
// was live, and resumes it when configured (s.fx held).
func (m *Manager) resumeLoaded(ctx context.Context, s *session, st State) error {
	if err := m.attachRuntime(s); err != nil {
		return err
	}
	if st == Live {
		if err := m.step(ctx, s, "system", Input{Kind: EvRestart, At: m.now()}, "session.interrupt"); err != nil {
			return err
		}
	}
	s.mu.Lock()
	interrupted := s.rec.State == Interrupted
	s.mu.Unlock()
	if interrupted && m.cfg.Resume() && m.pipes.rec != nil {
		if err := m.step(ctx, s, "system", Input{Kind: EvResume, At: m.now()}, "session.resume"); err != nil {
			m.log.Error("live: resuming session", "session", s.id(), "err", err)
		}
	}
	return nil
}

// Close stops every pipeline (their last finals are published), saves the
// sessions as they are (a live one stays live, so the next start resumes
// it) and ends every feed. ctx bounds the pipelines' drain: when it ends,
// the engines' calls are cancelled and what is still queued is dropped, so
// Close returns promptly after ctx does.
func (m *Manager) Close(ctx context.Context) error {
	if !m.close() {
		return nil
	}
	m.cancel()
	m.wg.Wait()
	return m.shutdown(ctx)
}

func (m *Manager) shutdown(ctx context.Context) error {
	m.cancel()
	all := m.snapshot()
	var errs []error
	for _, s := range all {
		s.fx.Lock()
		s.mu.Lock()
		p := s.pipe
		s.pipe = nil
		s.mu.Unlock()
		if p != nil {
			m.drainWithin(ctx, s, p)
			errs = append(errs, m.persist(context.WithoutCancel(ctx), s))
		}
		m.detachRuntime(s)
		s.fx.Unlock()
	}
	m.hubs.endAll(errShutdown)
	m.handOver(ctx, all)
	return errors.Join(errs...)
}

// ticker drives the silence auto-stop and saves live counters.
func (m *Manager) ticker() { m.every(m.tick, m.tickOnce) }

// every calls f every d until the manager closes (the caller added to
// m.wg for it).
func (m *Manager) every(d time.Duration, f func(context.Context)) {
	defer m.wg.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
			f(m.ctx)
		}
	}
}

// tickOnce applies EvTick to every live session at m.now() and saves
// those still live. A session in the middle of a transition is skipped
// (that transition saves it), so one slow drain never delays the others.
func (m *Manager) tickOnce(ctx context.Context) {
	now := m.now()
	for _, s := range m.snapshot() {
		if !s.fx.TryLock() {
			continue
		}
		m.tickSession(ctx, s, now)
		s.fx.Unlock()
	}
	m.gauge()
}

// tickSession is tickOnce for s (s.fx held).
func (m *Manager) tickSession(ctx context.Context, s *session, now time.Time) {
	s.mu.Lock()
	// In a cluster, only the owner ticks a session.
	run := s.rec.State == Live && !s.deleted && (m.cl == nil || s.lease != nil)
	if run {
		m.countDrops(s)
		if s.pipe != nil {
			m.met.lag.Observe(s.pipe.Stats().Lag.Seconds())
		}
	}
	s.mu.Unlock()
	if !run {
		return
	}
	if err := m.step(ctx, s, "system", Input{Kind: EvTick, At: now}, "session.stop"); err != nil {
		m.log.Error("live: tick", "session", s.id(), "err", err)
	}
	s.mu.Lock()
	live := s.rec.State == Live
	s.mu.Unlock()
	if live {
		if err := m.persist(ctx, s); err != nil {
			m.log.Error("live: saving session", "session", s.id(), "err", err)
		}
	}
}

// gauge recounts sessions by state.
func (m *Manager) gauge() {
	counts := map[State]int{Idle: 0, Live: 0, Interrupted: 0, Paused: 0, Stopped: 0}
	for _, s := range m.snapshot() {
		s.mu.Lock()
		if m.cl == nil || s.lease != nil { // in a cluster, the sessions this process runs
			counts[s.rec.State]++
		}
		s.mu.Unlock()
	}
	for st, n := range counts {
		m.met.sessions.WithLabelValues(string(st)).Set(float64(n))
	}
}
