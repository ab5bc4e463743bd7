package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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

// Manager owns this process's live-caption sessions: their records in the
// store, their pipelines (this process is every session's owner: it
// numbers, publishes and keeps their events) and the viewers' hubs.
//
// In a cluster (ManagerOptions.Cluster) it owns only the sessions whose
// lease it holds and forwards the rest (cluster.go, remote.go).
//
// Lock order: Manager.mu, then session.mu, then publisher.mu (under which
// Privacy.Keep stores a kept final, the one I/O under a live lock);
// hubMu, then hub.mu, then feed.mu. A pipeline's emit takes only publisher.mu, so a
// session may close its pipeline while holding session.mu. positions.mu
// and clusterBus.mu are leaves (the emit takes them too); forwarding and
// lease renewal hold no lock while they wait on the bus.
type Manager struct {
	db      *store.Store
	nc      *nats.Conn
	rec     speech.Recognizer
	vad     speech.VAD
	cfg     config.Live
	privacy Privacy
	caption func(sessionID string, e Event) Event
	log     *slog.Logger
	now     func() time.Time
	met     *metrics
	aud     audit.Recorder
	tick    time.Duration
	cl      *Cluster
	bus     *clusterBus // nil unless clustered

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	sessions map[string]*session
	closed   bool

	liveN atomic.Int32 // sessions with a running pipeline

	hubMu sync.Mutex
	hubs  map[string]*hub
}

var _ Sessions = (*Manager)(nil)

// crashSeqGap is how far numbering jumps after a crash: more events than
// a session publishes between two saves (one tick).
const crashSeqGap = 10000

// errShutdown ends feeds and refuses calls once the manager is closing.
var errShutdown = errors.New("live: shutting down")

// session is one session held in memory. rec is its stored record; the
// runtime fields exist while it is not stopped (pub also after, so late
// viewers still catch up).
type session struct {
	mu         sync.Mutex
	rec        record
	pub        *publisher
	audio      *nats.Subscription
	pipe       *Pipeline
	ring       *ring
	ingest     *ingest
	source     string
	deleted    bool
	natsDrops  int // the audio subscription's drops already counted
	msgsIn     int64
	bytesIn    int64
	pipeDrops  time.Duration
	lastSpeech atomic.Int64 // unix nanoseconds (manager clock)
	level      levelMeter   // recent input peak, for the console (stats.go)
	// context is the session's prepared text: in memory only, never in
	// its record, gone with the process (prepared.go).
	context string
	// contextInfo describes context; its engine reports are asked for
	// until contextReported (every engine answered), last at contextAsked.
	contextInfo     *ContextInfo
	contextReported bool
	contextAsked    time.Time

	// In a cluster (cluster.go): the lease while this process owns the
	// session, its commands' subscription, its audio intake from the
	// stream, where a session taken over resumes (nil otherwise), the
	// samples its pipeline took and where they came from.
	lease     Held
	renewedAt time.Time
	control   *nats.Subscription
	intake    jetstream.ConsumeContext
	from      *mark
	told      float64 // the end of the last final viewers were told (a taken-over session)
	fed       int64
	pos       positions
}

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
	m := &Manager{db: opts.Store, nc: opts.Conn, rec: opts.Recognizer, vad: opts.VAD, cfg: cfg, privacy: opts.Privacy, caption: opts.Captions,
		log: opts.Logger, now: opts.Now, met: newMetrics(opts.Metrics), aud: opts.Audit, tick: opts.TickEvery,
		sessions: map[string]*session{}, hubs: map[string]*hub{}}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.tick <= 0 {
		m.tick = time.Second
	}
	m.ctx, m.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if opts.Cluster != nil {
		return m.startClustered(ctx, opts.Cluster)
	}
	recs, err := loadRecords(ctx, m.db)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if r.State == Live && !r.SeqExact {
			// The process died with the pipeline running: events after
			// the last saved seq were published but not saved. Numbering
			// resumes past them, so no viewer sees a seq twice.
			r.LastSeq += crashSeqGap
		}
		s := &session{rec: r}
		s.lastSpeech.Store(m.now().UnixNano())
		m.sessions[r.ID] = s
		if r.State == Stopped {
			continue
		}
		if err := m.attachRuntime(s); err != nil {
			m.shutdown(ctx)
			return nil, err
		}
		if r.State == Live {
			s.mu.Lock()
			err := m.transition(ctx, s, "system", Input{Kind: EvRestart, At: m.now()}, "session.interrupt")
			s.mu.Unlock()
			if err != nil {
				m.shutdown(ctx)
				return nil, err
			}
		}
		if s.rec.State == Interrupted && cfg.Resume() && m.rec != nil {
			s.mu.Lock()
			err := m.transition(ctx, s, "system", Input{Kind: EvResume, At: m.now()}, "session.resume")
			s.mu.Unlock()
			if err != nil {
				m.log.Error("live: resuming session", "session", r.ID, "err", err)
			}
		}
	}
	m.gauge()
	m.wg.Add(1)
	go m.ticker()
	return m, nil
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
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
	return m.shutdown(ctx)
}

func (m *Manager) shutdown(ctx context.Context) error {
	m.cancel()
	m.mu.Lock()
	all := make([]*session, 0, len(m.sessions))
	for _, s := range m.sessions {
		all = append(all, s)
	}
	m.mu.Unlock()
	var errs []error
	for _, s := range all {
		s.mu.Lock()
		if s.pipe != nil {
			m.closePipeline(ctx, s)
			errs = append(errs, m.persist(context.WithoutCancel(ctx), s))
		}
		m.detachRuntime(s)
		s.mu.Unlock()
	}
	m.hubMu.Lock()
	hubs := make([]*hub, 0, len(m.hubs))
	for _, h := range m.hubs {
		hubs = append(hubs, h)
	}
	m.hubMu.Unlock()
	for _, h := range hubs {
		h.closeAll(errShutdown)
	}
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

// tickOnce applies EvTick to every live session at m.now().
func (m *Manager) tickOnce(ctx context.Context) {
	now := m.now()
	for _, s := range m.snapshot() {
		s.mu.Lock()
		// In a cluster, only the owner ticks a session.
		if s.rec.State == Live && !s.deleted && (m.cl == nil || s.lease != nil) {
			m.countDrops(s)
			if s.pipe != nil {
				m.met.lag.Observe(s.pipe.Stats().Lag.Seconds())
			}
			if err := m.transition(ctx, s, "system", Input{Kind: EvTick, At: now}, "session.stop"); err != nil {
				m.log.Error("live: tick", "session", s.rec.ID, "err", err)
			}
			if s.rec.State == Live {
				if err := m.persist(ctx, s); err != nil {
					m.log.Error("live: saving session", "session", s.rec.ID, "err", err)
				}
			}
		}
		s.mu.Unlock()
	}
	m.gauge()
}

func (m *Manager) snapshot() []*session {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*session, 0, len(m.sessions))
	for _, s := range m.sessions {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rec.CreatedAt.Before(out[j].rec.CreatedAt) })
	return out
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

// liveCount is how many sessions are live now.
func (m *Manager) liveCount(except *session) int {
	n := 0
	for _, s := range m.snapshot() {
		if s == except {
			continue
		}
		s.mu.Lock()
		if s.rec.State == Live {
			n++
		}
		s.mu.Unlock()
	}
	return n
}

// lookup finds a session the owner may act on ("" = administrator).
func (m *Manager) lookup(owner, id string) (*session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errShutdown
	}
	s := m.sessions[id]
	if s == nil || (owner != "" && s.rec.Owner != owner) {
		return nil, ErrNotFound
	}
	return s, nil
}

func (m *Manager) record(ctx context.Context, actor, action, id, outcome string, details map[string]string) error {
	if m.aud == nil {
		return nil
	}
	if err := m.aud.Record(ctx, audit.Event{Actor: actor, Action: action, Target: "session:" + id,
		Outcome: outcome, Details: details}); err != nil {
		return fmt.Errorf("live: audit: %w", err)
	}
	return nil
}

// actor names who acts for the audit log.
func actor(owner string) string {
	if owner == "" {
		return "admin"
	}
	return owner
}
