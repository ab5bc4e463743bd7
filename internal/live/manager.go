package live

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/store"
)

// ManagerOptions are what a Manager is built from.
type ManagerOptions struct {
	Store      *store.Store
	Conn       *nats.Conn
	Recognizer speech.Recognizer // nil: sessions can be created but not started (ErrNoEngine)
	VAD        speech.VAD        // optional
	Config     config.Live
	Logger     *slog.Logger
	Now        func() time.Time
	// Metrics: nil registers nothing. Labels carry no session ids or PII.
	Metrics prometheus.Registerer
	// Audit records session create/delete/start/stop by whom (ids only).
	Audit audit.Recorder
	// TickEvery is how often the silence auto-stop is checked and live
	// sessions' counters saved; 0 means 1 s.
	TickEvery time.Duration
	// Privacy holds the per-session privacy defaults and hooks (issue 6);
	// the zero value keeps nothing and names nobody.
	Privacy Privacy
	// Cluster, when set, shares the sessions with other processes through
	// leases (cluster.go); nil: this process owns them all (role all).
	Cluster *Cluster
	// Captions, if set, rewrites each caption event of a session before
	// it is kept and published (the formatter and word filters,
	// internal/captionfilter). It runs on the pipeline's goroutine and
	// must not block.
	Captions func(sessionID string, e Event) Event
}

// Privacy is what a session may keep and whom it may name, and the hooks
// that do it. Keep and Snippet are called from the pipeline goroutine and
// must not block (hand the event to a bounded queue); they receive events
// of sessions that opted in only.
type Privacy struct {
	// Defaults for sessions that do not say.
	KeepTranscript, IdentifySpeakers bool
	// Keep receives every final caption of a session keeping its
	// transcript (with Seq and SessionID set) before viewers are sent it,
	// and returns once it is stored (bounded: it may give up and log), so
	// a crash never loses a final a viewer saw.
	Keep func(Event)
	// Replace receives, for a session keeping its transcript, the primary
	// engine's finals for a span [from, to] (session seconds) a fallback
	// engine served: they replace the kept captions there (catch-up).
	Replace func(sessionID string, from, to float64, finals []Event)
	// Snippet receives, for a keeping session, each final caption whose
	// confidence is below SnippetBelow with its audio (mono, the
	// recognizer's rate). Nil keeps no snippets.
	Snippet      func(e Event, samples []float32, rate int)
	SnippetBelow float32
	// Speakers makes a tracker for a session that names speakers, or nil
	// when identification is off (no speaker model installed).
	Speakers func(ctx context.Context) (SpeakerTracker, error)
	// Forget is called when a session is deleted (its kept data is
	// destroyed).
	Forget func(sessionID string)
}

// orDefault is *p, or def when p is nil.
func orDefault(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

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
// Lock order: registry.mu; then session.fx (a session's transitions and
// their I/O: records, audit, pipelines opened and drained, bus calls),
// then session.mu (moments, never I/O: the audio path takes only this);
// then publisher.send (a session's events in Seq order, held while
// Privacy.Keep stores a final), then publisher.mu (moments). hubs.mu,
// then hub.mu, then feed.mu. positions.mu and clusterBus.mu are leaves.
// A pipeline's goroutine takes session.mu (speech heard) and
// publisher.send, never session.fx, so a transition holding fx may drain
// it; forwarding and lease renewal hold no lock while they wait on the
// bus.
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

func withDefaults(c config.Live) config.Live {
	if c.MaxSessions <= 0 {
		c.MaxSessions = 8
	}
	if c.PreRoll == 0 {
		c.PreRoll = config.Duration(config.DefaultPreRoll)
	}
	if c.HistoryEvents <= 0 {
		c.HistoryEvents = 10000
	}
	if c.ViewerBuffer <= 0 {
		c.ViewerBuffer = 256
	}
	if c.QueueAudio <= 0 {
		c.QueueAudio = config.Duration(5 * time.Second)
	}
	return c
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
